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
	var batch []T
	return scan[T](path, columns, func(rec arrow.Record, fields []fieldInfo) error {
		batch = resize(batch, int(rec.NumRows()))
		if err := fill(batch, rec, fields); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fn(batch)
	})
}

// ReadRows is Read for the rows whose keyColumn passes keep, one at a
// time. Arrow still decodes every row, but only the kept ones are filled,
// which is most of the cost when few rows of a large file are wanted.
// keyColumn must be among columns (or columns nil: all). The rows' strings are copies, safe to
// keep: a string of Read's rows points into its batch's Arrow buffer and
// keeps the whole buffer alive.
func ReadRows[T any](path string, columns []string, keyColumn string, keep func(key string) bool, fn func(row *T) error) (rows int64, err error) {
	if columns != nil && !slices.Contains(columns, keyColumn) {
		return 0, fmt.Errorf("%s: key column %q is not among the columns read", path, keyColumn)
	}
	var one [1]T
	return scan[T](path, columns, func(rec arrow.Record, fields []fieldInfo) error {
		var keys *array.String
		for c, f := range fields {
			if f.name == keyColumn {
				k, ok := rec.Column(c).(*array.String)
				if !ok {
					return fmt.Errorf("key column %q is not a string column", keyColumn)
				}
				keys = k
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if !keep(keys.Value(i)) {
				continue
			}
			clear(one[:])
			if err := fillRow(&one[0], rec, i, fields); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := fn(&one[0]); err != nil {
				return err
			}
		}
		return nil
	})
}

// scan opens path, projects the columns T's fields name (those in columns,
// or all when nil), and hands each record batch to fn, checking at the end
// that as many rows came as the file's metadata says.
func scan[T any](path string, columns []string, fn func(rec arrow.Record, fields []fieldInfo) error) (rows int64, err error) {
	var safe guard
	defer safe.recover(path, &err)
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: BatchSize}, memory.DefaultAllocator)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	sc := pf.MetaData().Schema
	var colIdx []int
	var want []fieldInfo
	for _, f := range structFields(reflect.TypeFor[T]()) {
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
	for {
		rec, err := rr.Read()
		if rec == nil || errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, fmt.Errorf("%s: %w", path, err)
		}
		rows += rec.NumRows()
		if err := safe.call(func() error { return fn(rec, want) }); err != nil {
			return rows, err // the caller's own error, or one that names path already
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

// kindOK reports whether an Arrow column of col's type can fill a field of kind k.
func kindOK(col arrow.Array, k reflect.Kind) bool {
	switch col.(type) {
	case *array.String:
		return k == reflect.String
	case *array.Boolean:
		return k == reflect.Bool
	case *array.Int64:
		return k == reflect.Int64
	case *array.Int32:
		return k == reflect.Int32 || k == reflect.Int64
	}
	return false
}

func fill[T any](batch []T, rec arrow.Record, fields []fieldInfo) error {
	base := reflect.ValueOf(batch)
	for c, f := range fields {
		col := rec.Column(c)
		if !kindOK(col, f.kind) {
			return fmt.Errorf("column %q: Arrow type %s cannot fill a %v field", f.name, col.DataType(), f.kind)
		}
		switch a := col.(type) {
		case *array.String:
			for i := range batch {
				base.Index(i).Field(f.index).SetString(a.Value(i))
			}
		case *array.Boolean:
			for i := range batch {
				base.Index(i).Field(f.index).SetBool(a.Value(i))
			}
		case *array.Int64:
			for i := range batch {
				base.Index(i).Field(f.index).SetInt(a.Value(i))
			}
		case *array.Int32:
			for i := range batch {
				base.Index(i).Field(f.index).SetInt(int64(a.Value(i)))
			}
		}
	}
	return nil
}

// fillRow fills dst from row i of rec.
func fillRow[T any](dst *T, rec arrow.Record, i int, fields []fieldInfo) error {
	v := reflect.ValueOf(dst).Elem()
	for c, f := range fields {
		fv := v.Field(f.index)
		col := rec.Column(c)
		if !kindOK(col, f.kind) {
			return fmt.Errorf("column %q: Arrow type %s cannot fill a %v field", f.name, col.DataType(), f.kind)
		}
		switch a := col.(type) {
		case *array.String:
			fv.SetString(strings.Clone(a.Value(i)))
		case *array.Boolean:
			fv.SetBool(a.Value(i))
		case *array.Int64:
			fv.SetInt(a.Value(i))
		case *array.Int32:
			fv.SetInt(int64(a.Value(i)))
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
