package parquetio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/parquet/file"
)

// dictRow has dictionary-encoded columns: one of few values and one with a
// value per row, the worst case of a dictionary.
type dictRow struct {
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
	Town   string `parquet:"name=town, type=BYTE_ARRAY, convertedtype=UTF8, encoding=PLAIN_DICTIONARY"`
	Unique string `parquet:"name=unique, type=BYTE_ARRAY, convertedtype=UTF8, encoding=PLAIN_DICTIONARY"`
	Active bool   `parquet:"name=active, type=BOOLEAN"`
	Line   int64  `parquet:"name=line, type=INT64"`
}

// manyRowGroups writes n dictRows in row groups of about 64 KB.
func manyRowGroups(t *testing.T, n int) (string, []dictRow) {
	t.Helper()
	old := rowGroupSize
	rowGroupSize = 64 << 10
	t.Cleanup(func() { rowGroupSize = old })
	towns := []string{"London", "Paris", "", "New York"}
	var in []dictRow
	for i := 0; i < n; i++ {
		in = append(in, dictRow{Key: fmt.Sprintf("k%d", i), Town: towns[i%len(towns)], Unique: fmt.Sprintf("u-%07d", i*7919%n),
			Active: i%3 == 0, Line: int64(i) * 11})
	}
	path := filepath.Join(t.TempDir(), "d.parquet")
	if _, err := WriteSlice(path, in); err != nil {
		t.Fatal(err)
	}
	return path, in
}

func TestScanAcrossRowGroupsAndPages(t *testing.T) {
	path, in := manyRowGroups(t, 50_000)
	// The same rows as pqarrow reads them: the two readers agree.
	all, err := ReadAll[dictRow](path)
	if err != nil {
		t.Fatal(err)
	}
	var got []dictRow
	batches := 0
	n, err := Scan(path, []string{"line", "unique", "key", "active", "town"}, func(b *Batch) error {
		if b.Start != int64(len(got)) {
			return fmt.Errorf("batch starts at %d after %d rows", b.Start, len(got))
		}
		batches++
		for i := 0; i < b.Len; i++ {
			got = append(got, dictRow{Line: b.Int64s(0)[i], Unique: string(b.Bytes(1)[i]), Key: string(b.Bytes(2)[i]),
				Active: b.Bools(3)[i], Town: string(b.Bytes(4)[i])})
		}
		return nil
	})
	if err != nil || n != int64(len(in)) {
		t.Fatalf("Scan = %d, %v", n, err)
	}
	for i := range in {
		if got[i] != in[i] || all[i] != in[i] {
			t.Fatalf("row %d: Scan %+v, pqarrow %+v, written %+v", i, got[i], all[i], in[i])
		}
	}
	if rg := rowGroups(t, path); rg < 3 || batches <= rg {
		t.Errorf("%d row groups in %d batches: the test does not cross row groups", rg, batches)
	}
}

func TestReadRowsAt(t *testing.T) {
	path, in := manyRowGroups(t, 30_000)
	at := []int64{0, 1, 4095, 4096, 17_001, 29_999}
	got := map[int]dictRow{}
	n, err := ReadRowsAt(path, []string{"key", "unique", "line"}, at, func(i int, r *dictRow) error {
		got[i] = *r
		return nil
	})
	if err != nil || n != int64(len(in)) {
		t.Fatalf("ReadRowsAt = %d, %v", n, err)
	}
	for i, r := range at {
		want := dictRow{Key: in[r].Key, Unique: in[r].Unique, Line: in[r].Line} // only the columns asked
		if got[i] != want {
			t.Errorf("row %d = %+v, want %+v", r, got[i], want)
		}
	}
	if _, err := ReadRowsAt(path, []string{"key"}, []int64{5, 30_000}, func(int, *dictRow) error { return nil }); err == nil || !strings.Contains(err.Error(), "no row 30000") {
		t.Errorf("a row past the end: err = %v", err)
	}
	if _, err := ReadRowsAt(path, []string{"key"}, []int64{9, 5}, func(int, *dictRow) error { return nil }); err == nil {
		t.Error("row numbers out of order are accepted")
	}
	if _, err := ReadRowsAt(path, []string{"nope"}, nil, func(int, *dictRow) error { return nil }); err == nil {
		t.Error("a column without a field is accepted")
	}
}

func TestScanRefusesWhatItCannotRead(t *testing.T) {
	path, _ := manyRowGroups(t, 10)
	if _, err := Scan(path, []string{"key", "missing"}, func(*Batch) error { return nil }); err == nil || !strings.Contains(err.Error(), `no column "missing"`) {
		t.Errorf("missing column: err = %v", err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-20], 0o600)
	if _, err := Scan(path, []string{"key"}, func(*Batch) error { return nil }); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged file: err = %v, want one naming the file", err)
	}
}

func rowGroups(t *testing.T, path string) int {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return pf.NumRowGroups()
}
