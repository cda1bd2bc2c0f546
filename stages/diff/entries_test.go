package diff

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

func compareKeys(a, b entry) int {
	switch {
	case less(a.key, b.key):
		return -1
	case less(b.key, a.key):
		return 1
	}
	return 0
}

// The buckets' radix sort gives the order of a plain comparison sort: on
// uniform keys, on keys crowded into one bucket (it overflows its room), and
// on keys that share their high half.
func TestBucketsSortByKey(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		key  func(i int) xxh3.Uint128
	}{
		{"uniform", func(i int) xxh3.Uint128 { return xxh3.Uint128{Hi: r.Uint64(), Lo: r.Uint64()} }},
		{"one bucket", func(i int) xxh3.Uint128 { return xxh3.Uint128{Hi: 0x42<<56 | r.Uint64()>>8, Lo: r.Uint64()} }},
		{"shared high half", func(i int) xxh3.Uint128 { return xxh3.Uint128{Hi: uint64(i % 7), Lo: r.Uint64()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 50_000
			bs := newBuckets(n)
			var want []entry
			for i := 0; i < n; i++ {
				e := entry{key: tc.key(i), row: int32(i)}
				bs.add(e)
				want = append(want, e)
			}
			slices.SortStableFunc(want, compareKeys)
			got := bs.sorted()
			if len(got) != n {
				t.Fatalf("%d entries, want %d", len(got), n)
			}
			for i := range want {
				if got[i].key != want[i].key {
					t.Fatalf("entry %d: key %v, want %v", i, got[i].key, want[i].key)
				}
			}
		})
	}
}

// A UserID twice is named with both rows, on either side.
func TestDuplicateKeyNamesBothRows(t *testing.T) {
	w := world{users: []schemas.User{user("1"), user("2"), user("3"), user("2")}, base: []schemas.User{applied(user("1"))}}
	_, err := Compare(w.input(t))
	if err == nil || !strings.Contains(err.Error(), "UserID 2 twice in the desired state (rows 1 and 3)") {
		t.Errorf("err = %v", err)
	}
	in := world{users: []schemas.User{user("1")}, base: []schemas.User{applied(user("1")), applied(user("1"))}}.input(t)
	_, err = Compare(in)
	if err == nil || !strings.Contains(err.Error(), "UserID 1 twice in the baseline") || !strings.Contains(err.Error(), filepath.Base(in.BaselineUsers)) {
		t.Errorf("err = %v", err)
	}
}
