package extract

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ExportSet is one users file and one locations file with the same stamp.
type ExportSet struct {
	Stamp     string
	Users     string
	Locations string
	// Date is the stamp read as a date (UTC); zero when it is not one.
	Date time.Time
	// Changed is the later of the two files' modification times.
	Changed time.Time
	// Bytes is the two files' sizes, users then locations: with Changed,
	// what a second look compares to tell a file still being written.
	Bytes [2]int64
}

// MinSettle is the least time a file must have been left alone before it
// is taken, whatever exports.settle says: a writer that pauses for a
// moment must not hand over half a file.
const MinSettle = 2 * time.Second

// Settled reports whether neither file changed within settle (at least
// MinSettle) before now: a file still being written is not taken.
func (s ExportSet) Settled(now time.Time, settle time.Duration) bool {
	return !s.Changed.After(now.Add(-max(settle, MinSettle)))
}

// unchanged reports whether file i of the set (0 the users file, 1 the
// locations file) still has the size and modification time it had when s
// was found.
func (s ExportSet) unchanged(i int) bool {
	fi, err := os.Stat([2]string{s.Users, s.Locations}[i])
	return err == nil && fi.Size() == s.Bytes[i] && !fi.ModTime().After(s.Changed)
}

// stampLayouts are the forms of a stamp read as a date: a day, or a day
// and a time.
var stampLayouts = []string{"20060102", "2006-01-02", "20060102150405", "20060102T150405", "20060102T150405Z",
	"20060102_150405", "2006-01-02T15-04-05", "2006-01-02T150405", "2006-01-02_15-04-05", "2006-01-02_150405"}

// ParseStamp reads a stamp as a date, in UTC.
func ParseStamp(stamp string) (time.Time, bool) {
	for _, l := range stampLayouts {
		if t, err := time.Parse(l, stamp); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Inbox is what an inbox holds: the complete export sets, newest first
// (by date; sets whose stamp is not a date last), and the files whose
// partner is missing.
type Inbox struct {
	Sets []ExportSet
	Lone []LoneFile
}

// LoneFile is a users or locations file with no partner of its stamp.
type LoneFile struct {
	Path, Stamp, Missing string // Missing: the partner's name
	Changed              time.Time
}

// FindSets lists the complete export sets in inbox, newest first.
func FindSets(inbox, usersPattern, locationsPattern string) ([]ExportSet, error) {
	ib, err := ScanInbox(inbox, usersPattern, locationsPattern)
	return ib.Sets, err
}

// ScanInbox reads inbox. The stamp is the part of a file name that the
// pattern's * matches.
func ScanInbox(inbox, usersPattern, locationsPattern string) (Inbox, error) {
	var ib Inbox
	users, err := stamps(inbox, usersPattern)
	if err != nil {
		return ib, err
	}
	locs, err := stamps(inbox, locationsPattern)
	if err != nil {
		return ib, err
	}
	partner := func(pattern, stamp string) string { return strings.Replace(pattern, "*", stamp, 1) }
	for stamp, u := range users {
		l, ok := locs[stamp]
		if !ok {
			ib.Lone = append(ib.Lone, LoneFile{Path: u.path, Stamp: stamp, Missing: partner(locationsPattern, stamp), Changed: u.mod})
			continue
		}
		s := ExportSet{Stamp: stamp, Users: u.path, Locations: l.path, Changed: u.mod, Bytes: [2]int64{u.size, l.size}}
		if l.mod.After(s.Changed) {
			s.Changed = l.mod
		}
		s.Date, _ = ParseStamp(stamp)
		ib.Sets = append(ib.Sets, s)
	}
	for stamp, l := range locs {
		if _, ok := users[stamp]; !ok {
			ib.Lone = append(ib.Lone, LoneFile{Path: l.path, Stamp: stamp, Missing: partner(usersPattern, stamp), Changed: l.mod})
		}
	}
	sort.Slice(ib.Sets, func(i, j int) bool {
		a, b := ib.Sets[i], ib.Sets[j]
		if !a.Date.Equal(b.Date) {
			return a.Date.After(b.Date)
		}
		return a.Stamp > b.Stamp
	})
	sort.Slice(ib.Lone, func(i, j int) bool { return ib.Lone[i].Path < ib.Lone[j].Path })
	return ib, nil
}

type found struct {
	path string
	mod  time.Time
	size int64
}

func stamps(dir, pattern string) (map[string]found, error) {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok || strings.Contains(suffix, "*") {
		return nil, fmt.Errorf("export pattern %q must hold exactly one *", pattern)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	out := map[string]found{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if ok, _ := filepath.Match(pattern, name); !ok {
			continue
		}
		stamp := name[len(prefix) : len(name)-len(suffix)]
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		out[stamp] = found{path: filepath.Join(dir, name), mod: info.ModTime(), size: info.Size()}
	}
	return out, nil
}
