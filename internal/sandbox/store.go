package sandbox

import (
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

// StoreFile is the sandbox's data, under its data directory.
const StoreFile = "store.json"

// record is one stored resource.
type record struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"` // externalId included
	Created    time.Time      `json:"created"`
	Modified   time.Time      `json:"modified"`
}

// store holds the resources of every type in memory and keeps them in
// StoreFile. Writes are saved by a background goroutine at most every
// saveEvery and on close: one fsync per request would make a large load
// crawl, and a sandbox that loses its last 200 ms to a power cut is fine.
type store struct {
	path string

	mu    sync.Mutex
	types map[string]map[string]*record // "Users" → id → record
	dirty bool

	stop chan struct{}
	done chan error
}

const saveEvery = 200 * time.Millisecond

func openStore(dir string) (*store, error) {
	if err := artifact.MkdirAll(dir); err != nil {
		return nil, err
	}
	s := &store{path: filepath.Join(dir, StoreFile), types: map[string]map[string]*record{},
		stop: make(chan struct{}), done: make(chan error, 1)}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.types); err != nil {
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
	}
	go s.saver()
	return s, nil
}

func (s *store) saver() {
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.save(); err != nil {
				s.done <- err
				return
			}
		case <-s.stop:
			s.done <- s.save()
			return
		}
	}
}

// save writes the store atomically when it changed since the last save.
func (s *store) save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	b, err := json.MarshalIndent(s.types, "", " ")
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return artifact.Write(s.path, func(w io.Writer) error { _, err := w.Write(b); return err })
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

// update runs fn with the records of typ under the store's lock, and marks
// the store for saving when fn succeeds.
func (s *store) update(typ string, fn func(recs map[string]*record) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.types[typ] == nil {
		s.types[typ] = map[string]*record{}
	}
	if err := fn(s.types[typ]); err != nil {
		return err
	}
	s.dirty = true
	return nil
}

// newID is a random resource id.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
