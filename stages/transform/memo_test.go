package transform

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A generated company: users with phones in every form the rule meets
// (national, international, invalid, none), countries that read them or
// not, and homes among the locations.
type company struct {
	users map[int][]string // by UserID: the row's cells after UserID
	locs  []string         // LocationIDs, all active
	dups  map[int]int      // a second row for UserID k, with the userName of v (a hold)
}

var (
	phonePool   = []string{"020 7946 0123", "+44 20 7946 0123", "01 42 68 53 00", "123", "", "+1 415 555 2671", "(0)20 7946 0000", "07700 900123", "+33 6 12 34 56 78", "555-0100"}
	countryPool = []string{"GB", "France", "US", "", "Atlantis", "de"}
)

func (c *company) row(r *rand.Rand, id int) []string {
	name := fmt.Sprintf("u%d", id)
	return []string{name + "@example.com", "First", name, name + "@example.com",
		phonePool[r.IntN(len(phonePool))], phonePool[r.IntN(len(phonePool))], countryPool[r.IntN(len(countryPool))],
		c.locs[r.IntN(len(c.locs))], []string{"User", "Global Admin", "Location Admin"}[r.IntN(3)]}
}

func newCompany(r *rand.Rand, n int) *company {
	c := &company{users: map[int][]string{}, locs: []string{"LON", "PAR", "BER"}, dups: map[int]int{}}
	for id := 1; id <= n; id++ {
		c.users[id] = c.row(r, id)
	}
	return c
}

// nextDay changes what a day changes: renames, phones, countries, homes;
// users gone and new; a location gone and one new; holds appearing and
// clearing; a row rejected.
func (c *company) nextDay(r *rand.Rand) *company {
	d := &company{users: map[int][]string{}, dups: map[int]int{}}
	d.locs = []string{"LON", "DUB", c.locs[1]} // BER gone, DUB new; LON is the default location
	next := len(c.users) + 1
	for id, cells := range c.users {
		cells = append([]string(nil), cells...)
		switch r.IntN(12) {
		case 0:
			continue // gone
		case 1:
			cells[2] = "Renamed"
		case 2:
			cells[4] = phonePool[r.IntN(len(phonePool))]
		case 3:
			cells[5] = phonePool[r.IntN(len(phonePool))]
		case 4:
			cells[6] = countryPool[r.IntN(len(countryPool))]
		case 5:
			cells[7] = d.locs[r.IntN(len(d.locs))]
		case 6:
			cells[3] = "not-an-email" // rejected at extract: held
		}
		d.users[id] = cells
	}
	for k := range 5 {
		d.users[next+k] = d.row(r, next+k)
	}
	for id := range c.dups {
		if r.IntN(2) == 0 {
			d.dups[id] = c.dups[id] // some holds stay, the others clear
		}
	}
	for k := 0; k < 3; k++ {
		a, b := 1+r.IntN(len(c.users)), 1+r.IntN(len(c.users))
		if _, ok := d.users[a]; ok && a != b {
			d.dups[a] = b
		}
	}
	return d
}

func (c *company) csv() (users, locs string) {
	var b strings.Builder
	b.WriteString("UserID,UserName,FirstName,LastName,Email,Telephone,Mobile,Country,Location,AccessLevel\n")
	for id := 1; id <= 1<<20; id++ {
		cells, ok := c.users[id]
		if !ok {
			if id > len(c.users)+100 {
				break
			}
			continue
		}
		fmt.Fprintf(&b, "%d,%s\n", id, strings.Join(quoteAll(cells), ","))
		if other, ok := c.dups[id]; ok {
			dup := append([]string(nil), cells...)
			dup[0] = fmt.Sprintf("u%d@example.com", other) // a userName another user has: both held
			fmt.Fprintf(&b, "%d,%s\n", 900000+id, strings.Join(quoteAll(dup), ","))
		}
	}
	var l strings.Builder
	l.WriteString("LocationID,Name,City,Active\n")
	for _, id := range c.locs {
		fmt.Fprintf(&l, "%s,%s office,%s city,yes\n", id, id, id)
	}
	return b.String(), l.String()
}

func quoteAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = `"` + c + `"`
	}
	return out
}

