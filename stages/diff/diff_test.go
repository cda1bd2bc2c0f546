package diff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
)

func user(id string, mods ...func(*schemas.User)) schemas.User {
	u := schemas.User{UserID: id, UserName: "u" + id + "@example.com", Email: "u" + id + "@example.com",
		GivenName: "U", FamilyName: id, Active: true, DefaultLocation: "LON", UserType: "Internal"}
	for _, m := range mods {
		m(&u)
	}
	u.RowHash = u.Hash()
	return u
}

// applied is u as the baseline holds it: with a SCIM id and its grants.
func applied(u schemas.User, granted ...string) schemas.User {
	u.SCIMID = "scim-" + u.UserID
	u.Granted = schemas.JoinIDs(granted)
	return u
}

func loc(id string, mods ...func(*schemas.Location)) schemas.Location {
	l := schemas.Location{LocationID: id, Name: id + " office", Active: true}
	for _, m := range mods {
		m(&l)
	}
	l.RowHash = l.Hash()
	return l
}

type world struct {
	users, base         []schemas.User
	locs, baseLocs      []schemas.Location
	deprovision         string
	grantNew, deleteRem bool
	initial             bool
}

func (w world) input(t *testing.T) Input {
	t.Helper()
	dir := t.TempDir()
	in := Input{
		Users: filepath.Join(dir, "users.parquet"), Locations: filepath.Join(dir, "locations.parquet"),
		Deprovision: "delete", GrantNewLocations: w.grantNew, DeleteRemovedLocations: w.deleteRem,
		Guard: Guard{MaxDeletes: 500, MaxFraction: 0.2},
	}
	if w.deprovision != "" {
		in.Deprovision = w.deprovision
	}
	locs := w.locs
	if locs == nil {
		locs = []schemas.Location{loc("LON"), loc("PAR")}
	}
	write(t, in.Users, w.users)
	write(t, in.Locations, locs)
	if !w.initial {
		baseLocs := w.baseLocs
		if baseLocs == nil {
			baseLocs = locs
		}
		in.BaselineUsers, in.BaselineLocations = filepath.Join(dir, "base-users.parquet"), filepath.Join(dir, "base-locations.parquet")
		write(t, in.BaselineUsers, w.base)
		write(t, in.BaselineLocations, baseLocs)
	}
	return in
}

func write[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	if _, err := parquetio.WriteSlice(path, rows); err != nil {
		t.Fatal(err)
	}
}

// plan renders a change set one line a change, for comparing in tests.
func plan(cs *ChangeSet) string {
	var lines []string
	for _, c := range cs.Changes {
		l := fmt.Sprintf("%s %s %s", c.Op, c.Entity, c.Key)
		if d := Describe(&c, ", ", strconv.Quote); d != "" {
			l += " {" + d + "}"
		}
		if c.Grant != "" {
			l += " +[" + strings.ReplaceAll(c.Grant, "\n", " ") + "]"
		}
		lines = append(lines, l+" ("+c.Reason+")")
	}
	return strings.Join(lines, "\n")
}

