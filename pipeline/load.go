package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// LoadOptions are how a load is asked for.
type LoadOptions struct {
	Getenv   func(string) string // where the token comes from; nil: env.Getenv
	DryRun   bool                // record the requests in load/requests.jsonl, send nothing
	Progress io.Writer           // a terminal for a progress line, or nil
}

// Load (re)runs load on run. A rerun resumes: what the journal of the
// earlier attempts records as done is not sent again. When load ends,
// even with failed operations, its applied state becomes the baseline.
func Load(ctx context.Context, env Env, run *Run, opt LoadOptions) error {
	cfg := env.Config
	if err := discarded(run); err != nil {
		return err
	}
	// A plan made against a baseline a later run replaced is refused
	// first: approving it would not help.
	base, err := diffBaseline(cfg, run)
	if err != nil {
		return err
	}
	if err := baselineStillCurrent(env, run, base); err != nil {
		return err
	}
	ok, err := Approved(run)
	if err != nil {
		return fmt.Errorf("run %s has no diff to load: run it first (%w)", run.ID, err)
	}
	if !ok {
		return &StageError{Run: run.ID, Stage: StageLoad, Err: &stages.HaltError{Msg: fmt.Sprintf(
			"%s halted this run's diff; read its summary, then approve it: %s", guardOf(run), env.command("approve --run %s --reason TEXT", run.ID))}}
	}
	// A halted diff is read once approved (above): its manifest need not
	// read ok.
	if err := fresh(env, run, StageDiff); err != nil {
		return err
	}
	if err := madeUnderNow(env, run); err != nil {
		return err
	}
	dm, err := ReadManifest(run.Dir, StageDiff)
	if err != nil {
		return err
	}
	changes, err := checkedFile(run, dm, DiffChanges)
	if err != nil {
		return err
	}
	getenv := opt.Getenv
	if getenv == nil {
		getenv = env.getenv()
	}
	token, err := cfg.Token(getenv)
	if opt.DryRun {
		token, err = "dry-run", nil
	}
	if err != nil {
		return err
	}
	client, err := scim.New(cfg.SCIM.URL, token, cfg.SCIM.Timeout)
	if err != nil {
		return &config.Error{Msg: err.Error()}
	}
	in := load.Input{
		Changes: filepath.Join(run.Dir, changes.Path),
		RunID:   run.ID,
		Client:  client, Profile: cfg.SCIM.Profile, Extension: cfg.SCIM.Extension, CoreSchema: cfg.SCIM.CoreSchema, Concurrency: cfg.SCIM.Concurrency, MaxRPS: cfg.SCIM.Rate(),
		MaxRequests: cfg.SCIM.MaxRequestsPerRun,
		Log:         env.Log.With().Str("run", run.ID).Str("stage", "load").Logger(), Progress: opt.Progress,
	}
	if base != nil {
		if err := base.check(cfg); err != nil {
			return err
		}
		in.BaselineUsers = filepath.Join(cfg.Data, base.Users.Path)
		in.BaselineLocations = filepath.Join(cfg.Data, base.Locations.Path)
	}
	inputs := []artifact.File{changes}
	if opt.DryRun {
		return runStage(env, run, StageLoad, inputs, func(dir string) (stages.Result, error) {
			return dryRunLoad(ctx, run, in, dir)
		})
	}
	return runStage(env, run, StageLoad, inputs, func(dir string) (stages.Result, error) {
		in.Attempt = run.Stage(StageLoad).Attempts
		in.PriorJournal = latestJournal(run)
		res, err := load.Run(ctx, in, dir)
		var stopped *load.StoppedError
		if errors.As(err, &stopped) && errors.Is(err, load.ErrBudget) {
			return res, fmt.Errorf("%w; the next run goes on from where this one stopped (or now: %s)", err, env.command("load --run %s", run.ID))
		}
		if errors.As(err, &stopped) {
			return res, fmt.Errorf("%w; nothing more was sent: once the cause is fixed, resume with %s", err, env.command("load --run %s", run.ID))
		}
		var failed *load.FailedError
		if err == nil || errors.As(err, &failed) {
			b, berr := SetBaseline(cfg, run, env.Now())
			if berr != nil {
				return res, fmt.Errorf("the load ended but the baseline could not be moved to it: %w", berr)
			}
			res.Details["baseline"] = b
		}
		return res, err
	})
}

