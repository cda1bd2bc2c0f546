package load_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/rs/zerolog"
)

// A run directory as the pipeline lays it out: transform/, diff/, load/.
// targetcheck reads the desired state and the applied state from it.
type runDir string

func (r runDir) at(p ...string) string { return filepath.Join(append([]string{string(r)}, p...)...) }

// day writes a run's desired state (users, and locs), diffs it against
// the applied state of prev ("" on day 1) and loads it into the server at
// url through a proxy that counts requests. It returns the run's
// directory, the plan's reckoning of requests and the requests sent.
func day(t *testing.T, url, kind string, prev runDir, users []schemas.User, locs []schemas.Location, tweak ...func(*load.Input)) (runDir, diff.Requests, int) {
	t.Helper()
	r, lin := planDay(t, kind, prev, users, locs)
	for _, f := range tweak {
		f(&lin)
	}
	proxy, err := faultproxy.Start(url, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	if kind == profile.VisitorGeneric {
		proxy.Refuse("schemas:extension") // a 400 for any body naming an extension: the load fails
	}
	if lin.Client, err = scim.New(proxy.URL, scimmytest.Token, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := load.Run(context.Background(), lin, r.at("load")); err != nil {
		results, _ := os.ReadFile(r.at("load", load.ResultsFile))
		var failed []string
		for _, line := range strings.Split(string(results), "\n") {
			if strings.Contains(line, ",failed,") {
				failed = append(failed, line)
			}
		}
		t.Fatalf("%v:\n%s", err, strings.Join(failed, "\n"))
	}
	fwd, _ := proxy.Counts()
	for k := range fwd {
		if kind == profile.VisitorGeneric && !strings.HasSuffix(k, " Users") && !strings.HasSuffix(k, " ServiceProviderConfig") && !strings.HasSuffix(k, " ServiceProviderConfigs") {
			t.Errorf("visitor-generic sent %s (%d requests): the public API has /Users only", k, fwd[k])
		}
	}
	sent := 0
	for _, n := range fwd {
		sent += n
	}
	return r, diff.CountRequests(readPlan(t, lin.Changes), profile.Must(kind), kind == profile.VisitorGeneric && lin.CoreSchema == "", lin.ChunkSize), sent
}

func readPlan(t *testing.T, path string) []schemas.Change {
	changes, err := parquetio.ReadAll[schemas.Change](path)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

// planDay writes a run's desired state and diffs it against prev's
// applied state: the load input of the run, with no client yet.
func planDay(t *testing.T, kind string, prev runDir, users []schemas.User, locs []schemas.Location) (runDir, load.Input) {
	t.Helper()
	r := runDir(t.TempDir())
	for _, d := range []string{"transform", "diff", "load"} {
		os.MkdirAll(r.at(d), 0o700)
	}
	for i := range users {
		users[i].RowHash = users[i].Hash()
	}
	for i := range locs {
		locs[i].RowHash = locs[i].Hash()
	}
	in := diff.Input{Users: r.at("transform", "users.parquet"), Locations: r.at("transform", "locations.parquet"),
		Deprovision: "delete", Guard: diff.Guard{MaxDeletes: 1000, MaxFraction: 1}, Profile: kind}
	if _, err := parquetio.WriteSlice(in.Users, users); err != nil {
		t.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(in.Locations, locs); err != nil {
		t.Fatal(err)
	}
	if prev != "" {
		in.BaselineUsers, in.BaselineLocations = prev.at("load", "state", "users.parquet"), prev.at("load", "state", "locations.parquet")
	}
	res, err := diff.Run(in, r.at("diff"), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	lin := load.Input{Changes: r.at("diff", diff.ChangesFile), BaselineUsers: in.BaselineUsers, BaselineLocations: in.BaselineLocations,
		Attempt: 1, RunID: "test", Profile: kind, Concurrency: 4, ChunkSize: 40, Log: zerolog.Nop()}
	if req := diff.CountRequests(readPlan(t, lin.Changes), profile.Must(kind), false, profile.MemberChunk); req != res.Details["requests"].(diff.Requests) {
		t.Errorf("the plan's reckoning %+v, from its file %+v", res.Details["requests"], req)
	}
	return r, lin
}

// e2eUsers are n users of the tests over the six locations.
func e2eUsers(n int) []schemas.User {
	out := make([]schemas.User, n)
	for i := range out {
		out[i] = benchUser(i)
	}
	return out
}

// day2 is the next day of day 1's users: users removed (every 50th),
// retitled (every 25th, from 1), one made inactive, one made an admin, an
// admin moved to another default location, ten new users, a location
// renamed and one new (the new users get it; the others do not, since
// access.grant_new_locations_to_existing_users is off).
func day2(n int) ([]schemas.User, []schemas.Location) {
	var users []schemas.User
	for i := range n + 10 {
		u := benchUser(i)
		switch {
		case i < n && i%50 == 0 && i != 100:
			continue
		case i%25 == 1:
			u.Title = "Senior " + u.Title
		case i == 3:
			u.Active = false
		case i == 7:
			u.Admin = true
		case i == 100: // an admin at PAR, now at AMS
			u.DefaultLocation = "AMS"
		}
		users = append(users, u)
	}
	locs := benchLocs(false)
	for i := range locs {
		if locs[i].LocationID == "LON" {
			locs[i].Name = "London HQ"
		}
	}
	locs = append(locs, schemas.Location{LocationID: "ZRH", Name: "Office ZRH", City: "Zurich", Active: true})
	return users, locs
}

// The load stage against SCIMMY (scim2 profile), on its own: day 1 makes
// 300 users, six locations and their admin groups; day 2 deletes,
// updates, deactivates, moves admin rights, renames and adds. After each
// day the server holds exactly what the applied state says, and the
// requests sent are those the plan reckoned, plus the reads every load
// starts with.
func TestLoadSCIM2AgainstSCIMMY(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY")
	}
	srv := scimmytest.ForTest(t)
	const n = 300
	d1, req1, sent1 := day(t, srv.URL, profile.SCIM2, "", e2eUsers(n), benchLocs(false))
	targetcheck.Check(t, scimmytest.Token, srv.URL, string(d1))
	// Reads: /ServiceProviderConfig, and with no baseline a page of
	// /Users and one of /Groups (both empty).
	if want := req1.Total() + 3; sent1 != want {
		t.Errorf("day 1 sent %d requests; the plan reckoned %d (+3 reads): %+v", sent1, req1.Total(), req1)
	}
	users, locs := day2(n)
	d2, req2, sent2 := day(t, srv.URL, profile.SCIM2, d1, users, locs)
	targetcheck.Check(t, scimmytest.Token, srv.URL, string(d2))
	if want := req2.Total() + 1; sent2 != want {
		t.Errorf("day 2 sent %d requests; the plan reckoned %d (+1 read): %+v", sent2, req2.Total(), req2)
	}
	state := targetcheck.Read(t, srv.URL, scimmytest.Token)
	admins := state.Groups["AMS:admins"]
	found := false
	for _, m := range admins {
		found = found || m == "100100"
	}
	if !found {
		t.Errorf("user 100100 is not in AMS's admins after its move: %v", admins)
	}
	for _, m := range state.Groups["PAR:admins"] {
		if m == "100100" {
			t.Error("user 100100 is still in PAR's admins after its move")
		}
	}
	t.Logf("day 1: %d requests (%+v); day 2: %d (%+v)", sent1, req1, sent2, req2)
}

// The same two days against the in-process sandbox in the visitor
// profile: access travels on the user, locations are /Locations.
func TestLoadVisitorAgainstSandbox(t *testing.T) {
	sb, err := sandbox.New(t.TempDir(), scimmytest.Token, schemas.DefaultExtension)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	url := hs.URL + sandbox.Base
	const n = 120
	d1, req1, sent1 := day(t, url, profile.Visitor, "", e2eUsers(n), benchLocs(false))
	targetcheck.CheckVisitor(t, scimmytest.Token, url, string(d1), schemas.DefaultExtension)
	// Reads: /ServiceProviderConfig, /ResourceTypes, a page of /Users and
	// one of /Locations.
	if want := req1.Total() + 4; sent1 != want {
		t.Errorf("day 1 sent %d requests; the plan reckoned %d (+4 reads): %+v", sent1, req1.Total(), req1)
	}
	users, locs := day2(n)
	d2, req2, sent2 := day(t, url, profile.Visitor, d1, users, locs)
	targetcheck.CheckVisitor(t, scimmytest.Token, url, string(d2), schemas.DefaultExtension)
	if want := req2.Total() + 2; sent2 != want {
		t.Errorf("day 2 sent %d requests; the plan reckoned %d (+2 reads): %+v", sent2, req2.Total(), req2)
	}
	t.Logf("day 1: %d requests; day 2: %d", sent1, sent2)
}

// A load stopped in the middle of its membership phase (its context
// cancelled once the journal records 10 membership PATCHes, with requests
// in flight whose outcome is unknown) and resumed from its journal ends
// with every grant made once: no member missing, none twice, and the
// PATCHes the first attempt recorded are not sent again. (The CLI's
// SIGKILL test, cmd/condeco-sync, kills a real process at this phase.)
func TestLoadResumesInTheMembershipPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY")
	}
	srv := scimmytest.ForTest(t)
	r, in := planDay(t, profile.SCIM2, "", e2eUsers(300), benchLocs(false))
	in.ChunkSize, in.Concurrency = 20, 3 // 15 PATCHes a location, three at a time
	client, err := scim.New(srv.URL, scimmytest.Token, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	in.Client = client
	first := r.at("load.attempt-1")
	os.MkdirAll(first, 0o700)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			b, _ := os.ReadFile(filepath.Join(first, load.JournalFile))
			if bytes.Count(b, []byte(`"chunk":`)) >= 10 {
				cancel()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err = load.Run(ctx, in, first)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first attempt: %v, want it cancelled", err)
	}
	b, _ := os.ReadFile(filepath.Join(first, load.JournalFile))
	recorded := bytes.Count(b, []byte(`"chunk":`))

	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	in.Client, _ = scim.New(proxy.URL, scimmytest.Token, 30*time.Second)
	in.Attempt, in.PriorJournal = 2, filepath.Join(first, load.JournalFile)
	if _, err := load.Run(context.Background(), in, r.at("load")); err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, string(r))
	state := targetcheck.Read(t, srv.URL, scimmytest.Token)
	for g, ms := range state.Groups {
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m] {
				t.Errorf("group %s holds %s twice", g, m)
			}
			seen[m] = true
		}
	}
	fwd, _ := proxy.Counts()
	all := diff.CountRequests(readPlan(t, in.Changes), profile.Must(profile.SCIM2), false, in.ChunkSize).Memberships
	// Those in flight when the first attempt stopped were not recorded;
	// the resume reads their group first and sends only what is missing.
	if sent := fwd["PATCH Groups"]; sent > all-recorded || sent < all-recorded-in.Concurrency {
		t.Errorf("the resume sent %d membership PATCHes; %d in all less the %d recorded is %d (less up to %d in flight)",
			sent, all, recorded, all-recorded, in.Concurrency)
	}
	if fwd["POST Users"] != 0 {
		t.Errorf("the resume created %d users again", fwd["POST Users"])
	}
	t.Logf("first attempt recorded %d of %d membership PATCHes; the resume sent %d (%v)", recorded, all, fwd["PATCH Groups"], fwd)
}

