package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// syncBuffer is a bytes.Buffer safe to write from a process's pipe while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScheduleStopAndResume starts `condeco-sync schedule` as a process
// with an export set in the inbox and today's run time passed: it catches
// up at once. SIGTERM in the middle of its (slowed) load stops it with
// exit 0 and the journal kept; started again, it finishes that load
// without a duplicate, and logs that there is no newer export.
func TestScheduleStopAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY")
	}
	srv, proxy := slowTarget(t, 25*time.Millisecond)
	dir, cfgPath := sampleSetup(t, "day1", fmt.Sprintf(`inbox: inbox
data: data
exports: {settle: 0s}
scim: {url: %q, profile: scim2, concurrency: 2, timeout: 10s}
schedule: {at: "00:00", timezone: UTC, catch_up: true}
`, proxy.URL))
	if time.Now().UTC().Format("15:04") == "00:00" {
		t.Skip("run at 00:00 UTC, when the catch-up is not due yet")
	}

	start := func() (*exec.Cmd, *syncBuffer) { return startSchedule(t, cfgPath) }
	waitFor := func(what string, logs *syncBuffer, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s:\n%s", what, logs.String())
			}
		}
	}
	stop := func(cmd *exec.Cmd, logs *syncBuffer) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("schedule ended with %v after SIGTERM, want exit 0:\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("schedule did not stop within 30 s of SIGTERM:\n%s", logs.String())
		}
	}
	journal := func() int {
		matches, _ := filepath.Glob(filepath.Join(dir, "data", "runs", "*", "load", "journal.jsonl"))
		if len(matches) == 0 {
			return 0
		}
		b, _ := os.ReadFile(matches[0])
		return bytes.Count(b, []byte("\n"))
	}

	cmd, logs := start()
	waitFor("40 journal entries", logs, func() bool { return journal() >= 40 })
	stop(cmd, logs)
	stoppedAt := journal()
	if stoppedAt >= 211 {
		t.Fatalf("the load had ended (%d entries) before SIGTERM: this test proves nothing", stoppedAt)
	}
	if !strings.Contains(logs.String(), "catching up") || !strings.Contains(logs.String(), "the next start resumes it") {
		t.Errorf("the first start's log:\n%s", logs.String())
	}
	cfg := &config.Config{Data: filepath.Join(dir, "data")}
	if b, _ := pipeline.ReadBaseline(cfg); b != nil {
		t.Fatalf("the stopped load moved the baseline to %s", b.RunID)
	}

	cmd, logs = start()
	waitFor("the baseline", logs, func() bool { b, _ := pipeline.ReadBaseline(cfg); return b != nil })
	waitFor("no new export", logs, func() bool { return strings.Contains(logs.String(), "no new export since") })
	stop(cmd, logs)
	if !strings.Contains(logs.String(), "stopped before its end: it resumes from load") {
		t.Errorf("the second start's log does not say it resumes:\n%s", logs.String())
	}
	ids, _ := pipeline.RunIDs(cfg)
	if len(ids) != 1 {
		t.Fatalf("runs %v, want the one", ids)
	}
	run, _ := pipeline.OpenRun(cfg, ids[0])
	if a := run.Stage("load").Attempts; a != 2 {
		t.Errorf("load attempts %d, want 2", a)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
	results, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
	if strings.Contains(string(results), ",failed,") {
		t.Errorf("results.csv lists failures:\n%s", results)
	}
	t.Logf("stopped after %d of the journal's entries; resumed to the end", stoppedAt)

	// The log file has both starts, as JSON lines; every line of a stage
	// names its run; the token is in no file and no output.
	logLines, err := os.ReadFile(filepath.Join(dir, "data", LogFile))
	if err != nil {
		t.Fatal(err)
	}
	staged := 0
	for _, line := range strings.Split(strings.TrimSpace(string(logLines)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: not a JSON line: %q", LogFile, line)
		}
		if m["stage"] != nil {
			staged++
			if m["run"] != run.ID {
				t.Errorf("a line of stage %v without its run: %s", m["stage"], line)
			}
		}
	}
	if staged < 8 || strings.Count(string(logLines), "catching up") != 1 || !strings.Contains(string(logLines), "stopped before its end: it resumes from load") {
		t.Errorf("%s has %d lines of stages; both starts should be there:\n%s", LogFile, staged, logLines)
	}
	noSecret(t, scimmytest.Token, []string{dir}, logs.String())
}

// A scheduled run that finds the data directory in use (a person's
// command holds its lock) waits, says so, and runs once the lock is free:
// the day's export is not left for tomorrow.
func TestScheduledRunWaitsForTheLock(t *testing.T) {
	sb, err := sandbox.NewWith(t.TempDir(), scimmytest.Token, schemas.DefaultExtension, sandbox.Options{Generic: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer func() { srv.Close(); sb.Close() }()
	dir, cfgPath := sampleSetup(t, "day1", fmt.Sprintf(`inbox: inbox
data: data
scim: {url: %q, profile: visitor-generic, max_rpm: 0}
guards: {min_users: 100}
schedule: {at: "00:00", timezone: UTC, catch_up: true}
`, srv.URL+sandbox.Base))
	if time.Now().UTC().Format("15:04") == "00:00" {
		t.Skip("run at 00:00 UTC, when the catch-up is not due yet")
	}
	data := filepath.Join(dir, "data")
	unlock, err := pipeline.Lock(data, "load --run X (a person's)", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, logs := startSchedule(t, cfgPath)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), what); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %q:\n%s", what, logs.String())
			}
		}
	}
	waitLog("waits for the data directory to be free")
	if !strings.Contains(logs.String(), "in use by condeco-sync load --run X (a person's)") {
		t.Errorf("the log does not name the lock's holder:\n%s", logs.String())
	}
	if ids, _ := pipeline.RunIDs(&config.Config{Data: data}); len(ids) != 0 {
		t.Fatalf("runs %v were made while the lock was held", ids)
	}
	unlock()
	cfg := &config.Config{Data: data}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := pipeline.ReadBaseline(cfg); b != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run was loaded within a minute of the lock's release:\n%s", logs.String())
		}
	}
}

// startSchedule starts `condeco-sync schedule` with the config at cfgPath
// as a process, its console and log lines in the returned buffer.
func startSchedule(t *testing.T, cfgPath string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command("condeco-sync", "--config", cfgPath, "--log-format", "json", "schedule")
	cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+scimmytest.Token)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, logs
}
