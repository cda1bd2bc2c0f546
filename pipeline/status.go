package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/scim"
)

// Level says whether a status line needs a person.
type Level int

const (
	// OK: as it should be.
	OK Level = iota
	// Note: not as it should be, but it mends itself (a set still being
	// written, a load the next run resumes).
	Note
	// Act: a person must act (a refused token, a server down, a halted
	// run, an incomplete export …).
	Act
)

// Check is one line of status: what was looked at and what was found.
type Check struct {
	Level Level
	What  string // config, token, scim, inbox, baseline, run <id>, schedule
	Found string
}

// statusTimeout bounds the one request status sends.
const statusTimeout = 10 * time.Second

// Status looks at everything a run needs, in the order a run needs it:
// the config, the token, the SCIM endpoint (one GET
// /ServiceProviderConfig, authenticated), the inbox, the baseline, the
// runs (the latest, and any halted, failed or with an unfinished load),
// and the next scheduled time. It changes nothing.
func Status(ctx context.Context, env Env) []Check {
	cfg := env.Config
	var out []Check
	add := func(l Level, what, format string, a ...any) {
		out = append(out, Check{Level: l, What: what, Found: fmt.Sprintf(format, a...)})
	}
	add(OK, "config", "%s (sha256 %s…), profile %s", cfg.Path, cfg.SHA256[:12], cfg.SCIM.Profile)
	for _, w := range cfg.Warnings {
		add(Note, "config", "%s", w)
	}
	if fi, err := os.Stat(cfg.Data); err == nil && artifact.OpenToOthers(fi) {
		add(Act, "data", "%s is %#o: others on this machine can read the personal data in it; chmod 700 it (condeco-sync makes it 700 when it takes its lock)", cfg.Data, fi.Mode().Perm())
	}

	getenv := env.getenv()
	token, err := cfg.Token(getenv)
	switch {
	case err != nil:
		add(Act, "token", "%v", err)
	case cfg.SCIM.TokenEnv != "" && getenv(cfg.SCIM.TokenEnv) != "":
		add(OK, "token", "present in %s", cfg.SCIM.TokenEnv)
	default:
		add(OK, "token", "read from %s", cfg.SCIM.TokenFile)
	}
	if err == nil {
		out = append(out, endpoint(ctx, cfg, token))
	}

	if st, err := ReadInbox(env); err != nil {
		add(Act, "inbox", "%v", err)
	} else {
		switch {
		case st.Next != nil && !st.Next.Settled(env.Now(), cfg.Exports.Settle):
			add(Note, "inbox", "set %s is still being written (changed %s); it is taken once settled", st.Next.Stamp, st.Next.Changed.UTC().Format(time.RFC3339))
		case st.Next != nil:
			add(OK, "inbox", "set %s is next", st.Next.Stamp)
		case st.Latest != "":
			add(OK, "inbox", "nothing new since set %s (taken by run %s)", st.Latest, st.LatestRun)
		default:
			add(OK, "inbox", "empty: no export set in %s yet", cfg.Inbox)
		}
		for _, n := range st.Notes {
			if n.Warn {
				add(Act, "inbox", "%s", n.Why)
			} else if !strings.Contains(n.Why, "was taken by run") {
				add(Note, "inbox", "%s", n.Why)
			}
		}
	}

	ids, err := RunIDs(cfg)
	if err != nil {
		add(Act, "runs", "%v", err)
		return out
	}
	b, err := ReadBaseline(cfg)
	switch {
	case err != nil:
		add(Act, "baseline", "%v", err)
	case b == nil && len(loadedRuns(cfg, "")) > 0:
		add(Act, "baseline", "state/baseline.json is missing, yet runs were loaded: the next run plans everyone as a create (nobody is duplicated, nobody deleted); restore it from a backup")
	case b == nil:
		add(OK, "baseline", "none yet: the next load is the initial synchronization")
	default:
		add(OK, "baseline", "run %s's applied state (%d users, %d locations)", b.RunID, b.Users.Rows, b.Locations.Rows)
	}
	out = append(out, runChecks(env, ids)...)
	out = append(out, next(cfg, env.Now()))
	return out
}

// endpoint reads the service provider's configuration once, with the
// token: at /ServiceProviderConfig, or at SCIM 1.1's
// /ServiceProviderConfigs when the target speaks 1.1 (and, where the
// profile's configuration is optional, when the 2.0 address is not
// found), as load does.
func endpoint(ctx context.Context, cfg *config.Config, token string) Check {
	c, err := scim.New(cfg.SCIM.URL, token, min(cfg.SCIM.Timeout, statusTimeout))
	if err != nil {
		return Check{Act, "scim", err.Error()}
	}
	paths := []string{"/ServiceProviderConfig"}
	switch {
	case cfg.SCIM.SCIM11():
		paths = []string{"/ServiceProviderConfigs", "/ServiceProviderConfig"}
	case cfg.SCIM.Traits().ConfigOptional:
		paths = append(paths, "/ServiceProviderConfigs")
	}
	var spc *scim.ServiceProviderConfig
	version := "SCIM 2.0"
	for _, p := range paths {
		if spc, err = c.ServiceProviderConfigAt(ctx, p); !scim.IsStatus(err, http.StatusNotFound) {
			if p == "/ServiceProviderConfigs" || cfg.SCIM.SCIM11() {
				version = "SCIM 1.1"
			}
			break
		}
	}
	switch {
	case scim.IsStatus(err, http.StatusNotFound) && cfg.SCIM.Traits().ConfigOptional:
		return Check{OK, "scim", fmt.Sprintf("%s answers, authenticated, and publishes no service provider configuration (updates are read, then PUT)", cfg.SCIM.URL)}
	case scim.IsStatus(err, http.StatusUnauthorized) || scim.IsStatus(err, http.StatusForbidden):
		return Check{Act, "scim", fmt.Sprintf("%s refuses the token: %v", cfg.SCIM.URL, c.Scrub(err.Error()))}
	case err != nil:
		return Check{Act, "scim", fmt.Sprintf("%s does not answer as a SCIM server: %v", cfg.SCIM.URL, c.Scrub(err.Error()))}
	}
	return Check{OK, "scim", fmt.Sprintf("%s answers, authenticated (%s, patch %v, bulk %v)", cfg.SCIM.URL, version, spc.Patch.Supported, spc.Bulk.Supported)}
}

