package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/condeco-sync/condeco-sync/stages/transform"
	"github.com/spf13/cobra"
)

// notBuilt is the answer of a command whose stage does not exist yet.
func notBuilt(what, issue string) error {
	return fmt.Errorf("%s is not built yet (issue %s); nothing was done", what, issue)
}

// addRunFlag adds --run, the run a command works on.
func addRunFlag(cmd *cobra.Command, runID *string) {
	cmd.Flags().StringVar(runID, "run", "", "run id (default: the latest run)")
}

// locked loads the config, takes the data directory's lock for command and
// runs fn while holding it.
func (a *app) locked(command string, fn func() error) error {
	if err := a.setup(); err != nil {
		return err
	}
	unlock, err := a.lock(command)
	if err != nil {
		return err
	}
	defer unlock()
	// Holding the lock, no other process runs a stage: whatever a killed
	// one left running is interrupted.
	did, err := pipeline.Recover(a.env())
	for _, d := range did {
		a.log.Warn().Msg(d)
	}
	if err != nil {
		return err
	}
	return fn()
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

func (a *app) runCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "A new run: extract → transform → diff → load",
		Long: `Starts a new run from the newest complete export set in the inbox that no run has
taken yet, and takes it through every stage. With --dry-run it stops after diff.
With no new export set it says so and exits 0 without creating a run.
The latest run, if it stopped before its end (a stop or a crash between or
during stages, or a load that was stopped), is finished first.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked("run", func() error {
				if !dryRun {
					// Load will need the token: refuse now, before any work.
					if _, err := a.cfg.Token(a.getenv); err != nil {
						return err
					}
				}
				ctx, stop := signalContext()
				defer stop()
				return a.runStages(ctx, dryRun)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "stop after diff and print the plan; send nothing")
	return cmd
}

func (a *app) extractCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "extract",
		Short: "A new run from the newest complete export set (extract only)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked("extract", func() error {
				_, err := a.extract()
				return err
			})
		},
	}
}

// runStages is a run: the latest run finished if it stopped before its
// end, then a new run from the inbox through every stage (to diff only,
// with dryRun). ctx cancelled (SIGINT, SIGTERM) stops it between stages or
// between a load's requests; the next run resumes it.
func (a *app) runStages(ctx context.Context, dryRun bool) error {
	if run, from, err := pipeline.Unfinished(a.cfg); err != nil {
		return err
	} else if run != nil && !(dryRun && from == "load") {
		a.log.Info().Str("run", run.ID).Str("from", from).Msg("finishing the latest run, which stopped before its end")
		if err := a.stagesFrom(ctx, run, from, dryRun); err != nil && !finished(err) {
			return err
		}
		if dryRun {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	run, err := a.extract()
	if err != nil || run == nil {
		return err
	}
	return a.stagesFrom(ctx, run, "transform", dryRun)
}

// stagesFrom takes run through the stages from the named one on: transform,
// diff, then load (or, with dryRun, the plan printed instead). After a
// load with no failure, retention prunes old runs.
func (a *app) stagesFrom(ctx context.Context, run *pipeline.Run, from string, dryRun bool) error {
	steps := []struct {
		name string
		do   func(*pipeline.Run) error
	}{{"transform", a.transform}, {"diff", a.diff}}
	started := from == "transform"
	for _, s := range steps {
		started = started || s.name == from
		if !started {
			continue
		}
		if err := s.do(run); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopping: the next start takes it from here
		}
	}
	if dryRun {
		return a.printFile(run, "summary")
	}
	if err := a.load(ctx, run, false); err != nil {
		return err
	}
	a.prune()
	return nil
}

// extract starts a run; a nil run with a nil error means nothing new.
func (a *app) extract() (*pipeline.Run, error) {
	set, err := pipeline.NextExport(a.env())
	var none *pipeline.NoNewExportError
	if errors.As(err, &none) {
		if a.daemon {
			a.log.Info().Msg(none.Why)
		} else {
			fmt.Fprintln(a.stdout, none.Why)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	run, err := pipeline.Extract(a.env(), set)
	if run != nil {
		a.report(run, "extract")
	}
	return run, err
}

func (a *app) transformCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Rerun transform on a run (default: the latest) from its extract artifacts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked("transform", func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				return a.transform(run)
			})
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}

func (a *app) transform(run *pipeline.Run) error {
	return a.stage(run, "transform", pipeline.Transform)
}

func (a *app) diff(run *pipeline.Run) error { return a.stage(run, "diff", pipeline.Diff) }

// stage runs one stage of run and reports it when it ran, ok or not (a
// StageError; other errors mean it never started).
func (a *app) stage(run *pipeline.Run, name string, fn func(pipeline.Env, *pipeline.Run) error) error {
	err := fn(a.env(), run)
	var se *pipeline.StageError
	if err == nil || errors.As(err, &se) {
		a.report(run, name)
	}
	return err
}

// report prints one line on what a stage did and where its artifacts are.
func (a *app) report(run *pipeline.Run, stage string) {
	m, err := pipeline.ReadManifest(run.Dir, stage)
	if err != nil {
		return
	}
	var parts []string
	for _, k := range sortedKeys(m.Counts) {
		parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), m.Counts[k]))
	}
	fmt.Fprintf(a.stdout, "run %s: %s %s (%s)\n  artifacts: %s\n", run.ID, stage, m.Status,
		strings.Join(parts, ", "), filepath.Join(run.Dir, stage))
}

func (a *app) diffCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Rerun diff on a run (default: the latest) against its baseline",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked("diff", func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				return a.diff(run)
			})
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}

func (a *app) loadCommand() *cobra.Command {
	var runID string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load (or resume loading) a run's change set into the SCIM server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			if !dryRun { // refuse before anything else, naming the variable
				if _, err := a.cfg.Token(a.getenv); err != nil {
					return err
				}
			}
			return a.locked("load", func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				ctx, stop := signalContext()
				defer stop()
				return a.load(ctx, run, dryRun)
			})
		},
	}
	addRunFlag(cmd, &runID)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write the requests to load/requests.jsonl and send nothing")
	return cmd
}

// prune applies retention.keep_runs after a successful run. A failure to
// prune is logged: the run itself went well.
func (a *app) prune() {
	removed, err := pipeline.Prune(a.cfg)
	if err != nil {
		a.log.Error().Err(err).Msg("retention: removing old runs")
	}
	if len(removed) > 0 {
		a.log.Info().Strs("runs", removed).Int("keep_runs", a.cfg.Retention.KeepRuns).Msg("retention: removed old runs")
	}
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// load runs (or resumes) the load of run, or with dryRun records the
// requests it would send. A cancelled ctx (SIGINT, SIGTERM) stops it
// between requests: the journal keeps what was done, and load --run
// resumes.
func (a *app) load(ctx context.Context, run *pipeline.Run, dryRun bool) error {
	opt := pipeline.LoadOptions{Getenv: a.getenv, DryRun: dryRun}
	if f, ok := a.stderr.(*os.File); ok && isTerminal(f) {
		opt.Progress = f
	}
	err := pipeline.Load(ctx, a.env(), run, opt)
	if dryRun {
		if err == nil {
			fmt.Fprintf(a.stdout, "run %s: load dry run: the requests it would send are in %s\n", run.ID,
				filepath.Join(run.Dir, "load", load.RequestsFile))
		}
		return err
	}
	var se *pipeline.StageError
	if err == nil || errors.As(err, &se) {
		a.report(run, "load")
	}
	var failed *load.FailedError
	if errors.As(err, &failed) {
		return &exitError{exitLoadFail, err}
	}
	return err
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (a *app) approveCommand() *cobra.Command {
	var runID, reason string
	cmd := &cobra.Command{
		Use:   "approve",
		Short: "Approve a run halted by the mass-deletion guard",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.locked("approve", func() error {
				run, err := pipeline.OpenRun(a.cfg, runID)
				if err != nil {
					return err
				}
				by := "unknown"
				if u, err := user.Current(); err == nil {
					by = u.Username
				}
				if err := pipeline.Approve(a.env(), run, by, reason); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "run %s: approved by %s: %s\n", run.ID, by, reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "the halted run's id")
	cmd.Flags().StringVar(&reason, "reason", "", "why the deletions are right")
	cmd.MarkFlagRequired("run")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func (a *app) runsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "runs",
		Short: "One line per run: id, start, status of each stage, counts",
		Args:  noArgs,
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
			fmt.Fprintf(a.stdout, "%-20s %-20s %-10s %-10s %-10s %-10s %-10s %s\n", "RUN", "STARTED", "EXPORT",
				"EXTRACT", "TRANSFORM", "DIFF", "LOAD", "COUNTS")
			for _, id := range ids {
				run, err := pipeline.OpenRun(a.cfg, id)
				if err != nil {
					fmt.Fprintf(a.stdout, "%-20s %v\n", id, err)
					continue
				}
				m := run.Manifest
				var st []any
				for _, s := range m.Stages {
					st = append(st, s.Status)
				}
				fmt.Fprintf(a.stdout, "%-20s %-20s %-10s %-10s %-10s %-10s %-10s %s\n", id,
					m.Started.Format("2006-01-02 15:04:05"), m.Export, st[0], st[1], st[2], st[3], runCounts(run))
			}
			return nil
		},
	}
}

// runCounts summarises a run's counts for the runs list.
func runCounts(run *pipeline.Run) string {
	var parts []string
	if m, err := pipeline.ReadManifest(run.Dir, "extract"); err == nil {
		parts = append(parts, fmt.Sprintf("users %d", m.Counts["users_valid"]), fmt.Sprintf("rejects %d", m.Counts["rejects"]))
	}
	if m, err := pipeline.ReadManifest(run.Dir, "transform"); err == nil && m.Status == pipeline.StatusOK {
		parts = append(parts, fmt.Sprintf("holds %d", m.Counts["users_held"]), fmt.Sprintf("warnings %d", m.Counts["warnings"]))
	}
	if m, err := pipeline.ReadManifest(run.Dir, "diff"); err == nil && m.Status != pipeline.StatusFailed {
		c := m.Counts
		parts = append(parts, fmt.Sprintf("plan +%d ~%d -%d !%d", c["user_create"], c["user_update"]+c["user_reactivate"]+c["user_deactivate"],
			c["user_delete"], c["user_hold"]))
	}
	if m, err := pipeline.ReadManifest(run.Dir, "load"); err == nil {
		if failed, ended := pipeline.LoadEnded(m); ended {
			parts = append(parts, fmt.Sprintf("failed %d", failed))
		} else if m.Status == pipeline.StatusFailed {
			parts = append(parts, "load unfinished: condeco-sync load --run "+run.ID)
		}
	}
	return strings.Join(parts, ", ")
}

// shown maps what `show` can print to the stage and file that hold it.
var shown = map[string][2]string{
	"summary":  {"diff", "summary.md"},
	"changes":  {"diff", "changes.csv"},
	"rejects":  {"extract", extract.RejectsFile},
	"warnings": {"transform", transform.WarningsFile},
	"results":  {"load", "results.csv"},
}

func (a *app) showCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:       "show summary|changes|rejects|warnings|results",
		Short:     "Print one of a run's people-facing artifacts",
		ValidArgs: []string{"summary", "changes", "rejects", "warnings", "results"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("show takes one of summary, changes, rejects, warnings, results")
			}
			if _, ok := shown[args[0]]; !ok {
				return usageErr("show: %q is not one of summary, changes, rejects, warnings, results", args[0])
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
			return a.printFile(run, args[0])
		},
	}
	addRunFlag(cmd, &runID)
	return cmd
}

// printFile prints one of run's people-facing files (see shown), after
// checking it against its manifest.
func (a *app) printFile(run *pipeline.Run, what string) error {
	where := shown[what]
	m, err := pipeline.ReadManifest(run.Dir, where[0])
	if err != nil {
		return fmt.Errorf("run %s has no %s yet: its %s stage has not run", run.ID, what, where[0])
	}
	f, ok := m.Output(where[0] + "/" + where[1])
	if !ok {
		return fmt.Errorf("run %s: %s ended %s without writing %s", run.ID, where[0], m.Status, where[1])
	}
	if err := artifact.Check(run.Dir, f); err != nil {
		return err
	}
	in, err := os.Open(filepath.Join(run.Dir, f.Path))
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(a.stdout, in)
	return err
}

func (a *app) verifyCommand() *cobra.Command {
	var runID string
	var all bool
	cmd := &cobra.Command{
		Use:   "verify",
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
				for _, d := range pipeline.Interrupted(run) {
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

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
