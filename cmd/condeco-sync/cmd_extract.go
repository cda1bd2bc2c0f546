package main

import (
	"errors"
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

// extract starts a run from the next export set, and stops there.
func (a *app) extractCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "extract",
		Example: `  condeco-sync extract                           # takes the next export set as a new run`,
		Short:   "A new run from the next export set (extract only)",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked(cmd.Name(), func() error {
				set, err := pipeline.NextExport(a.env())
				var none *pipeline.NoNewExportError
				if errors.As(err, &none) {
					fmt.Fprintln(a.stdout, none.Why)
					return nil
				}
				if err != nil {
					return err
				}
				run, err := pipeline.Extract(a.env(), set)
				if run != nil {
					a.stageEnded(run, pipeline.StageExtract)
				}
				return err
			})
		},
	}
}
