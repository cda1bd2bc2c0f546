package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Prune keeps the newest keep_runs runs, the baseline's run, a halted
// run, a run with failed operations and one whose load did not end, and
// removes the rest.
func TestPrune(t *testing.T) {
	f := newFixture(t)
	cfg := f.env.Config
	cfg.Retention.KeepRuns = 2
	start := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	manifest := func(run *Run, stage string, m Manifest) {
		os.MkdirAll(run.StageDir(stage), 0o700)
		if err := writeJSON(filepath.Join(run.StageDir(stage), "manifest.json"), m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		run, err := NewRun(cfg, start.Add(time.Duration(i)*24*time.Hour), "set")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
		manifest(run, "diff", Manifest{Status: StatusOK})
		switch i {
		case 1: // halted by the guard
			manifest(run, "diff", Manifest{Status: StatusHalted})
		case 2: // failed operations
			manifest(run, "load", Manifest{Status: StatusFailed, Counts: map[string]int64{"failed": 3}})
		case 3: // a load that never ended
			manifest(run, "load", Manifest{Status: StatusFailed, Error: "context canceled"})
		case 4: // the baseline's
			manifest(run, "load", Manifest{Status: StatusOK, Counts: map[string]int64{"failed": 0}})
			os.MkdirAll(filepath.Join(cfg.Data, "state"), 0o700)
			writeJSON(baselinePath(cfg), Baseline{RunID: run.ID})
		default:
			manifest(run, "load", Manifest{Status: StatusOK, Counts: map[string]int64{"failed": 0}})
		}
	}
	removed, err := Prune(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[0], ids[5]}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	left, _ := RunIDs(cfg)
	if want := []string{ids[1], ids[2], ids[3], ids[4], ids[6], ids[7]}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if entries, _ := os.ReadDir(cfg.Data); len(entries) != 2 { // runs/, state/
		t.Errorf("data directory holds %v", entries)
	}
}

// Unfinished names the latest run when its load has yet to end: not when
// its diff is halted and unapproved, nor once its load moved the baseline.
func TestUnfinished(t *testing.T) {
	cfg := newFixture(t).env.Config
	if run, err := Unfinished(cfg); run != nil || err != nil {
		t.Fatalf("no runs: %v %v", run, err)
	}
	run, err := NewRun(cfg, time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), "set")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, want bool) {
		t.Helper()
		got, err := Unfinished(cfg)
		if err != nil || (got != nil) != want {
			t.Errorf("%s: unfinished %v (%v), want %v", what, got != nil, err, want)
		}
	}
	check("no diff yet", false)
	os.MkdirAll(run.StageDir("diff"), 0o700)
	writeJSON(filepath.Join(run.StageDir("diff"), "manifest.json"), Manifest{Status: StatusHalted, Attempt: 1})
	check("halted, not approved", false)
	run.Manifest.Approvals = append(run.Manifest.Approvals, Approval{Stage: "diff", Attempt: 1})
	run.Save()
	check("halted and approved", true)
	writeJSON(filepath.Join(run.StageDir("diff"), "manifest.json"), Manifest{Status: StatusOK, Attempt: 2})
	check("diff ok, load stopped", true)
	os.MkdirAll(filepath.Join(cfg.Data, "state"), 0o700)
	writeJSON(baselinePath(cfg), Baseline{RunID: run.ID})
	check("loaded: the baseline is its", false)
}
