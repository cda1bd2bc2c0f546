package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
)

// TestScheduleListen scrapes the daemon (schedule --listen) as Prometheus
// and a load balancer would: /metrics parses with Prometheus' own parser
// and says the day's run (ok, its plan and requests, the next run),
// /healthz is 200; once a run halts at the guard, /healthz turns 503 and
// /metrics says halted and that a person is needed. run --metrics-file
// writes the same metrics, readable by node_exporter.
func TestScheduleListen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY")
	}
	_, proxy := slowTarget(t, 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir, cfgPath := sampleSetup(t, "day1", fmt.Sprintf(`inbox: inbox
data: data
exports: {settle: 0s}
scim: {url: %q, profile: scim2, max_rpm: 0}
guards: {min_users: 50}
schedule: {at: "00:00", timezone: UTC, catch_up: true}
`, proxy.URL))
	if time.Now().UTC().Format("15:04") == "00:00" {
		t.Skip("run at 00:00 UTC, when the catch-up is not due yet")
	}
	cmd := exec.Command("condeco-sync", "--config", cfgPath, "--log-format", "json", "schedule", "--listen", addr)
	cmd.Env = append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+scimmytest.Token)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		code, body := get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, body)
		}
		return fams
	}
	value := func(fams map[string]*dto.MetricFamily, name, label string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
		for _, m := range f.Metric {
			if label == "" || (len(m.Label) == 1 && m.Label[0].GetValue() == label) {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "run ended") && !strings.Contains(logs.String(), `"stage":"load","status":"ok"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the catch-up run did not end:\n%s", logs.String())
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := get("/healthz"); code == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			c, b := get("/healthz")
			t.Fatalf("/healthz %d %s after day 1:\n%s", c, b, logs.String())
		}
	}
	fams := scrape()
	for _, want := range []struct {
		name, label string
		value       float64
	}{
		{"condeco_sync_last_run_status", "ok", 1},
		{"condeco_sync_last_run_status", "halted", 0},
		{"condeco_sync_needs_person", "", 0},
		{"condeco_sync_last_run_plan_changes", "create", 217},
		{"condeco_sync_last_run_failed_operations", "", 0},
		{"condeco_sync_baseline_users", "", 211},
	} {
		if v, ok := value(fams, want.name, want.label); !ok || v != want.value {
			t.Errorf("%s{%s} = %v (%v), want %v", want.name, want.label, v, ok, want.value)
		}
	}
	for _, name := range []string{"condeco_sync_last_run_requests", "condeco_sync_next_run_timestamp_seconds", "condeco_sync_last_run_stage_duration_seconds"} {
		if v, ok := value(fams, name, ""); !ok || v <= 0 {
			t.Errorf("%s = %v (%v), want above 0", name, v, ok)
		}
	}
	if next, _ := value(fams, "condeco_sync_next_run_timestamp_seconds", ""); next < float64(time.Now().Unix()) {
		t.Errorf("the next run at %v is not in the future", next)
	}

	// Day 2 cut short, by a person's run: halted at the guard.
	b, _ := os.ReadFile(filepath.Join("..", "..", "samples", "day2", "users_20261124.csv"))
	writeSettled(filepath.Join(dir, "inbox", "users_20261124.csv"), []byte(firstLines(string(b), 101)))
	loc, _ := os.ReadFile(filepath.Join("..", "..", "samples", "day2", "locations_20261124.csv"))
	writeSettled(filepath.Join(dir, "inbox", "locations_20261124.csv"), loc)
	metricsFile := filepath.Join(dir, "condeco-sync.prom")
	run := exec.Command("condeco-sync", "--config", cfgPath, "run", "--metrics-file", metricsFile)
	run.Env = cmd.Env
	if out, err := run.CombinedOutput(); run.ProcessState.ExitCode() != exitHalted {
		t.Fatalf("day 2 cut short: %v\n%s", err, out)
	}
	code, body := get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "needs a person: run ") {
		t.Errorf("/healthz with a halted run: %d %s", code, body)
	}
	fams = scrape()
	if v, _ := value(fams, "condeco_sync_last_run_status", "halted"); v != 1 {
		t.Errorf("last_run_status{halted} = %v after the halt", v)
	}
	if v, _ := value(fams, "condeco_sync_needs_person", ""); v != 1 {
		t.Errorf("needs_person = %v after the halt", v)
	}
	if v, _ := value(fams, "condeco_sync_last_run_plan_changes", "delete"); v != 117 {
		t.Errorf("plan_changes{delete} = %v, want 117 (116 users, a location)", v)
	}
	fi, err := os.Stat(metricsFile)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("--metrics-file: %v %v", fi, err)
	}
	f, _ := os.Open(metricsFile)
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fromFile, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("--metrics-file is not Prometheus text: %v", err)
	}
	if v, _ := value(fromFile, "condeco_sync_last_run_status", "halted"); v != 1 {
		t.Errorf("--metrics-file: last_run_status{halted} = %v", v)
	}
}
