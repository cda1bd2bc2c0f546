package arena

import (
	"strings"
	"testing"
	"unsafe"
)

func TestStringsAreCopies(t *testing.T) {
	var a Strings
	src := []byte("ada@example.com")
	s := a.Bytes(src)
	src[0] = 'X'
	if s != "ada@example.com" {
		t.Fatalf("the copy changed with its source: %q", s)
	}
	line := "1,bob@example.com,Bob"
	key := a.String(line[2:17])
	if key != "bob@example.com" || unsafe.StringData(key) == unsafe.StringData(line[2:17]) {
		t.Fatalf("String(%q) = %q, at the same memory: %v", line[2:17], key, unsafe.StringData(key) == unsafe.StringData(line[2:17]))
	}
	if a.String("") != "" || a.Bytes(nil) != "" {
		t.Error("empty strings")
	}
	// Past a chunk: a string larger than a chunk, and many that fill several.
	big := strings.Repeat("x", 3*chunk)
	if got := a.String(big); got != big {
		t.Error("a string larger than a chunk")
	}
	var kept []string
	for i := 0; i < 20000; i++ {
		kept = append(kept, a.String(strings.Repeat(string(rune('a'+i%26)), 1+i%13)))
	}
	for i, s := range kept {
		if want := strings.Repeat(string(rune('a'+i%26)), 1+i%13); s != want {
			t.Fatalf("string %d = %q, want %q", i, s, want)
		}
	}
}
