package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// Outcome is how a sync ended.
type Outcome int

const (
	// Done: every stage ran and the load sent everything (or, in a dry
	// run, the plan is made).
	Done Outcome = iota
	// NothingNew: no new export set, and no run left to finish.
	NothingNew
	// Halted: a guard (mass deletion or creation) halted the diff;
	// nothing was sent.
	// A person approves it (condeco-sync approve), then loads it.
	Halted
	// LoadFailed: the load ran to its end with failed operations; the
	// baseline leaves them out, so the next run sends them again.
	LoadFailed
	// Interrupted: the context was cancelled (SIGINT, SIGTERM); the stage
	// running stopped where it could (a load between two requests), and
	// the next sync resumes.
	Interrupted
)

// SyncOptions are how a sync is asked for.
type SyncOptions struct {
	// DryRun stops each run after diff: the plan is made, nothing is sent.
	DryRun   bool
	Progress io.Writer // a terminal for the load's progress line, or nil
	// Ended, when set, is told of every stage that ran, as it ends (ok or
	// not), for the caller to report it.
	Ended func(run *Run, stage Stage)
}

// SyncResult is what a sync did.
type SyncResult struct {
	Outcome Outcome
	// Run is the run the outcome is about: the new run, or the one resumed
	// when it stopped there (nil when NothingNew).
	Run *Run
	// Stage is the stage the outcome came from (Halted, LoadFailed,
	// Interrupted, or an error).
	Stage Stage
	// Resumed is the earlier run finished first, if there was one.
	Resumed *Run
	// Why says why there was nothing new.
	Why string
	// Pruned lists the runs retention removed after the sync.
	Pruned []string
}