// outputs reads a transform's files, for comparing byte for byte.
func outputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range []string{UsersFile, LocationsFile, WarningsFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// Reusing the earlier run's phones gives the very files a transform that
// parses every number gives, over generated day pairs (renames, phones
// and countries changed, homes moved, users gone and new, a location gone
// and one new, holds appearing and clearing, rows rejected), with the
// profile's home cities and home admins on and off.
func TestIncrementalTransformIsByteIdentical(t *testing.T) {
	reusedAny := false
	for seed := uint64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		day1 := newCompany(r, 150)
		day2 := day1.nextDay(r)
		in := Input{DefaultLocation: "LON", AdminAccessLevels: []string{"Global Admin"}}
		if seed%2 == 0 {
			in.HomeCity, in.HomeAdminLevels = true, []string{"Location Admin"}
		}
		u1, l1 := day1.csv()
		_, dir1, err := stageRun(t, u1, l1, in)
		if err != nil {
			t.Fatal(err)
		}
		u2, l2 := day2.csv()
		_, full, err := stageRun(t, u2, l2, in)
		if err != nil {
			t.Fatal(err)
		}
		inc := in
		inc.Earlier = Earlier{Path: filepath.Join(dir1, UsersFile), Run: "day1", Rules: PhoneRules}
		res, incDir, err := stageRunResult(t, u2, l2, inc)
		if err != nil {
			t.Fatal(err)
		}
		a, b := outputs(t, full), outputs(t, incDir)
		for f := range a {
			if !bytes.Equal(a[f], b[f]) {
				t.Errorf("seed %d: %s differs between the full and the incremental transform", seed, f)
			}
		}
		reuse := res.Details["reuse"].(map[string]any)
		if n := reuse["phones_reused"].(int64); n > 0 {
			reusedAny = true
		} else {
			t.Errorf("seed %d: nothing reused: %v", seed, reuse)
		}
	}
	if !reusedAny {
		t.Error("no run reused a phone: the comparison proves nothing")
	}
}

// An earlier state under other phone rules, or one that cannot be read,
// is not reused: the manifest says why, and the output is the full one.
func TestIncrementalTransformFallsBack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	day1 := newCompany(r, 60)
	u1, l1 := day1.csv()
	_, dir1, err := stageRun(t, u1, l1, Input{})
	if err != nil {
		t.Fatal(err)
	}
	_, full, _ := stageRun(t, u1, l1, Input{})
	damaged := filepath.Join(t.TempDir(), "users.parquet")
	os.WriteFile(damaged, []byte("PAR1 not a parquet file"), 0o600)
	for _, tc := range []struct {
		name string
		in   Input
		why  string
	}{
		{"none", Input{Earlier: Earlier{Why: "no baseline yet"}}, "no baseline yet"},
		{"other rules", Input{Earlier: Earlier{Path: filepath.Join(dir1, UsersFile), Run: "d1", Rules: "rule7-v0"}}, "parsed its phones under other rules"},
		{"unreadable", Input{Earlier: Earlier{Path: damaged, Run: "d1", Rules: PhoneRules}}, "could not be read"},
	} {
		res, dir, err := stageRunResult(t, u1, l1, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		reuse := res.Details["reuse"].(map[string]any)
		if why, _ := reuse["full"].(string); !strings.Contains(why, tc.why) || reuse["phones_reused"].(int64) != 0 {
			t.Errorf("%s: reuse %v, want a full transform because %q", tc.name, reuse, tc.why)
		}
		if a, b := outputs(t, full), outputs(t, dir); !bytes.Equal(a[UsersFile], b[UsersFile]) {
			t.Errorf("%s: the output differs from a full transform's", tc.name)
		}
	}
}

func TestPackE164(t *testing.T) {
	for _, s := range []string{"", "+442079460123", "+14155552671", "+999999999999999", "+1"} {
		v, ok := packE164(s)
		if !ok || unpackE164(v) != s {
			t.Errorf("%q: packed %d %v, back %q", s, v, ok, unpackE164(v))
		}
	}
	for _, s := range []string{"+0441", "442079460123", "+44 20", "+1234567890123456", "+"} {
		if _, ok := packE164(s); ok {
			t.Errorf("%q packed: it is no E.164 number, and would not come back as it was", s)
		}
	}
}
