package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/extract"
)

// Provisioning on demand ("provision on demand", as Entra ID calls it):
// one user of the latest export, now, through every rule, with the
// request shown before it is sent. It is a run of its own kind: its
// extract and transform are the whole export's (every rule sees what a
// daily run sees), its plan holds that one user's change (and the
// creates of the locations it is granted), and its load makes its
// applied state the baseline, so the next daily run neither sends that
// user again nor makes it twice. It takes no export set: the next daily
// run takes the same set as if nothing had happened.

// ProvisionReport is what a provision shows, for people.
type ProvisionReport struct {
	Run     *Run
	Set     string           // the export set's stamp
	Row     schemas.RawUser  // the user's export row
	Desired *schemas.User    // its desired state (nil when the rules make none: a visitor)
	Changes []schemas.Change // the plan: the user's change (none when the target is up to date) and the locations'
	Request []string         // the SCIM requests, as load --dry-run records them
	Results [][]string       // after a load: results.csv's rows of the user, as written
}

// Provision runs who (a UserID, or a userName or email in any case) of
// the latest export set (provisionSet) through every stage; with dryRun
// it records the requests and sends nothing.
func Provision(ctx context.Context, env Env, who string, dryRun bool, opt LoadOptions) (*ProvisionReport, error) {
	if err := dailyRunSettled(env); err != nil {
		return nil, err
	}
	set, err := provisionSet(env)
	if err != nil {
		return nil, err
	}
	run, err := extractRun(env, &Export{Set: *set}, func(m *RunManifest) { m.Provision = who })
	if err != nil {
		return nil, err
	}
	rep := &ProvisionReport{Run: run, Set: set.Stamp}
	if rep.Row, err = findRow(run, who); err != nil {
		return rep, err
	}
	run.Manifest.Provision = rep.Row.UserID // the UserID, however it was named
	if err := run.Save(); err != nil {
		return rep, err
	}
	if err := Transform(env, run); err != nil {
		return rep, err
	}
	if err := Diff(env, run); err != nil {
		return rep, err
	}
	if rep.Desired, err = desiredUser(run, rep.Row.UserID); err != nil {
		return rep, err
	}
	if rep.Changes, err = parquetio.ReadAll[schemas.Change](filepath.Join(run.Dir, DiffChanges.Path())); err != nil {
		return rep, err
	}
	if rep.Changes == nil {
		rep.Changes = []schemas.Change{} // the plan is made, and empty
	}
	dry := opt
	dry.DryRun = true
	if err := Load(ctx, env, run, dry); err != nil {
		return rep, err
	}
	if rep.Request, err = requestLines(filepath.Join(run.Dir, LoadRequests.Path())); err != nil {
		return rep, err
	}
	if dryRun {
		return rep, nil
	}
	err = Load(ctx, env, run, opt)
	for _, r := range peopleRows(run, LoadResults, 1, map[string]bool{rep.Row.UserID: true}) {
		if r[0] == schemas.EntityUser {
			rep.Results = append(rep.Results, r)
		}
	}
	return rep, err
}

// provisionSet is the export set a provision takes: the one the next
// daily run takes (ReadInbox), else the one the last daily run took. An
// older set is never taken: it must not undo a newer one.
func provisionSet(env Env) (*extract.ExportSet, error) {
	cfg := env.Config
	st, err := ReadInbox(env)
	if err != nil {
		return nil, err
	}
	if set := st.Next; set != nil {
		if !set.Settled(env.Now(), cfg.Exports.Settle) {
			return nil, fmt.Errorf("export set %s changed at %s, within exports.settle: it is still being written; provision once it is settled",
				set.Stamp, set.Changed.UTC().Format(time.RFC3339))
		}
		return set, nil
	}
	ib, err := extract.ScanInbox(cfg.Inbox, cfg.Exports.Users, cfg.Exports.Locations)
	if err != nil {
		return nil, err
	}
	for i := range ib.Sets {
		if st.Latest != "" && ib.Sets[i].Stamp == st.Latest {
			return &ib.Sets[i], nil
		}
	}
	return nil, fmt.Errorf("no complete export set (%s with %s) in %s to provision from", cfg.Exports.Users, cfg.Exports.Locations, cfg.Inbox)
}

// dailyRunSettled refuses a provision while the latest run waits to be
// finished or approved: the provision's load would move the baseline
// from under that run's plan, which would then have to be made again.
func dailyRunSettled(env Env) error {
	run, from, err := Unfinished(env.Config)
	if err != nil {
		return err
	}
	if run != nil {
		return fmt.Errorf("run %s stopped before its end (%s is next): finish it first (%s), then provision", run.ID, from, env.command("run"))
	}
	if run, err = latestRun(env.Config); err != nil || run == nil {
		return err
	}
	if waitsForApproval(env.Config, run) {
		return fmt.Errorf("run %s's diff is halted by %s, waiting for a person: approve it (%s) or make a new run before provisioning",
			run.ID, guardOf(run), env.command("approve --run %s --reason TEXT", run.ID))
	}
	return nil
}

// findRow is the export row of who (a UserID, or a userName or email in
// any case) in run's extract.
func findRow(run *Run, who string) (schemas.RawUser, error) {
	var found []schemas.RawUser
	_, err := parquetio.Read(filepath.Join(run.Dir, ExtractUsers.Path()), nil, func(batch []schemas.RawUser) error {
		for _, u := range batch {
			if u.UserID == who || strings.EqualFold(u.UserName, who) || strings.EqualFold(u.Email, who) {
				found = append(found, u)
			}
		}
		return nil
	})
	ids := map[string]bool{}
	for _, u := range found {
		ids[u.UserID] = true
	}
	switch {
	case err != nil:
		return schemas.RawUser{}, err
	case len(found) == 0:
		return schemas.RawUser{}, fmt.Errorf("export set %s has no user %q (a UserID, userName or email)", run.Manifest.Export, who)
	case len(ids) > 1:
		return schemas.RawUser{}, fmt.Errorf("export set %s has %d users named %q: name one by its UserID", run.Manifest.Export, len(ids), who)
	}
	if h := heldRow(run, found[0].UserID); h != nil {
		return schemas.RawUser{}, fmt.Errorf("UserID %s is held by export set %s, line %d: %s; nothing was sent (fix the export; %s says more)",
			found[0].UserID, run.Manifest.Export, h.Line, h.Reason, ExtractRejects.Path())
	}
	return found[0], nil
}

// heldRow is the hold extract made of UserID key (its row set aside),
// or nil.
func heldRow(run *Run, key string) *schemas.Hold {
	holds, err := parquetio.ReadAll[schemas.Hold](filepath.Join(run.Dir, ExtractHolds.Path()))
	if err != nil {
		return nil
	}
	for i := range holds {
		if holds[i].Entity == schemas.HoldUser && holds[i].Key == key {
			return &holds[i]
		}
	}
	return nil
}

// desiredUser is key's row of run's desired state, nil for none.
func desiredUser(run *Run, key string) (*schemas.User, error) {
	var u *schemas.User
	_, err := parquetio.ReadRows(filepath.Join(run.Dir, TransformUsers.Path()), nil, "user_id", func(k string) bool { return k == key },
		func(row *schemas.User) error {
			c := *row
			u = &c
			return nil
		})
	return u, err
}

// requestLines are the lines of a load's requests.jsonl: one request each.
func requestLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}
