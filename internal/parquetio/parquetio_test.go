package parquetio

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/klauspost/compress/s2"
	"github.com/xitongsys/parquet-go/compress"
	"github.com/xitongsys/parquet-go/parquet"
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
	for i := 0; i < 3*scanBatch/2; i++ {
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

// flatMarshal must write byte for byte what parquet-go's own marshaller writes.
func TestFlatMarshalWritesTheSameFile(t *testing.T) {
	dir := t.TempDir()
	var in []row
	for i := 0; i < 5000; i++ {
		in = append(in, row{Key: fmt.Sprintf("k%d", i%777), Active: i%2 == 0, Line: int64(i), Hash: int64(i) * -31, Note: "x"})
	}
	var users []schemas.User
	for i := 0; i < 3000; i++ {
		u := schemas.User{UserID: fmt.Sprint(i), UserName: fmt.Sprintf("u%d@x.com", i), Active: i%3 > 0, Admin: i%50 == 0, PhoneMobile: "+4479111" + fmt.Sprint(10000+i), Line: int64(i + 2)}
		u.RowHash = u.Hash()
		users = append(users, u)
	}
	sameBytes(t, filepath.Join(dir, "row"), in)
	sameBytes(t, filepath.Join(dir, "user"), users)
	type nested struct {
		L []string `parquet:"name=l, type=LIST, valuetype=BYTE_ARRAY"`
	}
	if _, ok := flatMarshal[nested](); ok {
		t.Error("a list field is not flat")
	}
	// A dictionary holds its values past Write's buffer (TestReadRowsAt
	// reads back wrong rows when it is taken for flat).
	if _, ok := flatMarshal[dictRow](); ok {
		t.Error("a dictionary-encoded column is not flat")
	}
}

func sameBytes[T any](t *testing.T, prefix string, rows []T) {
	t.Helper()
	if _, ok := flatMarshal[T](); !ok {
		t.Fatalf("%T is flat", rows[0])
	}
	if _, err := WriteSlice(prefix+".fast", rows); err != nil {
		t.Fatal(err)
	}
	stockMarshal = true
	defer func() { stockMarshal = false }()
	if _, err := WriteSlice(prefix+".stock", rows); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(prefix + ".fast")
	b, _ := os.ReadFile(prefix + ".stock")
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("%T: files differ: %d and %d bytes", rows[0], len(a), len(b))
	}
}

func TestWriteConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.parquet")
	n, err := WriteConcurrent(path, func(emit func(row) error) error {
		for i := 0; i < 2500; i++ { // two full batches and a partial one
			if err := emit(row{Key: fmt.Sprint(i), Line: int64(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n != 2500 {
		t.Fatalf("WriteConcurrent = %d, %v", n, err)
	}
	out, err := ReadAll[row](path)
	if err != nil || len(out) != 2500 {
		t.Fatalf("read %d rows, %v", len(out), err)
	}
	for i, r := range out {
		if r.Line != int64(i) {
			t.Fatalf("row %d has line %d: order lost", i, r.Line)
		}
	}

	// A producer that fails leaves no file and reports its error.
	failed := filepath.Join(dir, "f.parquet")
	boom := fmt.Errorf("boom")
	_, err = WriteConcurrent(failed, func(emit func(row) error) error {
		for i := 0; i < 1500; i++ {
			emit(row{Key: "k"})
		}
		return boom
	})
	if err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, serr := os.Stat(failed); !os.IsNotExist(serr) {
		t.Error("failed write left a file")
	}
}

func TestReadRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	var in []row
	for i := 0; i < BatchSize+100; i++ {
		in = append(in, row{Key: fmt.Sprintf("k%d", i), Active: i%2 == 0, Line: int64(i)})
	}
	if _, err := WriteSlice(path, in); err != nil {
		t.Fatal(err)
	}
	second := fmt.Sprintf("k%d", BatchSize+6) // in the second batch
	want := map[string]bool{"k3": true, second: true}
	var got []row
	n, err := ReadRows(path, []string{"key", "line"}, "key", func(k string) bool { return want[k] }, func(r *row) error {
		got = append(got, *r)
		return nil
	})
	if err != nil || n != int64(len(in)) {
		t.Fatalf("ReadRows = %d, %v", n, err)
	}
	if len(got) != 2 || got[0] != (row{Key: "k3", Line: 3}) || got[1] != (row{Key: second, Line: BatchSize + 6}) {
		t.Errorf("rows = %+v", got)
	}
	if _, err := ReadRows(path, []string{"line"}, "key", nil, func(*row) error { return nil }); err == nil {
		t.Error("a key column outside the columns read is accepted")
	}
}

// A column added to a layout after files were written (tagged
// parquetio:"added") reads as the zero value from an older file; any other
// column the file lacks is still an error.
func TestAddedColumnAbsentFromAnOlderFile(t *testing.T) {
	type older struct {
		Key  string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
		Line int64  `parquet:"name=line, type=INT64"`
	}
	type newer struct {
		Key  string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
		City string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8" parquetio:"added"`
		Line int64  `parquet:"name=line, type=INT64"`
	}
	type strict struct {
		Key  string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
		City string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8"`
	}
	path := filepath.Join(t.TempDir(), "old.parquet")
	if _, err := WriteSlice(path, []older{{"a", 2}, {"b", 3}}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll[newer](path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []newer{{"a", "", 2}, {"b", "", 3}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read %v, want %v", got, want)
	}
	var keys []string
	if _, err := ReadRows(path, []string{"key", "city"}, "key", func(string) bool { return true }, func(r *newer) error {
		keys = append(keys, r.Key+"/"+r.City)
		return nil
	}); err != nil || strings.Join(keys, ",") != "a/,b/" {
		t.Errorf("ReadRows: %v, %v", keys, err)
	}
	var at []string
	if _, err := ReadRowsAt(path, []string{"city", "key"}, []int64{1}, func(i int, r *newer) error {
		at = append(at, r.Key+"/"+r.City)
		return nil
	}); err != nil || strings.Join(at, ",") != "b/" {
		t.Errorf("ReadRowsAt: %v, %v", at, err)
	}
	if _, err := ReadAll[strict](path); err == nil || !strings.Contains(err.Error(), `no column "city"`) {
		t.Errorf("a column not marked added and absent: err = %v", err)
	}
	// A newer file has it, and it is read.
	path2 := filepath.Join(t.TempDir(), "new.parquet")
	if _, err := WriteSlice(path2, []newer{{"a", "Paris", 2}}); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadAll[newer](path2); err != nil || got[0].City != "Paris" {
		t.Errorf("newer file: %v, %v", got, err)
	}
}

// TestSnappyIsTheFastMode: parquet-go's Snappy pages are s2's default
// mode (snappy.go), and they read back through parquet-go's own decoder.
func TestSnappyIsTheFastMode(t *testing.T) {
	page := []byte(strings.Repeat("user-0001@example.com,London,GB,", 2000))
	got := compress.Compress(page, parquet.CompressionCodec_SNAPPY)
	if want := s2.EncodeSnappy(nil, page); !bytes.Equal(got, want) {
		t.Fatalf("Snappy pages are %d bytes, s2's default mode makes %d", len(got), len(want))
	}
	back, err := compress.Uncompress(got, parquet.CompressionCodec_SNAPPY)
	if err != nil || !bytes.Equal(back, page) {
		t.Fatalf("Uncompress = %d bytes, %v", len(back), err)
	}
}
