package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) runsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "runs",
		Example: `  condeco-sync runs`,
		Short:   "One line per run: id, start, status of each stage, counts",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			ids, err := pipeline.RunIDs(a.cfg)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				fmt.Fprintf(a.stdout, "no runs in %s\n", a.cfg.Data)
				return nil
			}
			// Columns as wide as their widest cell: a run id with a
			// suffix, "interrupted" or "approved by <who>" stay aligned.
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 1, ' ', 0)
			defer tw.Flush()
			line := func(cells []string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
			head := []string{"RUN", "STARTED", "EXPORT"}
			for _, s := range pipeline.Stages {
				head = append(head, strings.ToUpper(string(s)))
			}
			line(append(head, "COUNTS"))
			for _, id := range ids {
				run, err := pipeline.OpenRun(a.cfg, id)
				if err != nil {
					line([]string{id, err.Error()})
					continue
				}
				r := pipeline.Report(run)
				cells := append([]string{r.ID, r.Started.Format("2006-01-02 15:04:05"), r.Export}, r.Status...)
				counts := a.counts(r)
				if p := run.Manifest.Provision; p != "" {
					counts = "provision of UserID " + p + ": " + counts
				}
				line(append(cells, counts))
			}
			return nil
		},
	}
}

// counts summarises a run's counts for the runs list.
func (a *app) counts(r pipeline.RunReport) string {
	var parts []string
	if r.Users >= 0 {
		parts = append(parts, fmt.Sprintf("users %d", r.Users), fmt.Sprintf("rejects %d", r.Rejects))
	}
	if r.Holds >= 0 {
		parts = append(parts, fmt.Sprintf("holds %d", r.Holds), fmt.Sprintf("warnings %d", r.Warnings))
	}
	if p := r.Plan; p != nil {
		parts = append(parts, fmt.Sprintf("plan +%d ~%d -%d !%d", p.Add, p.Change, p.Destroy, p.Held))
	}
	switch {
	case r.LoadEnded:
		parts = append(parts, fmt.Sprintf("failed %d", r.LoadFailed))
	case r.LoadNeedsResuming:
		parts = append(parts, "load unfinished: "+a.advice("load --run "+r.ID))
	}
	return strings.Join(parts, ", ")
}
