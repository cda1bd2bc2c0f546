package parquetio

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// The same rows as ReadAll reads them: the two readers agree.
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
			t.Fatalf("row %d: Scan %+v, ReadAll %+v, written %+v", i, got[i], all[i], in[i])
		}
	}
	if rg := rowGroups(t, path); rg < 3 || batches <= rg {
		t.Errorf("%d row groups in %d batches: the test does not cross row groups", rg, batches)
	}
}

// plainRow is dictRow without a dictionary: the plain pages ReadRowsAt
// steps through without decoding.
type plainRow struct {
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
	Town   string `parquet:"name=town, type=BYTE_ARRAY, convertedtype=UTF8"`
	Unique string `parquet:"name=unique, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active bool   `parquet:"name=active, type=BOOLEAN"`
	Line   int64  `parquet:"name=line, type=INT64"`
}

// ReadRowsAt gives the rows ReadAll gives, on plain and dictionary-encoded
// files of several row groups, for rows on page and row-group boundaries,
// repeated row numbers included.
func TestReadRowsAt(t *testing.T) {
	path, in := manyRowGroups(t, 30_000)
	plainPath := filepath.Join(t.TempDir(), "p.parquet")
	var plain []plainRow
	for _, r := range in {
		plain = append(plain, plainRow(r))
	}
	if _, err := WriteSlice(plainPath, plain); err != nil {
		t.Fatal(err)
	}
	at := []int64{0, 1, 1, 2, 4095, 4096, 4097, 17_001, 17_001, 29_998, 29_999}
	for i := int64(5); i < 30_000; i += 53 {
		at = append(at, i)
	}
	slices.Sort(at)
	cols := []string{"key", "unique", "line", "active", "town"}
	check := func(name, path string) {
		all, err := ReadAll[dictRow](path)
		if err != nil {
			t.Fatal(err)
		}
		var got []dictRow
		n, err := ReadRowsAt(path, cols, at, func(i int, r *dictRow) error {
			if i != len(got) {
				return fmt.Errorf("row %d handed over as number %d", len(got), i)
			}
			got = append(got, *r)
			return nil
		})
		if err != nil || n != int64(len(in)) {
			t.Fatalf("%s: ReadRowsAt = %d, %v", name, n, err)
		}
		for i, r := range at {
			if got[i] != all[r] || got[i] != in[r] {
				t.Fatalf("%s: row %d = %+v, ReadAll %+v, written %+v", name, r, got[i], all[r], in[r])
			}
		}
		// Only the columns asked are filled.
		_, err = ReadRowsAt(path, []string{"line"}, at[:3], func(i int, r *dictRow) error {
			if *r != (dictRow{Line: in[at[i]].Line}) {
				return fmt.Errorf("row %d = %+v", at[i], *r)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	check("plain", plainPath)
	check("dictionary", path)
	if n := rowGroups(t, plainPath); n < 2 {
		t.Errorf("the plain file has %d row groups, too few to test crossing them", n)
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
	type wrongKind struct {
		Line string `parquet:"name=line, type=BYTE_ARRAY, convertedtype=UTF8"`
	}
	if _, err := ReadRowsAt(path, []string{"line"}, []int64{1}, func(int, *wrongKind) error { return nil }); err == nil || !strings.Contains(err.Error(), "cannot fill") {
		t.Errorf("an int64 column into a string field: err = %v", err)
	}
}

// A page cut short is an error naming the file, never a short row.
func TestReadRowsAtDamagedPage(t *testing.T) {
	path, _ := manyRowGroups(t, 5_000)
	b, _ := os.ReadFile(path)
	// Flip bytes in the middle of the data: snappy or the page walk fails.
	for i := len(b) / 3; i < len(b)/3+64; i++ {
		b[i] ^= 0xff
	}
	os.WriteFile(path, b, 0o600)
	at := []int64{0, 2500, 4999}
	if _, err := ReadRowsAt(path, []string{"key", "unique", "line", "town"}, at, func(int, *dictRow) error { return nil }); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged file: err = %v, want one naming the file", err)
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
