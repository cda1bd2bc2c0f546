package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"
)

// scheduleCommand is the daemon: a run a day at schedule.at (see
// pipeline.Daily for the rules), until SIGINT or SIGTERM.
func (a *app) scheduleCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use: "schedule",
		Example: `  condeco-sync --config /etc/condeco-sync/condeco-sync.yaml schedule
  condeco-sync schedule --listen 127.0.0.1:9464   # with /healthz and /metrics`,
		Short: "Daemon: a daily run at schedule.at in schedule.timezone",
		Long: `schedule stays running and starts a run every day at schedule.at in schedule.timezone:
it first finishes the latest run if it stopped before its end, then takes the newest export
set dated after the last one taken (with none, it logs "no new export since <time>" and
creates no run). Runs never overlap. Started after the day's time with no run since
(schedule.catch_up), or with a run to finish, it runs at once. SIGINT or SIGTERM stop it gracefully: a load
stops between two operations with its journal synced (the next start resumes it), any
other stage finishes; then it exits 0. With --listen it serves /healthz (200, or 503 while
a run needs a person) and /metrics (Prometheus text) at that address.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			if _, err := a.cfg.Token(a.getenv); err != nil {
				return err // refuse at start, not at 02:00
			}
			var startNow string
			if run, from, err := pipeline.Unfinished(a.cfg); err != nil {
				return err
			} else if run != nil {
				startNow = fmt.Sprintf("run %s stopped before its end: it resumes from %s", run.ID, from)
			}
			ctx, stop := signalContext()
			defer stop()
			var l net.Listener
			if listen != "" { // before the first run: a port in use is refused at start
				var err error
				if l, err = net.Listen("tcp", listen); err != nil {
					return usageErr("--listen: %v", err)
				}
				defer l.Close()
			}
			d, err := pipeline.StartDaily(a.cfg, clockwork.NewRealClock(), a.log, a.scheduledRun, startNow)
			if err != nil {
				return err
			}
			if l != nil {
				srv := &http.Server{Handler: a.watchHandler(d), ReadHeaderTimeout: 10 * time.Second}
				go srv.Serve(l)
				defer srv.Close()
				a.log.Info().Str("listen", l.Addr().String()).Msg("serving /healthz and /metrics")
			}
			<-ctx.Done()
			a.log.Info().Msg("stopping: waiting for the running stage to end")
			if err := d.Stop(); err != nil {
				return err
			}
			a.log.Info().Msg("stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "serve /healthz and /metrics (Prometheus) at this address, such as 127.0.0.1:9464")
	return cmd
}

// watchHandler serves the daemon's /healthz and /metrics. /healthz is 200
// while the scheduler has a next run and no run needs a person (a halt,
// a failure: what status says ACT for), 503 otherwise, naming the runs
// only (status says why: an error's text can name people).
func (a *app) watchHandler(d *pipeline.Daily) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := d.NextRun(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "the scheduler has no next run: %v\n", err)
			return
		}
		if needs := pipeline.NeedsPerson(a.env()); len(needs) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "needs a person: %s; condeco-sync status says what to do\n", strings.Join(needs, ", "))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		next, _ := d.NextRun()
		var b bytes.Buffer
		if err := pipeline.WriteMetrics(&b, a.env(), next); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
	return mux
}

// scheduledRun is one scheduled run (pipeline.Scheduled), under the data
// directory's lock. A lock held by another command (a person's load, a
// verify) makes it wait and try again, from a second to a minute apart,
// until it is free: the day's export is not left for tomorrow. Errors are
// logged; the daemon goes on.
func (a *app) scheduledRun(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		err := a.locked("schedule", func() error {
			pipeline.Scheduled(ctx, a.env())
			return nil
		})
		var held *pipeline.LockedError
		if !errors.As(err, &held) {
			if err != nil {
				a.log.Error().Err(err).Msg("the scheduled run could not start")
			}
			return
		}
		a.log.Warn().Err(err).Msgf("the scheduled run waits for the data directory to be free: trying again in %s", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
