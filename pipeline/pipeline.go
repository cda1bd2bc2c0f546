// Package pipeline knows the order of the stages and the run directory: it
// picks the export set, creates runs, checks every input against the
// manifest that produced it, runs a stage, and records what it did. The
// stages themselves know neither the order nor the directory layout.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/condeco-sync/condeco-sync/stages/transform"
	"github.com/rs/zerolog"
)

// Env is what every pipeline call needs, passed in so that nothing reads the
// clock or the environment behind the caller's back.
type Env struct {
	Config *config.Config
	Now    func() time.Time
	Log    zerolog.Logger
	Getenv func(string) string // where the token comes from (scim.token_env); nil: nowhere
	// Command spells a command for a message that tells the operator what
	// to run next ("load --run ID" → "condeco-sync --config c.yaml load
	// --run ID"); nil: plain "condeco-sync ARGS".
	Command func(args string) string
}

// getenv is Getenv, or an environment with nothing in it.
func (env Env) getenv() func(string) string {
	if env.Getenv == nil {
		return func(string) string { return "" }
	}
	return env.Getenv
}

// command is args as the operator runs it.
func (env Env) command(format string, a ...any) string {
	args := fmt.Sprintf(format, a...)
	if env.Command != nil {
		return env.Command(args)
	}
	return "condeco-sync " + args
}

// StaleError refuses a stage's input that a later rerun of an earlier
// stage made stale: what it was made from is replaced.
type StaleError struct {
	Run   string
	Stage Stage  // the stale stage
	Rerun string // the command that makes it anew
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("run %s: %s is stale (an earlier stage was rerun after it): rerun it first: %s", e.Run, e.Stage, e.Rerun)
}

// fresh refuses to read the outputs of stage when they are stale.
func fresh(env Env, run *Run, stage Stage) error {
	if run.Stage(stage).Status == StatusStale {
		return &StaleError{Run: run.ID, Stage: stage, Rerun: env.command("%s --run %s", stage, run.ID)}
	}
	return nil
}

// NoNewExportError says there is nothing to do: not an error for the
// operator (exit 0), and no run is created.
type NoNewExportError struct{ Why string }

func (e *NoNewExportError) Error() string { return e.Why }

// StageError is a stage that ended failed; its manifest says why.
type StageError struct {
	Run   string
	Stage Stage
	Err   error
}

func (e *StageError) Error() string {
	return fmt.Sprintf("run %s: %s %s: %v", e.Run, e.Stage, statusOf(e.Err), e.Err)
}

// statusOf is the status a stage ends with when it returns err.
func statusOf(err error) string {
	var halt *stages.HaltError
	switch {
	case err == nil:
		return StatusOK
	case errors.As(err, &halt):
		return StatusHalted
	case errors.Is(err, load.ErrBudget):
		return StatusStopped // as asked: the next run goes on
	case errors.Is(err, context.Canceled):
		return StatusInterrupted // SIGINT or SIGTERM: a person's or the service manager's stop, not a failure
	}
	return StatusFailed
}

func (e *StageError) Unwrap() error { return e.Err }

// Extract creates a new run from exp and extracts it.
func Extract(env Env, exp *Export) (*Run, error) {
	return extractRun(env, exp, nil)
}

// extractRun creates a new run from exp, lets mark fill in its manifest
// before anything reads it (nil: a daily run), and extracts it.
func extractRun(env Env, exp *Export, mark func(*RunManifest)) (*Run, error) {
	run, err := NewRun(env.Config, env.Now(), exp.Set.Stamp)
	if err != nil {
		return nil, err
	}
	if mark != nil {
		mark(&run.Manifest)
		if err := run.Save(); err != nil {
			return nil, err
		}
	}
	return run, runStage(env, run, StageExtract, nil, func(dir string) (stages.Result, error) {
		cols := map[string]map[string]string{}
		for _, file := range []string{schemas.UsersFile, schemas.LocationsFile} {
			if c := env.Config.Exports.ColumnsOf(file); len(c) > 0 {
				cols[file] = c
			}
		}
		return extract.Run(extract.Input{Set: exp.Set, Delimiter: env.Config.Delimiter(), Columns: cols, MinUsers: env.Config.Guards.MinUsers, RunID: run.ID}, dir)
	})
}

