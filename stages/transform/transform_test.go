package transform

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/extract"
)

const locsCSV = "LocationID,Name,Country,Active\nLON,London,United Kingdom,yes\nPAR,Paris,france,1\nOLD,Old office,GB,no\n"

const usersCSV = `UserID,UserName,FirstName,LastName,Email,Telephone,Mobile,Country,Language,AccessLevel,UserType,Active,Deleted
1,ada@example.com,Ada,Lovelace,ada.l@example.com,020 7946 0123,+44 7700 900123,GB,en-GB,Global Admin,Internal,true,false
2,bob,Bob,Babbage,bob@example.com,01 42 68 53 00,,France,French,Location Admin,Vendor,true,false
3,vis@example.com,Vic,Visitor,vis@example.com,,,GB,,,Visitor,true,false
4,ina@example.com,Ina,Active,ina@example.com,123,+44 (0) 20 7946 0000,United Kingdom,Klingonese,,,false,false
5,del@example.com,Del,Eted,del@example.com,,,,,,,true,true
6,dup@example.com,Dup,One,dup@example.com,,,,,,,,
6,dup2@example.com,Dup,Two,dup2@example.com,,,,,,,,
7,bad,Bad,Email,not-an-email,,,,,,,,
8,nocountry@example.com,No,Country,nocountry@example.com,020 7946 0999,+1 415 555 2671,Atlantis,,,,,
`

// stageRun extracts the export and transforms it with in's settings.
func stageRun(t *testing.T, users, locs string, in Input) (Input, string, error) {
	t.Helper()
	_, dir, err := stageRunResult(t, users, locs, in)
	return in, dir, err
}

// stageRunResult is stageRun with transform's result.
func stageRunResult(t *testing.T, users, locs string, in Input) (stages.Result, string, error) {
	t.Helper()
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	os.MkdirAll(inbox, 0o700)
	os.WriteFile(filepath.Join(inbox, "users_1.csv"), []byte(users), 0o600)
	os.WriteFile(filepath.Join(inbox, "locations_1.csv"), []byte(locs), 0o600)
	sets, _ := extract.FindSets(inbox, "users_*.csv", "locations_*.csv")
	xdir := filepath.Join(root, "extract")
	if _, err := extract.Run(extract.Input{Set: sets[0], MinUsers: 1}, xdir); err != nil {
		t.Fatal(err)
	}
	in.RawUsers = filepath.Join(xdir, extract.UsersFile)
	in.RawLocations = filepath.Join(xdir, extract.LocationsFile)
	in.Holds = filepath.Join(xdir, extract.HoldsFile)
	if in.DefaultLocation == "" {
		in.DefaultLocation = "LON"
	}
	if in.AdminAccessLevels == nil {
		in.AdminAccessLevels = []string{"Global Admin"}
	}
	if in.Invitations == "" {
		in.Invitations = "send"
	}
	dir := filepath.Join(root, "transform")
	res, err := Run(in, dir)
	return res, dir, err
}

func users(t *testing.T, dir string) map[string]schemas.User {
	t.Helper()
	us, err := parquetio.ReadAll[schemas.User](filepath.Join(dir, UsersFile))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]schemas.User{}
	for _, u := range us {
		if _, dup := m[u.UserID]; dup {
			t.Fatalf("key %s twice in the canonical snapshot", u.UserID)
		}
		// A held user has no desired state (the diff keeps its baseline),
		// so it has no hash either.
		if !u.Held && u.RowHash != u.Hash() {
			t.Errorf("user %s: row_hash %d, want %d", u.UserID, u.RowHash, u.Hash())
		}
		m[u.UserID] = u
	}
	return m
}

