// Package scimmytest runs the independent SCIM server of the integration
// tests (SCIMMY behind express, internal/test/scimmytest/testdata) on loopback:
// it installs its pinned npm dependencies when missing (`npm ci`, from the
// committed package-lock.json), starts it on a free port and stops it.
package scimmytest

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// Token is the bearer token the test server accepts.
const Token = "scimmy-test-token-7f3a9c"

// Server is a running SCIMMY.
type Server struct {
	URL string // …/scim/v2
	cmd *exec.Cmd
}

// dir is the server's folder, found from this file's location.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Start installs (once) and starts the server.
func Start() (*Server, error) { return StartWith() }

// ForTest starts a server of t's own, with env as StartWith takes it, fails
// t if it cannot, and stops it when t ends.
func ForTest(t testing.TB, env ...string) *Server {
	t.Helper()
	srv, err := StartWith(env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// StartWith is Start with more environment for the server (SCIMMY_BULK=1).
func StartWith(env ...string) (*Server, error) {
	d := dir()
	if err := install(d); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "server.js")
	cmd.Dir = d
	cmd.Env = append(append(os.Environ(), "PORT=0", "SCIMMY_TOKEN="+Token), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the SCIMMY test server (is node installed?): %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "listening ") {
				lines <- strings.TrimPrefix(l, "listening ")
			}
		}
	}()
	select {
	case u := <-lines:
		s := &Server{URL: u, cmd: cmd}
		return s, s.Reset()
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("the SCIMMY test server did not start within 20 s")
	}
}

// Reset empties the server's store.
func (s *Server) Reset() error {
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(s.URL, "/scim/v2")+"/_reset", nil)
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("reset: %s", resp.Status)
	}
	return nil
}

// Stop ends the server.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
	}
}

// install runs `npm ci` when node_modules is missing, under a lock so that
// test binaries running at once install once.
func install(d string) error {
	lock := flock.New(filepath.Join(d, ".install.lock"))
	if err := lock.Lock(); err != nil {
		return err
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(d, "node_modules", "scimmy-routers")); err == nil {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", d, err, out)
	}
	return nil
}