// scimmyCore sets the 2.0 core URN as scim.core_schema: SCIMMY takes only
// URNs under urn:ietf:params:scim:schemas:, so this also proves the
// setting is used.
func scimmyCore(in *load.Input) { in.CoreSchema = schemas.SchemaUser }

// The visitor-generic profile against the sandbox in generic mode (no
// extension, /Users only), on both wires: SCIM 1.1 (the profile's
// default core schema, the sandbox's strict 1.1 mode) and SCIM 2.0 (the
// 2.0 core schema). Two days each, read back as against SCIMMY, every
// request the plan reckoned and no other.
func TestLoadVisitorGenericAgainstSandbox(t *testing.T) {
	for _, wire := range []struct {
		name string
		opts sandbox.Options
		core []func(*load.Input)
	}{
		{"scim1.1", sandbox.Options{Generic: true, SCIM11: true}, nil},
		{"scim2.0", sandbox.Options{Generic: true}, []func(*load.Input){scimmyCore}},
	} {
		t.Run(wire.name, func(t *testing.T) {
			sb, err := sandbox.NewWith(t.TempDir(), scimmytest.Token, schemas.DefaultExtension, wire.opts)
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(sb)
			t.Cleanup(func() { hs.Close(); sb.Close() })
			url := hs.URL + sandbox.Base
			client, err := scim.New(url, scimmytest.Token, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			const n = 60
			d1, req1, sent1 := day(t, url, profile.VisitorGeneric, "", withCities(e2eUsers(n)), benchLocs(false), wire.core...)
			checkGeneric(t, client, d1)
			if want := req1.Total() + 2; sent1 != want {
				t.Errorf("day 1 sent %d requests; the plan reckoned %d (+2 reads): %+v", sent1, req1.Total(), req1)
			}
			users, locs := day2(n)
			d2, req2, sent2 := day(t, url, profile.VisitorGeneric, d1, withCities(users), locs, wire.core...)
			checkGeneric(t, client, d2)
			if want := req2.Total() + 1; sent2 != want {
				t.Errorf("day 2 sent %d requests; the plan reckoned %d (+1 read): %+v", sent2, req2.Total(), req2)
			}
		})
	}
}

// withCities gives each user the city of its default location, as
// transform does for visitor-generic (from the export's Location column).
func withCities(users []schemas.User) []schemas.User {
	for i := range users {
		users[i].City = "City of " + users[i].DefaultLocation
	}
	return users
}

// The visitor-generic profile against SCIMMY: only /Users is asked for,
// with the core attributes only (no extension, no enterprise attributes,
// no externalId); each user's city is in addresses[0].locality; a user
// already in the target under its userName in other case is adopted; a
// new email is one update by SCIM id.
func TestLoadVisitorGenericAgainstSCIMMY(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SCIMMY")
	}
	srv := scimmytest.ForTest(t)
	client, err := scim.New(srv.URL, scimmytest.Token, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pre, err := client.Create(ctx, "Users", scim.Resource{"schemas": []string{schemas.SchemaUser}, "userName": "USER.9@EXAMPLE.COM"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	d1, req1, sent1 := day(t, srv.URL, profile.VisitorGeneric, "", withCities(e2eUsers(n)), benchLocs(false), scimmyCore)
	byName := checkGeneric(t, client, d1)
	if byName["user.9@example.com"]["id"] != pre["id"] {
		t.Errorf("user 9 was not adopted: %v, made by hand as %v", byName["user.9@example.com"]["id"], pre["id"])
	}
	// Reads: /ServiceProviderConfig and a page of /Users.
	if want := req1.Total() + 2; sent1 != want {
		t.Errorf("day 1 sent %d requests; the plan reckoned %d (+2 reads): %+v", sent1, req1.Total(), req1)
	}

	users, locs := day2(n)
	users = withCities(users)
	for i := range users {
		if users[i].UserID == "100005" {
			users[i].UserName, users[i].Email = "renamed.5@example.com", "renamed.5@example.com"
		}
	}
	d2, req2, sent2 := day(t, srv.URL, profile.VisitorGeneric, d1, users, locs, scimmyCore)
	after := checkGeneric(t, client, d2)
	if r := after["renamed.5@example.com"]; r == nil || r["id"] != byName["user.5@example.com"]["id"] {
		t.Errorf("user 5's new email: %v, want the same resource as before (%v)", r, byName["user.5@example.com"]["id"])
	}
	if after["user.5@example.com"] != nil {
		t.Error("user 5 is in the target under its old email too")
	}
	if want := req2.Total() + 1; sent2 != want {
		t.Errorf("day 2 sent %d requests; the plan reckoned %d (+1 read): %+v", sent2, req2.Total(), req2)
	}
}

// checkGeneric reads the users of the target and compares them with the
// run's applied state: the same users by userName, each with the
// documented attributes only, and its city as addresses[0].locality. It
// returns the target's users by lower-cased userName.
func checkGeneric(t *testing.T, client *scim.Client, r runDir) map[string]scim.Resource {
	t.Helper()
	applied, err := parquetio.ReadAll[schemas.User](r.at("load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scim.Resource{}
	if err := client.Each(context.Background(), "Users", "", 200, func(res scim.Resource) error {
		name, _ := res["userName"].(string)
		got[strings.ToLower(name)] = res
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(applied) {
		t.Errorf("the target has %d users, the applied state %d", len(got), len(applied))
	}
	for _, u := range applied {
		res := got[strings.ToLower(u.UserName)]
		if res == nil {
			t.Errorf("user %s (%s) is not in the target", u.UserID, u.UserName)
			continue
		}
		for attr := range res {
			switch attr {
			case "schemas", "id", "meta", "userName", "name", "emails", "phoneNumbers", "addresses", "title", "preferredLanguage", "active", "displayName":
			default:
				t.Errorf("user %s: attribute %s is not in the public API", u.UserID, attr)
			}
		}
		addrs, _ := res["addresses"].([]any)
		if len(addrs) == 0 || addrs[0].(map[string]any)["locality"] != u.City {
			t.Errorf("user %s: addresses %v, want locality %q", u.UserID, res["addresses"], u.City)
		}
		if res["active"] != u.Active {
			t.Errorf("user %s: active %v, want %v", u.UserID, res["active"], u.Active)
		}
		if title, _ := res["title"].(string); title != u.Title {
			t.Errorf("user %s: title %q, want %q", u.UserID, title, u.Title)
		}
	}
	return got
}

// A 413 (the request is larger than the server takes; Eptura's limit is
// 2 MB) is the server's last word on that request: reported in
// results.csv with the server's words, never sent again as it is, and
// the rest of the load goes on.
func TestLoadPayloadTooLarge(t *testing.T) {
	sb, err := sandbox.New(t.TempDir(), scimmytest.Token, schemas.DefaultExtension)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	proxy, err := faultproxy.Start(hs.URL+sandbox.Base, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Status: http.StatusRequestEntityTooLarge, After: 5, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"413","detail":"the request is larger than 2 MB"}`})
	r, in := planDay(t, profile.Visitor, "", e2eUsers(30), benchLocs(false))
	if in.Client, err = scim.New(proxy.URL, scimmytest.Token, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = load.Run(context.Background(), in, r.at("load"))
	var failed *load.FailedError
	if !errors.As(err, &failed) || failed.Failed != 25 {
		t.Fatalf("load: %v, want the 25 creates answered 413 failed", err)
	}
	results, _ := os.ReadFile(r.at("load", load.ResultsFile))
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(results), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range rows[1:] { // outcome, http_status, tries, detail
		if row[4] == load.OutcomeFailed {
			n++
			if row[5] != "413" || row[7] != "1" || !strings.Contains(row[9], "the request is larger than 2 MB") {
				t.Errorf("a refused create: status %s, tries %s, detail %q; want 413, one try, the server's words", row[5], row[7], row[9])
			}
		}
	}
	if n != 25 {
		t.Errorf("results.csv has %d failed rows, want 25", n)
	}
}
