package main

import (
	"fmt"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use: "history USERID|EMAIL",
		Example: `  condeco-sync history 100003
  condeco-sync history radia.wilson.3@example.com`,
		Short: "One user's story across the kept runs: export row, rules, plan, the server's answer",
		Long: `history answers "why was this user deleted / not created / made admin?": for each kept
run that knows the user (by Condeco UserID, or by userName or email in any case), the
export row, any reject or warning and its reason, the desired state with the Condeco
value behind a derived field (the AccessLevel behind admin), the plan's change with each
field's old and new value and why, and what the SCIM server answered.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("history takes one UserID or email")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			chapters, err := pipeline.History(a.env(), args[0])
			if err != nil {
				return err
			}
			for _, ch := range chapters {
				fmt.Fprintf(a.stdout, "run %s (set %s)\n", ch.Run, ch.Export)
				for _, l := range ch.Lines {
					fmt.Fprintf(a.stdout, "  %s\n", l)
				}
			}
			return nil
		},
	}
}
