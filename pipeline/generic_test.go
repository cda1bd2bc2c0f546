package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// The samples' two days through every stage with the visitor-generic
// profile, against SCIMMY: the server holds exactly the applied state's
// users by userName, each user's addresses[0].locality is the city of
// the location its export row names (from the samples' CSVs, not from
// condeco-sync's own snapshots), and no request went anywhere but /Users
// or carried an extension.
func TestVisitorGenericSamples(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Refuse("schemas:extension") // a 400 for any body naming an extension
	f := loadFixture(t, proxy.URL)
	f.env.Config.SCIM.Profile = profile.VisitorGeneric
	f.env.Config.SCIM.CoreSchema = schemas.SchemaUser // SCIMMY takes SCIM 2.0 URNs only
	f.env.Config.Access.HomeAdminLevels = []string{"Location Admin"}
	client, err := scim.New(srv.URL, scimmytest.Token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"day1", "day2"} {
		run, err := runDay(t, f, day)
		if err != nil {
			t.Fatalf("%s: %v", day, err)
		}
		cities := sampleCities(t, day)
		applied, err := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]scim.Resource{}
		if err := client.Each(context.Background(), "Users", "", 200, func(r scim.Resource) error {
			got[strings.ToLower(r["userName"].(string))] = r
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(applied) {
			t.Errorf("%s: the server has %d users, the applied state %d", day, len(got), len(applied))
		}
		checked := 0
		for _, u := range applied {
			r := got[strings.ToLower(u.UserName)]
			if r == nil {
				t.Errorf("%s: user %s (%s) is not in the server", day, u.UserID, u.UserName)
				continue
			}
			if _, ok := r["externalId"]; ok {
				t.Errorf("%s: user %s has an externalId: the public API documents none", day, u.UserID)
			}
			addrs, _ := r["addresses"].([]any)
			locality := ""
			if len(addrs) > 0 {
				locality, _ = addrs[0].(map[string]any)["locality"].(string)
			}
			if want, ok := cities[u.UserID]; ok {
				checked++
				if locality != want {
					t.Errorf("%s: user %s: locality %q, want %q (the city of its export's Location)", day, u.UserID, locality, want)
				}
			}
		}
		if checked < 150 {
			t.Errorf("%s: only %d users had a city to check", day, checked)
		}
		checkAdmins(t, run, day)
		todo := readTodo(t, run)
		if day == "day1" {
			// Day 1 names every Global Admin of the export at the default
			// location and every Location Admin at its home, once each.
			want := map[string]string{}
			for _, u := range sampleRows(t, day, "users_*.csv") {
				if !isYes(u["Active"]) || isYes(u["Deleted"]) || u["UserType"] == "Visitor" {
					continue
				}
				switch u["AccessLevel"] {
				case "Global Admin":
					want[u["UserID"]] = "LON"
				case "Location Admin":
					want[u["UserID"]] = u["Location"]
				}
			}
			got := map[string]string{}
			for _, r := range todo {
				if r["what"] == "Give admin rights" {
					got[r["key"]] = r["where"]
				}
			}
			for k, loc := range want {
				if !strings.HasSuffix(got[k], "("+loc+")") {
					t.Errorf("day 1's to-do list gives user %s admin rights at %q, want at %s", k, got[k], loc)
				}
			}
			if len(want) == 0 || len(got) != len(want) {
				t.Errorf("day 1's to-do list gives admin rights to %v, want the export's admins %v", got, want)
			}
		} else {
			var created, revoked []string
			for _, r := range todo {
				switch {
				case strings.HasPrefix(r["what"], "Create the location"):
					created = append(created, r["key"])
				case r["what"] == "Take back admin rights":
					revoked = append(revoked, r["key"]+" at "+r["where"])
				}
			}
			if !slices.Equal(created, []string{"DUB"}) {
				t.Errorf("day 2's to-do list creates locations %v, want [DUB]: %v", created, todo)
			}
			// BER leaves the export: its Location Admin is no longer an admin there.
			if want := []string{"100123 at location Berlin (BER)"}; !slices.Equal(revoked, want) {
				t.Errorf("day 2's to-do list takes back admin rights of %v, want %v", revoked, want)
			}
			// The plan lists only what is sent: no location, no access, no
			// admin flag or department; it counts what it leaves to the to-do list.
			summary, _ := os.ReadFile(filepath.Join(run.Dir, "diff", "summary.md"))
			for _, never := range []string{" location ", "[access:", "admin:", "department:", "(100013)"} {
				if plan, _, _ := strings.Cut(string(summary), "## For the Superuser"); strings.Contains(plan, never) {
					t.Errorf("day 2's plan lists %q, which visitor-generic does not send:\n%s", never, plan)
				}
			}
			for _, want := range []string{"(100014): mobilePhone:", "(100015): city: \"Berlin\" → \"London\"\n", "Not sent: 4 changes of locations, access or admin rights"} {
				if !strings.Contains(string(summary), want) {
					t.Errorf("day 2's plan does not say %q:\n%s", want, summary)
				}
			}
		}
		fwd, _ := proxy.Counts()
		for k, n := range fwd {
			if !strings.HasSuffix(k, " Users") && !strings.HasSuffix(k, " ServiceProviderConfig") {
				t.Errorf("%s: %d requests %s: visitor-generic asks for /Users only", day, n, k)
			}
		}
	}
}

// readTodo reads a run's diff/todo.csv as rows by header.
func readTodo(t *testing.T, run *Run) []map[string]string {
	t.Helper()
	return csvRows(t, filepath.Join(run.Dir, "diff", "todo.csv"))
}

func isYes(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true", "1":
		return true
	}
	return false
}

