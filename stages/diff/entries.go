package diff

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

// entry is what pass 1 keeps of one row of a snapshot. It holds no pointer,
// so a million of them cost the garbage collector nothing, and the UserID
// only as its 128-bit xxh3: two different UserIDs share one with odds of
// about 1 in 10^27 at a million users, far below a disk's undetected error
// rate. Pass 2 reads the UserIDs of every row it reports and checks that
// the two sides agree.
type entry struct {
	key   xxh3.Uint128 // of the UserID
	hash  int64        // row_hash
	row   int32        // row number in its file
	flags uint8
}

const (
	active uint8 = 1 << iota
	deleted
	held
	admin
	outOfScope
)

func (e *entry) is(f uint8) bool { return e.flags&f != 0 }

func less(a, b xxh3.Uint128) bool { return a.Hi < b.Hi || a.Hi == b.Hi && a.Lo < b.Lo }

// baseline is pass 1's reading of the applied state.
type baseline struct {
	entries []entry
	owed    map[int32][]string // by row: access a load failed to grant
	granted []string           // by row, only when new locations may be granted
}

// readBaseline reads the keys, row hashes and owed access of the applied
// state (and what it granted, when grantNew), sorted by key.
func readBaseline(path string, grantNew bool) (*baseline, error) {
	n, err := parquetio.NumRows(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := &baseline{owed: map[int32][]string{}}
	es := newBuckets(n)
	cols := []string{"user_id", "row_hash", "owed"}
	if grantNew {
		cols = append(cols, "granted")
		b.granted = make([]string, 0, n)
	}
	intern := map[string]string{} // most users have one of a few sets of locations
	_, err = parquetio.Scan(path, cols, func(bt *parquetio.Batch) error {
		ids, hashes, owed := bt.Bytes(0), bt.Int64s(1), bt.Bytes(2)
		for i := range ids {
			row := int32(bt.Start) + int32(i)
			if len(ids[i]) == 0 {
				return fmt.Errorf("%s: row %d: a user without UserID in the baseline", path, row)
			}
			es.add(entry{key: xxh3.Hash128(ids[i]), hash: hashes[i], row: row})
			if len(owed[i]) > 0 {
				b.owed[row] = schemas.SplitIDs(string(owed[i]))
			}
		}
		if grantNew {
			for _, g := range bt.Bytes(3) {
				s, ok := intern[string(g)]
				if !ok {
					s = string(g)
					intern[s] = s
				}
				b.granted = append(b.granted, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.entries = es.sorted()
	return b, dupKeys(path, "baseline", b.entries)
}

// readDesired reads the keys, row hashes and flags of transform's users,
// sorted by key, and says whether the file holds them in order of UserID
// (strictly: no UserID twice), as transform writes it.
func readDesired(path string) (_ []entry, inOrder bool, err error) {
	n, err := parquetio.NumRows(path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	es := newBuckets(n)
	var prev []byte
	inOrder = true
	cols := []string{"user_id", "row_hash", "active", "deleted", "held", "admin", "home_admin"}
	scoped, err := parquetio.HasColumn(path, "out_of_scope") // a desired state of an earlier version has none
	if err != nil {
		return nil, false, err
	}
	if scoped {
		cols = append(cols, "out_of_scope")
	}
	_, err = parquetio.Scan(path, cols, func(b *parquetio.Batch) error {
		ids, hashes, act, del, hold, adm, home := b.Bytes(0), b.Int64s(1), b.Bools(2), b.Bools(3), b.Bools(4), b.Bools(5), b.Bytes(6)
		var out []bool
		if scoped {
			out = b.Bools(7)
		}
		for i := range ids {
			row := int32(b.Start) + int32(i)
			if len(ids[i]) == 0 {
				return fmt.Errorf("%s: row %d: a user without UserID in the desired state", path, row)
			}
			if inOrder && row > 0 && bytes.Compare(prev, ids[i]) >= 0 {
				inOrder = false
			}
			prev = append(prev[:0], ids[i]...)
			e := entry{key: xxh3.Hash128(ids[i]), hash: hashes[i], row: row}
			if act[i] {
				e.flags |= active
			}
			if del[i] {
				e.flags |= deleted
			}
			if hold[i] {
				e.flags |= held
			}
			if adm[i] || len(home[i]) > 0 {
				e.flags |= admin
			}
			if out != nil && out[i] {
				e.flags |= outOfScope
			}
			es.add(e)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	out := es.sorted()
	return out, inOrder, dupKeys(path, "desired state", out)
}

// dupKeys fails on a key that sorted entries hold twice: a defect in a
// snapshot fails the stage, it never becomes deletions.
func dupKeys(path, what string, es []entry) error {
	for i := 1; i < len(es); i++ {
		if es[i].key == es[i-1].key {
			rows := []int64{int64(min(es[i].row, es[i-1].row)), int64(max(es[i].row, es[i-1].row))}
			var ids []string
			if _, err := parquetio.ReadRowsAt(path, []string{"user_id"}, rows, func(_ int, u *schemas.User) error {
				ids = append(ids, u.UserID)
				return nil
			}); err != nil {
				return err
			}
			if len(ids) == 2 && ids[0] == ids[1] {
				return fmt.Errorf("%s: UserID %s twice in the %s (rows %d and %d)", path, ids[0], what, rows[0], rows[1])
			}
			return fmt.Errorf("%s: UserIDs %s share a 128-bit hash (rows %d and %d); please report this", path, strings.Join(ids, " and "), rows[0], rows[1])
		}
	}
	return nil
}

// buckets gathers entries by the top byte of their key as they are read,
// so that sorting them takes no second array of a million entries: each
// bucket is sorted in place and the buckets are moved down into one slice.
// Keys are uniform, so each bucket gets n/256 entries give or take a few
// dozen; one that overflows its room grows on its own (append), and then
// the result is a new slice.
type buckets struct {
	all  []entry
	room int
	b    [256][]entry
}

func newBuckets(n int64) *buckets {
	room := int(n/256 + n/2560 + 64)
	bs := &buckets{all: make([]entry, 256*room), room: room}
	for k := range bs.b {
		bs.b[k] = bs.all[k*room : k*room : (k+1)*room]
	}
	return bs
}

func (bs *buckets) add(e entry) {
	k := e.key.Hi >> 56
	bs.b[k] = append(bs.b[k], e)
}

// sorted returns the entries in order of key.
func (bs *buckets) sorted() []entry {
	out, total := bs.all[:0], 0
	for k := range bs.b {
		total += len(bs.b[k])
		if len(bs.b[k]) > bs.room {
			out = make([]entry, 0, total) // an overflow: moving down could overwrite
		}
	}
	if cap(out) < total {
		out = make([]entry, 0, total)
	}
	tmp := make([]entry, 0, bs.room)
	for k := range bs.b {
		tmp = radixSort(bs.b[k], tmp)
		out = append(out, bs.b[k]...) // copy is memmove: safe where it overlaps
	}
	return out
}

// radixSort sorts es by key with tmp as scratch (returned, grown if need
// be): a least-significant-digit radix sort on the 56 low bits of key.Hi,
// a byte a pass (the top byte is es's bucket), then the rare runs of one
// Hi put in order of Lo. A bucket fits in the CPU cache, so this is several
// times faster than a comparison sort.
func radixSort(es, tmp []entry) []entry {
	if cap(tmp) < len(es) {
		tmp = make([]entry, len(es))
	}
	src, dst := es, tmp[:len(es)]
	var count [256]int
	for shift := uint(0); shift < 56; shift += 8 {
		clear(count[:])
		for i := range src {
			count[byte(src[i].key.Hi>>shift)]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i := range src {
			d := byte(src[i].key.Hi >> shift)
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	copy(es, src) // seven passes: the result is in tmp
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].key.Hi == es[j-1].key.Hi && es[j].key.Lo < es[j-1].key.Lo; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	return tmp
}