func TestOpsAndRules(t *testing.T) {
	inactive := func(u *schemas.User) { u.Active = false }
	for _, tc := range []struct {
		name string
		w    world
		want string
	}{
		{"initial synchronization creates the active users with every location", world{initial: true,
			users: []schemas.User{user("1"), user("2", inactive), user("3", func(u *schemas.User) { u.Deleted = true }),
				user("4", func(u *schemas.User) { u.Held, u.HoldReason = true, "duplicate UserID 4 (lines 5, 6) (line 5)" })}},
			"create location LON (new in export)\ncreate location PAR (new in export)\n" +
				"create user 1 +[LON PAR] (new in export)\n" +
				"hold user 4 (held: duplicate UserID 4 (lines 5, 6) (line 5); not created)"},
		{"an empty baseline (not the initial synchronization): everyone is new", world{users: []schemas.User{user("1")}, base: []schemas.User{}},
			"create user 1 +[LON PAR] (new in export)"},
		{"unchanged: nothing", world{users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1"), "LON", "PAR")}}, ""},
		{"new email and userName, same UserID: one update", world{
			users: []schemas.User{user("1", func(u *schemas.User) { u.Email, u.UserName = "new@example.com", "new@example.com" })},
			base:  []schemas.User{applied(user("1"), "LON", "PAR")}},
			`update user 1 {userName: "u1@example.com" → "new@example.com", email: "u1@example.com" → "new@example.com"} (userName, email changed)`},
		{"missing from export: delete", world{users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1")), applied(user("2"))}},
			"delete user 2 (missing from export)"},
		{"missing from export, deprovision deactivate", world{deprovision: "deactivate",
			users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1")), applied(user("2")), applied(user("3", inactive))}},
			`deactivate user 2 {active: "true" → "false"} (missing from export)`},
		{"an already inactive user makes no deactivate, and the creates beside it stay", world{deprovision: "deactivate",
			users: []schemas.User{user("1"), user("4"), user("5")}, base: []schemas.User{applied(user("1")), applied(user("3", inactive)), applied(user("2"))}},
			"create user 4 +[LON PAR] (new in export)\ncreate user 5 +[LON PAR] (new in export)\n" +
				`deactivate user 2 {active: "true" → "false"} (missing from export)`},
		{"deleted in Condeco", world{users: []schemas.User{user("1", func(u *schemas.User) { u.Deleted = true })}, base: []schemas.User{applied(user("1"))}},
			"delete user 1 (deleted in Condeco)"},
		{"held row keeps its user: no delete", world{
			users: []schemas.User{{UserID: "1", Held: true, HoldReason: `Email "x" is not a valid email address (line 2)`}},
			base:  []schemas.User{applied(user("1"))}},
			`hold user 1 (held: Email "x" is not a valid email address (line 2))`},
		{"inactive in Condeco: deactivate", world{users: []schemas.User{user("1", inactive)}, base: []schemas.User{applied(user("1"))}},
			`deactivate user 1 {active: "true" → "false"} (inactive in Condeco)`},
		{"active again: reactivate", world{users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1", inactive))}},
			`reactivate user 1 {active: "false" → "true"} (active again in Condeco)`},
		{"admin granted by access level", world{users: []schemas.User{user("1", func(u *schemas.User) { u.Admin = true })}, base: []schemas.User{applied(user("1"))}},
			`update user 1 {admin: "false" → "true"} (admin changed)`},
		{"rule 5: admin granted by hand is not in our state, so nothing is revoked", world{
			users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1"))}}, ""},
		{"admin condeco-sync granted is revoked when the access level drops", world{
			users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1", func(u *schemas.User) { u.Admin = true }))}},
			`update user 1 {admin: "true" → "false"} (admin changed)`},
		{"new location: existing users get nothing by default, new users get it", world{
			locs:     []schemas.Location{loc("LON"), loc("PAR"), loc("DUB")},
			baseLocs: []schemas.Location{loc("LON"), loc("PAR")},
			users:    []schemas.User{user("1"), user("2")}, base: []schemas.User{applied(user("1"), "LON", "PAR")}},
			"create location DUB (new in export)\ncreate user 2 +[DUB LON PAR] (new in export)"},
		{"new location with grant_new_locations_to_existing_users", world{grantNew: true,
			locs:     []schemas.Location{loc("LON"), loc("PAR"), loc("DUB")},
			baseLocs: []schemas.Location{loc("LON"), loc("PAR")},
			users:    []schemas.User{user("1")}, base: []schemas.User{applied(user("1"), "LON", "PAR")}},
			"create location DUB (new in export)\n" +
				`update user 1 {locations: "" → "+DUB"} +[DUB] (new location granted (access.grant_new_locations_to_existing_users))`},
		{"locations: renamed, removed, held, inactive new one not created", world{
			locs: []schemas.Location{loc("LON", func(l *schemas.Location) { l.Name = "London HQ" }), loc("PAR", func(l *schemas.Location) { l.Held, l.HoldReason = true, "Name is empty (line 3)" }),
				loc("OLD", func(l *schemas.Location) { l.Active = false })},
			baseLocs: []schemas.Location{loc("LON"), loc("PAR"), loc("BER")},
			users:    []schemas.User{user("1")}, base: []schemas.User{applied(user("1"), "LON", "PAR")}},
			`update location LON {name: "LON office" → "London HQ"} (name changed)` + "\n" +
				"removed location BER (missing from export; kept in the target (locations.delete_removed is false))\n" +
				"hold location PAR (held: Name is empty (line 3))"},
		{"removed location with delete_removed", world{deleteRem: true,
			locs: []schemas.Location{loc("LON")}, baseLocs: []schemas.Location{loc("LON"), loc("BER")},
			users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1"), "LON")}},
			"delete location BER (missing from export (locations.delete_removed))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Compare(tc.w.input(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := plan(cs); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestReorderedExportChangesNothing(t *testing.T) {
	var users, base []schemas.User
	for i := 0; i < 50; i++ {
		id := fmt.Sprint(i)
		base = append(base, applied(user(id), "LON", "PAR"))
		switch {
		case i%7 == 0:
			continue // missing
		case i%5 == 0:
			users = append(users, user(id, func(u *schemas.User) { u.Title = "new" }))
		default:
			users = append(users, user(id))
		}
	}
	users = append(users, user("new"))
	reversed := make([]schemas.User, len(users))
	for i, u := range users {
		reversed[len(users)-1-i] = u
	}
	var outs []string
	for _, us := range [][]schemas.User{users, reversed} {
		in := world{users: us, base: base}.input(t)
		dir := t.TempDir()
		if _, err := Run(in, dir, "r1", "r0"); err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, f := range []string{ChangesFile, ChangesCSVFile, SummaryFile} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			all = append(all, b...)
		}
		outs = append(outs, string(all))
	}
	if outs[0] != outs[1] {
		t.Error("reordering the export changed the diff's outputs")
	}
}

func TestGuard(t *testing.T) {
	var base, normal, truncated []schemas.User
	for i := 0; i < 100; i++ {
		base = append(base, applied(user(fmt.Sprint(i))))
		if i != 3 {
			normal = append(normal, user(fmt.Sprint(i)))
		}
		if i < 10 {
			truncated = append(truncated, user(fmt.Sprint(i)))
		}
	}
	// A normal day: one leaver.
	_, err := Run(world{users: normal, base: base}.input(t), t.TempDir(), "r1", "r0")
	if err != nil {
		t.Fatalf("normal day: %v", err)
	}
	// A truncated export: 90 of 100 would go.
	dir := t.TempDir()
	res, err := Run(world{users: truncated, base: base}.input(t), dir, "r2", "r0")
	he, ok := err.(*stages.HaltError)
	if !ok {
		t.Fatalf("truncated export: err = %v, want a HaltError", err)
	}
	// What to run next is the CLI's to say (a halt_approve script checks it).
	for _, want := range []string{"the mass-deletion guard: 90 of 100 users in the baseline (90.0%)", "limits are 500 and 20%"} {
		if !strings.Contains(he.Msg, want) {
			t.Errorf("halt message %q lacks %q", he.Msg, want)
		}
	}
	// The plan is written all the same, for the person who must approve it.
	if len(res.Outputs) != 5 || res.Counts["user_delete"] != 90 {
		t.Errorf("result = %+v", res)
	}
	// max_deletes trips on its own too.
	v := Judge(&ChangeSet{BaselineUsers: 100000, Changes: make([]schemas.Change, 0)}, Guard{MaxDeletes: 0, MaxFraction: 1})
	if v.Halted {
		t.Error("nothing deleted, yet halted")
	}
	cs := &ChangeSet{BaselineUsers: 100000}
	for i := 0; i < 501; i++ {
		cs.Changes = append(cs.Changes, schemas.Change{Entity: schemas.EntityUser, Op: schemas.OpDelete})
	}
	if v := Judge(cs, Guard{MaxDeletes: 500, MaxFraction: 0.2}); !v.Halted {
		t.Error("501 deletes of 100000 did not trip max_deletes 500")
	}
}

// The guard on creates: a day that creates 30 % more users than the
// baseline holds (a doubled file, a wrong tenant's export) halts, saying
// so; not the initial synchronization, nor a day within the limits.
func TestGuardOnCreates(t *testing.T) {
	var base, jump, normal []schemas.User
	for i := 0; i < 100; i++ {
		base = append(base, applied(user(fmt.Sprint(i)), "LON", "PAR"))
		jump, normal = append(jump, user(fmt.Sprint(i))), append(normal, user(fmt.Sprint(i)))
	}
	for i := 100; i < 130; i++ {
		jump = append(jump, user(fmt.Sprint(i)))
	}
	normal = append(normal, user("100"))
	guard := Guard{MaxDeletes: 500, MaxFraction: 0.2, Creates: true, MaxCreates: 500, MaxCreateFraction: 0.2}
	for _, tc := range []struct {
		name   string
		w      world
		guard  Guard
		halted string
	}{
		{"a 30 % jump", world{users: jump, base: base}, guard,
			"the mass-creation guard: 30 users would be created, 30.0% of the 100 in the baseline; the limits are 500 and 20%"},
		{"max_creates alone", world{users: jump, base: base}, Guard{MaxDeletes: 500, MaxFraction: 1, Creates: true, MaxCreates: 29, MaxCreateFraction: 1},
			"the mass-creation guard: 30 users would be created"},
		{"a joiner", world{users: normal, base: base}, guard, ""},
		{"the initial synchronization", world{initial: true, users: jump}, Guard{MaxDeletes: 500, MaxFraction: 0.2, MaxCreates: 500, MaxCreateFraction: 0.2}, ""},
	} {
		in := tc.w.input(t)
		in.Guard = tc.guard
		res, err := Run(in, t.TempDir(), "r1", "r0")
		var he *stages.HaltError
		switch {
		case tc.halted == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.halted != "" && (!errors.As(err, &he) || !strings.HasPrefix(he.Msg, tc.halted)):
			t.Errorf("%s: %v, want a halt %q", tc.name, err, tc.halted)
		}
		if g, _ := res.Details["guard"].(string); tc.guard.Creates && !strings.Contains(g, "(guards.max_creates, guards.max_create_fraction)") {
			t.Errorf("%s: the manifest's guard says nothing of creates: %q", tc.name, g)
		}
	}
}

func TestDefectiveSnapshotFails(t *testing.T) {
	w := world{users: []schemas.User{user("1"), user("1")}, base: []schemas.User{applied(user("1"))}}
	if _, err := Compare(w.input(t)); err == nil || !strings.Contains(err.Error(), "UserID 1 twice in the desired state") {
		t.Errorf("duplicate key: err = %v", err)
	}
	w = world{users: []schemas.User{user("1")}, base: []schemas.User{applied(user("")), applied(user("1"))}}
	if _, err := Compare(w.input(t)); err == nil || !strings.Contains(err.Error(), "without UserID in the baseline") {
		t.Errorf("empty key: err = %v", err)
	}
}

// Access a load could not grant (Owed in the applied state) is granted
// again by the next diff, while it is still an active location; a removed
// location is not owed any more.
func TestOwedAccessIsGrantedAgain(t *testing.T) {
	owes := func(ids ...string) func(*schemas.User) {
		return func(u *schemas.User) { u.Owed = schemas.JoinIDs(ids) }
	}
	base := []schemas.User{
		applied(user("1", owes("PAR")), "LON"),
		applied(user("2", owes("BER")), "LON", "PAR"), // BER is gone from Condeco
		applied(user("3"), "LON", "PAR"),
	}
	in := world{users: []schemas.User{user("1"), user("2"), user("3")}, base: base}.input(t)
	cs, err := Compare(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `update user 1 {locations: "" → "+PAR"} +[PAR] (access a previous load could not grant, granted again)`
	if got := plan(cs); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// A diff of 20,000 users spans many batches of pass 1 and pass 2: every
// change must name the right user with that user's own before and after
// values, whatever row it sits on in either file.
func TestRowsAreMatchedAcrossBatches(t *testing.T) {
	const n = 20_000
	var base, users []schemas.User
	want := map[string]string{} // key → plan line
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%05d", i)
		b := applied(user(id), "LON", "PAR")
		base = append(base, b)
		switch {
		case i%89 == 0:
			want[id] = "delete user " + id + " (missing from export)"
			continue
		case i%97 == 0:
			u := user(id, func(u *schemas.User) { u.Title = "Title " + id })
			users = append(users, u)
			want[id] = fmt.Sprintf(`update user %s {title: "" → "Title %s"} (title changed)`, id, id)
		default:
			users = append(users, user(id))
		}
	}
	for i := n; i < n+150; i++ {
		id := fmt.Sprintf("%05d", i)
		users = append(users, user(id))
		want[id] = "create user " + id + " +[LON PAR] (new in export)"
	}
	// The desired state in another order than the baseline.
	slices.Reverse(users)
	cs, err := Compare(world{users: users, base: base}.input(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(plan(cs), "\n") {
		got[strings.Fields(line)[2]] = line
	}
	if len(got) != len(want) {
		t.Errorf("%d changes, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

// Admin rights live in one place per user (User.AdminAt): the default
// location, or the home location (access.home_admin_levels). The plan
// takes back what condeco-sync granted where the user is no longer an
// admin and grants where it now is.
func TestAdminDecisions(t *testing.T) {
	global := func(u *schemas.User) { u.Admin = true }
	home := func(id string) func(*schemas.User) { return func(u *schemas.User) { u.HomeAdmin = id } }
	for _, tc := range []struct {
		name          string
		now, was      schemas.User
		revoke, grant string
	}{
		{"a new home admin", user("1", home("PAR")), user("1"), "", "PAR"},
		{"moved home", user("1", home("LON")), user("1", home("PAR")), "PAR", "LON"},
		{"home admin becomes Global Admin", user("1", global), user("1", home("PAR")), "PAR", "LON"},
		{"Global Admin becomes home admin at the default location: nothing to do", user("1", home("LON")), user("1", global), "", ""},
		{"no longer a home admin", user("1"), user("1", home("PAR")), "PAR", ""},
		{"unchanged", user("1", home("PAR")), user("1", home("PAR")), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Compare(world{users: []schemas.User{tc.now}, base: []schemas.User{applied(tc.was, "LON", "PAR")}}.input(t))
			if err != nil {
				t.Fatal(err)
			}
			var revoke, grant string
			for _, c := range cs.Changes {
				revoke, grant = c.AdminRevoke, c.AdminGrant
				if c.HomeAdmin != tc.now.HomeAdmin {
					t.Errorf("the plan carries home_admin %q, want %q", c.HomeAdmin, tc.now.HomeAdmin)
				}
			}
			if revoke != tc.revoke || grant != tc.grant {
				t.Errorf("revoke %q grant %q, want %q and %q: %s", revoke, grant, tc.revoke, tc.grant, plan(cs))
			}
		})
	}
	cs, err := Compare(world{initial: true, users: []schemas.User{user("1", home("PAR")), user("2")}}.input(t))
	if err != nil {
		t.Fatal(err)
	}
	if cs.Admins != 1 {
		t.Errorf("%d admins counted, want the home admin", cs.Admins)
	}
	for _, c := range cs.Changes {
		if c.Key == "1" && c.AdminGrant != "PAR" {
			t.Errorf("a new home admin is granted at %q, want PAR", c.AdminGrant)
		}
	}
}

// An applied state written before the city and home_admin columns
// existed reads as it always did: nobody looks changed.
func TestBaselineWithoutTheAddedColumns(t *testing.T) {
	type earlier struct { // schemas.User as it was before city and home_admin
		UserID          string `parquet:"name=user_id, type=BYTE_ARRAY, convertedtype=UTF8"`
		UserName        string `parquet:"name=user_name, type=BYTE_ARRAY, convertedtype=UTF8"`
		GivenName       string `parquet:"name=given_name, type=BYTE_ARRAY, convertedtype=UTF8"`
		FamilyName      string `parquet:"name=family_name, type=BYTE_ARRAY, convertedtype=UTF8"`
		Email           string `parquet:"name=email, type=BYTE_ARRAY, convertedtype=UTF8"`
		PhoneWork       string `parquet:"name=phone_work, type=BYTE_ARRAY, convertedtype=UTF8"`
		PhoneMobile     string `parquet:"name=phone_mobile, type=BYTE_ARRAY, convertedtype=UTF8"`
		Country         string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
		Language        string `parquet:"name=language, type=BYTE_ARRAY, convertedtype=UTF8"`
		Title           string `parquet:"name=title, type=BYTE_ARRAY, convertedtype=UTF8"`
		Department      string `parquet:"name=department, type=BYTE_ARRAY, convertedtype=UTF8"`
		CostCenter      string `parquet:"name=cost_center, type=BYTE_ARRAY, convertedtype=UTF8"`
		UserType        string `parquet:"name=user_type, type=BYTE_ARRAY, convertedtype=UTF8"`
		Active          bool   `parquet:"name=active, type=BOOLEAN"`
		Deleted         bool   `parquet:"name=deleted, type=BOOLEAN"`
		Admin           bool   `parquet:"name=admin, type=BOOLEAN"`
		DefaultLocation string `parquet:"name=default_location, type=BYTE_ARRAY, convertedtype=UTF8"`
		SendInvitation  bool   `parquet:"name=send_invitation, type=BOOLEAN"`
		Held            bool   `parquet:"name=held, type=BOOLEAN"`
		HoldReason      string `parquet:"name=hold_reason, type=BYTE_ARRAY, convertedtype=UTF8"`
		Line            int64  `parquet:"name=line, type=INT64"`
		RowHash         int64  `parquet:"name=row_hash, type=INT64"`
		SCIMID          string `parquet:"name=scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
		Granted         string `parquet:"name=granted, type=BYTE_ARRAY, convertedtype=UTF8"`
		Owed            string `parquet:"name=owed, type=BYTE_ARRAY, convertedtype=UTF8"`
	}
	now := []schemas.User{user("1"), user("2", func(u *schemas.User) { u.Admin = true }), user("3", func(u *schemas.User) { u.Title = "new" })}
	var old []earlier
	for _, u := range []schemas.User{applied(user("1"), "LON", "PAR"), applied(user("2", func(u *schemas.User) { u.Admin = true }), "LON", "PAR"), applied(user("3"), "LON", "PAR")} {
		old = append(old, earlier{UserID: u.UserID, UserName: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName, Email: u.Email,
			UserType: u.UserType, Active: u.Active, Admin: u.Admin, DefaultLocation: u.DefaultLocation, RowHash: u.RowHash, SCIMID: u.SCIMID, Granted: u.Granted})
	}
	in := world{users: now, base: []schemas.User{}}.input(t)
	write(t, in.BaselineUsers, old)
	cs, err := Compare(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := plan(cs), `update user 3 {title: "" → "new"} (title changed)`; got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// With a rate (scim.max_rpm), the plan says how long its requests take at
// the least.
func TestSummarySaysTheTimeAtTheRate(t *testing.T) {
	var users []schemas.User
	for i := 0; i < 600; i++ {
		users = append(users, user(fmt.Sprint(i)))
	}
	in := world{initial: true, users: users}.input(t)
	in.Rate = 500.0 / 60
	dir := t.TempDir()
	res, err := Run(in, dir, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	req := res.Details["requests"].(Requests)
	// 600 creates and 2 locations × 2 groups, in scim2: 604 requests and
	// one membership PATCH a group of 600 (LON, PAR): 606 → 72.7 s.
	if req.Total() != 606 {
		t.Fatalf("requests %+v", req)
	}
	b, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if want := "At 500 requests a minute (scim.max_rpm, scim.max_rps) that is at least 1 min 13 s, 1 s with /Bulk"; !strings.Contains(string(b), want) {
		t.Errorf("summary does not say %q:\n%s", want, b)
	}
}

// The initial synchronization's creates are streamed when the desired
// state is in order of UserID (as transform writes it), and held and
// sorted when it is not (an older transform's output): both give the
// same files, byte for byte. The users mix admins, a held row, an
// inactive and a deleted one, and UserIDs whose string order is not their
// numeric order.
func TestStreamedInitialPlanIsTheHeldOne(t *testing.T) {
	var users []schemas.User
	for _, id := range []string{"1", "10", "100", "11", "2", "20", "3", "30", "4", "5"} {
		u := user(id)
		switch id {
		case "10":
			u.Admin = true
		case "11":
			u.Held, u.HoldReason = true, "Email is empty"
		case "20":
			u.Active = false
		case "30":
			u.Deleted = true
		case "4":
			u.HomeAdmin = "PAR"
		}
		u.RowHash = u.Hash()
		users = append(users, u)
	}
	run := func(users []schemas.User) map[string]string {
		in := world{initial: true, users: users}.input(t)
		dir := t.TempDir()
		if _, err := Run(in, dir, "r1", ""); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range []string{ChangesFile, ChangesCSVFile, SummaryFile, TodoFile, TodoCSVFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			out[f] = string(b)
		}
		if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
			t.Errorf("the diff left %v behind", leftovers)
		}
		return out
	}
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b schemas.User) int { return strings.Compare(a.UserID, b.UserID) })
	streamed, held := run(sorted), run(users)
	for f, want := range held {
		if streamed[f] != want {
			t.Errorf("%s streamed:\n%s\nheld:\n%s", f, streamed[f], want)
		}
	}
	if !strings.Contains(held[SummaryFile], "+ create user") || !strings.Contains(held[ChangesCSVFile], "hold") {
		t.Fatalf("the plan holds no create or hold, so the comparison proves nothing:\n%s", held[SummaryFile])
	}
}

// A provision's plan (Input.Only) holds its user's change and the
// creates of the locations it is granted; nobody else's change, no other
// location's. A name another user frees that day stays blocked, its
// holder named: the daily run makes the handover in order.
func TestOnlyOneUser(t *testing.T) {
	renamed := func(u *schemas.User) { u.GivenName = "Renamed" }
	takesU3 := func(u *schemas.User) { u.UserName, u.Email = "u3@example.com", "u3@example.com" }
	daily := world{deleteRem: true,
		locs:     []schemas.Location{loc("LON"), loc("PAR"), loc("DUB")},
		baseLocs: []schemas.Location{loc("LON"), loc("PAR"), loc("BER")},
		users:    []schemas.User{user("1"), user("2"), user("4", renamed), user("5", takesU3)},
		base:     []schemas.User{applied(user("1"), "LON", "PAR"), applied(user("3"), "LON", "PAR"), applied(user("4"), "LON", "PAR")},
	}
	for only, want := range map[string]string{
		"2": "create location DUB (new in export)\ncreate user 2 +[DUB LON PAR] (new in export)",
		"3": "delete user 3 (missing from export)",
		"4": `update user 4 {givenName: "U" → "Renamed"} (givenName changed)`,
		"5": "create location DUB (new in export)\ncreate user 5 +[DUB LON PAR] (new in export; u3@example.com is held by UserID 3, " +
			"and the plan does not change its userName: this create fails until the name is freed (see the to-do list))",
		"1": "",
	} {
		in := daily.input(t)
		in.Only = only
		cs, err := Compare(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := plan(cs); got != want {
			t.Errorf("only %s:\n%s\nwant:\n%s", only, got, want)
		}
		if blocked := len(cs.Blocked) > 0 && cs.Blocked[0].Holder == "3"; blocked != (only == "5") {
			t.Errorf("only %s: blocked %+v", only, cs.Blocked)
		}
	}
	if cs, _ := Compare(daily.input(t)); !strings.Contains(plan(cs), "delete location BER") || len(cs.Changes) < 6 {
		t.Fatalf("the whole daily plan lacks what the provisions leave out:\n%s", plan(cs))
	}

	// The initial synchronization, streamed (users in order) or held.
	for _, users := range [][]schemas.User{{user("1"), user("2"), user("3")}, {user("3"), user("2"), user("1")}} {
		in := world{initial: true, users: users}.input(t)
		in.Only = "2"
		cs, err := Compare(in)
		if err != nil {
			t.Fatal(err)
		}
		want := "create location LON (new in export)\ncreate location PAR (new in export)\ncreate user 2 +[LON PAR] (new in export)"
		if got := plan(cs); got != want {
			t.Errorf("initial, only 2:\n%s\nwant:\n%s", got, want)
		}
	}
}
