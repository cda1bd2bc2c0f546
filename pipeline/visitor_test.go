package pipeline

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

// startSandbox runs the embedded sandbox on loopback with its data in dir.
func startSandbox(t *testing.T, dir string) string {
	t.Helper()
	sb, err := sandbox.New(dir, scimmytest.Token, schemas.DefaultExtension)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return srv.URL + sandbox.Base
}

// visitorFixture is a fixture whose config points at url with the visitor
// profile.
func visitorFixture(t *testing.T, url string) *fixture {
	f := loadFixture(t, url)
	f.env.Config.SCIM.Profile = profile.Visitor
	return f
}

// outbox is the userNames of the sandbox's invitations, sorted.
func outbox(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, sandbox.InvitationsFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		_, rest, _ := strings.Cut(sc.Text(), `"userName":"`)
		name, _, _ := strings.Cut(rest, `"`)
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// createdUsers is the userNames the run's change set creates, sorted.
func createdUsers(t *testing.T, run *Run) []string {
	t.Helper()
	changes, err := parquetio.ReadAll[schemas.Change](filepath.Join(run.Dir, "diff", "changes.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		if c.Entity == schemas.EntityUser && c.Op == schemas.OpCreate {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// results reads a run's load/results.csv as rows.
func results(t *testing.T, run *Run) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(run.Dir, "load", "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestVisitorProfileAgainstSandbox loads the samples' day 1 (the initial
// synchronization, invitations suppressed) and day 2 (invitations sent)
// into the sandbox with the visitor profile. After each day the sandbox
// holds what the snapshots say, read back: users with their locations,
// roles and default location on the extension, and /Locations. Day 1
// invites no one; day 2 invites exactly its new users.
func TestVisitorProfileAgainstSandbox(t *testing.T) {
	dir := t.TempDir()
	url := startSandbox(t, dir)
	f := visitorFixture(t, url)
	f.env.Config.Users.Invitations = "suppress"
	f.env.Config.Access.HomeAdminLevels = []string{"Location Admin"}

	day1, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.CheckVisitor(t, scimmytest.Token, url, day1.Dir, schemas.DefaultExtension)
	checkAdmins(t, day1, "day1")
	if got := outbox(t, dir); len(got) != 0 {
		t.Errorf("the initial synchronization with invitations suppressed invited %d users: %v", len(got), got)
	}
	for _, r := range results(t, day1) {
		if r[0] == "location" && r[4] != "done" {
			t.Errorf("location row %v: the sandbox has /Locations, want done", r)
		}
	}

	f.now = f.now.Add(24 * time.Hour)
	f.env.Config.Users.Invitations = "send"
	day2, err := runDay(t, f, "day2")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.CheckVisitor(t, scimmytest.Token, url, day2.Dir, schemas.DefaultExtension)
	checkAdmins(t, day2, "day2")
	want := createdUsers(t, day2)
	if got := outbox(t, dir); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("day 2 invited %v, want its new users %v", got, want)
	}
}

// TestVisitorProfileAgainstSCIMMY loads the same two days into SCIMMY with
// the visitor extension declared there: the profile holds on a server we
// did not write. SCIMMY has no /Locations, so the results say each
// location is not supported by the target, once, and the users are
// provisioned all the same. SCIMMY takes schema URNs under
// urn:ietf:params:scim:schemas: only, so the extension is given another
// URN through scim.extension, which proves that setting too.
func TestVisitorProfileAgainstSCIMMY(t *testing.T) {
	const ext = "urn:ietf:params:scim:schemas:extension:condeco-sync:visitor:1.0:User"
	srv, proxy := ownServer(t, "SCIMMY_VISITOR_EXT="+ext)
	f := visitorFixture(t, proxy.URL)
	f.env.Config.SCIM.Extension = ext

	day1, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.CheckVisitor(t, scimmytest.Token, srv.URL, day1.Dir, ext)
	locs := 0
	for _, r := range results(t, day1) {
		if r[0] == "location" {
			locs++
			if r[4] != load.OutcomeUnsupported || !strings.HasPrefix(r[9], "locations not supported by the target") {
				t.Errorf("location row %v: want %q", r, "locations not supported by the target")
			}
		}
	}
	if locs != 6 {
		t.Errorf("results list %d location rows, want one for each of the 6 locations", locs)
	}
	if fwd, _ := proxy.Counts(); fwd["POST Groups"]+fwd["POST Locations"]+fwd["PATCH Groups"] != 0 {
		t.Errorf("the visitor profile sent group or location requests: %v", fwd)
	}

	f.now = f.now.Add(24 * time.Hour)
	day2, err := runDay(t, f, "day2")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.CheckVisitor(t, scimmytest.Token, srv.URL, day2.Dir, ext)
}

// TestVisitorAdoption runs the initial synchronization against a sandbox
// that already holds three of the users (rule 11): one under its userName
// in another case, one with a location granted by hand. They are adopted
// and updated, never duplicated; results.csv says "adopted"; the access
// granted by hand stays (rule 5).
func TestVisitorAdoption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := startSandbox(t, dir)
	c, err := scim.New(url, scimmytest.Token, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pre := map[string]string{} // userName → id
	for i, name := range []string{"HEDY.ALLEN.0@example.com", "dennis.liskov.1@example.com", "edsger.shannon.2@example.com"} {
		res := scim.Resource{"schemas": []string{schemas.SchemaUser}, "userName": name,
			"name":   map[string]any{"givenName": "Old", "familyName": "Name"},
			"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}}}
		if i == 2 {
			res[schemas.DefaultExtension] = map[string]any{"locations": []any{map[string]any{"value": "BY-HAND", "role": "admin"}}}
		}
		r, err := c.Create(ctx, "Users", res)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pre[strings.ToLower(name)] = r["id"].(string)
	}

	f := visitorFixture(t, url)
	run, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	adopted := map[string]string{}
	for _, r := range results(t, run) {
		if r[4] == load.OutcomeAdopted {
			adopted[r[2]] = r[6]
		}
	}
	for name, id := range pre {
		if adopted[name] != id {
			t.Errorf("%s (id %s): results say adopted %v", name, id, adopted)
		}
	}
	if len(adopted) != len(pre) {
		t.Errorf("adopted %v, want the %d users already there", adopted, len(pre))
	}
	// The access granted by hand is still there; take it away to compare
	// the rest with the snapshots.
	g, err := c.Get(ctx, "Users", pre["edsger.shannon.2@example.com"])
	if err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, l := range g[schemas.DefaultExtension].(map[string]any)["locations"].([]any) {
		if l.(map[string]any)["value"] == "BY-HAND" {
			if l.(map[string]any)["role"] != "admin" {
				t.Errorf("the admin rights granted by hand were changed: %v", l)
			}
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) == len(g[schemas.DefaultExtension].(map[string]any)["locations"].([]any)) {
		t.Error("the location granted by hand was removed by the adoption")
	}
	if _, err := c.Patch(ctx, "Users", g["id"].(string), []scim.PatchOp{{Op: "replace", Path: schemas.DefaultExtension + ":locations", Value: kept}}); err != nil {
		t.Fatal(err)
	}
	targetcheck.CheckVisitor(t, scimmytest.Token, url, run.Dir, schemas.DefaultExtension)
}
