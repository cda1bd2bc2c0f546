package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
)

// Outcomes of an operation, as the journal and results.csv record them.
const (
	OutcomeDone      = "done"      // the server did it
	OutcomeAdopted   = "adopted"   // a create found the resource already there and took it over (rule 11)
	OutcomeUnchanged = "unchanged" // nothing to send: the change has no SCIM attribute in this profile
	OutcomeGone      = "gone"      // a delete found nothing to delete
	OutcomeFailed    = "failed"    // the server refused it, or never answered; retried by the next run
)

// done reports whether an operation with this outcome needs no resending.
func done(outcome string) bool { return outcome != OutcomeFailed }

// Entry is one line of load/journal.jsonl: one operation as it finished,
// or one request that carried out many (a /Bulk request, a membership
// PATCH). It is the crash-safe record a resume starts from, kept compact:
// what people read is results.csv, which joins it to the plan.
type Entry struct {
	// Op is the operation's stable id across attempts: entity:kind:key
	// (opID). A /Bulk request's is "bulk", a membership chunk's
	// membership:kind:group:first.
	Op      string    `json:"op"`
	Outcome string    `json:"outcome"`
	SCIMID  string    `json:"scim_id,omitempty"`
	Tries   int       `json:"tries,omitempty"`  // requests sent for it, retries included
	Status  int       `json:"status,omitempty"` // HTTP status of the last answer; 0 for none
	Error   string    `json:"error,omitempty"`
	Load    int       `json:"load_attempt"` // the attempt of the load stage that sent it
	At      time.Time `json:"at"`
	// A /Bulk request: the creates it carried out, [UserID, SCIM id].
	Created [][2]string `json:"created,omitempty"`
	// A membership chunk (see chunk).
	Chunk *Chunk `json:"chunk,omitempty"`
}

// Chunk is the members one PATCH added to a group or removed from it: the
// users of one section of the plan (the users of one op, sorted by key)
// from First to Last that the group's decision names, except Skipped,
// which were not sent (no SCIM id: their create failed). Count is how
// many were sent.
type Chunk struct {
	Group   string   `json:"group"`
	Kind    string   `json:"kind"`    // kindAdd or kindRemove
	Section string   `json:"section"` // the op of its users' changes
	Name    string   `json:"name"`    // the group's displayName, for people
	First   string   `json:"first"`
	Last    string   `json:"last"`
	Count   int      `json:"count"`
	Skipped []string `json:"skipped,omitempty"`
}

// covers reports whether user (of section) is among the members c sent.
func (c *Chunk) covers(section, user string) bool {
	return c.Section == section && c.First <= user && user <= c.Last && !slices.Contains(c.Skipped, user)
}

// journal appends entries to journal.jsonl from any goroutine. A writer
// goroutine batches what arrives while it syncs, so a load pays one fsync
// per batch instead of one per operation, and an entry is on disk within a
// few milliseconds of its operation ending. Losing the last few entries to
// a crash is safe: those operations are sent again, and every operation is
// idempotent or adopts what it finds (see send.go).
type journal struct {
	f      io.WriteCloser
	in     chan Entry
	done   chan error
	broken atomic.Pointer[error] // the first write that failed: the loader stops on it
}

func openJournal(path string, carried []Entry) (*journal, error) {
	// The entries carried over from earlier attempts are written first, in
	// one atomic write: this attempt's journal alone tells the whole story.
	if err := artifact.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, e := range carried {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, artifact.FilePerm)
	if err != nil {
		return nil, err
	}
	return startJournal(f), nil
}

// syncer is a file that can be flushed to disk.
type syncer interface{ Sync() error }

func startJournal(f io.WriteCloser) *journal {
	j := &journal{f: f, in: make(chan Entry, 1024), done: make(chan error, 1)}
	go j.run()
	return j
}

// err is the first write error of the journal, nil while it is whole. An
// operation it cannot record must not be sent: a resume would not know
// it was done.
func (j *journal) err() error {
	if p := j.broken.Load(); p != nil {
		return *p
	}
	return nil
}

func (j *journal) run() {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var err error
	for e := range j.in {
		buf.Reset()
		err = errors.Join(err, enc.Encode(e))
		for more := true; more; { // take whatever else is waiting
			select {
			case e, ok := <-j.in:
				if ok {
					err = errors.Join(err, enc.Encode(e))
				}
				more = ok
			default:
				more = false
			}
		}
		if err == nil {
			if _, err = j.f.Write(buf.Bytes()); err == nil {
				if s, ok := j.f.(syncer); ok {
					err = s.Sync()
				}
			}
			if err != nil && j.broken.Load() == nil {
				err = fmt.Errorf("%s: %w", JournalFile, err)
				first := err // a copy: err goes on changing in this loop
				j.broken.Store(&first)
			}
		}
	}
	j.done <- errors.Join(err, j.f.Close())
}

// add records e; safe for concurrent use.
func (j *journal) add(e Entry) { j.in <- e }

// close writes what is left and reports the first write error.
func (j *journal) close() error {
	close(j.in)
	return <-j.done
}

// readJournal reads the entries of a journal. A last line cut short by a
// crash is ignored (its operation will be sent again); damage anywhere
// else is an error naming the line.
func readJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var bad error
	for line := 1; sc.Scan(); line++ {
		if bad != nil {
			return nil, bad // a damaged line that was not the last
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
