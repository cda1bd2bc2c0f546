package main

import (
	"fmt"
	"os/user"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) approveCommand() *cobra.Command {
	var runID, reason string
	cmd := &cobra.Command{
		Use:   "approve",
		Short: "Approve a run halted by the mass-deletion guard",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked(cmd.Name(), func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				by := "unknown"
				if u, err := user.Current(); err == nil {
					by = u.Username
				}
				if err := pipeline.Approve(a.env(), run, by, reason); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "run %s: approved by %s: %s\n", run.ID, by, reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "the halted run's id")
	cmd.Flags().StringVar(&reason, "reason", "", "why the deletions are right")
	cmd.MarkFlagRequired("run")
	cmd.MarkFlagRequired("reason")
	return cmd
}