// Sync is one run of condeco-sync, the sequence `condeco-sync run` and
// the daemon share:
//
//  1. the latest run, if it stopped before its end, is finished from the
//     stage where it stopped (see Unfinished);
//  2. the next export set (see ReadInbox), if any, becomes a new run:
//     extract → transform → diff (the guard may halt it here) → load;
//  3. after a load with no failed operation, retention removes old runs.
//
// A halted, failed or interrupted stage ends the sync there, with its
// outcome (and, for a halt or a failed load, the error that says so); a
// load with failed operations of the run resumed in step 1 does not stop
// step 2, since the new run sends them again. A dry run stops after the
// run it resumed, if any. Errors of a stage that could not do its work
// come back as a *StageError; others mean no stage ran.
func Sync(ctx context.Context, env Env, opt SyncOptions) (res SyncResult, err error) {
	loaded := false // a load of this sync ended with no failed operation
	defer func() {
		if loaded && err == nil && (res.Outcome == Done || res.Outcome == NothingNew) {
			res.Pruned = prune(env)
		}
	}()
	run, from, err := Unfinished(env.Config)
	if err != nil {
		return res, err
	}
	if run != nil && run.Stage(from).Status == StatusFailed {
		// A newer export set replaces a run that failed: it is not
		// finished, as an older export must not undo a newer one.
		if exp, nerr := NextExport(env); nerr == nil {
			env.Log.Warn().Str("run", run.ID).Str("stage", string(from)).Str("set", exp.Set.Stamp).Msg(
				"the latest run failed and a newer export set has come: the new set is taken, and that run is left as it is")
			run = nil
		}
	}
	if run != nil && !(opt.DryRun && from == StageLoad) {
		env.Log.Info().Str("run", run.ID).Str("from", string(from)).Msg("finishing the latest run, which stopped before its end")
		res.Resumed = run
		out, stage, err := stagesFrom(ctx, env, opt, run, from)
		if opt.DryRun || (out != LoadFailed && (out != Done || err != nil)) {
			res.Outcome, res.Run, res.Stage = out, run, stage
			return res, err
		}
		loaded = out == Done
	}
	if ctx.Err() != nil {
		res.Outcome, res.Run, res.Stage = Interrupted, run, StageLoad
		return res, nil
	}
	exp, err := NextExport(env)
	var none *NoNewExportError
	if errors.As(err, &none) {
		res.Outcome, res.Why = NothingNew, none.Why
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Run, err = Extract(env, exp)
	if res.Run != nil {
		opt.ended(res.Run, StageExtract)
	}
	if err != nil {
		res.Stage = StageExtract
		return res, err
	}
	res.Outcome, res.Stage, err = stagesFrom(ctx, env, opt, res.Run, StageTransform)
	loaded = loaded || (res.Outcome == Done && err == nil && !opt.DryRun)
	return res, err
}

func (o SyncOptions) ended(run *Run, stage Stage) {
	if o.Ended != nil {
		o.Ended(run, stage)
	}
}

// stagesFrom takes run through the stages from the named one on, up to
// diff in a dry run, and says how it ended and in which stage.
func stagesFrom(ctx context.Context, env Env, opt SyncOptions, run *Run, from Stage) (Outcome, Stage, error) {
	steps := []struct {
		stage Stage
		do    func() error
	}{
		{StageTransform, func() error { return Transform(env, run) }},
		{StageDiff, func() error { return Diff(env, run) }},
		{StageLoad, func() error { return Load(ctx, env, run, LoadOptions{Progress: opt.Progress}) }},
	}
	started := false
	for _, s := range steps {
		if started = started || s.stage == from; !started {
			continue
		}
		if s.stage == StageLoad && opt.DryRun {
			break
		}
		err := s.do()
		var se *StageError
		if err == nil || errors.As(err, &se) {
			opt.ended(run, s.stage)
		}
		var halt *stages.HaltError
		var failed *load.FailedError
		switch {
		case ctx.Err() != nil:
			return Interrupted, s.stage, nil // the next sync resumes it
		case errors.As(err, &halt):
			return Halted, s.stage, err
		case errors.As(err, &failed):
			return LoadFailed, s.stage, err
		case err != nil:
			return Done, s.stage, err
		}
	}
	return Done, "", nil
}

// prune applies retention after a run that went well. A failure to prune
// is logged: the run itself went well.
func prune(env Env) []string {
	removed, err := Prune(env.Config)
	if err != nil {
		env.Log.Error().Err(err).Msg("retention: removing old runs")
	}
	if len(removed) > 0 {
		env.Log.Info().Strs("runs", removed).Int("keep_runs", env.Config.Retention.KeepRuns).Msg("retention: removed old runs")
	}
	return removed
}

// Scheduled is the daemon's sync: Sync with no dry run and no terminal,
// its outcome said in the log, since nobody reads a console, and
// announced where notify: says. It returns
// the result for whoever wants more.
func Scheduled(ctx context.Context, env Env) SyncResult {
	res, err := Sync(ctx, env, SyncOptions{})
	log := env.Log
	if res.Run != nil {
		log = log.With().Str("run", res.Run.ID).Logger()
	}
	switch {
	case res.Outcome == Interrupted:
		log.Info().Msg("the run was stopped; the next start resumes it")
	case res.Outcome == NothingNew:
		log.Info().Msg(res.Why)
	case res.Outcome == Halted:
		log.Warn().Err(err).Msgf("the run is halted by %s: nothing was sent. Read its plan (%s), approve it (%s), and the next scheduled run loads it",
			guardOf(res.Run), env.command("show summary --run %s", res.Run.ID), env.command("approve --run %s --reason TEXT", res.Run.ID))
	case res.Outcome == LoadFailed:
		log.Warn().Err(err).Msg("the load ended with failed operations; the next run sends them again")
	case errors.Is(err, load.ErrBudget):
		log.Info().Err(err).Msg("the load stopped at scim.max_requests_per_run, as asked; the next scheduled run goes on from it")
	case err != nil:
		log.Error().Err(err).Msg("the scheduled run failed")
	}
	Announce(ctx, env, res, err)
	return res
}