func TestUserRules(t *testing.T) {
	_, dir, err := stageRun(t, usersCSV, locsCSV, Input{})
	if err != nil {
		t.Fatal(err)
	}
	us := users(t, dir)
	for _, tc := range []struct {
		name string
		id   string
		want func(u schemas.User) bool
	}{
		{"username that is an email is the userName", "1", func(u schemas.User) bool { return u.UserName == "ada@example.com" && u.Email == "ada.l@example.com" }},
		{"username that is not an email gives the email", "2", func(u schemas.User) bool { return u.UserName == "bob@example.com" }},
		{"global admin is admin", "1", func(u schemas.User) bool { return u.Admin }},
		{"location admin is not admin by default", "2", func(u schemas.User) bool { return !u.Admin }},
		{"everyone's default location", "2", func(u schemas.User) bool { return u.DefaultLocation == "LON" }},
		{"vendor is provisioned", "2", func(u schemas.User) bool { return u.UserType == "Vendor" && u.Active }},
		{"inactive is kept, inactive", "4", func(u schemas.User) bool { return !u.Active && !u.Held }},
		{"deleted is kept, deleted", "5", func(u schemas.User) bool { return u.Deleted }},
		{"national GB number", "1", func(u schemas.User) bool { return u.PhoneWork == "+442079460123" }},
		{"international with spaces", "1", func(u schemas.User) bool { return u.PhoneMobile == "+447700900123" }},
		{"national FR number, country by name", "2", func(u schemas.User) bool { return u.PhoneWork == "+33142685300" && u.Country == "FR" }},
		{"(0) trunk notation", "4", func(u schemas.User) bool { return u.PhoneMobile == "+442079460000" }},
		{"impossible number left out", "4", func(u schemas.User) bool { return u.PhoneWork == "" }},
		{"unknown country: national number left out, international kept", "8", func(u schemas.User) bool {
			return u.PhoneWork == "" && u.PhoneMobile == "+14155552671" && u.Country == ""
		}},
		{"language tag", "1", func(u schemas.User) bool { return u.Language == "en-GB" }},
		{"language name", "2", func(u schemas.User) bool { return u.Language == "fr" }},
		{"invitation asked", "1", func(u schemas.User) bool { return u.SendInvitation }},
		{"duplicate key held once", "6", func(u schemas.User) bool {
			return u.Held && strings.HasPrefix(u.HoldReason, "duplicate UserID 6 (lines 7, 8)")
		}},
		{"rejected row held", "7", func(u schemas.User) bool { return u.Held && strings.Contains(u.HoldReason, "not a valid email") }},
	} {
		u, ok := us[tc.id]
		if !ok {
			t.Errorf("%s: user %s missing", tc.name, tc.id)
			continue
		}
		if !tc.want(u) {
			t.Errorf("%s: user %s = %+v", tc.name, tc.id, u)
		}
	}
	if _, ok := us["3"]; ok {
		t.Error("visitor provisioned")
	}
	w, _ := os.ReadFile(filepath.Join(dir, WarningsFile))
	for _, want := range []string{
		"user,4,5,Telephone,123,left out: not a valid number for its country",
		"user,4,5,Language,Klingonese,",
		"user,8,10,Country,Atlantis,",
		"user,8,10,Telephone,020 7946 0999,left out: national number and no country to read it with",
	} {
		if !strings.Contains(string(w), want) {
			t.Errorf("warnings.csv lacks %q:\n%s", want, w)
		}
	}
}

func TestSettings(t *testing.T) {
	_, dir, err := stageRun(t, usersCSV, locsCSV, Input{
		DefaultLocation: "PAR", AdminAccessLevels: []string{"global admin", "Location Admin"}, Invitations: "suppress",
	})
	if err != nil {
		t.Fatal(err)
	}
	us := users(t, dir)
	if u := us["2"]; !u.Admin || u.DefaultLocation != "PAR" || u.SendInvitation {
		t.Errorf("bob = %+v", u)
	}
	if u := us["1"]; !u.Admin || u.SendInvitation {
		t.Errorf("ada = %+v", u)
	}
}

func TestDefaultLocationMustBeActive(t *testing.T) {
	for _, id := range []string{"OLD", "NOPE"} {
		_, _, err := stageRun(t, usersCSV, locsCSV, Input{DefaultLocation: id})
		var de *DefaultLocationError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), `access.default_location "`+id+`" is not an active LocationID`) {
			t.Errorf("default %s: err = %v", id, err)
		}
	}
}

