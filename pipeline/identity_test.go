package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// Rule 13 and rule 1's promise (one person, one account), tried on the
// three kinds of target: a name reused, handed over, swapped or passed
// round a chain on one day converges in that day's run, and no account
// ever serves two UserIDs.

// identityTarget is a SCIM server a test runs days against.
type identityTarget struct {
	name string
	// start returns a fresh server's base URL, and the profile and core
	// schema to use.
	start func(t *testing.T) (url, profile, core string)
}

// identityTargets are the targets every identity case runs on: the
// public API's sandbox (the strict SCIM 1.1 mode with the profile's
// default core schema, and SCIM 2.0), and SCIMMY with the scim2 profile
// (externalIds, groups).
var identityTargets = []identityTarget{
	{"visitor-generic/scim1.1", func(t *testing.T) (string, string, string) {
		return startGenericSandbox(t, sandbox.Options{Generic: true, SCIM11: true}), profile.VisitorGeneric, ""
	}},
	{"visitor-generic/scim2.0", func(t *testing.T) (string, string, string) {
		return startGenericSandbox(t, sandbox.Options{Generic: true}), profile.VisitorGeneric, schemas.SchemaUser
	}},
	{"scim2", func(t *testing.T) (string, string, string) {
		return scimServer(t).URL, profile.SCIM2, ""
	}},
}

// startGenericSandbox runs the sandbox with opts on loopback.
func startGenericSandbox(t *testing.T, opts sandbox.Options) string {
	t.Helper()
	sb, err := sandbox.NewWith(t.TempDir(), scimmytest.Token, schemas.DefaultExtension, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return srv.URL + sandbox.Base
}

// identityFixture is a fixture for tg, whose guards let a handful of
// users go, and its server's URL.
func identityFixture(t *testing.T, tg identityTarget) (*fixture, string) {
	url, profile, core := tg.start(t)
	f := loadFixture(t, url)
	cfg := f.env.Config
	cfg.SCIM.Profile, cfg.SCIM.CoreSchema = profile, core
	cfg.Guards.MinUsers, cfg.Guards.MaxDeletes, cfg.Guards.MaxDeleteFraction = 1, 100, 1
	cfg.Guards.MaxCreateFraction = 1 // a joiner is a third of these tiny days
	return f, url
}

// people is an export's users file: UserID and email, the email also the
// username.
func people(rows ...string) string {
	var b strings.Builder
	b.WriteString("UserID,UserName,FirstName,LastName,Email,Location\n")
	for _, r := range rows {
		id, email, _ := strings.Cut(r, " ")
		fmt.Fprintf(&b, "%s,%s,First%s,Last%s,%s,LON\n", id, email, id, id, email)
	}
	// Two users nobody touches, so no day is a mass deletion.
	b.WriteString("900,keep.one@corp.com,Keep,One,keep.one@corp.com,LON\n901,keep.two@corp.com,Keep,Two,keep.two@corp.com,LON\n")
	return b.String()
}

const identityLocations = "LocationID,Name,City\nLON,London,London\n"

// day drops users as the export of stamp and runs it through every stage.
func (f *fixture) day(stamp, users string) (*Run, error) {
	f.t.Helper()
	f.now = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC).AddDate(0, 0, len(runIDsOf(f)))
	f.drop(stamp, users, identityLocations)
	run := f.extract()
	must(f.t, Transform(f.env, run))
	if err := Diff(f.env, run); err != nil {
		return run, err
	}
	return run, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
}

func runIDsOf(f *fixture) []string {
	ids, _ := RunIDs(f.env.Config)
	return ids
}

// accounts reads the target's users by SCIM id.
func accounts(t *testing.T, url string) map[string]scim.Resource {
	t.Helper()
	return targetcheck.Accounts(t, url, scimmytest.Token)
}

// oneAccountEach checks the applied state of run against the target: each
// UserID has an account of its own (no SCIM id twice), the account has
// the userName the applied state says, and the target holds nobody else.
// It returns the applied users by UserID.
func oneAccountEach(t *testing.T, url string, run *Run) map[string]schemas.User {
	t.Helper()
	applied, err := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	target := accounts(t, url)
	byKey := map[string]schemas.User{}
	owner := map[string]string{}
	for _, u := range applied {
		byKey[u.UserID] = u
		if o, ok := owner[u.SCIMID]; ok {
			t.Errorf("users %s and %s share the account %s", o, u.UserID, u.SCIMID)
		}
		owner[u.SCIMID] = u.UserID
		r, ok := target[u.SCIMID]
		if !ok {
			t.Errorf("user %s (%s): its account %s is not in the target", u.UserID, u.UserName, u.SCIMID)
			continue
		}
		if got, _ := r["userName"].(string); !strings.EqualFold(got, u.UserName) {
			t.Errorf("user %s: its account %s is named %q, the applied state says %q", u.UserID, u.SCIMID, got, u.UserName)
		}
	}
	for id, r := range target {
		if _, ok := owner[id]; !ok {
			t.Errorf("the target holds account %s (%v) that no user of the applied state owns", id, r["userName"])
		}
	}
	return byKey
}

