package parquetio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// BatchSize is how many rows a record batch holds when reading. Small
// enough that the batches in flight in a pipeline stay a few MB each.
const BatchSize = 16 * 1024

// Read streams the rows of the Parquet file at path into batches of T and
// calls fn for each batch. Only the struct fields whose parquet names are in
// columns are filled (all fields when columns is nil), so a caller that needs
// keys and hashes reads only those column chunks. The batch slice is reused
// between calls. Read checks that it delivered as many rows as the file's
// metadata says it holds.
func Read[T any](path string, columns []string, fn func(batch []T) error) (rows int64, err error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: BatchSize}, memory.DefaultAllocator)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	fields := structFields(reflect.TypeFor[T]())
	sc := pf.MetaData().Schema
	var colIdx []int
	var want []fieldInfo
	for _, f := range fields {
		if columns != nil && !slices.Contains(columns, f.name) {
			continue
		}
		i := sc.ColumnIndexByName(f.name)
		if i < 0 {
			return 0, fmt.Errorf("%s: no column %q", path, f.name)
		}
		colIdx = append(colIdx, i)
		want = append(want, f)
	}
	rr, err := fr.GetRecordReader(context.Background(), colIdx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer rr.Release()

	var batch []T
	for {
		rec, err := rr.Read()
		if rec == nil || errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, fmt.Errorf("%s: %w", path, err)
		}
		n := int(rec.NumRows())
		batch = resize(batch, n)
		if err := fill(batch, rec, want); err != nil {
			return rows, fmt.Errorf("%s: %w", path, err)
		}
		rows += int64(n)
		if err := fn(batch); err != nil {
			return rows, err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return rows, fmt.Errorf("%s: %w", path, err)
	}
	if want := pf.NumRows(); rows != want {
		return rows, fmt.Errorf("%s: read %d rows, file metadata says %d", path, rows, want)
	}
	return rows, nil
}

// ReadAll reads every row of path into memory.
func ReadAll[T any](path string) ([]T, error) {
	var out []T
	_, err := Read(path, nil, func(b []T) error { out = append(out, b...); return nil })
	return out, err
}

// NumRows returns the row count in the file's metadata.
func NumRows(path string) (int64, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, err
	}
	defer pf.Close()
	return pf.NumRows(), nil
}

type fieldInfo struct {
	name  string
	index int
	kind  reflect.Kind
}

// structFields lists T's fields that carry a parquet name tag.
func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tagName(f.Tag.Get("parquet"))
		if name == "" {
			continue
		}
		out = append(out, fieldInfo{name: name, index: i, kind: f.Type.Kind()})
	}
	return out
}

func tagName(tag string) string {
	for _, part := range strings.Split(tag, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "name") {
			return v
		}
	}
	return ""
}

func fill[T any](batch []T, rec arrow.Record, fields []fieldInfo) error {
	base := reflect.ValueOf(batch)
	for c, f := range fields {
		col := rec.Column(c)
		switch a := col.(type) {
		case *array.String:
			if f.kind != reflect.String {
				return fmt.Errorf("column %q: string into %v", f.name, f.kind)
			}
			for i := range batch {
				base.Index(i).Field(f.index).SetString(a.Value(i))
			}
		case *array.Boolean:
			if f.kind != reflect.Bool {
				return fmt.Errorf("column %q: bool into %v", f.name, f.kind)
			}
			for i := range batch {
				base.Index(i).Field(f.index).SetBool(a.Value(i))
			}
		case *array.Int64:
			if f.kind != reflect.Int64 {
				return fmt.Errorf("column %q: int64 into %v", f.name, f.kind)
			}
			for i := range batch {
				base.Index(i).Field(f.index).SetInt(a.Value(i))
			}
		case *array.Int32:
			if f.kind != reflect.Int32 && f.kind != reflect.Int {
				return fmt.Errorf("column %q: int32 into %v", f.name, f.kind)
			}
			for i := range batch {
				base.Index(i).Field(f.index).SetInt(int64(a.Value(i)))
			}
		default:
			return fmt.Errorf("column %q: unsupported Arrow type %s", f.name, col.DataType())
		}
	}
	return nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
