package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/condeco-sync/condeco-sync/stages/transform"
)

// OpenArtifact opens artifact a of run, once the sha256 its stage's
// manifest records is checked: a tampered or damaged file is refused,
// naming it, before a byte of it is read.
func OpenArtifact(run *Run, a Artifact) (io.ReadCloser, error) {
	m, err := ReadManifest(run.Dir, a.Stage)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("run %s has no %s yet: its %s stage has not run", run.ID, a.File, a.Stage)
	}
	if err != nil {
		return nil, err
	}
	if _, ok := m.Output(a.Path()); !ok {
		return nil, fmt.Errorf("run %s: %s ended %s without writing %s", run.ID, a.Stage, m.Status, a.File)
	}
	f, err := checkedFile(run, m, a)
	if err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(run.Dir, f.Path))
}

// RunReport is what a run's manifests say of it, for `runs`: each stage's
// status and the counts people look at. A count is -1 where its stage has
// not said it.
type RunReport struct {
	ID, Export string
	Started    time.Time
	// Status of each stage, in the order of Stages. A halted diff that was
	// approved reads "approved by <who>".
	Status []string

	Users, Rejects    int64        // extract: valid users, rows set aside
	Holds, Warnings   int64        // transform
	Plan              *diff.Totals // diff; nil before it, or when it failed
	LoadFailed        int64        // failed operations, once the load ended
	LoadEnded         bool         // the load ran to its end
	LoadNeedsResuming bool         // the load stopped before its end
}

// Report reads what run's manifests say.
func Report(run *Run) RunReport {
	m := run.Manifest
	r := RunReport{ID: run.ID, Export: m.Export, Started: m.Started, Users: -1, Rejects: -1, Holds: -1, Warnings: -1}
	for _, s := range Stages {
		r.Status = append(r.Status, run.Stage(s).Status)
	}
	if em, err := ReadManifest(run.Dir, StageExtract); err == nil {
		r.Users, r.Rejects = em.Counts[extract.CountUsersValid], em.Counts[extract.CountRejects]
	}
	if tm, err := ReadManifest(run.Dir, StageTransform); err == nil && tm.Status == StatusOK {
		r.Holds, r.Warnings = tm.Counts[transform.CountUsersHeld], tm.Counts[transform.CountWarnings]
	}
	if dm, err := ReadManifest(run.Dir, StageDiff); err == nil && dm.Status != StatusFailed {
		totals := diff.TotalsOf(dm.Counts)
		r.Plan = &totals
		if a := approval(run, dm); dm.Status == StatusHalted && a != nil {
			r.Status[slices.Index(Stages, StageDiff)] = "approved by " + a.By
		}
	}
	if lm, err := ReadManifest(run.Dir, StageLoad); err == nil {
		r.LoadFailed, r.LoadEnded = LoadEnded(lm)
		r.LoadNeedsResuming = m.Discarded == nil && !r.LoadEnded && (lm.Status == StatusFailed || lm.Status == StatusStopped || lm.Status == StatusInterrupted)
	}
	return r
}
