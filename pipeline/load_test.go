package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/scimmytest"
	"github.com/condeco-sync/condeco-sync/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
)

// The load tests talk to SCIMMY, a SCIM server we did not write, started
// once for the package on first use.
var (
	scimmyOnce sync.Once
	scimmy     *scimmytest.Server
	scimmyErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if scimmy != nil {
		scimmy.Stop()
	}
	os.Exit(code)
}

// scimServer returns the running SCIMMY, emptied.
func scimServer(t *testing.T) *scimmytest.Server {
	t.Helper()
	scimmyOnce.Do(func() { scimmy, scimmyErr = scimmytest.Start() })
	if scimmyErr != nil {
		t.Fatal(scimmyErr)
	}
	if err := scimmy.Reset(); err != nil {
		t.Fatal(err)
	}
	return scimmy
}

// loadFixture is a fixture whose config points at url with the scim2 profile.
func loadFixture(t *testing.T, url string) *fixture {
	f := newFixture(t)
	cfg := f.env.Config
	cfg.Guards.MinUsers = 100
	cfg.SCIM.URL, cfg.SCIM.Profile, cfg.SCIM.Concurrency, cfg.SCIM.Timeout = url, "scim2", 8, 5*time.Second
	return f
}

func getenv(k string) string {
	if k == "CONDECO_SYNC_SCIM_TOKEN" {
		return scimmytest.Token
	}
	return ""
}

// runDay takes one sample day through every stage, load included.
func runDay(t *testing.T, f *fixture, day string) (*Run, error) {
	t.Helper()
	copySample(t, f, day)
	run := f.extract()
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	if err := Diff(f.env, run); err != nil {
		t.Fatal(err)
	}
	return run, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
}

// serverState reads every user and group back from the server.
type serverState struct {
	users  map[string]scim.Resource // by externalId
	groups map[string][]string      // group externalId → member externalIds, sorted
}

func readServer(t *testing.T, url string) serverState {
	t.Helper()
	c, err := scim.New(url, scimmytest.Token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	users, err := c.Filter(ctx, "Users", "", 500)
	if err != nil {
		t.Fatal(err)
	}
	s := serverState{users: map[string]scim.Resource{}, groups: map[string][]string{}}
	byID := map[string]string{}
	names := map[string]bool{}
	for _, u := range users {
		ext, _ := u["externalId"].(string)
		name, _ := u["userName"].(string)
		if _, dup := s.users[ext]; dup {
			t.Errorf("two users with externalId %s in the server", ext)
		}
		if names[strings.ToLower(name)] {
			t.Errorf("two users with userName %s in the server", name)
		}
		names[strings.ToLower(name)] = true
		s.users[ext] = u
		byID[u["id"].(string)] = ext
	}
	groups, err := c.Filter(ctx, "Groups", "", 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		ext, _ := g["externalId"].(string)
		if _, dup := s.groups[ext]; dup {
			t.Errorf("two groups with externalId %s in the server", ext)
		}
		members := []string{}
		seen := map[string]bool{}
		ms, _ := g["members"].([]any)
		for _, m := range ms {
			id := m.(map[string]any)["value"].(string)
			if seen[id] {
				t.Errorf("group %s lists member %s twice", ext, byID[id])
			}
			seen[id] = true
			members = append(members, byID[id])
		}
		sort.Strings(members)
		s.groups[ext] = members
	}
	return s
}

// checkServer compares the server with what the snapshots say: every user
// of the applied state is there with its fields, no one else is; each
// location's group holds exactly the users granted it, and its admin
// group the admins whose default location it is. And the applied state is
// the desired state for every user that is not held.
func checkServer(t *testing.T, url string, run *Run) {
	t.Helper()
	got := readServer(t, url)
	applied, err := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	desired, _ := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "transform", "users.parquet"))
	want := map[string]schemas.User{}
	for _, u := range applied {
		want[u.UserID] = u
	}
	for _, d := range desired {
		a, ok := want[d.UserID]
		switch {
		case d.Held:
		case d.Deleted || (!ok && !d.Active):
			if ok && a.Active {
				t.Errorf("user %s: deleted or inactive in Condeco, active in the applied state", d.UserID)
			}
		case !ok:
			t.Errorf("user %s: desired, not in the applied state", d.UserID)
		case a.Hash() != d.Hash():
			t.Errorf("user %s: applied state differs from the desired state", d.UserID)
		}
	}
	if len(got.users) != len(want) {
		t.Errorf("server has %d users, the applied state %d", len(got.users), len(want))
	}
	wantGroups := map[string][]string{}
	locs, _ := parquetio.ReadAll[schemas.Location](filepath.Join(run.Dir, "load", "state", "locations.parquet"))
	for _, l := range locs {
		wantGroups[l.LocationID] = []string{}
		wantGroups[l.LocationID+":admins"] = []string{}
	}
	for key, u := range want {
		r, ok := got.users[key]
		if !ok {
			t.Errorf("user %s (%s) is not in the server", key, u.UserName)
			continue
		}
		emails, _ := r["emails"].([]any)
		name, _ := r["name"].(map[string]any)
		if r["userName"] != u.UserName || r["active"] != u.Active || name["givenName"] != u.GivenName ||
			name["familyName"] != u.FamilyName || len(emails) != 1 || emails[0].(map[string]any)["value"] != u.Email {
			t.Errorf("user %s in the server: %v; want %+v", key, r, u)
		}
		phones, _ := r["phoneNumbers"].([]any)
		var wantPhones []string
		for _, p := range []string{u.PhoneWork, u.PhoneMobile} {
			if p != "" {
				wantPhones = append(wantPhones, p)
			}
		}
		var gotPhones []string
		for _, p := range phones {
			gotPhones = append(gotPhones, p.(map[string]any)["value"].(string))
		}
		if !slices.Equal(gotPhones, wantPhones) {
			t.Errorf("user %s phones: %v, want %v", key, gotPhones, wantPhones)
		}
		for _, g := range u.GrantedIDs() {
			wantGroups[g] = append(wantGroups[g], key)
		}
		if u.Admin {
			wantGroups[u.DefaultLocation+":admins"] = append(wantGroups[u.DefaultLocation+":admins"], key)
		}
	}
	for g, members := range wantGroups {
		sort.Strings(members)
		if !slices.Equal(got.groups[g], members) {
			t.Errorf("group %s: members in the server but not expected %v; expected but not in the server %v",
				g, without(got.groups[g], members), without(members, got.groups[g]))
		}
	}
	for g := range got.groups {
		if _, ok := wantGroups[g]; !ok {
			t.Errorf("group %s is in the server, not in the applied state", g)
		}
	}
}

