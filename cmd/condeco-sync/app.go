package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/spf13/cobra"
)

// What the commands share: the lock, the flags, and how a stage is
// reported.

// addRunFlag adds --run, the run a command works on.
func addRunFlag(cmd *cobra.Command, runID *string) {
	cmd.Flags().StringVar(runID, "run", "", "run id (default: the latest run)")
}

// locked loads the config, takes the data directory's lock for command
// and runs fn while holding it.
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

// sending runs fn under the lock (locked), with a context that SIGINT or
// SIGTERM cancels, for a command that sends to the SCIM server unless
// dryRun: without a token it is refused first, naming the variable,
// before any work.
func (a *app) sending(command string, dryRun bool, fn func(ctx context.Context) error) error {
	if err := a.setup(); err != nil {
		return err
	}
	if !dryRun {
		if _, err := a.cfg.Token(a.getenv); err != nil {
			return err
		}
	}
	return a.locked(command, func() error {
		ctx, stop := signalContext()
		defer stop()
		return fn(ctx)
	})
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// stageEnded prints one line on what a stage did and where its artifacts
// are.
func (a *app) stageEnded(run *pipeline.Run, stage pipeline.Stage) {
	m, err := pipeline.ReadManifest(run.Dir, stage)
	if err != nil {
		return
	}
	var parts []string
	for _, k := range sortedKeys(m.Counts) {
		parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), m.Counts[k]))
	}
	status := m.Status
	if m.Mode != "" {
		status += " (" + m.Mode + ")"
	}
	counts := ""
	if len(parts) > 0 {
		counts = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(a.stdout, "run %s: %s %s%s\n  artifacts: %s\n", run.ID, stage, status, counts, run.StageDir(stage))
}

// rerun runs one stage of the run given by --run (default the latest) and
// reports it when it ran, ok or not (a StageError; other errors mean it
// never started).
func (a *app) rerun(runID string, stage pipeline.Stage, fn func(pipeline.Env, *pipeline.Run) error) error {
	run, err := pipeline.OpenRun(a.cfg, runID)
	if err != nil {
		return err
	}
	err = fn(a.env(), run)
	var se *pipeline.StageError
	if err == nil || errors.As(err, &se) {
		a.stageEnded(run, stage)
	}
	return err
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// progress is the terminal for a load's progress line: stderr when it is
// one, else nil.
func (a *app) progress() *os.File {
	if f, ok := a.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return f
		}
	}
	return nil
}

// advice is a command for the operator to run, with the --config they gave.
func (a *app) advice(args string) string {
	if a.configPath != "" {
		return fmt.Sprintf("condeco-sync --config %s %s", a.configPath, args)
	}
	return "condeco-sync " + args
}

// interrupted is the error of a command stopped by SIGINT or SIGTERM: not
// a failure, and it says how to go on.
func (a *app) interrupted(run *pipeline.Run, stage pipeline.Stage) error {
	resume := a.advice("run")
	if run != nil && stage == pipeline.StageLoad {
		resume = a.advice("load --run " + run.ID)
	}
	where := ""
	if run != nil {
		where = fmt.Sprintf("run %s ", run.ID)
	}
	return &exitError{exitInterrupted, fmt.Errorf("%sinterrupted during %s; resume with %s", where, stage, resume)}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
