package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// Provision on demand under the three profiles, before the initial
// synchronization (how an operator tries the real tenant on one person)
// and on a later day: a dry run sends nothing and shows the request; the
// provision sends it; the next daily run takes the same export set and
// sends that user nothing (its plan, its results and the requests the
// server saw prove it), nor makes it twice.
func TestProvisionOnDemand(t *testing.T) {
	for _, target := range []struct {
		name, profile string
		start         func(t *testing.T) string
	}{
		{"scim2", profile.SCIM2, func(t *testing.T) string { return scimServer(t).URL }},
		{"visitor", profile.Visitor, func(t *testing.T) string { return startSandbox(t, t.TempDir()) }},
		{"visitor-generic", profile.VisitorGeneric, func(t *testing.T) string {
			return startGenericSandbox(t, sandbox.Options{Generic: true, SCIM11: true})
		}},
	} {
		t.Run(target.name, func(t *testing.T) {
			url := target.start(t)
			proxy, err := faultproxy.Start(url, faultproxy.Faults{})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			proxy.Record()
			f := loadFixture(t, proxy.URL)
			f.env.Config.SCIM.Profile = target.profile
			f.env.Config.Guards.MinUsers, f.env.Config.Guards.MaxDeleteFraction = 1, 1
			ctx := context.Background()
			opt := LoadOptions{Getenv: getenv}
			ada := func() scim.Resource {
				t.Helper()
				acc := targetcheck.ByUserName(targetcheck.Accounts(t, url, scimmytest.Token))
				return acc["ada@corp.com"]
			}

			f.drop("20261123", people("1 ada@corp.com", "2 bob@corp.com"), identityLocations)
			rep, err := Provision(ctx, f.env, "ADA@corp.com", true, opt)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Row.UserID != "1" || rep.Desired == nil || rep.Desired.UserName != "ada@corp.com" {
				t.Fatalf("the dry run found row %+v, desired %+v", rep.Row, rep.Desired)
			}
			if users := userChanges(rep.Changes); len(users) != 1 || users[0] != "create 1" {
				t.Errorf("the plan's user changes are %v, want create 1 alone", users)
			}
			if !anyLine(rep.Request, `"method":"POST"`, "/Users", "ada@corp.com") {
				t.Errorf("the dry run shows no POST of ada:\n%s", strings.Join(rep.Request, "\n"))
			}
			if fw, _ := proxy.Counts(); len(fw) != 0 {
				t.Errorf("the dry run sent requests: %v", fw)
			}
			if run, _, _ := Unfinished(f.env.Config); run != nil {
				t.Errorf("the dry run is resumed by the next daily run as %s", run.ID)
			}

			rep, err = Provision(ctx, f.env, "1", false, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 || rep.Results[0][3] != "create" || rep.Results[0][4] != "done" {
				t.Errorf("the provision's results are %v, want create done", rep.Results)
			}
			made := ada()
			if made == nil || len(targetcheck.Accounts(t, url, scimmytest.Token)) != 1 {
				t.Fatalf("after the provision the target holds %v", targetcheck.Accounts(t, url, scimmytest.Token))
			}
			if b, _ := ReadBaseline(f.env.Config); b == nil || b.RunID != rep.Run.ID {
				t.Errorf("the baseline is %+v, want the provision run's", b)
			}

			// The daily run takes the same set and sends ada nothing.
			proxy.ResetCounts()
			f.now = f.now.Add(time.Hour)
			daily := f.dailyRun()
			if daily.Manifest.Export != "20261123" {
				t.Errorf("the daily run took set %s, want the provision's 20261123", daily.Manifest.Export)
			}
			f.sentNothingTo(daily, proxy, "1", "ada@corp.com", made["id"].(string))
			if n := len(targetcheck.Accounts(t, url, scimmytest.Token)); n != 4 {
				t.Errorf("after the daily run the target holds %d users, want 4", n)
			}
			if again := ada(); again == nil || again["id"] != made["id"].(string) {
				t.Errorf("ada is now %v, want the account the provision made (%s)", again, made["id"].(string))
			}

			// A later day: ada's first name changes; the provision sends the
			// update, the daily run the rest (bob leaves).
			f.now = f.now.Add(24 * time.Hour)
			f.drop("20261124", strings.Replace(people("1 ada@corp.com"), "First1", "Adaline", 1), identityLocations)
			rep, err = Provision(ctx, f.env, "1", false, opt)
			if err != nil {
				t.Fatal(err)
			}
			if users := userChanges(rep.Changes); len(users) != 1 || users[0] != "update 1" {
				t.Errorf("day 2's plan has user changes %v, want update 1 alone", users)
			}
			if name, _ := ada()["name"].(map[string]any); name["givenName"] != "Adaline" {
				t.Errorf("ada's name is %v after the provision", name)
			}
			proxy.ResetCounts()
			f.now = f.now.Add(time.Hour)
			daily = f.dailyRun()
			f.sentNothingTo(daily, proxy, "1", "ada@corp.com", made["id"].(string))
			if bob, ok := targetcheck.ByUserName(targetcheck.Accounts(t, url, scimmytest.Token))["bob@corp.com"]; ok && bob["active"] != false {
				t.Errorf("bob, gone from the export, is still active in the target: %v", bob)
			}
		})
	}
}

// Provision refuses, naming why, a user the export lacks, a name two
// users share, and a user whose row is set aside; none of them sends
// anything.
func TestProvisionRefuses(t *testing.T) {
	f := newFixture(t)
	f.env.Config.SCIM.URL = "http://127.0.0.1:1/scim/v2" // nothing may be sent: nothing listens
	users := "UserID,UserName,FirstName,LastName,Email,Location,Active\n" +
		"1,ada@corp.com,Ada,A,ada@corp.com,LON,Yes\n2,bob@corp.com,Bob,B,bob@corp.com,LON,Yes\n" +
		"3,cy@corp.com,Cy,C,bob@corp.com,LON,Yes\n4,dee@corp.com,Dee,D,dee@corp.com,LON,Perhaps\n"
	f.drop("20261123", users, identityLocations)
	for who, want := range map[string]string{
		"zed@corp.com": `export set 20261123 has no user "zed@corp.com"`,
		"bob@corp.com": `export set 20261123 has 2 users named "bob@corp.com": name one by its UserID`,
		"4":            "UserID 4 is held by export set 20261123, line 5:",
	} {
		_, err := Provision(context.Background(), f.env, who, false, LoadOptions{Getenv: getenv})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("provision %s: %v, want %q", who, err, want)
		}
	}
	if b, _ := ReadBaseline(f.env.Config); b != nil {
		t.Errorf("a refused provision moved the baseline to %s", b.RunID)
	}
}

