package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Recover tidies what a killed process left in the data directory: a
// stage it left running is marked interrupted (its run then reads
// interrupted, and the next run or load resumes it), and the temporary
// files it was writing are removed (a partial copy of an export holds
// personal data). It must be called with the data directory's lock held:
// then no other process is running a stage. It returns one line for each
// thing it did, for the log.
func Recover(env Env) ([]string, error) {
	cfg := env.Config
	var did []string
	ids, err := RunIDs(cfg)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		run, err := OpenRun(cfg, id)
		if err != nil {
			continue // verify reports it
		}
		changed := false
		for i := range run.Manifest.Stages {
			st := &run.Manifest.Stages[i]
			if st.Status == StatusRunning {
				st.Status, st.Ended, changed = StatusInterrupted, env.Now().UTC(), true
				did = append(did, fmt.Sprintf("run %s: %s (attempt %d) was interrupted: the process that ran it is gone", id, st.Name, st.Attempts))
			}
		}
		if changed {
			run.Manifest.Status = run.overall()
			if err := run.Save(); err != nil {
				return did, err
			}
		}
	}
	// Only where the lock's holders write: the sandbox, a process of its
	// own that takes no lock, writes its store beside them.
	for _, root := range []string{runsDir(cfg.Data), filepath.Join(cfg.Data, "state")} {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // gone meanwhile, or unreadable: nothing to tidy there
			}
			if p == root || !temporary(d.Name()) {
				return nil
			}
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			did = append(did, "removed a temporary file left by an interrupted process: "+p)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			return did, err
		}
	}
	return did, nil
}

// temporary reports whether a file name is one of the temporaries written
// on the way to an artifact (artifact.Write's, and a dry run's directory).
func temporary(name string) bool {
	return strings.HasPrefix(name, ".") && (strings.Contains(name, ".tmp-") || strings.HasPrefix(name, ".load-dry-run-"))
}
