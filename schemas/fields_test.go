package schemas

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zeebo/xxh3"
)

// A change carries every field of the field table: a user's record goes
// into a change (SetUser) and comes out whole (User). deleted is the one
// exception: a change is never made of a deleted user's desired record.
func TestChangeCarriesEveryUserField(t *testing.T) {
	var u User
	v := reflect.ValueOf(&u).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.Field(i).SetString("v-" + f.Name)
		case reflect.Bool:
			v.Field(i).SetBool(true)
		}
	}
	u.Deleted = false
	var c Change
	c.Key = u.UserID
	c.SetUser(&u)
	got := c.User()
	for _, f := range UserFields {
		if f.Value(&got) != f.Value(&u) {
			t.Errorf("field %s (column %s): %q after a change, want %q", f.Name, f.Column, f.Value(&got), f.Value(&u))
		}
		if _, ok := reflect.TypeOf(Change{}).FieldByNameFunc(func(n string) bool {
			sf, _ := reflect.TypeOf(Change{}).FieldByName(n)
			return strings.HasPrefix(sf.Tag.Get("parquet"), "name="+f.Column+",")
		}); !ok && f.Name != "deleted" {
			t.Errorf("field %s: changes.parquet has no column %s", f.Name, f.Column)
		}
	}
	if got.SendInvitation != u.SendInvitation || got.UserID != u.UserID {
		t.Errorf("the invitation or the key was lost: %+v", got)
	}
}

// Every field's column is a column of users.parquet: the table and the
// struct tags agree.
func TestFieldColumns(t *testing.T) {
	cols := map[string]bool{}
	ty := reflect.TypeOf(User{})
	for i := 0; i < ty.NumField(); i++ {
		name, _, _ := strings.Cut(strings.TrimPrefix(ty.Field(i).Tag.Get("parquet"), "name="), ",")
		cols[name] = true
	}
	for _, f := range UserFields {
		if !cols[f.Column] {
			t.Errorf("field %s: users.parquet has no column %s", f.Name, f.Column)
		}
	}
}

// row_hash is stored in every applied state: the field table must hash as
// the hand-written Hash it replaced did, or every user of an existing
// baseline would look changed on the first run after an upgrade. The
// values were computed by that Hash (commit 5f04167).
func TestHashIsStable(t *testing.T) {
	u := User{UserID: "1", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com",
		PhoneWork: "+441234567890", Country: "United Kingdom", Language: "en", Title: "Analyst", Department: "R&D",
		CostCenter: "CC1", UserType: "Internal", Active: true, Admin: true, DefaultLocation: "LON"}
	l := Location{LocationID: "LON", Name: "London", Country: "United Kingdom", City: "London", TimeZone: "Europe/London", Active: true}
	if got, want := u.Hash(), int64(-3923667350358002949); got != want {
		t.Errorf("user hash %d, want %d", got, want)
	}
	if got, want := l.Hash(), int64(7169650588167240931); got != want {
		t.Errorf("location hash %d, want %d", got, want)
	}
}

// Fields added to the layout later are hashed only when they have a value,
// each after its name: a value moving from one to the other is a change,
// and an older file (tagged parquetio:"added") reads them as empty.
func TestAddedFields(t *testing.T) {
	a := User{UserID: "1", City: "LON"}
	b := User{UserID: "1", HomeAdmin: "LON"}
	if a.Hash() == b.Hash() {
		t.Error("city LON and homeAdmin LON hash alike")
	}
	ty := reflect.TypeOf(User{})
	for _, f := range UserFields {
		if !f.Added {
			continue
		}
		found := false
		for i := 0; i < ty.NumField(); i++ {
			sf := ty.Field(i)
			if strings.HasPrefix(sf.Tag.Get("parquet"), "name="+f.Column+",") {
				found = true
				if sf.Tag.Get("parquetio") != "added" {
					t.Errorf("field %s is Added but column %s is not tagged parquetio:\"added\"", f.Name, f.Column)
				}
			}
		}
		if !found {
			t.Errorf("field %s: no column %s", f.Name, f.Column)
		}
	}
}

// TestHashBeyondTheBuffer: a row longer than the stack buffer hashes as
// the same bytes streamed into xxh3, as a short one does.
func TestHashBeyondTheBuffer(t *testing.T) {
	for _, n := range []int{3, 508, 509, 2000} {
		s := strings.Repeat("x", n)
		var x xxh3.Hasher
		x.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
		x.WriteString(s)
		if got, want := HashTexts(s), int64(x.Sum64()); got != want {
			t.Errorf("%d bytes: %d, streamed %d", n, got, want)
		}
	}
}

func BenchmarkUserHash(b *testing.B) {
	u := User{UserID: "100234", UserName: "ada.lovelace@example.com", GivenName: "Ada", FamilyName: "Lovelace", Email: "ada.lovelace@example.com",
		PhoneWork: "+441234567890", PhoneMobile: "+447700900123", Country: "GB", Language: "en", Title: "Analyst", Department: "R&D",
		CostCenter: "CC1", UserType: "Internal", Active: true, Admin: true, DefaultLocation: "LON", City: "London"}
	var sum int64
	for b.Loop() {
		sum += u.Hash()
	}
	_ = sum
}
