package main

import (
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

// diff reruns a run's diff against the baseline its first attempt used.
func (a *app) diffCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use: "diff",
		Example: `  condeco-sync diff                              # the latest run, again
  condeco-sync diff --run 20261124T020000Z`,
		Short: "Rerun diff on a run (default: the latest) against its baseline",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked(cmd.Name(), func() error { return a.rerun(runID, pipeline.StageDiff, pipeline.Diff) })
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}
