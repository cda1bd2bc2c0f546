package main

import (
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

// transform reruns a run's transform from its extract artifacts.
func (a *app) transformCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:     "transform",
		Example: `  condeco-sync transform --run 20261124T020000Z  # after a change of mapping or access rules`,
		Short:   "Rerun transform on a run (default: the latest) from its extract artifacts",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked(cmd.Name(), func() error { return a.rerun(runID, pipeline.StageTransform, pipeline.Transform) })
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}