// Transform (re)runs transform on run from its extract artifacts.
func Transform(env Env, run *Run) error {
	inputs, err := verifiedInputs(env, run, StageReads[StageTransform]...)
	if err != nil {
		return err
	}
	cfg := env.Config
	earlier := earlierTransform(cfg, run)
	// The diff of an initial synchronization streams its creates from
	// users in order of UserID: the run's diff has (or will have) no
	// baseline.
	base, err := diffBaseline(cfg, run)
	if err != nil {
		return err
	}
	return runStage(env, run, StageTransform, inputs, func(dir string) (stages.Result, error) {
		res, err := transform.Run(transform.Input{
			Earlier:           earlier,
			RawUsers:          filepath.Join(run.Dir, inputs[0].Path),
			RawLocations:      filepath.Join(run.Dir, inputs[1].Path),
			Holds:             filepath.Join(run.Dir, inputs[2].Path),
			DefaultLocation:   cfg.Access.DefaultLocation,
			AdminAccessLevels: cfg.Access.AdminAccessLevels,
			HomeAdminLevels:   cfg.Access.HomeAdminLevels,
			Invitations:       cfg.Users.Invitations,
			HomeCity:          cfg.SCIM.Traits().City,
			InOrder:           base == nil,
			Mapping:           cfg.Mapping.Users,
			Tables:            cfg.Mapping.Tables,
			ScopeInclude:      cfg.Scope.Users.Include,
			ScopeExclude:      cfg.Scope.Users.Exclude,
			RunID:             run.ID,
		}, dir)
		if res.Details != nil {
			res.Details[madeUnder] = shapeOf(cfg, StageTransform)
		}
		return res, err
	})
}

// earlierTransform is the desired state of the baseline's run, checked
// against its manifest's sha256 before transform trusts a byte of it.
// Reuse changes no output, only the time transform takes, so anything
// amiss means no reuse, never an error.
func earlierTransform(cfg *config.Config, run *Run) transform.Earlier {
	base, err := ReadBaseline(cfg)
	switch {
	case err != nil:
		return transform.Earlier{Why: "the baseline cannot be read: " + err.Error()}
	case base == nil:
		return transform.Earlier{Why: "no baseline yet: the initial synchronization"}
	case base.RunID == run.ID:
		return transform.Earlier{Why: "this run is the baseline's"}
	}
	prev, err := OpenRun(cfg, base.RunID)
	if err != nil {
		return transform.Earlier{Why: err.Error()}
	}
	m, err := okManifest(prev, StageTransform)
	if err != nil {
		return transform.Earlier{Why: err.Error()}
	}
	f, err := checkedFile(prev, m, TransformUsers)
	if err != nil {
		return transform.Earlier{Why: fmt.Sprintf("run %s: %v", prev.ID, err)}
	}
	rules, _ := m.Details["phone_rules"].(string)
	return transform.Earlier{Path: filepath.Join(prev.Dir, f.Path), Run: prev.ID, Rules: rules}
}

