package diff

import (
	"github.com/zeebo/xxh3"
)

// keyIndex maps the keys of a snapshot (a million UserIDs) to dense
// numbers 0, 1, 2 … without a pointer in sight: the keys' bytes live in one
// arena and the table is open addressing over xxh3 of the key. A Go map of
// strings would be as fast to use, but the garbage collector would scan its
// million strings again at every cycle, which measured as the largest
// single cost of the diff's first pass.
type keyIndex struct {
	arena []byte
	ends  []uint32 // key i is arena[ends[i-1]:ends[i]]
	slots []int32  // -1 empty, else a key number
	mask  uint64
}

func newKeyIndex(capacity int) *keyIndex {
	size := 1024
	for size < 2*capacity {
		size *= 2
	}
	k := &keyIndex{slots: make([]int32, size), mask: uint64(size - 1), ends: make([]uint32, 0, capacity)}
	for i := range k.slots {
		k.slots[i] = -1
	}
	return k
}

func (k *keyIndex) key(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = k.ends[i-1]
	}
	return k.arena[start:k.ends[i]]
}

// find returns the number of key and the slot where it is or would go.
func (k *keyIndex) find(key string) (n int32, slot uint64) {
	for slot = xxh3.HashString(key) & k.mask; ; slot = (slot + 1) & k.mask {
		n = k.slots[slot]
		if n < 0 || string(k.key(n)) == key {
			return n, slot
		}
	}
}

// Get returns key's number, or false.
func (k *keyIndex) Get(key string) (int32, bool) {
	n, _ := k.find(key)
	return n, n >= 0
}

// Add gives key the next number and returns it, or returns its number and
// false when key is there already.
func (k *keyIndex) Add(key string) (int32, bool) {
	n, slot := k.find(key)
	if n >= 0 {
		return n, false
	}
	if 2*(len(k.ends)+1) > len(k.slots) {
		k.grow()
		_, slot = k.find(key)
	}
	k.arena = append(k.arena, key...)
	n = int32(len(k.ends))
	k.ends = append(k.ends, uint32(len(k.arena)))
	k.slots[slot] = n
	return n, true
}

// Len is the number of keys.
func (k *keyIndex) Len() int { return len(k.ends) }

// Key returns key number n as a string.
func (k *keyIndex) Key(n int32) string { return string(k.key(n)) }

func (k *keyIndex) grow() {
	old := k.slots
	k.slots = make([]int32, 2*len(old))
	k.mask = uint64(len(k.slots) - 1)
	for i := range k.slots {
		k.slots[i] = -1
	}
	for _, n := range old {
		if n >= 0 {
			_, slot := k.find(string(k.key(n)))
			k.slots[slot] = n
		}
	}
}
