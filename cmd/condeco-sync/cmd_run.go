package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) runCommand() *cobra.Command {
	var dryRun bool
	var metricsFile string
	cmd := &cobra.Command{
		Use: "run",
		Example: `  condeco-sync --config /etc/condeco-sync/condeco-sync.yaml run
  condeco-sync run --dry-run                     # stop after the plan, and print it
  condeco-sync run --metrics-file /var/lib/node_exporter/textfile/condeco-sync.prom`,
		Short: "A new run: extract → transform → diff → load",
		Long: `Starts a new run from the newest export set in the inbox dated after the last one
taken, and takes it through every stage. With --dry-run it stops after diff and prints
the plan. With no new export set it says so and exits 0 without creating a run.
The latest run, if it stopped before its end (a stop or a crash between or during
stages, or a load that was stopped), is finished first.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sending(cmd.Name(), dryRun, func(ctx context.Context) error {
				opt := pipeline.SyncOptions{DryRun: dryRun, Ended: a.stageEnded}
				if f := a.progress(); f != nil {
					opt.Progress = f
				}
				res, err := pipeline.Sync(ctx, a.env(), opt)
				if !dryRun { // a dry run is a person at the terminal
					pipeline.Announce(ctx, a.env(), res, err)
				}
				if metricsFile != "" {
					if merr := writeMetricsFile(metricsFile, a.env()); merr != nil {
						a.log.Warn().Err(merr).Msg("--metrics-file could not be written; the run is not affected")
					}
				}
				return a.synced(res, err, dryRun)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "stop after diff and print the plan; send nothing")
	cmd.Flags().StringVar(&metricsFile, "metrics-file", "", "write the metrics the daemon serves at /metrics to this file, for node_exporter's textfile collector (name it *.prom)")
	return cmd
}

// writeMetricsFile writes the metrics to path atomically, readable by
// others: node_exporter runs as a user of its own (its collector ignores
// the temporary file, not named *.prom).
func writeMetricsFile(path string, env pipeline.Env) error {
	return artifact.WritePublic(path, func(w io.Writer) error { return pipeline.WriteMetrics(w, env, time.Time{}) })
}

// synced renders how a sync ended, and turns it into the exit code.
func (a *app) synced(res pipeline.SyncResult, err error, dryRun bool) error {
	switch res.Outcome {
	case pipeline.NothingNew:
		fmt.Fprintln(a.stdout, res.Why)
		return nil
	case pipeline.Interrupted:
		return a.interrupted(res.Run, res.Stage)
	case pipeline.Halted:
		return &exitError{exitHalted, fmt.Errorf("%w\n  read the plan: %s\n  approve it:   %s\n  then load:    %s", err,
			a.advice("show summary --run "+res.Run.ID), a.advice("approve --run "+res.Run.ID+" --reason TEXT"), a.advice("load --run "+res.Run.ID))}
	case pipeline.LoadFailed:
		return &exitError{exitLoadFail, err}
	}
	var se *pipeline.StageError
	if errors.As(err, &se) && se.Stage != pipeline.StageLoad { // a load's error says how it resumes
		return fmt.Errorf("%w\n  once the cause is fixed, this finishes the run: %s", err, a.advice("run"))
	}
	if err != nil {
		return err
	}
	if dryRun && res.Run != nil {
		return a.printPlan(res.Run)
	}
	return nil
}

// Long plans: the console gets the head and the tail (the counts), and
// the command that prints the whole file.
const (
	planHead = 60
	planTail = 3
)

// printPlan prints run's plan (summary.md), cut in the middle when it is
// longer than planHead+planTail lines; the file keeps everything.
func (a *app) printPlan(run *pipeline.Run) error {
	in, err := pipeline.OpenArtifact(run, pipeline.DiffSummary)
	if err != nil {
		return err
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var tail []string
	n := 0
	for ; sc.Scan(); n++ {
		if n < planHead {
			fmt.Fprintln(a.stdout, sc.Text())
			continue
		}
		tail = append(tail, sc.Text())
		if len(tail) > planTail {
			tail = tail[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if left := n - planHead - len(tail); left > 0 {
		fmt.Fprintf(a.stdout, "… %d more lines; the whole plan: %s\n", left, a.advice("show summary --run "+run.ID))
	}
	for _, l := range tail {
		fmt.Fprintln(a.stdout, l)
	}
	return nil
}