func TestLoadSamplesEndToEnd(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f := loadFixture(t, proxy.URL)

	day1, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	checkServer(t, proxy.URL, day1)
	if n := proxy.Forwarded("POST Users"); n != 211 {
		t.Errorf("day 1 sent %d creates, want 211", n)
	}
	if b, _ := ReadBaseline(f.env.Config); b == nil || b.RunID != day1.ID {
		t.Fatalf("baseline %+v, want run %s", b, day1.ID)
	}

	f.now = f.now.Add(24 * time.Hour)
	day2, err := runDay(t, f, "day2")
	if err != nil {
		t.Fatal(err)
	}
	checkServer(t, proxy.URL, day2)
	got := readServer(t, proxy.URL)
	if _, ok := got.users["100010"]; ok {
		t.Error("a user missing from day 2's export is still in the server")
	}

	// The same load again sends nothing but the configuration read.
	proxy.ResetCounts()
	if err := Load(context.Background(), f.env, day2, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	if fwd, _ := proxy.Counts(); len(fwd) != 1 || fwd["GET ServiceProviderConfig"] != 1 {
		t.Errorf("a second load of the same run sent %v", fwd)
	}
	checkServer(t, proxy.URL, day2)
}

// TestLoadThroughFaults loads day 1 through a proxy that throttles, fails,
// drops and slows a fifth of the requests, and refuses one user for good:
// the retries mend every passing fault, the refusal is in results.csv in
// the server's words, and a rerun once the server accepts that user
// sends only what is missing. The server ends in the expected state, with
// no duplicate.
func TestLoadThroughFaults(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{
		Throttle: 0.02, Unavailable: 0.02, ServerError: 0.05, DropBefore: 0.04, DropAfter: 0.05, Slow: 0.02,
		SlowDelay: 3 * time.Second, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f := loadFixture(t, proxy.URL)
	f.env.Config.SCIM.Timeout = time.Second // a slow answer is a timeout: its outcome is unknown
	proxy.Refuse(`"externalId":"100042"`)
	run, err := runDay(t, f, "day1")
	var failed *load.FailedError
	if !errors.As(err, &failed) || failed.Failed != 1 {
		t.Fatalf("load: %v; want one failed operation", err)
	}
	results, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
	if n := strings.Count(string(results), ",failed,"); n != 1 ||
		!strings.Contains(string(results), "user,100042,") || !strings.Contains(string(results), "400 invalidValue: refused by faultproxy") {
		t.Errorf("results.csv should list the refused create in the server's words:\n%s", results)
	}
	applied, _ := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if len(applied) != 210 {
		t.Errorf("applied state has %d users, want the 210 created", len(applied))
	}

	_, injected := proxy.Counts()
	for _, fault := range []string{"throttle", "unavailable", "error", "drop-before", "drop-after", "slow"} {
		if injected[fault] == 0 {
			t.Errorf("no %s fault was injected: this test proves nothing about it (%v)", fault, injected)
		}
	}
	proxy.Refuse("")
	proxy.ResetCounts()
	if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if fwd, _ := proxy.Counts(); fwd["POST Users"] != 1 {
		t.Errorf("the rerun sent %d creates, want the 1 that failed (all: %v)", fwd["POST Users"], fwd)
	}
	checkServer(t, srv.URL, run)
}

// without lists the members of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, fmt.Sprintf("%q", x))
		}
	}
	return out
}
