package schemas

import (
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zeebo/xxh3"
)

// ValidEmail reports whether s is a bare email address (no display name, no
// angle brackets) whose domain has a dot, the form the target accepts as a
// userName and work email.
func ValidEmail(s string) bool {
	if s == "" || len(s) > 254 || strings.IndexByte(s, '@') < 0 || strings.ContainsAny(s, " <>\"") {
		return false
	}
	if v, ok := plainEmail(s); ok {
		return v
	}
	return validEmailSlow(s)
}

// validEmailSlow is ValidEmail by net/mail, for every address.
func validEmailSlow(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// plainEmail decides, without net/mail, the common case: a dot-atom local
// part of letters, digits and ._%+- and a domain of letters, digits and
// hyphens in dot-separated labels. For those it answers as net/mail would
// (FuzzPlainEmail checks); anything else returns ok=false for the slow path.
// net/mail costs about 2 µs an address, and every user is checked three times.
func plainEmail(s string) (valid, ok bool) {
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || domain == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false, false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') {
			return false, false
		}
	}
	dots := 0
	for _, label := range strings.Split(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false, false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false, false
			}
		}
		dots++
	}
	return dots > 1, true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Identity is what the uniqueness rules look at in one users row.
type Identity struct {
	Line     int64
	Key      string // UserID
	UserName string // the SCIM userName the row would get (rule 1)
	// Counted says whether the row takes part in the userName uniqueness
	// check: rows that will never exist in the target (visitors, users
	// deleted in Condeco, rows already rejected) cannot collide there.
	Counted bool
}

// Duplicates applies the uniqueness half of rules 1 and 9: a key (keyName
// says which, for messages: UserID or LocationID) that
// appears on more than one row, or a userName (compared case-insensitively)
// that more than one counted row would get. It returns, for the index of each
// row involved, the reason it is held. Rows without a key are not looked at:
// they are rejected for that already.
func Duplicates(ids []Identity, keyName string) map[int]string {
	held := map[int]string{}
	mark := func(groups map[string][]int, what string, value func(Identity) string) {
		for _, idx := range groups {
			for _, i := range idx {
				if _, done := held[i]; !done {
					held[i] = fmt.Sprintf("duplicate %s %s (lines %s)", what, value(ids[i]), lines(ids, idx))
				}
			}
		}
	}
	// The two passes run side by side, each with an index of its own:
	// extract has nothing else to do by then, and it waited 0.37 s on one
	// core for a million rows.
	var byKey map[string][]int
	done := make(chan struct{})
	go func() {
		defer close(done)
		byKey = collisions(ids, func(id Identity) string { return id.Key })
	}()
	byName := collisions(ids, func(id Identity) string {
		if !id.Counted || id.Key == "" {
			return ""
		}
		return strings.ToLower(id.UserName)
	})
	<-done
	mark(byKey, keyName, func(id Identity) string { return id.Key })
	// A row already held for its key keeps that first reason.
	mark(byName, "userName", func(id Identity) string { return id.UserName })
	return held
}

// collisions groups the indexes of ids by key(id), keeping only the groups of
// two or more; an empty key takes no part. Exports are almost free of
// duplicates, so only the first index of each key is stored until a second
// one shows up: a million keys cost one map of ints, not of slices.
func collisions(ids []Identity, key func(Identity) string) map[string][]int {
	return collisionsBy(ids, key, xxh3.HashString, make(map[uint64]int32, len(ids)))
}

// collisionsBy is collisions with the hash that indexes the keys: a map of
// a million 64-bit hashes is filled in about half the time of a map of the
// strings. A key whose hash an earlier, different key holds (a test's hash
// makes that happen) is indexed by its string instead.
func collisionsBy(ids []Identity, key func(Identity) string, hash func(string) uint64, first map[uint64]int32) map[string][]int {
	var other map[string]int32
	groups := map[string][]int{}
	for i, id := range ids {
		k := key(id)
		if k == "" {
			continue
		}
		h := hash(k)
		j, seen := first[h]
		if !seen {
			first[h] = int32(i)
			continue
		}
		if key(ids[j]) != k {
			if j, seen = other[k]; !seen {
				if other == nil {
					other = map[string]int32{}
				}
				other[k] = int32(i)
				continue
			}
		}
		if groups[k] == nil {
			groups[k] = []int{int(j)}
		}
		groups[k] = append(groups[k], i)
	}
	return groups
}

func lines(ids []Identity, idx []int) string {
	ls := make([]int64, len(idx))
	for i, j := range idx {
		ls[i] = ids[j].Line
	}
	sort.Slice(ls, func(a, b int) bool { return ls[a] < ls[b] })
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ", ")
}

// ValidText reports whether s is valid UTF-8 without control characters
// other than TAB, CR and LF.
func ValidText(s string) bool {
	// Every cell of an export goes through here: ASCII, most of them, is
	// checked a byte at a time, and the first other byte hands the cell to
	// the careful path.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return validUnicodeText(s)
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// TextProblem says what makes s unfit for a cell, for people ("" when
// ValidText holds): bytes that are not UTF-8, or the first control
// character, by its code point.
func TextProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text"
	}
	for _, r := range s {
		if (unicode.IsControl(r) || r == 0x7f) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Sprintf("holds a control character (U+%04X)", r)
		}
	}
	return ""
}

func validUnicodeText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
