package diff

import (
	"fmt"
	"testing"
)

func TestKeyIndex(t *testing.T) {
	k := newKeyIndex(10) // grows past its first size
	for i := 0; i < 5000; i++ {
		n, added := k.Add(fmt.Sprint("key", i))
		if !added || n != int32(i) {
			t.Fatalf("Add(key%d) = %d, %v", i, n, added)
		}
	}
	if n, added := k.Add("key42"); added || n != 42 {
		t.Errorf("Add of a present key = %d, %v", n, added)
	}
	for i := 0; i < 5000; i++ {
		if n, ok := k.Get(fmt.Sprint("key", i)); !ok || n != int32(i) || k.Key(n) != fmt.Sprint("key", i) {
			t.Fatalf("Get(key%d) = %d, %v", i, n, ok)
		}
	}
	for _, absent := range []string{"", "key", "key5000", "key-1", "KEY1"} {
		if _, ok := k.Get(absent); ok {
			t.Errorf("Get(%q) found it", absent)
		}
	}
	if k.Len() != 5000 {
		t.Errorf("Len = %d", k.Len())
	}
}
