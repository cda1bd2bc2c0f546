package pipeline

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/stages/extract"
)

// Export is the export set a new run takes, with the size and modification
// time of its files when it was taken: extract reads each file once (its
// copy, sha256 and decoding in one pass) and refuses one that differs from
// them afterwards, still being written.
type Export struct {
	Set extract.ExportSet
}

// Inbox rules. A set is known by its stamp, read as a date: the newest set
// dated after the last one taken is next, whatever its content (a revert
// in Condeco, A → B → A, is a new day). A set dated in the future, or no
// later than the last one taken, is never taken: an older export must not
// undo a newer one. Each set not taken is reported with its reason.
const (
	// futureSlack: a stamp is in the future when it is past now by more
	// than this (an exporting system in another time zone is ahead by
	// hours, not days).
	futureSlack = 24 * time.Hour
	// incompleteGrace: a file whose partner has not come this long after
	// exports.settle is reported as an incomplete set.
	incompleteGrace = 10 * time.Minute
)

// InboxNote is one file or set of the inbox that is not taken, and why.
type InboxNote struct {
	Stamp string
	Files []string
	Why   string
	// Warn: a person should look (an incomplete set, a set never taken);
	// otherwise the note is for information (taken already, still being
	// written).
	Warn bool
}

// InboxState is what the inbox holds for the next run: the set to take
// (nil for none) and a note for everything else.
type InboxState struct {
	Next  *extract.ExportSet
	Notes []InboxNote
	// Latest is the newest set a run has taken ("" for none), and Run
	// that run.
	Latest, LatestRun string
	// Changed is when the newest set in the inbox last changed.
	Changed time.Time
}

// ReadInbox reads the inbox against the runs in the data directory.
func ReadInbox(env Env) (*InboxState, error) {
	cfg := env.Config
	now := env.Now()
	ib, err := extract.ScanInbox(cfg.Inbox, cfg.Exports.Users, cfg.Exports.Locations)
	if err != nil {
		return nil, err
	}
	taken, err := takenSets(cfg)
	if err != nil {
		return nil, err
	}
	st := &InboxState{}
	var latest time.Time
	for stamp, ts := range taken {
		d, ok := extract.ParseStamp(stamp)
		if !ok || d.After(now.Add(futureSlack)) || !d.After(latest) {
			continue
		}
		for _, t := range ts {
			if t.ok {
				latest, st.Latest, st.LatestRun = d, stamp, t.run
			}
		}
	}
	for _, f := range ib.Lone {
		n := InboxNote{Stamp: f.Stamp, Files: []string{filepath.Base(f.Path)}}
		if now.Sub(f.Changed) > max(cfg.Exports.Settle, extract.MinSettle)+incompleteGrace {
			n.Why, n.Warn = fmt.Sprintf("incomplete export set: %s has no %s", filepath.Base(f.Path), f.Missing), true
		} else {
			n.Why = fmt.Sprintf("waiting for %s to come with %s", f.Missing, filepath.Base(f.Path))
		}
		st.Notes = append(st.Notes, n)
	}
	for i, s := range ib.Sets {
		if i == 0 {
			st.Changed = s.Changed
		}
		n := InboxNote{Stamp: s.Stamp, Files: []string{filepath.Base(s.Users), filepath.Base(s.Locations)}, Warn: true}
		switch {
		case s.Date.IsZero():
			n.Why = fmt.Sprintf("set %s is never taken: its stamp is not a date (such as 20261123, 2026-11-23 or 20261123T020000)", s.Stamp)
		case s.Date.After(now.Add(futureSlack)):
			n.Why = fmt.Sprintf("set %s is not taken: its stamp is in the future (is the exporting system's clock right?)", s.Stamp)
		case anyOK(taken[s.Stamp]) != "":
			n.Why, n.Warn = fmt.Sprintf("set %s was taken by run %s", s.Stamp, anyOK(taken[s.Stamp])), false
		case !latest.IsZero() && !s.Date.After(latest):
			n.Why = fmt.Sprintf("set %s is never taken: it is older than set %s, taken by run %s (an older export must not undo a newer one)",
				s.Stamp, st.Latest, st.LatestRun)
		case st.Next != nil:
			n.Why = fmt.Sprintf("set %s is skipped: set %s is newer", s.Stamp, st.Next.Stamp)
		default:
			st.Next = &ib.Sets[i]
			continue
		}
		st.Notes = append(st.Notes, n)
	}
	return st, nil
}

// NextExport returns the export set the next run takes (see ReadInbox),
// once settled, and logs what else the inbox holds.
func NextExport(env Env) (*Export, error) {
	cfg := env.Config
	st, err := ReadInbox(env)
	if err != nil {
		return nil, err
	}
	for _, n := range st.Notes {
		ev := env.Log.Debug()
		if n.Warn {
			ev = env.Log.Warn()
		}
		ev.Strs("files", n.Files).Msg(n.Why)
	}
	set := st.Next
	if set == nil {
		why := fmt.Sprintf("no complete export set (%s with %s) in %s", cfg.Exports.Users, cfg.Exports.Locations, cfg.Inbox)
		if st.Latest != "" {
			why = fmt.Sprintf("no new export since %s (set %s was taken by run %s)", st.Changed.UTC().Format(time.RFC3339), st.Latest, st.LatestRun)
		}
		return nil, &NoNewExportError{why}
	}
	settle := max(cfg.Exports.Settle, extract.MinSettle)
	stillWritten := &NoNewExportError{fmt.Sprintf(
		"export set %s changed at %s, within exports.settle (%s): still being written, not taken yet",
		set.Stamp, set.Changed.UTC().Format(time.RFC3339), settle)}
	if !set.Settled(env.Now(), cfg.Exports.Settle) {
		return nil, stillWritten
	}
	return &Export{Set: *set}, nil
}

// takenSet is a run's extract of an export set.
type takenSet struct {
	run string
	ok  bool // the extract ended ok
}

// takenSets lists, by stamp, the runs that extracted each export set. A
// provision run takes no set: the next daily run takes it as if it had
// not been.
func takenSets(cfg *config.Config) (map[string][]takenSet, error) {
	ids, err := RunIDs(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string][]takenSet{}
	for _, id := range ids {
		run, err := OpenRun(cfg, id)
		if err != nil || run.Manifest.Export == "" || run.Manifest.Provision != "" {
			continue
		}
		m, err := ReadManifest(run.Dir, StageExtract)
		if err != nil {
			continue // never extracted: killed before, or a run being made
		}
		out[run.Manifest.Export] = append(out[run.Manifest.Export], takenSet{run: id, ok: m.Status == StatusOK})
	}
	return out, nil
}

// anyOK is the first run whose extract of a set ended ok, "" for none.
func anyOK(ts []takenSet) string {
	for _, t := range ts {
		if t.ok {
			return t.run
		}
	}
	return ""
}