// dailyRun takes the next export set through every stage, as the
// scheduled run does.
func (f *fixture) dailyRun() *Run {
	f.t.Helper()
	run := f.extract()
	must(f.t, Transform(f.env, run))
	must(f.t, Diff(f.env, run))
	must(f.t, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}))
	return run
}

// sentNothingTo checks that run planned nothing for UserID key and that
// no request the server saw since the proxy's counts were reset names it
// (by UserID, userName or SCIM id).
func (f *fixture) sentNothingTo(run *Run, proxy *faultproxy.Proxy, key, userName, scimID string) {
	f.t.Helper()
	changes, err := parquetio.ReadAll[schemas.Change](filepath.Join(run.Dir, DiffChanges.Path()))
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range userChanges(changes) {
		if strings.HasSuffix(c, " "+key) {
			f.t.Errorf("run %s plans %s", run.ID, c)
		}
	}
	results, err := os.ReadFile(filepath.Join(run.Dir, LoadResults.Path()))
	if err != nil {
		f.t.Fatal(err)
	}
	if strings.Contains(string(results), "\nuser,"+key+",") {
		f.t.Errorf("run %s's results name UserID %s:\n%s", run.ID, key, results)
	}
	if len(changes) == 0 {
		f.t.Errorf("run %s planned nothing at all: the test proves nothing", run.ID)
	}
	for _, s := range []string{userName, scimID, `externalId eq "` + key + `"`} {
		if seen := proxy.Mentioning(s); len(seen) > 0 {
			f.t.Errorf("run %s sent %s: %s", run.ID, s, strings.Join(seen, "\n"))
		}
	}
}

// userChanges names a plan's user changes, "op key" each.
func userChanges(changes []schemas.Change) []string {
	var out []string
	for _, c := range changes {
		if c.Entity == schemas.EntityUser {
			out = append(out, c.Op+" "+c.Key)
		}
	}
	return out
}

// anyLine reports whether one of lines holds every part.
func anyLine(lines []string, parts ...string) bool {
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A provision waits for the daily run before it: one halted by the guard
// must be approved first, one approved must be loaded first (the
// provision's load would move the baseline from under its plan); then
// the provision goes on, and its preview is no run the daily one
// finishes.
func TestProvisionWaitsForTheDailyRun(t *testing.T) {
	f := loadFixture(t, scimServer(t).URL)
	f.env.Config.Guards.MinUsers = 1
	f.drop("20261123", people("1 ada@corp.com", "2 bob@corp.com"), identityLocations)
	f.dailyRun()
	f.now = f.now.Add(24 * time.Hour)
	f.drop("20261124", people("1 ada@corp.com"), identityLocations) // bob leaves: 1 of 4, past 20 %
	halted := f.extract()
	must(t, Transform(f.env, halted))
	if err := Diff(f.env, halted); err == nil {
		t.Fatal("the guard did not halt the day")
	}
	ctx := context.Background()
	opt := LoadOptions{Getenv: getenv}
	if _, err := Provision(ctx, f.env, "1", false, opt); err == nil || !strings.Contains(err.Error(), "is halted by the mass-deletion guard") {
		t.Errorf("a provision beside a halted run: %v", err)
	}
	must(t, Approve(f.env, halted, "tester", "bob left"))
	if _, err := Provision(ctx, f.env, "1", false, opt); err == nil || !strings.Contains(err.Error(), "stopped before its end (load is next)") {
		t.Errorf("a provision beside an approved run not yet loaded: %v", err)
	}
	must(t, Load(ctx, f.env, halted, opt))
	rep, err := Provision(ctx, f.env, "ada@corp.com", true, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(userChanges(rep.Changes)) != 0 || anyLine(rep.Request, "/Users") {
		t.Errorf("ada is up to date, yet the provision plans %v and sends %v", rep.Changes, rep.Request)
	}
	if run, _, _ := Unfinished(f.env.Config); run != nil {
		t.Errorf("the preview is left to the daily run to finish, as %s", run.ID)
	}
	if run, _ := latestRun(f.env.Config); run == nil || run.ID != halted.ID {
		t.Errorf("the latest run a daily run stands on is %v, want %s", run, halted.ID)
	}
}
