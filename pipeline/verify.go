package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
)

// Damage is one artifact that no longer matches its manifest.
type Damage struct {
	Run  string
	Path string
	Err  error
}

func (d Damage) String() string { return fmt.Sprintf("run %s: %v", d.Run, d.Err) }

// Verify rechecks the sha256 of every output of every manifest of run, kept
// attempts included. Every input is some manifest's output (extract's
// inputs from the inbox are kept as byte-for-byte copies among its
// outputs), so this proves the whole run.
func Verify(run *Run) ([]Damage, int, error) {
	entries, err := os.ReadDir(run.Dir)
	if err != nil {
		return nil, 0, err
	}
	var damage []Damage
	checked := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		mpath := filepath.Join(run.Dir, e.Name(), "manifest.json")
		var m Manifest
		if err := readJSON(mpath, &m); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				damage = append(damage, Damage{Run: run.ID, Path: mpath, Err: err})
			}
			continue // no manifest: an attempt interrupted before it ended (see CutShort)
		}
		for _, f := range m.Outputs {
			// A kept attempt (<stage>.attempt-N) lists its files under the
			// stage's own name, where they were written.
			f.Path = e.Name() + strings.TrimPrefix(f.Path, string(m.Stage))
			checked++
			if err := artifact.Check(run.Dir, f); err != nil {
				damage = append(damage, Damage{Run: run.ID, Path: f.Path, Err: err})
			}
		}
	}
	return damage, checked, nil
}

// CutShort lists run's stage directories (kept attempts included) that
// hold no manifest: attempts a stop or a crash cut short, whose files no
// manifest vouches for.
func CutShort(run *Run) []string {
	var out []string
	for _, s := range Stages {
		dirs, _ := filepath.Glob(filepath.Join(run.Dir, string(s)+"*"))
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "manifest.json")); errors.Is(err, os.ErrNotExist) {
				out = append(out, filepath.Base(d))
			}
		}
	}
	return out
}
