package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	manifest := func(run *Run, stage Stage, m Manifest) {
		must(t, os.MkdirAll(run.StageDir(stage), 0o700))
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
			must(t, os.MkdirAll(filepath.Join(cfg.Data, "state"), 0o700))
			must(t, writeJSON(baselinePath(cfg), Baseline{RunID: run.ID}))
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

// Unfinished names the latest run when it has stages yet to run, and the
// stage to resume from: not before its extract ended ok, not when a stage
// failed or its diff is halted and unapproved, nor once its load moved the
// baseline.
func TestUnfinished(t *testing.T) {
	cfg := newFixture(t).env.Config
	if run, _, err := Unfinished(cfg); run != nil || err != nil {
		t.Fatalf("no runs: %v %v", run, err)
	}
	run, err := NewRun(cfg, time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), "set")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, want Stage) {
		t.Helper()
		got, from, err := Unfinished(cfg)
		if err != nil || (got != nil) != (want != "") || from != want {
			t.Errorf("%s: unfinished %v from %q (%v), want from %q", what, got != nil, from, err, want)
		}
	}
	setStage := func(stage Stage, status string) {
		t.Helper()
		run.Stage(stage).Status = status
		must(t, run.Save())
	}
	manifest := func(stage Stage, m Manifest) {
		t.Helper()
		must(t, os.MkdirAll(run.StageDir(stage), 0o700))
		must(t, writeJSON(filepath.Join(run.StageDir(stage), "manifest.json"), m))
	}
	check("no extract yet", "")
	manifest(StageExtract, Manifest{Status: StatusFailed, Attempt: 1})
	setStage("extract", StatusFailed)
	check("extract failed: the set is taken again by a new run", "")
	manifest(StageExtract, Manifest{Status: StatusOK, Attempt: 2})
	setStage("extract", StatusOK)
	check("stopped after extract", "transform")
	setStage("transform", StatusInterrupted)
	check("killed during transform", "transform")
	setStage("transform", StatusFailed)
	check("transform failed: tried again once its cause is fixed", "transform")
	setStage("transform", StatusOK)
	setStage("diff", StatusStale)
	check("diff made stale by a transform rerun", "diff")
	setStage("diff", StatusHalted)
	manifest(StageDiff, Manifest{Status: StatusHalted, Attempt: 1})
	check("halted, not approved", "")
	run.Manifest.Approvals = append(run.Manifest.Approvals, Approval{Stage: StageDiff, Attempt: 1})
	must(t, run.Save())
	check("halted and approved", "load")
	manifest(StageDiff, Manifest{Status: StatusOK, Attempt: 2})
	setStage("diff", StatusOK)
	check("diff ok, load stopped", "load")
	must(t, os.MkdirAll(filepath.Join(cfg.Data, "state"), 0o700))
	must(t, writeJSON(baselinePath(cfg), Baseline{RunID: run.ID}))
	check("loaded: the baseline is its", "")
}

// A stage a killed process left running is marked interrupted by the next
// process, and the temporaries it was writing are removed.
func TestRecover(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	run := f.extract()
	run.Stage("transform").Status = StatusRunning
	must(t, run.Save())
	tmp := filepath.Join(run.Dir, "extract", "input", ".users_20261123.csv.tmp-123")
	must(t, os.WriteFile(tmp, []byte("half an export"), 0o600))
	// The sandbox's store is written by a process that takes no lock:
	// its temporary is none of Recover's business.
	sandboxTmp := filepath.Join(f.env.Config.Data, "sandbox", ".store.json.tmp-7")
	must(t, os.MkdirAll(filepath.Dir(sandboxTmp), 0o700))
	must(t, os.WriteFile(sandboxTmp, []byte("{}"), 0o600))
	dry := filepath.Join(run.Dir, ".load-dry-run-42")
	must(t, os.MkdirAll(dry, 0o700))
	did, err := Recover(f.env)
	if err != nil || len(did) != 3 || !strings.Contains(did[0], "transform (attempt 0) was interrupted") {
		t.Errorf("Recover = %q, %v", did, err)
	}
	for _, p := range []string{tmp, dry} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left", p)
		}
	}
	if _, err := os.Stat(sandboxTmp); err != nil {
		t.Errorf("the sandbox's temporary was removed: %v", err)
	}
	again, _ := OpenRun(f.env.Config, run.ID)
	if again.Stage("transform").Status != StatusInterrupted || again.Manifest.Status != StatusInterrupted {
		t.Errorf("run.json: %+v", again.Manifest)
	}
	if _, from, _ := Unfinished(f.env.Config); from != "transform" {
		t.Errorf("the interrupted run resumes from %q, want transform", from)
	}
}

// An attempt cut short holds no manifest: CutShort names it.
func TestInterruptedAttempts(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	run := f.extract()
	must(t, os.MkdirAll(run.StageDir("transform"), 0o700))
	must(t, os.MkdirAll(filepath.Join(run.Dir, "load.attempt-1"), 0o700))
	if got := CutShort(run); strings.Join(got, " ") != "transform load.attempt-1" {
		t.Errorf("CutShort = %q", got)
	}
}

// must fails the test on a setup step that went wrong: a test whose setup
// failed silently proves nothing.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
