package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/config"
)

// RunManifest is run.json: what the run is and where each stage stands.
type RunManifest struct {
	RunID        string    `json:"run_id"`
	Started      time.Time `json:"started"`
	Version      string    `json:"version"`
	ConfigSHA256 string    `json:"config_sha256"`
	Export       string    `json:"export,omitempty"`
	// Provision is the UserID of the one user a provision run is for
	// ("" for a daily run): its plan holds that user's change only, and
	// it does not take its export set (the next daily run takes it).
	Provision string       `json:"provision,omitempty"`
	Status    string       `json:"status"`
	Stages    []StageState `json:"stages"`
	Approvals []Approval   `json:"approvals,omitempty"`
	// Discarded is set when a person abandoned the run (discard).
	Discarded *Discard `json:"discarded,omitempty"`
}

// StageState is one stage's line in run.json.
type StageState struct {
	Name     Stage     `json:"name"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
}

// Run is one run directory, <data>/runs/<run-id>.
type Run struct {
	ID       string
	Dir      string
	Manifest RunManifest
}

// RunIDLayout is the UTC start time of a run, as runs are named
// (docs/artifacts.md).
const RunIDLayout = "20060102T150405Z"

func runsDir(data string) string { return filepath.Join(data, "runs") }

// NewRun creates the directory of a new run that starts at now, suffixing
// -2, -3 … when that id is taken.
func NewRun(cfg *config.Config, now time.Time, export string) (*Run, error) {
	if err := artifact.MkdirAll(runsDir(cfg.Data)); err != nil {
		return nil, err
	}
	base := now.UTC().Format(RunIDLayout)
	for n := 1; ; n++ {
		id := base
		if n > 1 {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		dir := filepath.Join(runsDir(cfg.Data), id)
		err := os.Mkdir(dir, artifact.DirPerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r := &Run{ID: id, Dir: dir, Manifest: RunManifest{
			RunID: id, Started: now.UTC(), Version: Version, ConfigSHA256: cfg.SHA256,
			Export: export, Status: StatusRunning,
		}}
		for _, s := range Stages {
			r.Manifest.Stages = append(r.Manifest.Stages, StageState{Name: s, Status: StatusPending})
		}
		return r, r.Save()
	}
}

// OpenRun opens the run with the given id, or the latest run when id is "".
func OpenRun(cfg *config.Config, id string) (*Run, error) {
	if id == "" {
		ids, err := RunIDs(cfg)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("no runs in %s", runsDir(cfg.Data))
		}
		id = ids[len(ids)-1]
	}
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil, fmt.Errorf("%q is not a run id", id)
	}
	r := &Run{ID: id, Dir: filepath.Join(runsDir(cfg.Data), id)}
	if err := readJSON(filepath.Join(r.Dir, "run.json"), &r.Manifest); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no run %s in %s", id, runsDir(cfg.Data))
		}
		return nil, err
	}
	return r, nil
}

// RunIDs lists the runs in the data directory, oldest first.
func RunIDs(cfg *config.Config) ([]string, error) {
	entries, err := os.ReadDir(runsDir(cfg.Data))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(runsDir(cfg.Data), e.Name(), "run.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	slices.SortFunc(ids, compareRunIDs)
	return ids, nil
}

// compareRunIDs orders by start time, then by the numeric suffix, so that
// …Z-10 comes after …Z-9.
func compareRunIDs(a, b string) int {
	ab, an := splitRunID(a)
	bb, bn := splitRunID(b)
	if c := strings.Compare(ab, bb); c != 0 {
		return c
	}
	return an - bn
}

func splitRunID(id string) (string, int) {
	base, suffix, ok := strings.Cut(id, "-")
	if !ok {
		return id, 1
	}
	n, err := strconv.Atoi(suffix)
	if err != nil {
		return id, 0
	}
	return base, n
}

// Save writes run.json.
func (r *Run) Save() error { return writeJSON(filepath.Join(r.Dir, "run.json"), r.Manifest) }

// Stage returns the state of the named stage.
func (r *Run) Stage(name Stage) *StageState {
	for i := range r.Manifest.Stages {
		if r.Manifest.Stages[i].Name == name {
			return &r.Manifest.Stages[i]
		}
	}
	panic("unknown stage " + string(name))
}

// StageDir is where a stage's current attempt writes.
func (r *Run) StageDir(stage Stage) string { return filepath.Join(r.Dir, string(stage)) }

// begin prepares the directory for a new attempt of stage: a previous attempt
// is kept as <stage>.attempt-N, and the stages after it are marked stale,
// since they were made from what is now replaced.
func (r *Run) begin(stage Stage, now time.Time) (attempt int, err error) {
	if err := discarded(r); err != nil {
		return 0, err
	}
	st := r.Stage(stage)
	dir := r.StageDir(stage)
	if _, err := os.Stat(dir); err == nil {
		// The kept attempt's name comes from what is on disk: a directory
		// no attempt was counted for (load --dry-run's) takes the next free
		// number, so no sequence of commands can collide.
		prev := max(st.Attempts, 1)
		for {
			if _, err := os.Stat(fmt.Sprintf("%s.attempt-%d", dir, prev)); errors.Is(err, fs.ErrNotExist) {
				break
			}
			prev++
		}
		if err := os.Rename(dir, fmt.Sprintf("%s.attempt-%d", dir, prev)); err != nil {
			return 0, err
		}
		after := false
		for i := range r.Manifest.Stages {
			s := &r.Manifest.Stages[i]
			if after && s.Status != StatusPending {
				s.Status = StatusStale
			}
			after = after || s.Name == stage
		}
	}
	st.Attempts++
	st.Status = StatusRunning
	st.Started, st.Ended = now.UTC(), time.Time{}
	if err := artifact.MkdirAll(dir); err != nil {
		return 0, err
	}
	return st.Attempts, r.Save()
}

// end records the outcome of stage in run.json.
func (r *Run) end(stage Stage, status string, now time.Time) error {
	st := r.Stage(stage)
	st.Status = status
	st.Ended = now.UTC()
	r.Manifest.Status = r.overall()
	return r.Save()
}

// overall is the run's status: the first stage that did not end ok decides.
func (r *Run) overall() string {
	if r.Manifest.Discarded != nil {
		return StatusDiscarded
	}
	for _, s := range r.Manifest.Stages {
		switch s.Status {
		case StatusOK:
			continue
		case StatusPending:
			return "incomplete"
		default:
			return s.Status
		}
	}
	return StatusOK
}