// sampleRows reads the one sample file of day matching glob.
func sampleRows(t *testing.T, day, glob string) []map[string]string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "samples", day, glob))
	if len(paths) != 1 {
		t.Fatalf("%s: %v", glob, paths)
	}
	return csvRows(t, paths[0])
}

// csvRows reads a CSV file (a BOM allowed) as rows by header.
func csvRows(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			if i < len(r) {
				m[h] = r[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// sampleCities maps each UserID of a sample day's export whose Location
// names a location (by LocationID or name, any case) to that location's
// City, read from the sample CSVs.
func sampleCities(t *testing.T, day string) map[string]string {
	t.Helper()
	read := func(glob string) []map[string]string { return sampleRows(t, day, glob) }
	city := map[string]string{}
	for _, l := range read("locations_*.csv") {
		city[strings.ToLower(l["LocationID"])], city[strings.ToLower(l["Name"])] = l["City"], l["City"]
	}
	out := map[string]string{}
	for _, u := range read("users_*.csv") {
		if c, ok := city[strings.ToLower(strings.TrimSpace(u["Location"]))]; ok {
			out[u["UserID"]] = c
		}
	}
	return out
}

// scim.max_requests_per_run: a load stops when it has sent its budget,
// says so, and the next attempt goes on from the journal; after enough
// attempts the server is exact, with nobody made twice, and the requests
// sent are the plan's count plus the reads each attempt starts with and
// the look-ups a resume makes.
func TestLoadRequestBudget(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f := loadFixture(t, proxy.URL)
	f.env.Config.SCIM.MaxRequestsPerRun = 100
	run, err := runDay(t, f, "day1")
	attempts := 1
	for ; err != nil && attempts < 10; attempts++ {
		if !errors.Is(err, load.ErrBudget) || !strings.Contains(err.Error(), "the next run goes on") {
			t.Fatalf("attempt %d: %v, want a stop on the budget that says the next run goes on", attempts, err)
		}
		err = Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
	}
	if err != nil {
		t.Fatalf("after %d attempts: %v", attempts, err)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
	m, err := ReadManifest(run.Dir, StageDiff)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m.Details["requests"])
	var planned diff.Requests
	json.Unmarshal(b, &planned)
	fwd, _ := proxy.Counts()
	sent := 0
	for _, n := range fwd {
		sent += n
	}
	if attempts < 3 || sent > attempts*100 {
		t.Errorf("%d attempts sent %d requests: want at least 3 attempts of at most 100 each", attempts, sent)
	}
	// Each attempt reads /ServiceProviderConfig and, with no baseline, a
	// page of /Users and one of /Groups; a resume looks before it re-sends
	// what the last attempt may have sent unanswered.
	// An operation in flight when the budget stopped a load finishes and
	// is journaled: the next attempt adopts nobody.
	if fwd["PUT Users"] != 0 {
		t.Errorf("%d users were adopted by a later attempt: their creates finished unjournaled", fwd["PUT Users"])
	}
	if extra := sent - planned.Total(); extra < 3*attempts || extra > 3*attempts+10 {
		t.Errorf("sent %d requests for a plan of %d in %d attempts: %d more than the plan (%v)", sent, planned.Total(), attempts, extra, fwd)
	}
	t.Logf("%d attempts, %d requests sent; the plan counted %d (%v)", attempts, sent, planned.Total(), fwd)
}

// checkAdmins compares where each user of the applied state is an admin
// with the samples of day, read as CSV (not through condeco-sync's own
// snapshots): a Global Admin at the default location (LON), a Location
// Admin (access.home_admin_levels) at the active location its export
// row names, nobody else. The target is compared with the applied state
// by targetcheck.
func checkAdmins(t *testing.T, run *Run, day string) {
	t.Helper()
	home := map[string]string{}
	for _, l := range sampleRows(t, day, "locations_*.csv") {
		if isYes(l["Active"]) {
			home[strings.ToLower(l["LocationID"])], home[strings.ToLower(l["Name"])] = l["LocationID"], l["LocationID"]
		}
	}
	want := map[string]string{}
	homes := 0
	for _, u := range sampleRows(t, day, "users_*.csv") {
		switch strings.ToLower(u["AccessLevel"]) {
		case "global admin":
			want[u["UserID"]] = "LON"
		case "location admin":
			if h := home[strings.ToLower(strings.TrimSpace(u["Location"]))]; h != "" {
				want[u["UserID"]] = h
				homes++
			}
		}
	}
	if homes == 0 {
		t.Fatalf("%s: the samples have no Location Admin with a home location to check", day)
	}
	applied, err := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range applied {
		if got := u.AdminAt(); got != want[u.UserID] {
			t.Errorf("%s: user %s is an admin at %q, want %q", day, u.UserID, got, want[u.UserID])
		}
	}
}

// scim.max_rpm reaches the loader: against the sandbox answering 429 past
// 600 requests a minute, a load kept at 540 a minute is never throttled,
// and the same load with the cap lifted is (the check can fail).
func TestLoadKeepsUnderTheRate(t *testing.T) {
	var b strings.Builder
	b.WriteString("UserID,UserName,FirstName,LastName,Email,Location\n")
	for i := 0; i < 24; i++ { // past the sandbox's burst of 10, under a minute's worth
		fmt.Fprintf(&b, "%d,u%d@example.com,U,%d,u%d@example.com,LON\n", i, i, i, i)
	}
	locs := "LocationID,Name,City\nLON,London,London\n"
	throttled := func(rpm int) float64 {
		sb, err := sandbox.NewWith(t.TempDir(), scimmytest.Token, schemas.DefaultExtension, sandbox.Options{Generic: true, MaxRPM: 600})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sb)
		defer func() { srv.Close(); sb.Close() }()
		f := loadFixture(t, srv.URL+sandbox.Base)
		f.env.Config.SCIM.Profile = profile.VisitorGeneric
		f.env.Config.SCIM.MaxRPM = &rpm
		f.env.Config.Guards.MinUsers = 1
		f.drop("20261123", b.String(), locs)
		run := f.extract()
		must(t, Transform(f.env, run))
		must(t, Diff(f.env, run))
		if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
			b, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
			t.Fatalf("%v\n%s", err, b)
		}
		m, err := ReadManifest(run.Dir, StageLoad)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := m.Details["throttled"].(float64)
		return n
	}
	if n := throttled(540); n != 0 {
		t.Errorf("at 540 requests a minute the sandbox (600) throttled %v requests", n)
	}
	if n := throttled(0); n == 0 {
		t.Error("with no cap the sandbox (600 a minute) throttled nothing: the check above proves nothing")
	}
}
