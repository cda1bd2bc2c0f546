package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// TestSandboxCommand runs what the demo runs, as processes: `condeco-sync
// sandbox` on a free port, then `condeco-sync run` of the samples' day 1
// with the visitor profile. The sandbox then holds what the snapshots say;
// stopped with SIGTERM it exits 0, and started again it still has every
// user. The token is in none of the sandbox's files.
func TestSandboxCommand(t *testing.T) {
	const token = "sandbox-cli-token-5d1e"
	dir := t.TempDir()
	dropSample(t, filepath.Join(dir, "inbox"), "day1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr + sandbox.Base
	cfgPath := filepath.Join(dir, "condeco-sync.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`inbox: inbox
data: data
exports: {settle: 0s}
scim: {url: %q, profile: visitor, max_rpm: 0}
access: {default_location: LON}
users: {invitations: suppress}
`, url)), 0o600)
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.Command("condeco-sync", append([]string{"--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+token)
		return cmd
	}
	startSandbox := func() (*exec.Cmd, *syncBuffer) {
		t.Helper()
		cmd := cli("sandbox")
		logs := &syncBuffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c, _ := scim.New(url, token, time.Second)
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := c.ServiceProviderConfig(t.Context()); err == nil {
				break
			} else if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("the sandbox did not answer: %v\n%s", err, logs.String())
			}
		}
		return cmd, logs
	}
	stop := func(cmd *exec.Cmd, logs *syncBuffer) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("the sandbox ended with %v after SIGTERM, want exit 0:\n%s", err, logs.String())
		}
	}

	sb, logs := startSandbox()
	if out, err := cli("run").CombinedOutput(); err != nil {
		stop(sb, logs)
		t.Fatalf("run: %v\n%s", err, out)
	}
	runs, _ := os.ReadDir(filepath.Join(dir, "data", "runs"))
	runDir := filepath.Join(dir, "data", "runs", runs[0].Name())
	targetcheck.CheckVisitor(t, token, url, runDir, schemas.DefaultExtension)
	before := len(targetcheck.ReadVisitor(t, url, token).Users)
	stop(sb, logs)

	sb, logs = startSandbox()
	defer stop(sb, logs)
	if after := len(targetcheck.ReadVisitor(t, url, token).Users); before < 200 || after != before {
		t.Errorf("users before the restart %d, after %d", before, after)
	}
	noSecret(t, token, []string{dir}, logs.String())
}

// dropSample copies a sample day's export set into inbox, written a
// minute ago (past the floor of exports.settle).
func dropSample(t *testing.T, inbox, day string) {
	t.Helper()
	os.MkdirAll(inbox, 0o700)
	files, _ := filepath.Glob(filepath.Join("..", "..", "samples", day, "*.csv"))
	if len(files) == 0 {
		t.Fatalf("no sample set %s", day)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if err := writeSettled(filepath.Join(inbox, filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
}

// writeSettled writes an export file as one written a minute ago.
func writeSettled(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	old := time.Now().Add(-time.Minute)
	return os.Chtimes(path, old, old)
}
