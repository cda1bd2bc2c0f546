package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/stages/load"
)

// StatusDiscarded is a run a person abandoned (discard): it is never
// loaded, resumed or rerun, and its export set stays taken.
const StatusDiscarded = "discarded"

// Discard is a person's word that a run will never be applied.
type Discard struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Discard records by's decision that run is never applied: a halted plan
// nobody will approve, a failed run whose export set should not be taken
// again, a plan made against a baseline that has moved. The next run
// neither resumes nor retries it; it takes the next export set. A run whose
// load has changed the tenant cannot be discarded: the baseline would no
// longer say what the tenant holds, so it is finished instead.
func DiscardRun(env Env, run *Run, by, reason string) error {
	if d := run.Manifest.Discarded; d != nil {
		return fmt.Errorf("run %s was discarded already, by %s at %s: %s", run.ID, d.By, d.At.Format(time.RFC3339), d.Reason)
	}
	if reason == "" {
		return errors.New("discard: --reason must say why the run is never applied")
	}
	b, err := ReadBaseline(env.Config)
	if err != nil {
		return err
	}
	if b != nil && b.RunID == run.ID {
		return fmt.Errorf("run %s is applied: its load made the baseline, so there is nothing to discard", run.ID)
	}
	if by := supersededBy(env.Config, run); by == "" && loadSent(run) {
		return fmt.Errorf("run %s: its load has already sent changes to the tenant; discarding it would leave the baseline behind what the tenant holds: finish it with %s (the next export's plan then undoes what should not stay)",
			run.ID, env.command("run"))
	}
	run.Manifest.Discarded = &Discard{By: by, At: env.Now().UTC(), Reason: reason}
	for i, s := range run.Manifest.Stages {
		switch s.Status {
		case StatusPending, StatusStale, StatusStopped, StatusInterrupted:
			run.Manifest.Stages[i].Status = StatusDiscarded // never run now
		}
	}
	run.Manifest.Status = run.overall()
	return run.Save()
}

// discarded is the error for a stage asked of a discarded run.
func discarded(run *Run) error {
	d := run.Manifest.Discarded
	if d == nil {
		return nil
	}
	return fmt.Errorf("run %s was discarded by %s at %s (%s): it is never loaded or rerun", run.ID, d.By, d.At.Format(time.RFC3339), d.Reason)
}

// loadSent reports whether any load attempt of run recorded an operation
// in its journal: the tenant may then hold some of its changes.
func loadSent(run *Run) bool {
	dirs, _ := filepath.Glob(filepath.Join(run.Dir, "load.attempt-*"))
	dirs = append(dirs, run.StageDir(StageLoad))
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, load.JournalFile)); err == nil && st.Size() > 0 {
			return true
		}
	}
	return false
}
