package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/test/exportgen"
	"github.com/condeco-sync/condeco-sync/internal/test/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/pipeline"
)

// TestLoadSurvivesSIGKILL kills the CLI with SIGKILL at several points of
// a load of 2,000 users (during the creates, at their end, during the
// memberships), then runs `load --run ID` again: the server ends exactly
// as the snapshots say, with no duplicate user or member.
func TestLoadSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY and loads 2,000 users")
	}
	srv := scimmytest.ForTest(t)
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	os.MkdirAll(inbox, 0o700)
	var users, locs bytes.Buffer
	if err := exportgen.WriteUsers(&users, 42, 2000); err != nil {
		t.Fatal(err)
	}
	if err := exportgen.WriteLocations(&locs, exportgen.Locations); err != nil {
		t.Fatal(err)
	}
	writeSettled(filepath.Join(inbox, "users_20261124.csv"), users.Bytes())
	writeSettled(filepath.Join(inbox, "locations_20261124.csv"), locs.Bytes())
	cfgPath := filepath.Join(dir, "condeco-sync.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`inbox: inbox
data: data
exports: {settle: 0s}
scim: {url: %q, profile: scim2, concurrency: 8, timeout: 10s}
guards: {min_users: 1}
`, srv.URL)), 0o600)

	cli := func(args ...string) *exec.Cmd {
		cmd := exec.Command("condeco-sync", append([]string{"--config", cfgPath, "--log-format", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+scimmytest.Token)
		return cmd
	}
	if out, err := cli("run", "--dry-run").CombinedOutput(); err != nil {
		t.Fatalf("run --dry-run: %v\n%s", err, out)
	}
	ids, _ := os.ReadDir(filepath.Join(dir, "data", "runs"))
	runID := ids[0].Name()
	runDir := filepath.Join(dir, "data", "runs", runID)

	// The journal says how far a load got (the entries of earlier attempts
	// are carried over at its start): kill it after so many entries, or
	// so many membership entries.
	journal := func() (entries, memberships int) {
		b, _ := os.ReadFile(filepath.Join(runDir, "load", "journal.jsonl"))
		return bytes.Count(b, []byte("\n")), bytes.Count(b, []byte(`"chunk":`))
	}
	for _, at := range []struct{ entries, memberships int }{{100, 0}, {900, 0}, {0, 1}, {0, 4}} {
		cmd := cli("load", "--run", runID)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reached := func() bool { e, m := journal(); return e >= at.entries && m >= at.memberships }
		deadline := time.Now().Add(time.Minute)
		for !reached() && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Kill() // SIGKILL: no cleanup, no flush
		err := cmd.Wait()
		e, m := journal()
		t.Logf("killed at %d journal entries, %d of memberships (%v)", e, m, err)
		if !reached() {
			t.Fatalf("the load never got that far:\n%s", stderr.String())
		}
	}
	if out, err := cli("load", "--run", runID).CombinedOutput(); err != nil {
		t.Fatalf("load after the kills: %v\n%s", err, out)
	}
	run, err := pipeline.OpenRun(&config.Config{Data: filepath.Join(dir, "data")}, runID)
	if err != nil {
		t.Fatal(err)
	}
	if a := run.Stage("load").Attempts; a != 5 {
		t.Errorf("load attempts %d, want 5 (4 killed, 1 to the end)", a)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, runDir)
	state := targetcheck.Read(t, srv.URL, scimmytest.Token)
	if n := len(state.Users); n < 1500 {
		t.Errorf("only %d users in the server", n)
	}
	results, _ := os.ReadFile(filepath.Join(runDir, "load", "results.csv"))
	if strings.Contains(string(results), ",failed,") {
		t.Errorf("results.csv lists failures:\n%s", results)
	}
	noSecret(t, scimmytest.Token, []string{dir})
}

// SIGINT during `run` stops the load between two requests: the command
// exits 130, not 1, and says which command resumes it; that command
// finishes the load.
func TestInterruptedRunExits130(t *testing.T) {
	srv, proxy := slowTarget(t, 20*time.Millisecond)
	dir, cfgPath := sampleSetup(t, "day1", fmt.Sprintf(`inbox: inbox
data: data
scim: {url: %q, profile: scim2, concurrency: 2}
guards: {min_users: 100}
`, proxy.URL))
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.Command("condeco-sync", append([]string{"--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+scimmytest.Token)
		return cmd
	}
	run := cli("run")
	var stderr syncBuffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); proxy.Forwarded("POST Users") < 20; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			run.Process.Kill()
			t.Fatalf("the load did not start:\n%s", stderr.String())
		}
	}
	run.Process.Signal(os.Interrupt)
	err := run.Wait()
	if code := run.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted during load; resume with condeco-sync --config "+cfgPath+" load --run ") {
		t.Errorf("the message does not say how to resume:\n%s", stderr.String())
	}
	// Stopped by a person, not failed: so say the console, the log, run.json
	// and runs.
	if strings.Contains(stderr.String(), "load failed") || strings.Contains(stderr.String(), "status=failed") {
		t.Errorf("the interruption is reported as a failure:\n%s", stderr.String())
	}
	if out, _ := cli("runs").CombinedOutput(); !regexp.MustCompile(`(?m) ok +ok +ok +interrupted `).Match(out) {
		t.Errorf("runs does not say the load was interrupted:\n%s", out)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "data", "runs", "*", "load", "manifest.json"))
	for _, m := range runs {
		if b, _ := os.ReadFile(m); !strings.Contains(string(b), `"status": "interrupted"`) {
			t.Errorf("%s does not say interrupted:\n%s", m, b)
		}
	}
	if out, err := cli("run").CombinedOutput(); err != nil || !strings.Contains(string(out), "load ok") {
		t.Fatalf("run after the interruption: %v\n%s", err, out)
	}
	ids, _ := os.ReadDir(filepath.Join(dir, "data", "runs"))
	if len(ids) != 1 {
		t.Fatalf("runs %v: the interrupted run should be finished, not a new one made", ids)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, filepath.Join(dir, "data", "runs", ids[0].Name()))
}

// slowTarget is a SCIMMY of the test's own behind a proxy that adds
// latency to every answer: a load lasts long enough to be stopped.
func slowTarget(t *testing.T, latency time.Duration) (*scimmytest.Server, *faultproxy.Proxy) {
	t.Helper()
	srv := scimmytest.ForTest(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return srv, proxy
}

// sampleSetup makes a directory with a sample day in its inbox and cfg as
// its condeco-sync.yaml.
func sampleSetup(t *testing.T, day, cfg string) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	dropSample(t, filepath.Join(dir, "inbox"), day)
	cfgPath = filepath.Join(dir, "condeco-sync.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, cfgPath
}
