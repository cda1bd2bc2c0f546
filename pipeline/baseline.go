package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
)

// Baseline is state/baseline.json: which run's applied state the next diff
// compares against. Paths are relative to the data directory.
type Baseline struct {
	RunID     string        `json:"run_id"`
	SetAt     time.Time     `json:"set_at"`
	Users     artifact.File `json:"users"`
	Locations artifact.File `json:"locations"`
	// ProvisionsOnly: every load that made this state was a provision's
	// (condeco-sync provision): no daily run has been applied yet, so the
	// next one is the initial synchronization in all but name, and the
	// guard on creates does not apply to it.
	ProvisionsOnly bool `json:"provisions_only,omitempty"`
}

func baselinePath(cfg *config.Config) string {
	return filepath.Join(cfg.Data, "state", "baseline.json")
}

// ReadBaseline returns the current baseline, or nil before the first load.
func ReadBaseline(cfg *config.Config) (*Baseline, error) {
	var b Baseline
	err := readJSON(baselinePath(cfg), &b)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// SetBaseline makes the applied state in run's load/state/ the baseline,
// atomically. Load calls it when it ends.
func SetBaseline(cfg *config.Config, run *Run, now time.Time) (*Baseline, error) {
	b := &Baseline{RunID: run.ID, SetAt: now.UTC()}
	prev, err := ReadBaseline(cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case prev != nil && prev.RunID == run.ID: // a load resumed: as it was
		b.ProvisionsOnly = prev.ProvisionsOnly
	default:
		b.ProvisionsOnly = run.Manifest.Provision != "" && (prev == nil || prev.ProvisionsOnly)
	}
	for rel, f := range map[string]*artifact.File{"load/state/users.parquet": &b.Users, "load/state/locations.parquet": &b.Locations} {
		dataRel := filepath.ToSlash(filepath.Join("runs", run.ID, rel))
		rows, err := parquetio.NumRows(filepath.Join(cfg.Data, dataRel))
		if err != nil {
			return nil, err
		}
		d, err := artifact.Describe(cfg.Data, dataRel, rows)
		if err != nil {
			return nil, err
		}
		*f = d
	}
	return b, writeJSON(baselinePath(cfg), b)
}

// check verifies the baseline's files before a diff reads them.
func (b *Baseline) check(cfg *config.Config) error {
	for _, f := range []artifact.File{b.Users, b.Locations} {
		if err := artifact.Check(cfg.Data, f); err != nil {
			return fmt.Errorf("baseline of run %s: refusing to read it: %w", b.RunID, err)
		}
	}
	return nil
}
