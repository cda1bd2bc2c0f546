package schemas

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestValidEmail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"ada@example.com", true},
		{"ada.lovelace+tag@sub.example.co.uk", true},
		{"", false},
		{"ada", false},
		{"ada@", false},
		{"@example.com", false},
		{"ada@localhost", false},
		{"Ada <ada@example.com>", false},
		{"ada @example.com", false},
		{"ada@example.com.", false},
		{"ada@@example.com", false},
	} {
		if got := ValidEmail(tc.in); got != tc.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSCIMUserName(t *testing.T) {
	for _, tc := range []struct{ username, email, want string }{
		{"ada@example.com", "ada.l@example.com", "ada@example.com"},
		{"ada", "ada.l@example.com", "ada.l@example.com"},
		{"", "ada.l@example.com", "ada.l@example.com"},
		{"DOMAIN\\ada", "ada@example.com", "ada@example.com"},
	} {
		if got := SCIMUserName(tc.username, tc.email); got != tc.want {
			t.Errorf("SCIMUserName(%q, %q) = %q, want %q", tc.username, tc.email, got, tc.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "User", true},
		{"global admin", "Global Admin", true},
		{"  GLOBAL ADMIN ", "Global Admin", true},
		{"user", "User", true},
		{"superuser", "", false},
	} {
		got, ok := Canonical(AccessLevels, tc.in, "User")
		if got != tc.want || ok != tc.ok {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDuplicates(t *testing.T) {
	ids := []Identity{
		{Line: 2, Key: "1", UserName: "a@x.com", Counted: true},
		{Line: 3, Key: "2", UserName: "b@x.com", Counted: true},
		{Line: 4, Key: "2", UserName: "c@x.com", Counted: true}, // same key as line 3
		{Line: 5, Key: "3", UserName: "A@X.COM", Counted: true}, // same userName as line 2, other case
		{Line: 6, Key: "4", UserName: "d@x.com", Counted: false},
		{Line: 7, Key: "5", UserName: "D@x.com", Counted: true}, // d@x.com on line 6 is not counted
		{Line: 8, Key: "", UserName: "e@x.com", Counted: true},
	}
	got := Duplicates(ids, "UserID")
	want := map[int]string{
		1: "duplicate UserID 2 (lines 3, 4)",
		2: "duplicate UserID 2 (lines 3, 4)",
		0: "duplicate userName a@x.com (lines 2, 5)",
		3: "duplicate userName A@X.COM (lines 2, 5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Duplicates = %v\nwant %v", got, want)
	}
}

func TestUserHashCoversComparedFields(t *testing.T) {
	base := User{UserID: "1", UserName: "a@x.com", GivenName: "A", Active: true, Line: 2}
	h := base.Hash()
	same := base
	same.Line, same.SendInvitation, same.Held, same.HoldReason, same.RowHash = 99, true, true, "x", 5
	if same.Hash() != h {
		t.Error("hash changed with a field the diff does not compare")
	}
	for name, mut := range map[string]func(*User){
		"userName": func(u *User) { u.UserName = "b@x.com" },
		"given":    func(u *User) { u.GivenName = "B" },
		"active":   func(u *User) { u.Active = false },
		"admin":    func(u *User) { u.Admin = true },
		"mobile":   func(u *User) { u.PhoneMobile = "+44" },
		"shift":    func(u *User) { u.UserName, u.GivenName = "a@x.co", "mA" },
	} {
		u := base
		mut(&u)
		if u.Hash() == h {
			t.Errorf("hash did not change with %s", name)
		}
	}
}

func TestLocationHash(t *testing.T) {
	a := Location{LocationID: "LON", Name: "London", Active: true}
	b := a
	b.Name = "London HQ"
	if a.Hash() == b.Hash() {
		t.Error("hash did not change with the name")
	}
}

func TestValidText(t *testing.T) {
	if !ValidText("héllo\tthere") || ValidText("bad\xffbyte") || ValidText("nul\x00") {
		t.Error("ValidText wrong")
	}
}

// ValidEmail, with its fast path, must answer as net/mail alone does.
func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "a.b+c@x.co.uk", "a@b", "a..b@x.com", "-a@x.com", "a@-x.com", "a@x-.com", "a@x..com", "a_b%c@x1.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.Contains(s, "@") {
			return
		}
		if v := ValidEmail(s); v != validEmailSlow(s) {
			t.Fatalf("ValidEmail(%q) = %v, net/mail says %v", s, v, !v)
		}
	})
}

// ValidText's byte-at-a-time path for ASCII says what the careful rune
// path says, for every string.
func TestValidTextFastPath(t *testing.T) {
	for _, s := range []string{"", "plain", "tab\tand\r\nlines", "bell\a", "del\x7f", "nul\x00", "café", "c1 \u0085 control",
		"bad utf-8 \xff", "ascii then \xc3", "\u2028 line separator", "emoji 😀"} {
		if got, want := ValidText(s), validUnicodeText(s); got != want {
			t.Errorf("ValidText(%q) = %v, the careful path says %v", s, got, want)
		}
	}
	for b := 0; b < 256; b++ {
		s := "ab" + string([]byte{byte(b)}) + "cd"
		if got, want := ValidText(s), validUnicodeText(s); got != want {
			t.Errorf("ValidText(%q) = %v, the careful path says %v", s, got, want)
		}
	}
}

// TestCollisionsWhenHashesCollide: keys are indexed by a 64-bit hash, and
// different keys with one hash must still be told apart. With every hash
// the same, the groups are those of the real hash.
func TestCollisionsWhenHashesCollide(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]Identity, 3000)
	for i := range ids {
		ids[i] = Identity{Line: int64(i + 2), Key: strconv.Itoa(rng.IntN(2500)), UserName: fmt.Sprintf("U%d@x.com", rng.IntN(2900)), Counted: rng.IntN(4) > 0}
	}
	ids[7].Key = ""
	byKey := func(id Identity) string { return id.Key }
	byName := func(id Identity) string { return strings.ToLower(id.UserName) }
	for _, key := range []func(Identity) string{byKey, byName} {
		want := collisions(ids, key)
		if len(want) < 100 {
			t.Fatalf("only %d groups: the test data has too few duplicates to prove anything", len(want))
		}
		if got := collisionsBy(ids, key, func(string) uint64 { return 42 }, map[uint64]int32{}); !reflect.DeepEqual(got, want) {
			t.Errorf("with one hash for every key: %d groups, want %d", len(got), len(want))
		}
		if got := collisionsBy(ids, key, func(s string) uint64 { return uint64(len(s)) }, map[uint64]int32{}); !reflect.DeepEqual(got, want) {
			t.Errorf("with the length for a hash: %d groups, want %d", len(got), len(want))
		}
	}
}

func BenchmarkDuplicates1M(b *testing.B) {
	ids := make([]Identity, 1_000_000)
	for i := range ids {
		ids[i] = Identity{Line: int64(i + 2), Key: strconv.Itoa(100000 + i), UserName: fmt.Sprintf("user%d@example.com", i), Counted: true}
	}
	b.ResetTimer()
	for b.Loop() {
		Duplicates(ids, "UserID")
	}
}
