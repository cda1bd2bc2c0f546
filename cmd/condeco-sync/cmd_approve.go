package main

import (
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) approveCommand() *cobra.Command {
	var runID, reason string
	var andLoad bool
	cmd := &cobra.Command{
		Use: "approve",
		Example: `  condeco-sync approve --run 20261124T020000Z --reason "the Paris office closed: 320 leavers confirmed by HR"
  condeco-sync approve --load --run 20261124T020000Z --reason "HR confirmed the leavers"`,
		Short: "Approve a run halted by the guard on mass deletions or creates (and, with --load, load it)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			if andLoad { // the load will need the token: refuse before approving
				if _, err := a.cfg.Token(a.getenv); err != nil {
					return err
				}
			}
			return a.locked(cmd.Name(), func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				by := currentUser()
				if err := pipeline.Approve(a.env(), run, by, reason); err != nil {
					return err
				}
				r := pipeline.Report(run)
				fmt.Fprintf(a.stdout, "run %s: approved by %s: %s\n", run.ID, by, reason)
				if p := r.Plan; p != nil {
					fmt.Fprintf(a.stdout, "  the plan approved: %s\n", p)
				}
				if !andLoad {
					fmt.Fprintf(a.stdout, "  load it: %s\n", a.advice("load --run "+run.ID))
					return nil
				}
				ctx, stop := signalContext()
				defer stop()
				return a.rerun(run.ID, pipeline.StageLoad, func(env pipeline.Env, run *pipeline.Run) error {
					return a.load(ctx, env, run, false)
				})
			})
		},
	}
	cmd.Flags().BoolVar(&andLoad, "load", false, "load the run once approved")
	cmd.Flags().StringVar(&runID, "run", "", "the halted run's id")
	cmd.Flags().StringVar(&reason, "reason", "", "why the deletions or creates are right")
	cmd.MarkFlagRequired("run")
	cmd.MarkFlagRequired("reason")
	return cmd
}
