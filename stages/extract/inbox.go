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
	// Changed is the later of the two files' modification times.
	Changed time.Time
}

// Settled reports whether neither file changed within settle before now: a
// file still being written is not taken.
func (s ExportSet) Settled(now time.Time, settle time.Duration) bool {
	return !s.Changed.After(now.Add(-settle))
}

// FindSets lists the complete export sets in inbox, newest stamp first. The
// stamp is the part of a file name that the pattern's * matches.
func FindSets(inbox, usersPattern, locationsPattern string) ([]ExportSet, error) {
	users, err := stamps(inbox, usersPattern)
	if err != nil {
		return nil, err
	}
	locs, err := stamps(inbox, locationsPattern)
	if err != nil {
		return nil, err
	}
	var sets []ExportSet
	for stamp, u := range users {
		l, ok := locs[stamp]
		if !ok {
			continue
		}
		s := ExportSet{Stamp: stamp, Users: u.path, Locations: l.path, Changed: u.mod}
		if l.mod.After(s.Changed) {
			s.Changed = l.mod
		}
		sets = append(sets, s)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Stamp > sets[j].Stamp })
	return sets, nil
}

type found struct {
	path string
	mod  time.Time
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
		out[stamp] = found{path: filepath.Join(dir, name), mod: info.ModTime()}
	}
	return out, nil
}
