package transform

import (
	"container/heap"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// On an initial synchronization users.parquet is written in order of
// UserID (strings.Compare, the plan's order), so that the diff hands its
// million creates over as it reads them, in the plan's order, instead of
// holding them to sort them (Input.InOrder).
//
// Exports mostly come in that order already. So the users go straight to
// a first run while each comes after the one before; the few that do not
// wait in a buffer, which is sorted and spilled to a run of its own when
// it fills. Then the runs are merged into users.parquet, or, when every
// user came in order, the first run simply becomes it. Memory stays
// bounded whatever the order: a buffer of runRows users, and a batch or
// two of each run while they merge.

// runRows is how many users wait in memory before they are spilled: some
// 25 MB of users, and the raw rows they keep alive.
var runRows = 1 << 15

// keyOrder gathers users in any order into sorted runs.
type keyOrder struct {
	dir   string                   // where the runs are spilled
	first func(schemas.User) error // the first run: the users in order
	last  string                   // the UserID the first run ends with
	n     int64                    // users in the first run
	buf   []schemas.User           // users out of order, not spilled yet
	runs  []string                 // the spilled runs' files, each sorted
}

func (k *keyOrder) add(u schemas.User) error {
	if k.n == 0 || u.UserID > k.last {
		k.last = u.UserID
		k.n++
		return k.first(u)
	}
	k.buf = append(k.buf, u)
	if len(k.buf) == runRows {
		return k.spill()
	}
	return nil
}

func byKey(a, b schemas.User) int { return strings.Compare(a.UserID, b.UserID) }

// spill writes the buffer, sorted, as a run of its own.
func (k *keyOrder) spill() error {
	slices.SortFunc(k.buf, byKey)
	path := filepath.Join(k.dir, fmt.Sprintf("run-%d.parquet", len(k.runs)+1))
	if _, err := parquetio.WriteSlice(path, k.buf); err != nil {
		return err
	}
	k.runs = append(k.runs, path)
	k.buf = k.buf[:0]
	return nil
}

// writeInOrder writes users.parquet at path from fill, in order of
// UserID; fill hands every user to add. It returns how many it wrote.
func writeInOrder(path string, fill func(add func(schemas.User) error) error) (int64, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".sort.tmp-") // a killed transform leaves it for Recover
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	k := &keyOrder{dir: tmp}
	first := filepath.Join(tmp, "run-0.parquet")
	if _, err := parquetio.Write(first, func(emit func(schemas.User) error) error {
		k.first = emit
		return fill(k.add)
	}); err != nil {
		return 0, err
	}
	if len(k.runs) == 0 && len(k.buf) == 0 {
		return k.n, artifact.Rename(first, path)
	}
	slices.SortFunc(k.buf, byKey)
	return merge(path, append([]string{first}, k.runs...), k.buf)
}

// merge writes to path the users of the sorted runs in files and the
// sorted users of last, in order of UserID.
func merge(path string, files []string, last []schemas.User) (int64, error) {
	done := make(chan struct{})
	defer close(done)
	h := &runHeap{}
	for _, f := range files {
		r := &run{next: make(chan []schemas.User, 1), errc: make(chan error, 1)}
		go func() {
			_, err := parquetio.Read(f, nil, func(batch []schemas.User) error {
				select {
				case r.next <- slices.Clone(batch):
					return nil
				case <-done:
					return errStopped
				}
			})
			r.errc <- err
			close(r.next)
		}()
		h.runs = append(h.runs, r)
	}
	h.runs = append(h.runs, &run{batch: last})
	for i := len(h.runs) - 1; i >= 0; i-- {
		if ok, err := h.runs[i].advance(); err != nil {
			return 0, err
		} else if !ok {
			h.runs = slices.Delete(h.runs, i, i+1)
		}
	}
	heap.Init(h)
	return parquetio.Write(path, func(emit func(schemas.User) error) error {
		for h.Len() > 0 {
			r := h.runs[0]
			if err := emit(r.batch[r.at]); err != nil {
				return err
			}
			if ok, err := r.advance(); err != nil {
				return err
			} else if ok {
				heap.Fix(h, 0)
			} else {
				heap.Pop(h)
			}
		}
		return nil
	})
}

var errStopped = errors.New("the merge stopped")

// run is one sorted run as it is merged: its current batch and the user at.
type run struct {
	batch []schemas.User
	at    int
	next  chan []schemas.User // nil: batch is the whole run
	errc  chan error
	begun bool
}

// advance moves to the run's next user; false at its end.
func (r *run) advance() (bool, error) {
	if r.begun {
		r.at++
	}
	r.begun = true
	for r.at >= len(r.batch) {
		if r.next == nil {
			return false, nil
		}
		b, ok := <-r.next
		if !ok {
			return false, <-r.errc
		}
		r.batch, r.at = b, 0
	}
	return true, nil
}

// runHeap orders the runs by their current user's UserID.
type runHeap struct{ runs []*run }

func (h *runHeap) Len() int { return len(h.runs) }
func (h *runHeap) Less(i, j int) bool {
	a, b := h.runs[i], h.runs[j]
	return a.batch[a.at].UserID < b.batch[b.at].UserID
}
func (h *runHeap) Swap(i, j int) { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap) Push(x any)    { h.runs = append(h.runs, x.(*run)) }
func (h *runHeap) Pop() any {
	r := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return r
}
