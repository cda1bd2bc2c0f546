package parquetio

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v15/parquet/file"
)

// BatchSize is how many rows a batch of Read holds.
const BatchSize = scanBatch

// Read streams the rows of the Parquet file at path into batches of T and
// calls fn for each batch. Only the struct fields whose parquet names are in
// columns are filled (all fields when columns is nil), so a caller that needs
// keys and hashes reads only those column chunks. The batch slice is reused
// between calls; the strings of a batch share one buffer per column, which
// they keep alive while they are kept. Read checks that it delivered as many
// rows as the file's metadata says it holds.
//
// It reads through Arrow's column-chunk readers (Scan), not pqarrow: pqarrow
// copies every value into an Arrow builder first, and its package pulls
// gRPC and protobuf into the build.
func Read[T any](path string, columns []string, fn func(batch []T) error) (rows int64, err error) {
	fields, names, err := selectFields[T](path, columns)
	if err != nil {
		return 0, err
	}
	var batch []T
	return Scan(path, names, func(b *Batch) error {
		batch = resize(batch, b.Len)
		if err := fill(batch, b, fields); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fn(batch)
	})
}

// ReadRows is Read for the rows whose keyColumn passes keep, one at a
// time: only the kept rows are filled, which is most of the cost when few
// rows of a large file are wanted. keyColumn must be among columns (or
// columns nil: all). The rows' strings are copies, safe to keep.
func ReadRows[T any](path string, columns []string, keyColumn string, keep func(key string) bool, fn func(row *T) error) (rows int64, err error) {
	if columns != nil && !slices.Contains(columns, keyColumn) {
		return 0, fmt.Errorf("%s: key column %q is not among the columns read", path, keyColumn)
	}
	fields, names, err := selectFields[T](path, columns)
	if err != nil {
		return 0, err
	}
	key := slices.Index(names, keyColumn)
	if key < 0 || fields[key].kind != reflect.String {
		return 0, fmt.Errorf("%s: key column %q is not a string field of %v", path, keyColumn, reflect.TypeFor[T]())
	}
	var one, zero T
	row := reflect.ValueOf(&one).Elem()
	return Scan(path, names, func(b *Batch) error {
		for i, k := range b.Bytes(key) {
			if !keep(string(k)) {
				continue
			}
			one = zero
			for c, f := range fields {
				fv := row.Field(f.index)
				switch f.kind {
				case reflect.String:
					fv.SetString(string(b.Bytes(c)[i]))
				case reflect.Bool:
					fv.SetBool(b.Bools(c)[i])
				default:
					fv.SetInt(b.Int64s(c)[i])
				}
			}
			if err := fn(&one); err != nil {
				return err
			}
		}
		return nil
	})
}

// selectFields lists T's fields to fill (those named in columns, or all,
// and in path: see inFile), and their column names.
func selectFields[T any](path string, columns []string) ([]fieldInfo, []string, error) {
	var fields []fieldInfo
	for _, f := range structFields(reflect.TypeFor[T]()) {
		if columns != nil && !slices.Contains(columns, f.name) {
			continue
		}
		switch f.kind {
		case reflect.String, reflect.Bool, reflect.Int64:
		default:
			return nil, nil, fmt.Errorf("%s: field for column %q is a %v: only string, bool and int64 fields are read", path, f.name, f.kind)
		}
		fields = append(fields, f)
	}
	fields, err := inFile(path, fields)
	if err != nil {
		return nil, nil, err
	}
	return fields, columnNames(fields), nil
}

// inFile is fields without those tagged parquetio:"added" that path
// lacks: a column added to the layout after files were first written
// reads as the zero value from a file without it (an applied state of an
// earlier version). The file's schema is read only when a field is added.
func inFile(path string, fields []fieldInfo) ([]fieldInfo, error) {
	if !slices.ContainsFunc(fields, func(f fieldInfo) bool { return f.added }) {
		return fields, nil
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	return slices.DeleteFunc(fields, func(f fieldInfo) bool { return f.added && sc.ColumnIndexByName(f.name) < 0 }), nil
}

// HasColumn reports whether the Parquet file at path has the column name:
// a reader of a column added to a layout asks before it reads one file of
// an earlier version.
func HasColumn(path, name string) (bool, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	defer pf.Close()
	return pf.MetaData().Schema.ColumnIndexByName(name) >= 0, nil
}

func columnNames(fields []fieldInfo) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// ReadAll reads every row of path into a slice.
func ReadAll[T any](path string) ([]T, error) {
	var out []T
	_, err := Read(path, nil, func(batch []T) error {
		out = append(out, batch...)
		return nil
	})
	return out, err
}

// NumRows returns the row count in the file's metadata.
func NumRows(path string) (int64, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer pf.Close()
	return pf.NumRows(), nil
}

type fieldInfo struct {
	name  string
	index int
	kind  reflect.Kind
	added bool // tagged parquetio:"added": may be absent from a file
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
		out = append(out, fieldInfo{name: name, index: i, kind: f.Type.Kind(), added: f.Tag.Get("parquetio") == "added"})
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

// fill fills batch from b's columns, one per field. A column's strings
// are cut from one buffer, so that a batch costs an allocation a column,
// not one a value.
func fill[T any](batch []T, b *Batch, fields []fieldInfo) error {
	base := reflect.ValueOf(batch)
	for c, f := range fields {
		if fills[b.types[c]] != f.kind {
			return fmt.Errorf("column %q (%s) cannot fill a %v field", f.name, b.types[c], f.kind)
		}
		switch f.kind {
		case reflect.String:
			vals := b.Bytes(c)
			n := 0
			for _, v := range vals {
				n += len(v)
			}
			buf := make([]byte, 0, n)
			for _, v := range vals {
				buf = append(buf, v...)
			}
			at := 0
			for i, v := range vals {
				base.Index(i).Field(f.index).SetString(unsafe.String(unsafe.SliceData(buf[at:]), len(v)))
				at += len(v)
			}
		case reflect.Bool:
			for i, v := range b.Bools(c) {
				base.Index(i).Field(f.index).SetBool(v)
			}
		case reflect.Int64:
			for i, v := range b.Int64s(c) {
				base.Index(i).Field(f.index).SetInt(v)
			}
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