// converged checks that a run after run has nothing left to send.
func converged(t *testing.T, f *fixture, stamp, users string) {
	t.Helper()
	run, err := f.day(stamp, users)
	if err != nil {
		t.Fatalf("the day after: %v", err)
	}
	for _, c := range readChanges(t, run) {
		if c.Entity == schemas.EntityUser {
			t.Errorf("the day after still plans %s %s (%s): %s", c.Op, c.Key, c.Name, c.Reason)
		}
	}
}

func readChanges(t *testing.T, run *Run) []schemas.Change {
	t.Helper()
	cs, err := parquetio.ReadAll[schemas.Change](filepath.Join(run.Dir, "diff", "changes.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// An email a leaver had is given to a joiner the same day: the leaver's
// account is deleted and the joiner gets an account of its own, in one
// run. (It used to adopt the leaver's account and then delete it.)
func TestReusedEmailGoesToANewAccount(t *testing.T) {
	for _, tg := range identityTargets {
		t.Run(tg.name, func(t *testing.T) {
			f, url := identityFixture(t, tg)
			day1, err := f.day("20261123", people("100 x@corp.com"))
			must(t, err)
			leaver := oneAccountEach(t, url, day1)["100"].SCIMID

			day2, err := f.day("20261124", people("200 x@corp.com"))
			must(t, err)
			users := oneAccountEach(t, url, day2)
			joiner, ok := users["200"]
			if !ok || joiner.SCIMID == leaver {
				t.Fatalf("the joiner has account %q, the leaver had %q: want an account of its own", joiner.SCIMID, leaver)
			}
			if _, ok := users["100"]; ok {
				t.Error("the leaver is still in the applied state")
			}
			converged(t, f, "20261125", people("200 x@corp.com"))

			// history of the email tells both stories, each line naming
			// its UserID.
			chapters, err := History(f.env, "x@corp.com")
			must(t, err)
			seen := map[string]bool{}
			for _, ch := range chapters {
				for _, l := range ch.Lines {
					key, _, _ := strings.Cut(strings.TrimPrefix(l, "UserID "), ":")
					if !strings.HasPrefix(l, "UserID ") || (key != "100" && key != "200") {
						t.Errorf("history line %q does not name its UserID", l)
					}
					seen[key] = true
				}
			}
			if !seen["100"] || !seen["200"] {
				t.Errorf("history of x@corp.com names %v, want both UserIDs", seen)
			}
		})
	}
}

// With users.deprovision: deactivate, the leaver keeps its account and its
// email: the joiner is not created, the failure names the holder, and the
// Superuser's to-do list says what to do. Nobody's account changes hands.
func TestReusedEmailHeldByADeactivatedLeaver(t *testing.T) {
	for _, tg := range identityTargets {
		t.Run(tg.name, func(t *testing.T) {
			f, url := identityFixture(t, tg)
			f.env.Config.Users.Deprovision = "deactivate"
			day1, err := f.day("20261123", people("100 x@corp.com"))
			must(t, err)
			leaver := oneAccountEach(t, url, day1)["100"].SCIMID

			day2, err := f.day("20261124", people("200 x@corp.com"))
			var failed *load.FailedError
			if !errors.As(err, &failed) || failed.Failed != 1 {
				t.Fatalf("day 2: %v, want the joiner's create to fail", err)
			}
			users := oneAccountEach(t, url, day2)
			if u := users["100"]; u.SCIMID != leaver || u.Active {
				t.Errorf("the leaver: account %s active %v, want its own account %s deactivated", u.SCIMID, u.Active, leaver)
			}
			if _, ok := users["200"]; ok {
				t.Error("the joiner is in the applied state: it took the leaver's account")
			}
			results := resultsCSV(t, day2)
			if !strings.Contains(results, "UserID 100") || !strings.Contains(results, "create,failed,409,") {
				t.Errorf("results.csv does not name the holder's UserID, or the server's 409:\n%s", results)
			}
			// The server's own words come first: on the 1.1 wire, read from
			// its {"Errors":[{"description"…}]}.
			if strings.HasPrefix(tg.name, "visitor-generic") && !strings.Contains(results, `userName ""x@corp.com"" is already taken`) {
				t.Errorf("results.csv does not quote the server's refusal:\n%s", results)
			}
			todo := readTodo(t, day2)
			found := false
			for _, r := range todo {
				found = found || (r["key"] == "200" && strings.Contains(r["why"], "100"))
			}
			if !found {
				t.Errorf("the to-do list says nothing of the joiner 200 and the holder 100: %v", todo)
			}
		})
	}
}

// An employee's email changes and a new hire gets the old one the same
// day: the employee's account is renamed first, then the new hire gets an
// account of its own. (It used to merge the two into one account.)
func TestHandedOverEmail(t *testing.T) {
	for _, tg := range identityTargets {
		t.Run(tg.name, func(t *testing.T) {
			f, url := identityFixture(t, tg)
			day1, err := f.day("20261123", people("100 x@corp.com"))
			must(t, err)
			employee := oneAccountEach(t, url, day1)["100"].SCIMID

			day2, err := f.day("20261124", people("100 z@corp.com", "200 x@corp.com"))
			must(t, err)
			users := oneAccountEach(t, url, day2)
			if u := users["100"]; u.SCIMID != employee || u.UserName != "z@corp.com" {
				t.Errorf("the employee: account %s named %s, want its account %s renamed z@corp.com", u.SCIMID, u.UserName, employee)
			}
			if u, ok := users["200"]; !ok || u.SCIMID == employee {
				t.Errorf("the new hire has account %q: want one of its own", u.SCIMID)
			}
			converged(t, f, "20261125", people("100 z@corp.com", "200 x@corp.com"))
		})
	}
}

// Two users swap emails, three pass theirs round a cycle, and three along
// a line (the last to a new one): each keeps its account, named as Condeco
// says, in one run.
func TestSwapAndChainConverge(t *testing.T) {
	cases := []struct {
		name       string
		day1, day2 []string
	}{
		{"swap", []string{"100 x@corp.com", "101 y@corp.com"}, []string{"100 y@corp.com", "101 x@corp.com"}},
		{"chain", []string{"100 x@corp.com", "101 y@corp.com", "102 z@corp.com"}, []string{"100 y@corp.com", "101 z@corp.com", "102 x@corp.com"}},
		{"line", []string{"100 x@corp.com", "101 y@corp.com", "102 z@corp.com"}, []string{"100 y@corp.com", "101 z@corp.com", "102 w@corp.com"}},
	}
	for _, tg := range identityTargets {
		for _, tc := range cases {
			t.Run(tg.name+"/"+tc.name, func(t *testing.T) {
				f, url := identityFixture(t, tg)
				day1, err := f.day("20261123", people(tc.day1...))
				must(t, err)
				before := oneAccountEach(t, url, day1)

				day2, err := f.day("20261124", people(tc.day2...))
				must(t, err)
				after := oneAccountEach(t, url, day2)
				for _, r := range tc.day2 {
					id, email, _ := strings.Cut(r, " ")
					if u := after[id]; u.SCIMID != before[id].SCIMID || u.UserName != email {
						t.Errorf("user %s: account %s named %s, want its account %s named %s", id, u.SCIMID, u.UserName, before[id].SCIMID, email)
					}
				}
				converged(t, f, "20261125", people(tc.day2...))
			})
		}
	}
}

// A plan is loaded only under the config it was made under: a profile or
// a SCIM URL changed between diff and load is refused (a config.Error:
// exit 2), naming the key and the stage to rerun; nothing is sent.
func TestLoadRefusesAPlanMadeUnderAnotherConfig(t *testing.T) {
	srv, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	copySample(t, f, "day1")
	run := f.extract()
	must(t, Transform(f.env, run))
	must(t, Diff(f.env, run))
	cfg := f.env.Config
	for _, tc := range []struct {
		change        func()
		key, rerun    string
		restoreChange func()
	}{
		{func() { cfg.SCIM.URL = srv.URL }, "scim.url", "diff --run " + run.ID, func() { cfg.SCIM.URL = proxy.URL }},
		{func() { cfg.SCIM.Profile = profile.VisitorGeneric }, "scim.profile", "transform --run " + run.ID, func() { cfg.SCIM.Profile = profile.SCIM2 }},
		{func() { cfg.Users.Deprovision = "deactivate" }, "users.deprovision", "diff --run " + run.ID, func() { cfg.Users.Deprovision = "delete" }},
	} {
		tc.change()
		err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.rerun) {
			t.Errorf("load after %s changed: %v; want a config error naming it and %q", tc.key, err, tc.rerun)
		}
		tc.restoreChange()
	}
	if fwd, _ := proxy.Counts(); len(fwd) != 0 {
		t.Errorf("refused loads sent %v", fwd)
	}
	must(t, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}))
}
