package pipeline

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The last export set taken is a daily run's: a provision run after it
// reads the same set but does not take it (the next daily run does), so
// the metric keeps the daily run's time, as the stale notice does.
func TestMetricsLastExportTaken(t *testing.T) {
	f := newFixture(t)
	cfg := f.env.Config
	daily, err := NewRun(cfg, f.now, "20261123")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := NewRun(cfg, f.now.Add(time.Hour), "20261123")
	if err != nil {
		t.Fatal(err)
	}
	prov.Manifest.Provision = "100003"
	prov.Stage(StageLoad).Status = StatusOK // applied: the latest run now
	if err := prov.Save(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMetrics(&b, f.env, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := "condeco_sync_last_export_taken_timestamp_seconds " + strconv.FormatInt(daily.Manifest.Started.Unix(), 10) + "\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("want %q in:\n%s", want, b.String())
	}
}
