package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/notify"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// Announce sends the notice a sync's outcome calls for, where notify:
// says: a run halted by a guard, failed, stopped at its request budget,
// interrupted, loaded with failed operations, or a due run that found
// nothing new notify.stale_after after the last export set was taken. A
// notice that cannot be sent is logged; it never changes the outcome.
func Announce(ctx context.Context, env Env, res SyncResult, err error) {
	if !env.Config.Notify.Enabled() {
		return
	}
	var out []notify.Notice
	// The run finished first, when the sync went on to a new one: its
	// failed operations are not the sync's outcome, yet wait for a person.
	if r := res.Resumed; r != nil && r != res.Run {
		if rep := Report(r); rep.LoadEnded && rep.LoadFailed > 0 {
			out = append(out, failedOps(env, r, notify.Notice{Run: r.ID, Stage: string(StageLoad)}))
		}
	}
	if n, ok := noticeOf(env, res, err); ok {
		out = append(out, n)
	}
	host, _ := os.Hostname()
	for _, n := range out {
		n.Host, n.At = host, env.Now().UTC()
		log := env.Log.With().Str("event", n.Event).Str("run", n.Run).Logger()
		errs := notify.Sender{Config: env.Config.Notify, Getenv: env.getenv()}.Send(ctx, n)
		for _, e := range errs {
			log.Warn().Err(e).Msg("a notice could not be sent; the run is not affected")
		}
		if len(errs) == 0 {
			log.Info().Msg("notice sent")
		}
	}
}

// noticeOf is what is announced of a sync's outcome, if anything. It
// holds counts, the run id and commands, never a person's data: an
// error's text can name people, so the notice says where to read it.
func noticeOf(env Env, res SyncResult, err error) (notify.Notice, bool) {
	n := notify.Notice{Next: env.command("status")}
	if res.Run != nil {
		n.Run, n.Stage = res.Run.ID, string(res.Stage)
		if p := Report(res.Run).Plan; p != nil {
			n.Counts = map[string]int64{"creates": p.Add, "updates": p.Change, "deletes": p.Destroy, "held": p.Held}
		}
	}
	switch {
	case res.Outcome == Halted:
		guard := guardOf(res.Run)
		n.Event = notify.Halted
		n.Title = fmt.Sprintf("condeco-sync: run %s halted by %s", n.Run, guard)
		n.Text = fmt.Sprintf("The plan of export set %s is past %s's limit, so nothing was sent. A person reads the plan (%s), then approves it, or discards the run if it is never to be applied.",
			res.Run.Manifest.Export, guard, env.command("show summary --run %s", n.Run))
		n.Next = env.command("approve --load --run %s --reason TEXT", n.Run)
	case res.Outcome == Interrupted:
		n.Event = notify.Interrupted
		n.Title = fmt.Sprintf("condeco-sync: run %s interrupted during %s", n.Run, n.Stage)
		n.Text = "SIGINT or SIGTERM stopped the run where it could; nothing is lost. The next run resumes it, or now:"
		n.Next = env.command("run")
		if res.Run == nil {
			n.Title = "condeco-sync: a run was interrupted"
		}
	case res.Outcome == LoadFailed:
		n = failedOps(env, res.Run, n)
	case errors.Is(err, load.ErrBudget):
		n.Event = notify.Stopped
		n.Title = fmt.Sprintf("condeco-sync: run %s stopped at scim.max_requests_per_run", n.Run)
		n.Text = "The load sent the requests it may send in one run, as asked. The next run goes on from its journal, or now:"
		n.Next = env.command("run")
	case err != nil:
		n.Event = notify.Failed
		n.Title = "condeco-sync: a run failed before any stage"
		if res.Run != nil {
			n.Title = fmt.Sprintf("condeco-sync: run %s failed in %s", n.Run, n.Stage)
		}
		n.Text = "The reason is in the log, in status and in the stage's manifest.json (not here: it may name people). Once the cause is fixed, run finishes the run; status says what to do:"
	case res.Outcome == NothingNew:
		return staleNotice(env, n)
	default:
		return n, false
	}
	return n, true
}

// failedOps announces run's load that ended with failed operations.
func failedOps(env Env, run *Run, n notify.Notice) notify.Notice {
	failed := Report(run).LoadFailed
	n.Event = notify.FailedOps
	n.Title = fmt.Sprintf("condeco-sync: run %s loaded with %d failed operations", run.ID, failed)
	n.Text = fmt.Sprintf("The SCIM server refused or never answered %d operations; the rest is applied. The next run sends them again. Each one, in the server's words:", failed)
	n.Next = env.command("show results --run %s", run.ID)
	n.Counts = map[string]int64{"failed": failed}
	return n
}

// staleNotice announces a due run that found nothing new, once
// notify.stale_after has passed since the last export set was taken.
func staleNotice(env Env, n notify.Notice) (notify.Notice, bool) {
	after := env.Config.Notify.StaleAfter
	if after <= 0 {
		return n, false
	}
	run := lastTaken(env.Config)
	if run == nil {
		return n, false
	}
	since := env.Now().Sub(run.Manifest.Started)
	if since < after {
		return n, false
	}
	n.Event, n.Run = notify.Stale, ""
	n.Title = fmt.Sprintf("condeco-sync: no new Condeco export for %s", since.Round(time.Hour))
	n.Text = fmt.Sprintf("The last export set, %s, was taken by run %s at %s; every run since found nothing new (notify.stale_after is %s). Is the Condeco export still being written to the inbox? status says what the inbox holds, and why a set is not taken:",
		run.Manifest.Export, run.ID, run.Manifest.Started.UTC().Format(time.RFC3339), after)
	return n, true
}

// lastTaken is the latest run that took an export set: a daily run (a
// provision reads the latest set but leaves it to the daily run). Nil for
// none.
func lastTaken(cfg *config.Config) *Run {
	ids, _ := RunIDs(cfg)
	for i := len(ids) - 1; i >= 0; i-- {
		if run, err := OpenRun(cfg, ids[i]); err == nil && run.Manifest.Export != "" && run.Manifest.Provision == "" {
			return run
		}
	}
	return nil
}
