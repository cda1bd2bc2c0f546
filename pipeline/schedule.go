package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"
)

// Daily runs a job once a day at schedule.at in schedule.timezone, on
// go-co-op/gocron. The rules an operator can count on:
//
//   - Runs never overlap: a run still going when the next is due makes
//     that one skip (gocron's singleton mode, reschedule), and the catch-up
//     run shares the same one-at-a-time limit.
//   - Daylight saving time: one run a day, whatever the clocks do. On the
//     spring-forward day a schedule.at that does not exist (01:00–01:59 in
//     Europe/London) runs an hour later on the wall clock (01:30 → 02:30
//     BST: the instant 01:30 GMT would have been). On the fall-back day a
//     time that occurs twice (01:00–01:59) runs once, at its second
//     occurrence (01:30 GMT), as Go's time.Date resolves it; a guard in the
//     job keeps it to one run per local date should that ever change.
//   - schedule.catch_up: started after the day's time with no run started
//     since that time today, it runs now.
//   - Stop cancels the job's context (a load stops at an operation
//     boundary, its journal synced) and waits for the job to return.
type Daily struct {
	sched  gocron.Scheduler
	job    gocron.Job
	cancel context.CancelFunc
	loc    *time.Location
	clock  clockwork.Clock
	log    zerolog.Logger

	mu      sync.Mutex
	lastDay string // the local date of the latest daily run
}

// stopTimeout bounds how long Stop waits for a running job: a stage that
// cannot be interrupted (extract, transform) finishes within it.
const stopTimeout = 10 * time.Minute

// StartDaily starts the schedule of cfg with job, on clock (a real one:
// clockwork.NewRealClock()), and logs when the next run is. A startNow
// reason (a run to resume) runs the job at once, as a due catch-up does.
func StartDaily(cfg *config.Config, clock clockwork.Clock, log zerolog.Logger, job func(ctx context.Context), startNow string) (_ *Daily, err error) {
	loc, err := time.LoadLocation(cfg.Schedule.Timezone)
	if err != nil {
		return nil, err
	}
	hour, minute, err := cfg.ScheduleAt()
	if err != nil {
		return nil, err
	}
	s, err := gocron.NewScheduler(gocron.WithClock(clock), gocron.WithLocation(loc),
		gocron.WithLimitConcurrentJobs(1, gocron.LimitModeReschedule), gocron.WithStopTimeout(stopTimeout))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		if err != nil { // nothing started: release what was made
			cancel()
			s.Shutdown()
		}
	}()
	d := &Daily{sched: s, cancel: cancel, loc: loc, clock: clock, log: log}
	d.job, err = s.NewJob(
		gocron.DailyJob(1, gocron.NewAtTimes(gocron.NewAtTime(uint(hour), uint(minute), 0))),
		gocron.NewTask(func(ctx context.Context) { d.daily(ctx, job) }),
		gocron.WithName("daily run"), gocron.WithContext(ctx),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
	)
	if err != nil {
		return nil, err
	}
	if startNow == "" && cfg.Schedule.CatchUp {
		var due bool
		var missed time.Time
		if due, missed, err = catchUpDue(cfg, clock.Now(), loc, hour, minute); err != nil {
			return nil, err
		}
		if due {
			startNow = fmt.Sprintf("catching up: today's run time (%s) has passed with no run since", missed.Format("2006-01-02 15:04 MST"))
		}
	}
	if startNow != "" {
		log.Info().Msg(startNow + "; running now")
		if _, err = s.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartImmediately()),
			gocron.NewTask(job), gocron.WithName("run at start"), gocron.WithContext(ctx)); err != nil {
			return nil, err
		}
	}
	s.Start()
	if next, nerr := d.job.NextRun(); nerr == nil {
		when := next.In(loc).Format("2006-01-02 15:04 MST")
		log.Info().Str("next_run", when).Str("timezone", loc.String()).
			Msg(fmt.Sprintf("scheduled: a run every day at %s %s; the next at %s", cfg.Schedule.At, loc, when))
	}
	return d, nil
}

