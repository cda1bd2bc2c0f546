package main

import (
	"context"
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use: "status",
		Example: `  condeco-sync status
  condeco-sync status || echo "a person is needed"`,
		Short: "Is everything ready for the next run? (for people and monitors)",
		Long: `status looks at everything a run needs and says what it finds, one line each: the
config, the token, the SCIM endpoint (one GET /ServiceProviderConfig, authenticated),
the inbox (what is next, what waits, what is never taken and why), the baseline, the
latest run, every run halted or with a load to finish, and the next scheduled time.
It changes nothing.

Each line starts with OK, NOTE (not as it should be, but it mends itself: a set still
being written, a load the next run resumes) or ACT (a person must act). It exits 0
when no line says ACT, 1 when one does, 2 when the config cannot be read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			act := 0
			for _, c := range pipeline.Status(context.Background(), a.env()) {
				label := map[pipeline.Level]string{pipeline.OK: "OK", pipeline.Note: "NOTE", pipeline.Act: "ACT"}[c.Level]
				fmt.Fprintf(a.stdout, "%-5s %-24s %s\n", label, c.What, c.Found)
				if c.Level == pipeline.Act {
					act++
				}
			}
			if act > 0 {
				return &exitError{exitFailed, fmt.Errorf("%d of the lines above need a person (ACT)", act)}
			}
			return nil
		},
	}
}
