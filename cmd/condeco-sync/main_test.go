package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"condeco-sync": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, time.Now)) },
	})
}

// TestScripts runs the command line end to end, as cmd/go is tested: each
// testdata/script/*.txtar is a shell-like script with its files.
func TestScripts(t *testing.T) {
	samples, _ := filepath.Abs("../../samples")
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Cmds:          scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLES", samples)
			env.Setenv("CONDECO_SYNC_SCIM_TOKEN", "")
			// SCIM_URL: a free loopback port, for a script's own sandbox;
			// SCIM_HOST the same without the path, for one served elsewhere.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer ln.Close()
			env.Setenv("SCIM_HOST", "http://"+ln.Addr().String())
			env.Setenv("SCIM_URL", "http://"+ln.Addr().String()+sandbox.Base)
			return nil
		},
	})
}

// heldLocks are the data directories' locks hold-lock took, by directory.
var heldLocks sync.Map

// scriptCmds are the commands the scripts have besides testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// age FILE…: the files were written a minute ago, as a finished
	// export is (exports.settle has a floor).
	// age [-DURATION] FILE…: written DURATION ago (a minute by default).
	"age": func(ts *testscript.TestScript, neg bool, args []string) {
		ago := time.Minute
		if len(args) > 0 && strings.HasPrefix(args[0], "-") {
			d, err := time.ParseDuration(args[0][1:])
			ts.Check(err)
			ago, args = d, args[1:]
		}
		old := time.Now().Add(-ago)
		for _, a := range args {
			ts.Check(os.Chtimes(ts.MkAbs(a), old, old))
		}
	},
	// exits N CMD [ARG…]: runs CMD as exec does (its output is stdout and
	// stderr) and checks that it exits with status N.
	"exits": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: exits N CMD [ARG...]")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		got := 0
		var ee *exec.ExitError
		switch err := ts.Exec(args[1], args[2:]...); {
		case errors.As(err, &ee):
			got = ee.ExitCode()
		case err != nil:
			ts.Fatalf("%s: %v", args[1], err)
		}
		if got != want {
			ts.Fatalf("%s exited %d, want %d", args[1], got, want)
		}
	},
	// latest-run: $RUN is the id of the newest run in data/runs, and
	// $FIRST_RUN that of the oldest.
	"latest-run": func(ts *testscript.TestScript, neg bool, args []string) {
		ids, err := pipeline.RunIDs(&config.Config{Data: ts.MkAbs("data")})
		ts.Check(err)
		if len(ids) == 0 {
			ts.Fatalf("latest-run: no run in data/runs")
		}
		ts.Setenv("RUN", ids[len(ids)-1])
		ts.Setenv("FIRST_RUN", ids[0])
	},
	// wait-for GLOB: waits (up to a minute) until a file matches GLOB, as
	// when a background process has reached a stage.
	"wait-for": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: wait-for GLOB")
		}
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if m, _ := filepath.Glob(ts.MkAbs(args[0])); len(m) > 0 {
				return
			}
		}
		ts.Fatalf("wait-for: nothing matches %s after a minute", args[0])
	},
	// append FILE TEXT: TEXT added at the end of FILE (a damaged artifact).
	"append": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: append FILE TEXT")
		}
		ts.Check(appendTo(ts.MkAbs(args[0]), args[1]))
	},
	// joiners N FILE: N users added at the end of the users export FILE,
	// copies of its first N rows under new UserIDs (9000001 …) and emails
	// (joiner.1@example.com …), as a doubled or foreign file would bring.
	"joiners": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: joiners N FILE")
		}
		n, err := strconv.Atoi(args[0])
		ts.Check(err)
		recs, err := csv.NewReader(strings.NewReader(ts.ReadFile(args[1]))).ReadAll()
		ts.Check(err)
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		for i := 1; i <= n && i < len(recs); i++ {
			r := slices.Clone(recs[i])
			email := fmt.Sprintf("joiner.%d@example.com", i)
			r[col["UserID"]], r[col["UserName"]], r[col["Email"]] = fmt.Sprint(9000000+i), email, email
			ts.Check(w.Write(r))
		}
		w.Flush()
		ts.Check(appendTo(ts.MkAbs(args[1]), b.String()))
	},
	// head N SRC DST: the first N lines of SRC written as DST (an export
	// cut short).
	"head": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: head N SRC DST")
		}
		n, err := strconv.Atoi(args[0])
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(firstLines(ts.ReadFile(args[1]), n)), 0o600))
	},
	// hold-lock / release-lock: another process's lock on data/lock, as
	// flock(1) takes it (no holder written), until release-lock.
	"hold-lock": func(ts *testscript.TestScript, neg bool, args []string) {
		l := flock.New(ts.MkAbs("data/lock"))
		ok, err := l.TryLock()
		ts.Check(err)
		if !ok {
			ts.Fatalf("data/lock is held already")
		}
		heldLocks.Store(ts.MkAbs("data"), l)
		ts.Defer(func() { l.Unlock() })
	},
	"release-lock": func(ts *testscript.TestScript, neg bool, args []string) {
		if l, ok := heldLocks.LoadAndDelete(ts.MkAbs("data")); ok {
			ts.Check(l.(*flock.Flock).Unlock())
		}
	},
	// cmpcsv GOLDEN: the last command's stdout is a CSV for people, as
	// Excel opens it right (a UTF-8 BOM, CRLF line ends, the run id last
	// on every line, every line read back by a strict CSV reader), and
	// without the BOM and run ids it is GOLDEN.
	"cmpcsv": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: cmpcsv GOLDEN")
		}
		out := ts.ReadFile("stdout")
		body, ok := strings.CutPrefix(out, humancsv.BOM)
		if !ok {
			ts.Fatalf("the CSV does not start with a UTF-8 BOM")
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		ts.Check(err)
		runID := regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)
		var plain []string
		for i, r := range rows {
			last := r[len(r)-1]
			if (i == 0 && last != "run_id") || (i > 0 && !runID.MatchString(last)) {
				ts.Fatalf("line %d does not end with the run id: %q", i+1, r)
			}
			var b strings.Builder
			w := csv.NewWriter(&b)
			w.Write(r[:len(r)-1])
			w.Flush()
			plain = append(plain, b.String())
		}
		if strings.Count(body, "\r\n") < len(rows) {
			ts.Fatalf("the CSV's lines do not end with CRLF")
		}
		if got, want := strings.Join(plain, ""), ts.ReadFile(args[0]); got != want {
			ts.Fatalf("the CSV, without BOM and run ids, differs from %s:\n%s", args[0], got)
		}
	},
	// expand FILE…: replaces $VAR in the files with the script's
	// environment (a config that names $SCIM_URL).
	"expand": func(ts *testscript.TestScript, neg bool, args []string) {
		for _, a := range args {
			b, err := os.ReadFile(ts.MkAbs(a))
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs(a), []byte(os.Expand(string(b), ts.Getenv)), 0o600))
		}
	},
	// scim-ready: waits until the SCIM server at $SCIM_URL answers with
	// $CONDECO_SYNC_SCIM_TOKEN (a sandbox started in the background).
	"scim-ready": func(ts *testscript.TestScript, neg bool, args []string) {
		c := scriptClient(ts)
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := c.ServiceProviderConfig(context.Background())
			if scim.IsStatus(err, http.StatusNotFound) { // a SCIM 1.1 server
				_, err = c.ServiceProviderConfigAt(context.Background(), "/ServiceProviderConfigs")
			}
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("the SCIM server at %s does not answer: %v", ts.Getenv("SCIM_URL"), err)
			}
		}
	},
	// scim-user add|remove USERNAME [EXTERNALID]: makes or removes a user
	// in the SCIM server by hand, as a person in the target would.
	"scim-user": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: scim-user add|remove USERNAME [EXTERNALID]")
		}
		c, ctx := scriptClient(ts), context.Background()
		switch args[0] {
		case "add":
			u := scim.Resource{"schemas": []string{schemas.SchemaUser}, "userName": args[1], "active": true,
				"name":   map[string]any{"givenName": "By", "familyName": "Hand"},
				"emails": []any{map[string]any{"value": args[1], "type": "work", "primary": true}}}
			if len(args) > 2 {
				u["externalId"] = args[2]
			}
			_, err := c.Create(ctx, "Users", u)
			ts.Check(err)
		case "remove":
			found, err := c.Filter(ctx, "Users", scim.Eq("userName", args[1]), 10)
			ts.Check(err)
			if len(found) != 1 {
				ts.Fatalf("scim-user remove: %d users named %s", len(found), args[1])
			}
			ts.Check(c.Delete(ctx, "Users", found[0]["id"].(string)))
		default:
			ts.Fatalf("scim-user: %q is not add or remove", args[0])
		}
	},
}

func scriptClient(ts *testscript.TestScript) *scim.Client {
	c, err := scim.New(ts.Getenv("SCIM_URL"), ts.Getenv("CONDECO_SYNC_SCIM_TOKEN"), 5*time.Second)
	ts.Check(err)
	return c
}

// appendTo adds text at the end of the file at path.
func appendTo(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// firstLines is the first n lines of s (an export cut short).
func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}