// daily runs job for the daily schedule, once per local date: the guard
// holds the one-run-a-day rule on a fall-back day whatever the scheduler
// makes of a time that occurs twice.
func (d *Daily) daily(ctx context.Context, job func(ctx context.Context)) {
	day := d.clock.Now().In(d.loc).Format(time.DateOnly)
	d.mu.Lock()
	if day == d.lastDay {
		d.mu.Unlock()
		d.log.Info().Str("day", day).Msg("today's run has happened already; skipping")
		return
	}
	d.lastDay = day
	d.mu.Unlock()
	job(ctx)
}

// NextRun is when the daily job runs next.
func (d *Daily) NextRun() (time.Time, error) { return d.job.NextRun() }

// Stop cancels the running job's context and waits for it to return.
func (d *Daily) Stop() error {
	d.cancel()
	return d.sched.Shutdown()
}

// catchUpDue reports whether today's run time (hour:minute in loc) has
// passed at now with no run started since it; missed is that time.
func catchUpDue(cfg *config.Config, now time.Time, loc *time.Location, hour, minute int) (due bool, missed time.Time, err error) {
	local := now.In(loc)
	missed = time.Date(local.Year(), local.Month(), local.Day(), hour, minute, 0, 0, loc)
	if now.Before(missed) {
		return false, missed, nil
	}
	ids, err := RunIDs(cfg)
	if err != nil {
		return false, missed, err
	}
	for _, id := range ids {
		base, _ := splitRunID(id)
		if started, err := time.Parse(RunIDLayout, base); err == nil && !started.Before(missed) {
			return false, missed, nil
		}
	}
	return true, missed, nil
}

// latestRun is the latest run but for provisions that sent nothing (a
// preview, or one stopped before its load): those are a person's, at a
// terminal, to run again, and change nothing a daily run stands on. A
// provision whose load began counts, and is finished as any load is.
// nil when there is none.
func latestRun(cfg *config.Config) (*Run, error) {
	ids, err := RunIDs(cfg)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		run, err := OpenRun(cfg, ids[i])
		if err != nil {
			return nil, err
		}
		if st := run.Stage(StageLoad).Status; run.Manifest.Provision == "" || st != StatusPending && st != stages.ModeDryRun {
			return run, nil
		}
	}
	return nil, nil
}

// Unfinished returns the latest run when it has stages yet to run, with
// the stage to resume it from; a nil run when there is none. A run is
// unfinished when its extract ended ok and:
//   - transform or diff has yet to end: pending (the process stopped
//     between two stages), interrupted (killed during one), stale (an
//     earlier stage was rerun since) or failed;
//   - or its diff ended ok (or halted and was approved) and the baseline is
//     not its applied state, as after a load that was stopped or killed.
//
// A failed transform or diff is tried again (its cause may be fixed); a
// halted diff waits for its approval. A
// load that ended with failed operations has moved the baseline: it is
// finished, and the next run sends what failed. Only the latest run is
// resumed: an older one would undo what a newer one applied.
func Unfinished(cfg *config.Config) (*Run, Stage, error) {
	run, err := latestRun(cfg)
	if err != nil || run == nil || run.Manifest.Discarded != nil {
		return nil, "", err
	}
	if m, err := ReadManifest(run.Dir, StageExtract); err != nil || m.Status != StatusOK {
		return nil, "", nil // no run to resume: the export set is taken again by a new run
	}
	for _, stage := range []Stage{StageTransform, StageDiff} {
		switch run.Stage(stage).Status {
		case StatusOK:
		case StatusPending, StatusStale, StatusInterrupted, StatusRunning:
			return run, stage, nil
		case StatusHalted: // the diff: loaded once approved, below
		case StatusFailed:
			// Tried again: once its cause is fixed (a config, a file) it
			// goes on, rather than leave its export set taken and
			// unapplied. Sync takes a newer export set instead, if any.
			return run, stage, nil
		default:
			return nil, "", nil
		}
	}
	ok, err := Approved(run)
	if errors.Is(err, os.ErrNotExist) || (err == nil && !ok) {
		return nil, "", nil // a failed transform or diff, or a halt waiting for approval
	}
	if err != nil {
		return nil, "", err
	}
	b, err := ReadBaseline(cfg)
	if err != nil {
		return nil, "", err
	}
	if b != nil && b.RunID == run.ID {
		return nil, "", nil
	}
	return run, StageLoad, nil
}
