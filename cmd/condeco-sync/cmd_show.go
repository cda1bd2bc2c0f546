package main

import (
	"io"
	"strings"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) showCommand() *cobra.Command {
	var runID string
	names := pipeline.ShownNames
	cmd := &cobra.Command{
		Use:   "show " + strings.Join(names, "|"),
		Short: "Print one of a run's people-facing artifacts, once its sha256 is checked",
		Example: `  condeco-sync show summary                      # the latest run's plan
  condeco-sync show todo --run 20261124T020000Z  # what the Superuser does by hand
  condeco-sync show results > results.csv        # what the server answered, for support`,
		ValidArgs: names,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("show takes one of %s", strings.Join(names, ", "))
			}
			if _, ok := pipeline.Shown[args[0]]; !ok {
				return usageErr("show: %q is not one of %s", args[0], strings.Join(names, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			run, err := pipeline.OpenRun(a.cfg, runID)
			if err != nil {
				return err
			}
			return a.print(run, pipeline.Shown[args[0]])
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}

// print copies an artifact of run to stdout, through the verified reader.
func (a *app) print(run *pipeline.Run, art pipeline.Artifact) error {
	in, err := pipeline.OpenArtifact(run, art)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(a.stdout, in)
	return err
}
