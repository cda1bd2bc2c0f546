package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// Prune removes the runs older than the newest retention.keep_runs, and
// returns their ids. It keeps whatever someone may still need: the run
// whose applied state is the baseline, a run halted by the guard, a run
// whose load had failed operations or has yet to end. A run is renamed
// out of runs/ before it is deleted, so a crash never leaves half a run
// that looks whole.
func Prune(cfg *config.Config) ([]string, error) {
	ids, err := RunIDs(cfg)
	if err != nil || len(ids) <= cfg.Retention.KeepRuns {
		return nil, err
	}
	b, err := ReadBaseline(cfg)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, id := range ids[:len(ids)-cfg.Retention.KeepRuns] {
		if b != nil && b.RunID == id {
			continue
		}
		run, err := OpenRun(cfg, id)
		if err != nil {
			return removed, err
		}
		if keep, err := worthKeeping(run); err != nil || keep {
			if err != nil {
				return removed, err
			}
			continue
		}
		trash := filepath.Join(cfg.Data, ".removing-"+id)
		if err := os.Rename(run.Dir, trash); err != nil {
			return removed, fmt.Errorf("removing run %s: %w", id, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return removed, fmt.Errorf("removing run %s: %w", id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// worthKeeping reports whether run is halted, or its load had failed
// operations or did not end, unless a person discarded it.
func worthKeeping(run *Run) (bool, error) {
	if run.Manifest.Discarded != nil {
		return false, nil // a person decided it is never applied
	}
	if m, err := ReadManifest(run.Dir, StageDiff); err == nil && m.Status == StatusHalted {
		return true, nil
	}
	m, err := ReadManifest(run.Dir, StageLoad)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // stopped before load: nothing was sent
	}
	if err != nil {
		return false, err
	}
	failed, ended := LoadEnded(m)
	return !ended || failed > 0, nil
}

// LoadEnded reads a load manifest: whether the load ran to its end (it
// then counts its failures, zero or more) and how many operations failed.
func LoadEnded(m *Manifest) (failed int64, ended bool) {
	failed, ended = m.Counts[load.CountFailed]
	return failed, ended
}