// verifiedInputs returns the artifacts from their stages' manifests, each
// checked against its sha256 before anyone reads it: a file changed or
// damaged since it was written is refused, naming it. Each stage must have
// ended ok.
func verifiedInputs(env Env, run *Run, arts ...Artifact) ([]artifact.File, error) {
	var out []artifact.File
	for _, a := range arts {
		if err := fresh(env, run, a.Stage); err != nil {
			return nil, err
		}
		m, err := okManifest(run, a.Stage)
		if err != nil {
			return nil, err
		}
		f, err := checkedFile(run, m, a)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// okManifest is the manifest of a stage that ended ok.
func okManifest(run *Run, stage Stage) (*Manifest, error) {
	m, err := ReadManifest(run.Dir, stage)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("run %s has no %s stage yet: run it first", run.ID, stage)
	}
	if err != nil {
		return nil, err
	}
	if m.Status != StatusOK {
		return nil, fmt.Errorf("run %s: %s ended %s; rerun it first", run.ID, stage, m.Status)
	}
	if m.SchemaVersion != schemas.Version {
		return nil, fmt.Errorf("run %s: %s wrote snapshot layout %d, this program reads %d", run.ID, stage, m.SchemaVersion, schemas.Version)
	}
	return m, nil
}

// checkedFile is artifact a as manifest m of its stage lists it, checked
// against its sha256.
func checkedFile(run *Run, m *Manifest, a Artifact) (artifact.File, error) {
	f, ok := m.Output(a.Path())
	if !ok {
		return f, fmt.Errorf("run %s: %s/manifest.json lists no %s", run.ID, a.Stage, a.File)
	}
	if err := artifact.Check(run.Dir, f); err != nil {
		return f, fmt.Errorf("refusing to read it: %w", err)
	}
	return f, nil
}

// runStage runs one attempt of stage and writes its manifest, whatever the
// outcome.
func runStage(env Env, run *Run, stage Stage, inputs []artifact.File, fn func(dir string) (stages.Result, error)) error {
	log := env.Log.With().Str("run", run.ID).Str("stage", string(stage)).Logger()
	started := env.Now()
	attempt, err := run.begin(stage, started)
	if err != nil {
		return err
	}
	log.Info().Int("attempt", attempt).Msg("stage started")
	res, runErr := fn(run.StageDir(stage))
	m := Manifest{
		Stage: stage, RunID: run.ID, Attempt: attempt, Mode: res.Mode, Started: started.UTC(),
		Inputs: append(inputs, res.Inputs...), Counts: res.Counts, Details: res.Details,
		ConfigSHA256: env.Config.SHA256, Version: Version, SchemaVersion: schemas.Version,
	}
	for _, o := range res.Outputs {
		rel := Artifact{stage, o.Path}.Path()
		if _, err := os.Stat(filepath.Join(run.Dir, rel)); err != nil {
			continue // not written: the stage failed before it
		}
		f := artifact.File{Path: filepath.ToSlash(rel), Bytes: o.Bytes, Rows: o.Rows, SHA256: o.SHA256}
		if o.SHA256 == "" {
			if f, err = artifact.Describe(run.Dir, rel, o.Rows); err != nil {
				return err
			}
		}
		m.Outputs = append(m.Outputs, f)
	}
	if m.Status = statusOf(runErr); runErr != nil {
		m.Error = runErr.Error()
	}
	if m.Status == StatusInterrupted {
		m.Error = "interrupted by SIGINT or SIGTERM; what was done is kept, and the next run (or this stage's command) goes on from there"
	}
	m.Ended = env.Now().UTC()
	if err := writeJSON(filepath.Join(run.StageDir(stage), "manifest.json"), m); err != nil {
		return err
	}
	status := m.Status
	if status == StatusOK && m.Mode != "" {
		status = m.Mode // run.json says what the attempt was: not a load that ran
	}
	if err := run.end(stage, status, m.Ended); err != nil {
		return err
	}
	ev := log.Info()
	switch {
	case m.Status == StatusStopped || m.Status == StatusInterrupted:
		ev = log.Info().Err(runErr)
	case m.Status == StatusHalted:
		ev = log.Warn().Err(runErr)
	case runErr != nil:
		ev = log.Error().Err(runErr)
	}
	ev.Str("status", m.Status).Str("took", m.Ended.Sub(m.Started).Round(time.Millisecond).String()).Interface("counts", m.Counts).Msg("stage ended")
	if runErr != nil {
		return &StageError{Run: run.ID, Stage: stage, Err: runErr}
	}
	return nil
}
