// Command condeco-sync keeps Eptura Visitor in step with Condeco. This
// package is the command line only: parsing, exit codes and printing. The
// work is in pipeline and the stages.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// Exit codes (docs/configuration.md).
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitHalted   = 3
	exitLoadFail = 4
	// exitBudget: the load sent scim.max_requests_per_run requests and
	// stopped, as asked; not a failure: the next run goes on from it.
	exitBudget = 5
	// exitInterrupted: stopped by SIGINT or SIGTERM, not a failure; the
	// next run resumes (128 + SIGINT, the shell's convention).
	exitInterrupted = 130
)

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, time.Now)) }

// exitError carries an exit code up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, a...)}
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	stdout = &terminalSafe{w: stdout} // what it prints comes from files and servers
	app := &app{stdout: stdout, stderr: stderr, getenv: getenv, now: now}
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if app.logFile != nil {
		app.logFile.Close()
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(&redactor{w: &terminalSafe{w: stderr}, secrets: app.secrets}, "condeco-sync: %v\n", err)
	return code
}

func exitCode(err error) int {
	var ee *exitError
	var ce *config.Error
	var stale *pipeline.StaleError
	var halt *stages.HaltError
	switch {
	case errors.As(err, &halt):
		return exitHalted
	case errors.Is(err, load.ErrBudget):
		return exitBudget
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce), errors.As(err, &stale):
		return exitUsage
	case isUsage(err):
		return exitUsage
	}
	return exitFailed
}

// app is the state every command shares: the process's streams, its
// environment and clock, and the config once loaded.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	configPath string
	logLevel   string
	logFormat  string
	insecure   bool

	cfg     *config.Config
	log     zerolog.Logger
	level   zerolog.Level
	secrets [][]byte // redacted from every log line and message: the token, once the config is read
	logFile *os.File // <data>/condeco-sync.log, once the config is read
}

// setup loads the config and the logger; every command but sandbox needs it.
func (a *app) setup() error {
	if a.cfg != nil {
		return nil // loaded already
	}
	path := a.configPath
	if path == "" {
		path = a.getenv("CONDECO_SYNC_CONFIG")
	}
	if path == "" {
		path = "condeco-sync.yaml"
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	cfg.Insecure = a.insecure
	a.cfg = cfg
	// From here on, the token is redacted wherever it shows up, and the
	// log also goes to the data directory.
	if token, err := cfg.Secret(a.getenv); err == nil {
		a.secrets = append(a.secrets, []byte(token))
	}
	f, err := openLogFile(cfg.Data)
	if err != nil {
		return err
	}
	a.logFile = f
	a.log = a.logTo(a.level, f)
	for _, w := range cfg.Warnings {
		a.log.Warn().Msg(w)
	}
	return nil
}

func (a *app) setupLog() error {
	level, err := zerolog.ParseLevel(a.logLevel)
	if err != nil || a.logLevel == "" {
		return usageErr("--log-level %q is not one of trace, debug, info, warn, error", a.logLevel)
	}
	if a.logFormat != "console" && a.logFormat != "json" {
		return usageErr("--log-format %q is not console or json", a.logFormat)
	}
	a.level = level
	a.log = a.logTo(level, nil)
	return nil
}

func (a *app) env() pipeline.Env {
	return pipeline.Env{Config: a.cfg, Now: a.now, Log: a.log, Getenv: a.getenv, Command: a.advice}
}

// lock takes the data directory for command until the returned func runs.
func (a *app) lock(command string) (func(), error) {
	return pipeline.Lock(a.cfg.Data, command, a.now())
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "condeco-sync",
		Short: "Keep Eptura Visitor in step with Condeco through SCIM (2.0, or 1.1)",
		Long: `condeco-sync turns each Condeco export set (users_*.csv and locations_*.csv in the inbox)
into Parquet snapshots, diffs today's against the last applied one, and streams the
change set to the visitor system's SCIM 2.0 API. Every stage leaves files behind in
<data>/runs/<run-id>/ so that any run can be audited and any stage rerun.

Exit codes: 0 done; 1 failed; 2 bad usage or config; 3 halted by a guard, approval
needed; 4 load finished with failed operations (they are retried next run);
5 load stopped at scim.max_requests_per_run (the next run goes on from it);
130 interrupted by SIGINT or SIGTERM (the next run resumes).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.setupLog()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "config file (default condeco-sync.yaml, or $CONDECO_SYNC_CONFIG)")
	pf.StringVar(&a.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	pf.StringVar(&a.logFormat, "log-format", "console", "console or json")
	pf.BoolVar(&a.insecure, "insecure", false, "send the token over clear-text http to another machine, or read it from a file others can read (refused otherwise)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &exitError{exitUsage, err} })
	root.AddCommand(
		a.runCommand(), a.extractCommand(), a.transformCommand(), a.diffCommand(), a.loadCommand(),
		a.provisionCommand(), a.approveCommand(), a.discardCommand(), a.scheduleCommand(), a.statusCommand(), a.historyCommand(), a.runsCommand(), a.showCommand(), a.verifyCommand(),
		a.sandboxCommand(), a.versionCommand(),
	)
	return root
}

// isUsage recognises cobra's own usage errors (unknown command, bad args).
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "required flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// version is the program's version and the commit it was built from, as
// the Go toolchain recorded it ("0.1.0-dev (commit 1a2b3c4d5e6f, modified)").
func version() string {
	v := pipeline.Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var commit, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if commit == "" {
		return v + " (commit unknown: built without version control information)"
	}
	return fmt.Sprintf("%s (commit %s%s)", v, commit, modified)
}
