package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// A swap is two journaled steps: killed (SIGKILL) after the first, with
// one user under its temporary name and the other's rename in flight, the
// load is resumed by the next `run`, and the two users end with each
// other's names on their own accounts, nobody made twice.
func TestSwapSurvivesSIGKILLBetweenItsSteps(t *testing.T) {
	sb, err := sandbox.NewWith(t.TempDir(), scimmytest.Token, schemas.DefaultExtension, sandbox.Options{Generic: true})
	if err != nil {
		t.Fatal(err)
	}
	gate := &holdGate{match: `"x@corp.com"`, release: make(chan struct{})}
	srv := httptest.NewServer(gate.wrap(sb))
	defer func() { gate.open(); srv.Close(); sb.Close() }()
	url := srv.URL + sandbox.Base

	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	os.MkdirAll(inbox, 0o700)
	cfgPath := filepath.Join(dir, "condeco-sync.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`inbox: inbox
data: data
scim: {url: %q, profile: visitor-generic, max_rpm: 0, timeout: 10s}
access: {default_location: LON}
guards: {min_users: 1}
`, url)), 0o600)
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.Command("condeco-sync", append([]string{"--config", cfgPath, "--log-format", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+scimmytest.Token)
		return cmd
	}
	drop := func(stamp string, rows ...string) {
		users := "UserID,UserName,FirstName,LastName,Email,Location\n" + strings.Join(rows, "\n") + "\n"
		writeSettled(filepath.Join(inbox, "users_"+stamp+".csv"), []byte(users))
		writeSettled(filepath.Join(inbox, "locations_"+stamp+".csv"), []byte("LocationID,Name,City\nLON,London,London\n"))
	}
	drop("20261123", "100,x@corp.com,Ann,A,x@corp.com,LON", "101,y@corp.com,Bob,B,y@corp.com,LON")
	gate.open()
	if out, err := cli("run").CombinedOutput(); err != nil {
		t.Fatalf("day 1: %v\n%s", err, out)
	}
	before := accountsByName(t, url)
	gate.close()

	drop("20261124", "100,y@corp.com,Ann,A,y@corp.com,LON", "101,x@corp.com,Bob,B,x@corp.com,LON")
	run := cli("run")
	var stderr bytes.Buffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// The first step (100 to its temporary name) is journaled, and the
	// second (101 to x@corp.com) is held at the server's door.
	runs := filepath.Join(dir, "data", "runs")
	journaled := func() bool {
		matches, _ := filepath.Glob(filepath.Join(runs, "*", "load", "journal.jsonl"))
		for _, m := range matches {
			if b, _ := os.ReadFile(m); bytes.Contains(b, []byte(`"op":"user:rename:100","outcome":"done"`)) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(time.Minute); !(journaled() && gate.holding()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			run.Process.Kill()
			t.Fatalf("the load never reached the swap's second step:\n%s", stderr.String())
		}
	}
	run.Process.Kill() // SIGKILL: no cleanup, no flush
	run.Wait()
	mid := accountsByName(t, url)
	if _, ok := mid["y@corp.com"]; !ok || mid["x@corp.com"] != nil {
		t.Fatalf("killed between the steps, the target holds %v: want y@corp.com and a temporary name", names(mid))
	}
	gate.open()

	out, err := cli("run").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "load ok") {
		t.Fatalf("run after the kill: %v\n%s", err, out)
	}
	after := accountsByName(t, url)
	if len(after) != 2 {
		t.Errorf("the target holds %v, want the two users", names(after))
	}
	if after["y@corp.com"]["id"] != before["x@corp.com"]["id"] || after["x@corp.com"]["id"] != before["y@corp.com"]["id"] {
		t.Errorf("after the swap: x@corp.com is account %v, y@corp.com %v; before: x@corp.com %v, y@corp.com %v",
			after["x@corp.com"]["id"], after["y@corp.com"]["id"], before["x@corp.com"]["id"], before["y@corp.com"]["id"])
	}
	ids, _ := os.ReadDir(runs)
	if len(ids) != 2 {
		t.Errorf("runs %v: the killed run should be finished, not a new one made", ids)
	}
}

// holdGate holds every request whose body holds match while it is closed:
// the request waits at the server's door until the gate opens.
type holdGate struct {
	match   string
	mu      sync.Mutex
	shut    bool
	waiting int
	release chan struct{}
}

func (g *holdGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut, g.release = true, make(chan struct{})
}

func (g *holdGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		close(g.release)
	}
	g.shut = false
}

func (g *holdGate) holding() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting > 0
}

func (g *holdGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.mu.Lock()
		hold, release := g.shut && r.Method != http.MethodGet && bytes.Contains(body, []byte(g.match)), g.release
		if hold {
			g.waiting++
		}
		g.mu.Unlock()
		if hold {
			select {
			case <-release:
			case <-r.Context().Done():
				return // the client is gone: the request is never done
			}
		}
		h.ServeHTTP(w, r)
	})
}

// accountsByName reads the target's users by lower-cased userName.
func accountsByName(t *testing.T, url string) map[string]scim.Resource {
	t.Helper()
	return targetcheck.ByUserName(targetcheck.Accounts(t, url, scimmytest.Token))
}

func names(m map[string]scim.Resource) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}