func TestLocations(t *testing.T) {
	locs := locsCSV + "PAR,Paris again,FR,yes\nBER,,DE,yes\n"
	_, dir, err := stageRun(t, usersCSV, locs, Input{})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := parquetio.ReadAll[schemas.Location](filepath.Join(dir, LocationsFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]schemas.Location{}
	var order []string
	for _, l := range ls {
		got[l.LocationID] = l
		order = append(order, l.LocationID)
	}
	if !reflect.DeepEqual(order, []string{"BER", "LON", "OLD", "PAR"}) {
		t.Errorf("order = %v", order)
	}
	if l := got["LON"]; l.Country != "GB" || l.Held || !l.Active || l.RowHash != l.Hash() {
		t.Errorf("LON = %+v", l)
	}
	if l := got["PAR"]; !l.Held || !strings.Contains(l.HoldReason, "duplicate LocationID PAR") {
		t.Errorf("PAR = %+v", l)
	}
	if l := got["BER"]; !l.Held || !strings.Contains(l.HoldReason, "Name is empty") {
		t.Errorf("BER = %+v", l)
	}
	if l := got["OLD"]; l.Active {
		t.Errorf("OLD = %+v", l)
	}
}

// The output does not depend on how many workers made it, and is in
// order of UserID (as strings: "10" before "2") where it is asked to be.
func TestDeterministicAcrossWorkers(t *testing.T) {
	var b strings.Builder
	b.WriteString("UserID,UserName,FirstName,LastName,Email,Telephone,Country\n")
	for i := 0; i < 2*parquetio.BatchSize+10; i++ {
		b.WriteString(strings.Join([]string{itoa(i), "u" + itoa(i) + "@example.com", "F", "L", "u" + itoa(i) + "@example.com", "020 7946 " + itoa(1000+i%9000), "GB"}, ","))
		b.WriteString("\n")
	}
	var sums []string
	for _, w := range []int{1, 3} {
		_, dir, err := stageRun(t, b.String(), locsCSV, Input{Workers: w, InOrder: true})
		if err != nil {
			t.Fatal(err)
		}
		us, _ := parquetio.ReadAll[schemas.User](filepath.Join(dir, UsersFile))
		inOrder := slices.IsSortedFunc(us, func(a, b schemas.User) int { return strings.Compare(a.UserID, b.UserID) })
		if len(us) != 2*parquetio.BatchSize+10 || !inOrder {
			t.Fatalf("workers %d: %d users, in order of UserID %v", w, len(us), inOrder)
		}
		data, _ := os.ReadFile(filepath.Join(dir, UsersFile))
		sums = append(sums, string(data))
	}
	if sums[0] != sums[1] {
		t.Error("users.parquet differs between 1 and 3 workers")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPhones(t *testing.T) {
	p := newPhones()
	for _, tc := range []struct{ raw, region, want string }{
		{"", "GB", ""},
		{"+442079460123", "", "+442079460123"},
		{"+44 20-7946.0123", "", "+442079460123"},
		{"0044 20 7946 0123", "GB", "+442079460123"},
		{"(020) 7946 0123", "GB", "+442079460123"},
		{"+1 (415) 555-2671", "", "+14155552671"},
		{"415 555 2671", "US", "+14155552671"},
	} {
		got, err := p.E164(tc.raw, tc.region)
		if err != nil || got != tc.want {
			t.Errorf("E164(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ raw, region string }{{"123", "GB"}, {"abc", "GB"}, {"+0 20 7946 0123", "GB"}, {"0044 20 7946 0123", ""}, {"020 7946 0123", ""}} {
		if got, err := p.E164(tc.raw, tc.region); err == nil {
			t.Errorf("E164(%q, %q) = %q, want an error", tc.raw, tc.region, got)
		}
	}
}

func TestCountryAndLanguage(t *testing.T) {
	for in, want := range map[string]string{"gb": "GB", "United Kingdom": "GB", "UK": "GB", "germany": "DE", "United States": "US", "FR": "FR"} {
		if got, ok := Country(in); !ok || got != want {
			t.Errorf("Country(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := Country("Atlantis"); ok {
		t.Error("Atlantis is a country")
	}
	for in, want := range map[string]string{"en_US": "en-US", "German": "de", "fr-CA": "fr-CA", "": ""} {
		if got, ok := Language(in); !ok || got != want {
			t.Errorf("Language(%q) = %q, %v", in, got, ok)
		}
	}
}

// With HomeCity (visitor-generic), each user's City is its home
// location's: the export's Location column names a LocationID or a
// location's name, in any case; a name that matches nothing is a warning
// and the default location's city; no Location at all is the default's
// city without a warning. Without HomeCity, no user has a City (their
// row_hash is what it was before the field existed).
func TestHomeCity(t *testing.T) {
	locs := "LocationID,Name,City,Active\nLON,London HQ,London,yes\nPAR,Paris,Paris,yes\n"
	us := `UserID,UserName,FirstName,LastName,Email,Location
1,a@example.com,A,A,a@example.com,par
2,b@example.com,B,B,b@example.com,LONDON hq
3,c@example.com,C,C,c@example.com,Atlantis
4,d@example.com,D,D,d@example.com,
`
	_, dir, err := stageRun(t, us, locs, Input{HomeCity: true})
	if err != nil {
		t.Fatal(err)
	}
	got := users(t, dir)
	for id, want := range map[string]string{"1": "Paris", "2": "London", "3": "London", "4": "London"} {
		if got[id].City != want {
			t.Errorf("user %s: city %q, want %q", id, got[id].City, want)
		}
	}
	w, _ := os.ReadFile(filepath.Join(dir, WarningsFile))
	if !strings.Contains(string(w), "Atlantis") || strings.Count(string(w), "default location's city") != 1 {
		t.Errorf("warnings.csv should name Atlantis once:\n%s", w)
	}
	_, dir, err = stageRun(t, us, locs, Input{})
	if err != nil {
		t.Fatal(err)
	}
	for id, u := range users(t, dir) {
		if u.City != "" {
			t.Errorf("user %s has city %q without HomeCity", id, u.City)
		}
	}
}

// access.home_admin_levels: a user with such an AccessLevel is an admin at
// its home location (the export's Location: a LocationID or a name, in
// any case); one whose home is unknown, inactive or held gets no admin
// rights and a warning. access.admin_access_levels still makes admins at
// the default location.
func TestHomeAdmins(t *testing.T) {
	locs := "LocationID,Name,City,Active\nLON,London HQ,London,yes\nPAR,Paris,Paris,yes\nOLD,Old office,Leeds,no\n"
	us := `UserID,UserName,FirstName,LastName,Email,Location,AccessLevel
1,a@example.com,A,A,a@example.com,par,Location Admin
2,b@example.com,B,B,b@example.com,LONDON hq,location admin
3,c@example.com,C,C,c@example.com,Atlantis,Location Admin
4,d@example.com,D,D,d@example.com,OLD,Location Admin
5,e@example.com,E,E,e@example.com,PAR,Global Admin
6,f@example.com,F,F,f@example.com,PAR,User
`
	_, dir, err := stageRun(t, us, locs, Input{HomeAdminLevels: []string{"Location Admin"}})
	if err != nil {
		t.Fatal(err)
	}
	got := users(t, dir)
	for id, want := range map[string]string{"1": "PAR", "2": "LON", "3": "", "4": "", "5": "LON", "6": ""} {
		if u := got[id]; u.AdminAt() != want {
			t.Errorf("user %s: admin at %q, want %q (%+v)", id, u.AdminAt(), want, u)
		}
	}
	if got["5"].HomeAdmin != "" || !got["5"].Admin {
		t.Errorf("a Global Admin is an admin at the default location: %+v", got["5"])
	}
	w, _ := os.ReadFile(filepath.Join(dir, WarningsFile))
	for _, s := range []string{"Atlantis", "OLD"} {
		if !strings.Contains(string(w), s+",\"AccessLevel Location Admin makes an admin at the home location") {
			t.Errorf("warnings.csv should say why user at %s is no admin:\n%s", s, w)
		}
	}
	// Without the setting nobody is a home admin, and nothing is warned.
	_, dir, err = stageRun(t, us, locs, Input{})
	if err != nil {
		t.Fatal(err)
	}
	for id, u := range users(t, dir) {
		if u.HomeAdmin != "" {
			t.Errorf("user %s is a home admin without access.home_admin_levels", id)
		}
	}
	if w, _ := os.ReadFile(filepath.Join(dir, WarningsFile)); strings.Contains(string(w), "home location") {
		t.Errorf("warnings without the setting:\n%s", w)
	}
}

// A userName that mixes Latin letters with Cyrillic or Greek ones (a
// look-alike of another address) is provisioned as it is, with a warning;
// one in a single script, or ASCII, gets none.
func TestMixedScriptUserName(t *testing.T) {
	us := "UserID,UserName,FirstName,LastName,Email\n" +
		"1,ada@example.com,A,A,ada@example.com\n" +
		"2,аda@example.com,A,A,аda@example.com\n" + // a Cyrillic "а"
		"3,αda@example.com,A,A,αda@example.com\n" + // a Greek "α"
		"4,josé@example.com,J,J,josé@example.com\n" // Latin only
	_, dir, err := stageRun(t, us, "LocationID,Name\nLON,London\n", Input{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(users(t, dir)); n != 4 {
		t.Errorf("%d users provisioned, want the 4", n)
	}
	w, _ := os.ReadFile(filepath.Join(dir, WarningsFile))
	for _, want := range []string{"user,2,", "with Cyrillic ones", "user,3,", "with Greek ones"} {
		if !strings.Contains(string(w), want) {
			t.Errorf("warnings.csv lacks %q:\n%s", want, w)
		}
	}
	if strings.Contains(string(w), "user,1,") || strings.Contains(string(w), "user,4,") {
		t.Errorf("warnings.csv warns of a userName in one script:\n%s", w)
	}
}

// Asked for (an initial synchronization), users.parquet is in order of
// UserID whatever the export's order: users that come out of order are
// spilled to sorted runs of runRows and merged. With runs of 7 users, a
// shuffled export of 300 gives the same file, byte for byte, as with every
// user held at once, and leaves no run behind. Not asked for, the export's
// order is kept.
func TestUsersInOrderOfUserIDWhateverTheExport(t *testing.T) {
	var b strings.Builder
	b.WriteString("UserID,UserName,FirstName,LastName,Email\n")
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(300) {
		fmt.Fprintf(&b, "%d,u%d@example.com,F,L,u%d@example.com\n", i, i, i)
	}
	write := func(rows int) (string, []byte) {
		defer func(old int) { runRows = old }(runRows)
		runRows = rows
		_, dir, err := stageRun(t, b.String(), locsCSV, Input{Workers: 2, InOrder: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, UsersFile))
		if err != nil {
			t.Fatal(err)
		}
		return dir, data
	}
	dir, spilled := write(7)
	_, held := write(1 << 20)
	if string(spilled) != string(held) {
		t.Error("users.parquet merged from runs of 7 differs from the one sorted at once")
	}
	us, _ := parquetio.ReadAll[schemas.User](filepath.Join(dir, UsersFile))
	if len(us) != 300 || !slices.IsSortedFunc(us, func(a, b schemas.User) int { return strings.Compare(a.UserID, b.UserID) }) {
		t.Errorf("%d users, in order of UserID: %v", len(us), slices.IsSortedFunc(us, func(a, b schemas.User) int { return strings.Compare(a.UserID, b.UserID) }))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("transform left %v behind", left)
	}
	_, dir, err := stageRun(t, b.String(), locsCSV, Input{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	us, _ = parquetio.ReadAll[schemas.User](filepath.Join(dir, UsersFile))
	if first := strings.SplitN(strings.SplitN(b.String(), "\n", 3)[1], ",", 2)[0]; len(us) != 300 || us[0].UserID != first {
		t.Errorf("not asked for order, users.parquet begins with %s, the export with %s", us[0].UserID, first)
	}
}
