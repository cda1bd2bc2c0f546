package transform

import (
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

// Rule 7 is the one costly rule: the phone library parses with regular
// expressions, about 12 µs a number, most of a transform of a million
// users. Its result depends on three cells of the export only (Telephone,
// Mobile and the country they are read with), so a daily run reuses the
// earlier run's phones for every user whose three cells are unchanged,
// and parses the rest. The output is the same, byte for byte, as if every
// number were parsed again: users.parquet keeps, per user, a hash of the
// inputs its phones came from (phone_inputs), and a phone is reused only
// when that hash, taken with the same version of the rules, matches.

// PhoneRules names the phone rules' version: this program's and the phone
// library's. Phones from a transform under other rules are never reused.
var PhoneRules = "rule7-v1 " + phoneLibrary()

func phoneLibrary() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/nyaruka/phonenumbers" {
				return d.Path + "@" + d.Version
			}
		}
	}
	return "github.com/nyaruka/phonenumbers@unknown"
}

// phoneInputs is the hash of what a user's phones are normalised from,
// never 0 (0 marks a row whose phones cannot be reused: a number was left
// out, and the warning must be said again).
func phoneInputs(telephone, mobile, country string) int64 {
	if v := schemas.HashTexts(PhoneRules, telephone, mobile, country); v != 0 {
		return v
	}
	return 1
}

// phoneMemo is an earlier transform's phones by UserID, for the rows
// whose phones can be reused: fixed-size entries with no pointer in them,
// so that a million cost about 60 MB and no garbage collector's time, in
// the earlier file's order, with an index by key. An export comes in
// much the same order every day, so a worker looks first just past the
// entry it found last, and asks the index only when that misses. It is
// read-only once built: the workers share it.
type phoneMemo struct {
	entries []memoEntry
	byKey   map[xxh3.Uint128]int32 // entries' positions
}

type memoEntry struct {
	key          xxh3.Uint128 // the UserID's 128-bit hash
	inputs       int64
	work, mobile uint64 // the E.164 numbers' digits (packE164)
}

// readPhoneMemo reads the phones of an earlier users.parquet. The index is
// built on a goroutine of its own as the entries come in: filling a map of
// a million keys took as long as reading them (0.13 s of 0.3 s), while
// the workers waited and a core had nothing to do.
func readPhoneMemo(path string) (*phoneMemo, error) {
	n, err := parquetio.NumRows(path)
	if err != nil {
		return nil, err
	}
	m := &phoneMemo{entries: make([]memoEntry, 0, n), byKey: make(map[xxh3.Uint128]int32, n)}
	// The indexer sees the entries through a header of its own: the reader
	// appends within the capacity (a row gives one entry at most), and
	// says after each batch how many are there.
	entries := m.entries[:n]
	appended := make(chan int, 16)
	indexed := make(chan struct{})
	go func() {
		defer close(indexed)
		i := 0
		for upto := range appended {
			for ; i < upto; i++ {
				m.byKey[entries[i].key] = int32(i)
			}
		}
	}()
	_, err = parquetio.Read(path, []string{"user_id", "phone_work", "phone_mobile", "phone_inputs"}, func(b []schemas.User) error {
		if len(m.entries)+len(b) > cap(m.entries) {
			return fmt.Errorf("%s: more rows than its metadata says (%d)", path, n)
		}
		for i := range b {
			u := &b[i]
			work, okW := packE164(u.PhoneWork)
			mobile, okM := packE164(u.PhoneMobile)
			if u.PhoneInputs != 0 && okW && okM {
				m.entries = append(m.entries, memoEntry{xxh3.HashString128(u.UserID), u.PhoneInputs, work, mobile})
			}
		}
		appended <- len(m.entries)
		return nil
	})
	close(appended)
	<-indexed
	return m, err
}

// get returns the earlier phones of user key when they came from inputs.
// *next is where the caller's next row is likely to be; get moves it past
// the entry it finds.
func (m *phoneMemo) get(key string, inputs int64, next *int) (work, mobile string, ok bool) {
	if m == nil || len(m.entries) == 0 {
		return "", "", false
	}
	k := xxh3.HashString128(key)
	i := *next
	if i >= len(m.entries) || m.entries[i].key != k {
		at, found := m.byKey[k]
		if !found {
			return "", "", false
		}
		i = int(at)
	}
	*next = i + 1
	if e := &m.entries[i]; e.inputs == inputs {
		return unpackE164(e.work), unpackE164(e.mobile), true
	}
	return "", "", false
}

// packE164 stores an E.164 number ("+" and up to 15 digits, the first not
// 0) as the number its digits make; "" is 0. ok is false for anything
// else, which is then not reused.
func packE164(s string) (v uint64, ok bool) {
	if s == "" {
		return 0, true
	}
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return 0, false
	}
	for _, c := range []byte(s[1:]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func unpackE164(v uint64) string {
	if v == 0 {
		return ""
	}
	return "+" + strconv.FormatUint(v, 10)
}
