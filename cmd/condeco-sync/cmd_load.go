package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/spf13/cobra"
)

// load sends (or resumes sending) a run's plan, or records it with
// --dry-run.
func (a *app) loadCommand() *cobra.Command {
	var runID string
	var dryRun bool
	cmd := &cobra.Command{
		Use: "load",
		Example: `  condeco-sync load --dry-run                    # the requests, in load/requests.jsonl; nothing sent
  condeco-sync load                              # the latest run's plan
  condeco-sync load --run 20261124T020000Z        # resume a stopped load`,
		Short: "Load (or resume loading) a run's change set into the SCIM server",
		Long: `Sends a run's change set (default: the latest run's) to the SCIM server, or resumes
its load: what the journal of earlier attempts records as done is not sent again.
With --dry-run it records the requests it would send in load/requests.jsonl, as an
attempt of its own, and sends nothing.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sending(cmd.Name(), dryRun, func(ctx context.Context) error {
				return a.rerun(runID, pipeline.StageLoad, func(env pipeline.Env, run *pipeline.Run) error {
					return a.load(ctx, env, run, dryRun)
				})
			})
		},
	}
	addRunFlag(cmd, &runID)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write the requests to load/requests.jsonl and send nothing")
	return cmd
}

// load runs (or resumes) the load of run, or with dryRun records the
// requests it would send. A cancelled ctx (SIGINT, SIGTERM) stops it
// between requests: the journal keeps what was done, and load --run
// resumes.
func (a *app) load(ctx context.Context, env pipeline.Env, run *pipeline.Run, dryRun bool) error {
	opt := pipeline.LoadOptions{DryRun: dryRun}
	if f := a.progress(); f != nil {
		opt.Progress = f
	}
	err := pipeline.Load(ctx, env, run, opt)
	var failed *load.FailedError
	switch {
	case ctx.Err() != nil:
		return a.interrupted(run, pipeline.StageLoad)
	case errors.As(err, &failed):
		return &exitError{exitLoadFail, err}
	case err == nil && dryRun:
		fmt.Fprintf(a.stdout, "run %s: load dry run: the requests it would send are in %s\n", run.ID,
			run.StageDir(pipeline.StageLoad)+"/"+pipeline.LoadRequests.File)
	}
	return err
}
