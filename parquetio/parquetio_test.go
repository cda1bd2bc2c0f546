package parquetio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type row struct {
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active bool   `parquet:"name=active, type=BOOLEAN"`
	Line   int64  `parquet:"name=line, type=INT64"`
	Hash   int64  `parquet:"name=hash, type=INT64"`
	Note   string // no tag: not stored
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	var in []row
	for i := 0; i < 3*BatchSize/2; i++ {
		in = append(in, row{Key: fmt.Sprintf("k%06d", i), Active: i%3 == 0, Line: int64(i + 2), Hash: -int64(i) * 7919})
	}
	n, err := WriteSlice(path, in)
	if err != nil || n != int64(len(in)) {
		t.Fatalf("WriteSlice = %d, %v", n, err)
	}
	out, err := ReadAll[row](path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d rows, wrote %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("row %d = %+v, want %+v", i, out[i], in[i])
		}
	}
	// Reading a subset of columns leaves the others zero.
	var keys []row
	if _, err := Read(path, []string{"key", "hash"}, func(b []row) error { keys = append(keys, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if keys[3].Key != "k000003" || keys[3].Hash != in[3].Hash || keys[3].Line != 0 || keys[3].Active {
		t.Errorf("projected row = %+v", keys[3])
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.parquet")
	if _, err := WriteSlice[row](path, nil); err != nil {
		t.Fatal(err)
	}
	out, err := ReadAll[row](path)
	if err != nil || len(out) != 0 {
		t.Fatalf("ReadAll = %d rows, %v", len(out), err)
	}
}

func TestDamagedFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.parquet")
	if _, err := WriteSlice(path, []row{{Key: "a"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)/2], 0o600)
	_, err := ReadAll[row](path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("truncated file: err = %v, want an error naming the file", err)
	}
}
