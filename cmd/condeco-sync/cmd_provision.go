package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/spf13/cobra"
)

// provision sends one user of the latest export now, through every rule,
// showing each step: what Entra ID and Okta call provisioning on demand.
func (a *app) provisionCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use: "provision USERID|EMAIL",
		Example: `  condeco-sync provision you@example.com --dry-run
  condeco-sync provision 100003`,
		Short: "Provision one user of the latest export now, showing its row, desired state, change and requests",
		Long: `provision takes one user (by Condeco UserID, or by userName or email in any case) of
the newest complete export set through every stage as a run of its own, and prints each
step: the export row, the desired state the rules make of it, the plan's change against
what was applied, the SCIM requests, and what the server answered. The plan holds that
user's change alone (and the creates of the locations it is granted); its load becomes
the baseline, so the next daily run neither sends that user again nor makes it twice,
and takes the same export set for everyone else. With --dry-run it prints the requests
and sends nothing.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("provision takes one UserID or email")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sending(cmd.Name(), dryRun, func(ctx context.Context) error {
				opt := pipeline.LoadOptions{}
				if f := a.progress(); f != nil {
					opt.Progress = f
				}
				rep, err := pipeline.Provision(ctx, a.env(), args[0], dryRun, opt)
				if rep != nil && rep.Run != nil {
					a.printProvision(rep, dryRun && err == nil)
				}
				var failed *load.FailedError
				switch {
				case ctx.Err() != nil && rep != nil && rep.Run != nil:
					return a.interrupted(rep.Run, pipeline.StageLoad)
				case errors.As(err, &failed):
					return &exitError{exitLoadFail, err}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the requests (kept in load/requests.jsonl) and send nothing")
	return cmd
}

// printProvision prints what a provision did, step by step, as far as it
// went.
func (a *app) printProvision(rep *pipeline.ProvisionReport, dryRun bool) {
	w := a.stdout
	fmt.Fprintf(w, "run %s: provision from export set %s\n  artifacts: %s\n", rep.Run.ID, rep.Set, rep.Run.Dir)
	if rep.Row.UserID == "" {
		return
	}
	u := rep.Row
	fmt.Fprintf(w, "export: line %d: UserID %s, UserName %s, Email %s, AccessLevel %s, active %v, deleted %v\n",
		u.Line, u.UserID, u.UserName, u.Email, u.AccessLevel, u.Active, u.Deleted)
	switch d := rep.Desired; {
	case d == nil && rep.Changes == nil:
		return // transform or diff stopped: the error says why
	case d == nil:
		fmt.Fprintln(w, "desired: none (the rules provision nobody from this row)")
	default:
		fmt.Fprintln(w, "desired (the attributes as mapped):")
		for _, f := range schemas.UserFields {
			switch {
			case f.Text != nil && f.Text(d) != "":
				fmt.Fprintf(w, "  %s %q\n", f.Name, f.Text(d))
			case f.Flag != nil:
				fmt.Fprintf(w, "  %s %v\n", f.Name, f.Flag(d))
			}
		}
		scope := "in scope"
		switch {
		case d.Held:
			scope = "held: " + d.HoldReason
		case d.OutOfScope:
			scope = "out of scope (scope.users): not provisioned"
		case !d.Active || d.Deleted:
			scope = "inactive or deleted in Condeco: not provisioned"
		}
		fmt.Fprintf(w, "scope: %s\n", scope)
	}
	for i := range rep.Changes {
		if c := &rep.Changes[i]; c.Entity == schemas.EntityUser {
			grant := "no new location"
			if c.Grant != "" {
				grant = "locations " + strings.Join(schemas.SplitIDs(c.Grant), ", ")
			}
			fmt.Fprintf(w, "access: grants %s; admin at %s; admin taken back at %s\n", grant, orNone(c.AdminGrant), orNone(c.AdminRevoke))
		}
	}
	planned := false
	for i := range rep.Changes {
		c := &rep.Changes[i]
		line := fmt.Sprintf("plan: %s %s %s: %s", c.Op, c.Entity, c.Name, c.Reason)
		if d := diff.Describe(c, ", ", strconv.Quote); d != "" {
			line += "; " + d
		}
		fmt.Fprintln(w, line)
		planned = planned || c.Entity == schemas.EntityUser
	}
	if !planned && rep.Changes != nil {
		fmt.Fprintln(w, "plan: nothing to send for this user: what was applied is what the rules want")
	}
	for _, r := range rep.Request {
		var req struct {
			Method string          `json:"method"`
			Path   string          `json:"path"`
			Body   json.RawMessage `json:"body"`
		}
		if json.Unmarshal([]byte(r), &req) != nil {
			continue
		}
		fmt.Fprintf(w, "request: %s %s\n", req.Method, req.Path)
		var body bytes.Buffer
		if len(req.Body) > 0 && json.Indent(&body, req.Body, "  ", "  ") == nil {
			fmt.Fprintf(w, "  %s\n", body.String())
		}
	}
	if dryRun {
		fmt.Fprintf(w, "dry run: nothing was sent; to send it: %s\n", a.advice("provision "+rep.Row.UserID))
		return
	}
	for _, r := range rep.Results {
		line := fmt.Sprintf("server: %s %s %s", r[3], r[2], r[4])
		if r[5] != "" {
			line += " (HTTP " + r[5] + ")"
		}
		if r[6] != "" {
			line += ", SCIM id " + r[6]
		}
		if r[4] != "done" && r[9] != "" {
			line += ": " + r[9]
		}
		fmt.Fprintln(w, line)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
