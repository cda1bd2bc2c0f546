package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
)

// Files of the sandbox's data, under its data directory: a snapshot, and
// the changes made since it, one JSON line each.
const (
	StoreFile = "store.json"
	LogFile   = "store.log"
)

// record is one stored resource. A stored record is never changed: a
// change stores a new one, so a reader may keep one without a lock.
type record struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"` // externalId included
	Created    time.Time      `json:"created"`
	Modified   time.Time      `json:"modified"`
}

// logLine is one change of the store: a record stored, or (Deleted) gone.
type logLine struct {
	Type    string  `json:"type"`
	ID      string  `json:"id"`
	Record  *record `json:"record,omitempty"`
	Deleted bool    `json:"deleted,omitempty"`
}

// store holds the resources of every type in memory. Each change is
// appended to LogFile, which a background goroutine flushes and syncs at
// most every saveEvery (one fsync per request would make a large load
// crawl, and a sandbox that loses its last 200 ms to a power cut is fine);
// the snapshot is rewritten only when the sandbox opens and closes, so a
// change costs a line, not a rewrite of the whole store.
type store struct {
	dir string
	// unique names, by type, the attribute whose value is unique in any
	// case (Users: userName); an index keeps it.
	unique map[string]func(attrs map[string]any) string

	mu     sync.Mutex
	types  map[string]map[string]*record // "Users" → id → record
	index  map[string]map[string]string  // "Users" → unique value, lower-cased → id
	sorted map[string][]*record          // by type, in order of creation: rebuilt after a change
	log    *os.File
	buf    *bufio.Writer
	dirty  bool

	stop chan struct{}
	done chan error
}

const saveEvery = 200 * time.Millisecond

func openStore(dir string, unique map[string]func(map[string]any) string) (*store, error) {
	if err := artifact.MkdirAll(dir); err != nil {
		return nil, err
	}
	s := &store{dir: dir, unique: unique, types: map[string]map[string]*record{}, index: map[string]map[string]string{},
		sorted: map[string][]*record{}, stop: make(chan struct{}), done: make(chan error, 1)}
	b, err := os.ReadFile(filepath.Join(dir, StoreFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.types); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StoreFile), err)
		}
	}
	if err := s.replay(); err != nil {
		return nil, err
	}
	for typ, recs := range s.types {
		for _, r := range recs {
			s.indexPut(typ, r)
		}
	}
	// Start from a snapshot of everything and an empty log.
	if err := s.snapshot(); err != nil {
		return nil, err
	}
	if s.log, err = os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, artifact.FilePerm); err != nil {
		return nil, err
	}
	s.buf = bufio.NewWriterSize(s.log, 1<<20)
	go s.saver()
	return s, nil
}

// replay applies the log a run of the sandbox left behind. A last line
// cut short by a crash is the change that was being written: dropped.
func (s *store) replay() error {
	b, err := os.ReadFile(filepath.Join(s.dir, LogFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			if i == len(lines)-1 {
				return nil // torn last line
			}
			return fmt.Errorf("%s:%d: %w", filepath.Join(s.dir, LogFile), i+1, err)
		}
		if s.types[l.Type] == nil {
			s.types[l.Type] = map[string]*record{}
		}
		if l.Deleted {
			delete(s.types[l.Type], l.ID)
		} else {
			s.types[l.Type][l.ID] = l.Record
		}
	}
	return nil
}

// snapshot writes every record to StoreFile atomically.
func (s *store) snapshot() error {
	b, err := json.Marshal(s.types)
	if err != nil {
		return err
	}
	return artifact.Write(filepath.Join(s.dir, StoreFile), func(w io.Writer) error { _, err := w.Write(b); return err })
}

func (s *store) saver() {
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.flush(); err != nil {
				s.done <- err
				return
			}
		case <-s.stop:
			s.done <- s.closeFiles()
			return
		}
	}
}

// flush writes the log's buffer and syncs it, when there were changes.
func (s *store) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	s.dirty = false
	if err := s.buf.Flush(); err != nil {
		return err
	}
	return s.log.Sync()
}

// closeFiles writes the snapshot and empties the log.
func (s *store) closeFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := errors.Join(s.buf.Flush(), s.log.Sync())
	if err == nil {
		err = s.snapshot()
	}
	if err == nil {
		err = s.log.Truncate(0)
	}
	return errors.Join(err, s.log.Close())
}

// close saves what is left and stops the saver.
func (s *store) close() error {
	close(s.stop)
	return <-s.done
}

// all returns the records of typ ordered by creation, then id.
func (s *store) all(typ string) []*record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if out, ok := s.sorted[typ]; ok {
		return out
	}
	out := make([]*record, 0, len(s.types[typ]))
	for _, r := range s.types[typ] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	s.sorted[typ] = out
	return out
}

// get returns a copy of the record typ/id, or nil.
func (s *store) get(typ, id string) *record {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.types[typ][id]
	if !ok {
		return nil
	}
	c := *rec
	c.Attributes = deepCopy(rec.Attributes)
	return &c
}

// txn is what update's function may do to the records of one type.
type txn struct {
	s   *store
	typ string
}

// get is the stored record id (not to be changed), or nil.
func (t txn) get(id string) *record { return t.s.types[t.typ][id] }

// owner is the id of the record whose unique value is v (in any case).
func (t txn) owner(v string) (string, bool) {
	id, ok := t.s.index[t.typ][lower(v)]
	return id, ok
}

// put stores rec, in place of the record of its id if there is one.
func (t txn) put(rec *record) error {
	if old := t.s.types[t.typ][rec.ID]; old != nil {
		t.s.indexDel(t.typ, old)
	}
	delete(t.s.sorted, t.typ) // it holds the old record, or lacks the new one
	t.s.types[t.typ][rec.ID] = rec
	t.s.indexPut(t.typ, rec)
	return t.s.append(logLine{Type: t.typ, ID: rec.ID, Record: rec})
}

// del removes the record id.
func (t txn) del(id string) error {
	old := t.s.types[t.typ][id]
	if old == nil {
		return nil
	}
	t.s.indexDel(t.typ, old)
	delete(t.s.types[t.typ], id)
	delete(t.s.sorted, t.typ)
	return t.s.append(logLine{Type: t.typ, ID: id, Deleted: true})
}

func (s *store) append(l logLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	s.dirty = true
	_, err = s.buf.Write(append(b, '\n'))
	return err
}

func (s *store) indexPut(typ string, r *record) {
	if key := s.unique[typ]; key != nil {
		if s.index[typ] == nil {
			s.index[typ] = map[string]string{}
		}
		if v := key(r.Attributes); v != "" {
			s.index[typ][lower(v)] = r.ID
		}
	}
}

func (s *store) indexDel(typ string, r *record) {
	if key := s.unique[typ]; key != nil {
		if v := lower(key(r.Attributes)); s.index[typ][v] == r.ID {
			delete(s.index[typ], v)
		}
	}
}

// update runs fn on the records of typ under the store's lock.
func (s *store) update(typ string, fn func(t txn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.types[typ] == nil {
		s.types[typ] = map[string]*record{}
	}
	return fn(txn{s, typ})
}

// newID is a random resource id.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
