package main

import (
	"fmt"
	"os/user"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) discardCommand() *cobra.Command {
	var runID, reason string
	cmd := &cobra.Command{
		Use:   "discard",
		Short: "Abandon a run that will never be applied (halted, failed, or a load not wanted), recording who and why",
		Long: `discard records that a run is never applied: a plan halted by a guard that nobody
will approve, a run whose transform or diff failed on an export set that should not
be taken again, or a plan whose load is not wanted. The next run neither resumes nor
retries it, and takes the next export set; status stops asking for it. The run's
files stay, with who discarded it, when and why, in run.json.

A run whose load has already sent changes to the tenant is not discarded: the
baseline would no longer say what the tenant holds. Finish it with run instead.`,
		Example: `  condeco-sync discard --run 20261124T020000Z --reason "export cut short by Condeco; day 3 is whole"`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked(cmd.Name(), func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				by := currentUser()
				if err := pipeline.DiscardRun(a.env(), run, by, reason); err != nil {
					return err
				}
				a.log.Info().Str("run", run.ID).Str("by", by).Str("reason", reason).Msg("run discarded: never applied")
				fmt.Fprintf(a.stdout, "run %s: discarded by %s: %s\n  the next run takes the next export set: %s\n", run.ID, by, reason, a.advice("run"))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "the run's id")
	cmd.Flags().StringVar(&reason, "reason", "", "why the run is never applied")
	cmd.MarkFlagRequired("run")
	cmd.MarkFlagRequired("reason")
	return cmd
}

// currentUser names the person at the terminal, for the approvals and
// discards run.json records.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
