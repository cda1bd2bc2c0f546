// Package targetcheck reads a SCIM server back and compares it with a
// run's snapshots, for the load tests: the server is checked, not the
// journal that says what was sent.
package targetcheck

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// State is every user and group of a SCIM server, read back.
type State struct {
	Users     map[string]scim.Resource // by externalId
	Groups    map[string][]string      // group externalId → member externalIds, sorted
	Locations map[string]scim.Resource // /Locations by externalId (visitor profile), when the server has them
}

// Accounts reads every user of the server at url, by SCIM id: what the
// identity tests hold against a run's applied state.
func Accounts(t testing.TB, url, token string) map[string]scim.Resource {
	t.Helper()
	c, err := scim.New(url, token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]scim.Resource{}
	if err := c.Each(context.Background(), "Users", "", 200, func(r scim.Resource) error {
		id, _ := r["id"].(string)
		out[id] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// ByUserName is accounts by lower-cased userName.
func ByUserName(accounts map[string]scim.Resource) map[string]scim.Resource {
	out := map[string]scim.Resource{}
	for _, r := range accounts {
		name, _ := r["userName"].(string)
		out[strings.ToLower(name)] = r
	}
	return out
}

// Read reads a scim2-profile server back: users and groups.
func Read(t testing.TB, url, token string) State { return read(t, url, token, false) }

// ReadVisitor reads a visitor-profile server back: users and, when the
// server lists them, /Locations.
func ReadVisitor(t testing.TB, url, token string) State { return read(t, url, token, true) }

func read(t testing.TB, url, token string, visitor bool) State {
	t.Helper()
	c, err := scim.New(url, token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	users, err := c.Filter(ctx, "Users", "", 500)
	if err != nil {
		t.Fatal(err)
	}
	s := State{Users: map[string]scim.Resource{}, Groups: map[string][]string{}}
	byID := map[string]string{}
	names := map[string]bool{}
	for _, u := range users {
		ext, _ := u["externalId"].(string)
		name, _ := u["userName"].(string)
		if _, dup := s.Users[ext]; dup {
			t.Errorf("two users with externalId %s in the server", ext)
		}
		if names[strings.ToLower(name)] {
			t.Errorf("two users with userName %s in the server", name)
		}
		names[strings.ToLower(name)] = true
		s.Users[ext] = u
		byID[u["id"].(string)] = ext
	}
	if visitor {
		types, err := c.ResourceTypes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(types, "/Locations") {
			s.Locations = map[string]scim.Resource{}
			locs, err := c.Filter(ctx, "Locations", "", 500)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range locs {
				s.Locations[l["externalId"].(string)] = l
			}
		}
		return s
	}
	groups, err := c.Filter(ctx, "Groups", "", 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		ext, _ := g["externalId"].(string)
		if _, dup := s.Groups[ext]; dup {
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
		s.Groups[ext] = members
	}
	return s
}

// Check compares the server with what the snapshots say: every user
// of the applied state is there with its fields, no one else is; each
// location's group holds exactly the users granted it, and its admin
// group the admins whose default location it is. And the applied state is
// the desired state for every user that is not held.
func Check(t testing.TB, token, url, runDir string) { check(t, token, url, runDir, "") }

// CheckVisitor is Check for the visitor profile, whose user extension is
// ext: each user's locations attribute lists exactly the locations granted
// it, with role admin at its default location when it is an admin, and
// /Locations (when the server has it) holds the applied locations.
func CheckVisitor(t testing.TB, token, url, runDir, ext string) { check(t, token, url, runDir, ext) }

func check(t testing.TB, token, url, runDir, ext string) {
	t.Helper()
	visitor := ext != ""
	got := read(t, url, token, visitor)
	applied, err := parquetio.ReadAll[schemas.User](filepath.Join(runDir, "load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	desired, _ := parquetio.ReadAll[schemas.User](filepath.Join(runDir, "transform", "users.parquet"))
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
	if len(got.Users) != len(want) {
		t.Errorf("server has %d users, the applied state %d", len(got.Users), len(want))
	}
	wantGroups := map[string][]string{}
	locs, _ := parquetio.ReadAll[schemas.Location](filepath.Join(runDir, "load", "state", "locations.parquet"))
	for _, l := range locs {
		wantGroups[l.LocationID] = []string{}
		wantGroups[l.LocationID+":admins"] = []string{}
	}
	for key, u := range want {
		r, ok := got.Users[key]
		if !ok {
			t.Errorf("user %s (%s) is not in the server", key, u.UserName)
			continue
		}
		name, _ := r["name"].(map[string]any)
		if r["userName"] != u.UserName || r["active"] != u.Active || name["givenName"] != u.GivenName ||
			name["familyName"] != u.FamilyName || !slices.Equal(emails(r), wantEmails(u, visitor)) {
			t.Errorf("user %s in the server: %v; want %+v", key, r, u)
		}
		if visitor {
			checkAccess(t, r, u, ext)
			continue
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
		if a := u.AdminAt(); a != "" {
			wantGroups[a+":admins"] = append(wantGroups[a+":admins"], key)
		}
	}
	if visitor {
		if got.Locations != nil {
			if len(got.Locations) != len(locs) {
				t.Errorf("server has %d locations, the applied state %d", len(got.Locations), len(locs))
			}
			for _, l := range locs {
				if r, ok := got.Locations[l.LocationID]; !ok || r["displayName"] != l.Name {
					t.Errorf("location %s (%s) in the server: %v", l.LocationID, l.Name, r)
				}
			}
		}
		return
	}
	for g, members := range wantGroups {
		sort.Strings(members)
		if !slices.Equal(got.Groups[g], members) {
			t.Errorf("group %s: members in the server but not expected %v; expected but not in the server %v",
				g, without(got.Groups[g], members), without(members, got.Groups[g]))
		}
	}
	for g := range got.Groups {
		if _, ok := wantGroups[g]; !ok {
			t.Errorf("group %s is in the server, not in the applied state", g)
		}
	}
}

// emails lists a user's emails as "type:value".
func emails(r scim.Resource) []string {
	var out []string
	list, _ := r["emails"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		out = append(out, fmt.Sprint(m["type"], ":", m["value"]))
	}
	return out
}

// wantEmails is emails for the applied user u: in the visitor profile the
// primary work email is the userName, and a different Condeco email goes
// along as "other".
func wantEmails(u schemas.User, visitor bool) []string {
	if !visitor {
		return []string{"work:" + u.Email}
	}
	out := []string{"work:" + u.UserName}
	if !strings.EqualFold(u.Email, u.UserName) {
		out = append(out, "other:"+u.Email)
	}
	return out
}

// checkAccess compares a visitor-profile user's extension with the
// applied state.
func checkAccess(t testing.TB, r scim.Resource, u schemas.User, ext string) {
	t.Helper()
	e, _ := r[ext].(map[string]any)
	if e["defaultLocation"] != u.DefaultLocation {
		t.Errorf("user %s: defaultLocation %v, want %s", u.UserID, e["defaultLocation"], u.DefaultLocation)
	}
	var got, want []string
	list, _ := e["locations"].([]any)
	for _, l := range list {
		m := l.(map[string]any)
		got = append(got, fmt.Sprint(m["value"], ":", m["role"]))
	}
	for _, g := range u.GrantedIDs() {
		if g != u.AdminAt() {
			want = append(want, g+":user")
		}
	}
	if a := u.AdminAt(); a != "" {
		want = append(want, a+":admin")
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("user %s: locations %v, want %v", u.UserID, got, want)
	}
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