// supersededBy is the daily run, later than run, whose load made the
// current baseline ("" for none): run's plan, and its export set, are
// then older than what was applied, and are never loaded. A provision
// run does not supersede: the daily run's plan is made again against it.
func supersededBy(cfg *config.Config, run *Run) string {
	cur, err := ReadBaseline(cfg)
	if err != nil || cur == nil || compareRunIDs(cur.RunID, run.ID) <= 0 {
		return ""
	}
	if by, err := OpenRun(cfg, cur.RunID); err == nil && by.Manifest.Provision != "" {
		return ""
	}
	return cur.RunID
}

// baselineStillCurrent refuses to load a change set made against a
// baseline that a later run's load has replaced: applying it would undo
// that run's work. The run's own earlier attempt may have moved it.
func baselineStillCurrent(env Env, run *Run, diffBase *Baseline) error {
	cur, err := ReadBaseline(env.Config)
	if err != nil {
		return err
	}
	curID, diffID := "", ""
	if cur != nil {
		curID = cur.RunID
	}
	if diffBase != nil {
		diffID = diffBase.RunID
	}
	if curID == diffID || curID == run.ID {
		return nil
	}
	if by := supersededBy(env.Config, run); by != "" {
		return fmt.Errorf("run %s is superseded: run %s, of a later export, has been applied since; this older plan is not loaded, since it would undo that run's work", run.ID, by)
	}
	return fmt.Errorf("run %s was diffed against the applied state of run %q, but the baseline is now run %s's: rerun its diff (%s) before loading it",
		run.ID, diffID, curID, env.command("diff --run %s", run.ID))
}

// latestJournal is the journal of the latest earlier load attempt that
// wrote one ("" for none). An attempt killed before it wrote its journal
// has none; the one before it then holds the record.
func latestJournal(run *Run) string {
	dirs, _ := filepath.Glob(filepath.Join(run.Dir, "load.attempt-*"))
	sort.Slice(dirs, func(i, j int) bool { return attemptOf(dirs[i]) > attemptOf(dirs[j]) })
	for _, d := range dirs {
		p := filepath.Join(d, load.JournalFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func attemptOf(dir string) int {
	_, s, _ := strings.Cut(filepath.Base(dir), ".attempt-")
	i, _ := strconv.Atoi(s)
	return i
}

// dryRunLoad is a load attempt in dry-run mode: it plays the load against
// a recorder instead of the server and writes the requests it would send
// to dir/requests.jsonl. It starts from the journal of the latest attempt
// that wrote one, so on an interrupted load it shows what a resume would
// send. What the recorded load writes besides is thrown away.
func dryRunLoad(ctx context.Context, run *Run, in load.Input, dir string) (stages.Result, error) {
	res := stages.Result{Mode: stages.ModeDryRun, Details: map[string]any{}}
	tmp, err := os.MkdirTemp(run.Dir, ".load-dry-run-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	rec := load.NewRecorder()
	in.Client = in.Client.WithTransport(rec)
	in.Concurrency = 1 // the requests in a stable order
	in.MaxRPS = 0      // nothing leaves: no rate to keep
	in.MaxRequests = 0 // and no budget to spend
	in.PriorJournal = latestJournal(run)
	rr, err := load.Run(ctx, in, tmp)
	var failed *load.FailedError
	if err != nil && !errors.As(err, &failed) {
		return res, err
	}
	// The recorded load's counts are what it would do; they stay out of
	// Counts, where a "failed" count means a load that ran to its end.
	res.Details["would_do"], res.Details["resumes_from"] = rr.Counts, in.PriorJournal
	res.Counts = map[string]int64{"requests": int64(rec.Requests())}
	res.Outputs = []stages.Output{{Path: load.RequestsFile, Rows: int64(rec.Requests())}}
	return res, artifact.WriteBytes(filepath.Join(dir, load.RequestsFile), rec.Bytes())
}
