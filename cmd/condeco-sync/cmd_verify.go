package main

import (
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) verifyCommand() *cobra.Command {
	var runID string
	var all bool
	cmd := &cobra.Command{
		Use: "verify",
		Example: `  condeco-sync verify                            # the latest run
  condeco-sync verify --all`,
		Short: "Recheck every artifact's sha256 against its manifest",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			if all && runID != "" {
				return usageErr("verify: give --run or --all, not both")
			}
			ids := []string{runID}
			if all {
				var err error
				if ids, err = pipeline.RunIDs(a.cfg); err != nil {
					return err
				}
			}
			var damaged, checked int
			for _, id := range ids {
				run, err := pipeline.OpenRun(a.cfg, id)
				if err != nil {
					return err
				}
				damage, n, err := pipeline.Verify(run)
				if err != nil {
					return err
				}
				checked += n
				for _, d := range damage {
					fmt.Fprintln(a.stdout, "DAMAGED", d)
				}
				damaged += len(damage)
				if len(damage) == 0 {
					fmt.Fprintf(a.stdout, "run %s: %d files ok\n", run.ID, n)
				}
				for _, d := range pipeline.CutShort(run) {
					fmt.Fprintf(a.stdout, "run %s: %s/ has no manifest: that attempt was interrupted before it ended, and nothing vouches for its files\n", run.ID, d)
				}
			}
			if damaged > 0 {
				return fmt.Errorf("%d of %d files do not match their manifests", damaged, checked)
			}
			return nil
		},
	}
	addRunFlag(cmd, &runID)
	cmd.Flags().BoolVar(&all, "all", false, "every run in the data directory")
	return cmd
}