// runChecks says how the latest run ended, and names every run that waits
// for a person or for a resume.
func runChecks(env Env, ids []string) []Check {
	if len(ids) == 0 {
		return []Check{{OK, "runs", "none yet"}}
	}
	var out []Check
	unfinished, from, _ := Unfinished(env.Config)
	// Who holds the lock is asked only of a run that says a stage is
	// running: asking takes the lock for an instant.
	busy := sync.OnceValue(func() *Holder { return Busy(env.Config.Data) })
	for i, id := range ids {
		run, err := OpenRun(env.Config, id)
		if err != nil {
			out = append(out, Check{Act, "run " + id, err.Error()})
			continue
		}
		r := Report(run)
		what := "run " + id
		latest := i == len(ids)-1
		statuses := strings.Join(r.Status, " ")
		switch {
		case slices.Contains(r.Status, StatusRunning) && busy() != nil:
			h := busy()
			out = append(out, Check{Note, what, fmt.Sprintf("running now (%s): condeco-sync %s, pid %d on %s, since %s",
				statuses, h.Command, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))})
		case run.Manifest.Discarded != nil:
			if d := run.Manifest.Discarded; latest {
				out = append(out, Check{OK, what, fmt.Sprintf("discarded by %s at %s: %s; the next run takes the next export set",
					d.By, d.At.UTC().Format(time.RFC3339), d.Reason)})
			}
		case unfinished != nil && unfinished.ID == id && run.Stage(from).Status == StatusFailed && from != StageLoad:
			out = append(out, Check{Act, what, fmt.Sprintf("failed (%s): %s; once the cause is fixed, %s finishes it (a newer export set replaces it)",
				statuses, failure(run), env.command("run"))})
		case unfinished != nil && unfinished.ID == id:
			out = append(out, Check{Note, what, fmt.Sprintf("stopped before its end (%s): the next run resumes it from %s, or now: %s",
				statuses, from, env.command("run"))})
		case waitsForApproval(env.Config, run):
			out = append(out, Check{Act, what, fmt.Sprintf("halted by %s: read %s, then %s",
				guardOf(run), env.command("show summary --run %s", id), env.command("approve --load --run %s --reason TEXT", id))})
		case slices.Contains(r.Status, StatusFailed) && latest:
			next := env.command("run") + " takes its export set again"
			if p := run.Manifest.Provision; p != "" {
				next = env.command("provision %s", p) + " tries again"
			}
			out = append(out, Check{Act, what, fmt.Sprintf("failed (%s): %s; once the cause is fixed, %s", statuses, failure(run), next)})
		case r.LoadEnded && r.LoadFailed > 0 && latest:
			out = append(out, Check{Note, what, fmt.Sprintf("loaded with %d failed operations; the next run sends them again (%s)",
				r.LoadFailed, env.command("show results --run %s", id))})
		case latest:
			out = append(out, Check{OK, what, fmt.Sprintf("the latest run, set %s, started %s: %s", r.Export, r.Started.UTC().Format(time.RFC3339), statuses)})
		}
	}
	return out
}

// failure is the error of run's first failed stage, from its manifest.
func failure(run *Run) string {
	for _, s := range Stages {
		if m, err := ReadManifest(run.Dir, s); err == nil && m.Status == StatusFailed {
			return fmt.Sprintf("%s: %s", s, m.Error)
		}
	}
	return "see its manifests"
}

// next is when the daemon runs next, by schedule.at in schedule.timezone.
func next(cfg *config.Config, now time.Time) Check {
	loc, err := time.LoadLocation(cfg.Schedule.Timezone)
	if err != nil {
		return Check{Act, "schedule", err.Error()}
	}
	hour, minute, err := cfg.ScheduleAt()
	if err != nil {
		return Check{Act, "schedule", err.Error()}
	}
	local := now.In(loc)
	at := time.Date(local.Year(), local.Month(), local.Day(), hour, minute, 0, 0, loc)
	if !at.After(now) {
		at = time.Date(local.Year(), local.Month(), local.Day()+1, hour, minute, 0, 0, loc)
	}
	return Check{OK, "schedule", fmt.Sprintf("the daemon (condeco-sync schedule) runs next at %s", at.Format("2006-01-02 15:04 MST"))}
}
