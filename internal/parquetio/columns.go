package parquetio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/condeco-sync/condeco-sync/internal/arena"
)

// Batch is a run of rows of some columns as Arrow's column-chunk readers
// decode them: Scan's answer for readers that look at every row of a few
// columns and keep almost nothing. pqarrow copies each value into an Arrow
// builder first; on a million rows of the diff's columns that copy was half
// the time (measured: 17 string columns, 0.36 s here against 0.7 s).
type Batch struct {
	Start int64 // row number in the file of the batch's first row
	Len   int
	cols  []columnBuf
	types []parquet.Type // each column's physical type
}

type columnBuf struct {
	bytes []parquet.ByteArray
	bools []bool
	ints  []int64
}

// newColumnBuf makes room for a batch of a column of physical type t (one
// of those openColumns accepts).
func newColumnBuf(t parquet.Type) columnBuf {
	switch t {
	case parquet.Types.ByteArray:
		return columnBuf{bytes: make([]parquet.ByteArray, scanBatch)}
	case parquet.Types.Boolean:
		return columnBuf{bools: make([]bool, scanBatch)}
	}
	return columnBuf{ints: make([]int64, scanBatch)}
}

// Bytes returns column c's values (c indexes Scan's columns). They point into
// the reader's page buffers: valid during the callback only; copy to keep.
func (b *Batch) Bytes(c int) []parquet.ByteArray { return b.cols[c].bytes[:b.Len] }

// Bools returns column c's values.
func (b *Batch) Bools(c int) []bool { return b.cols[c].bools[:b.Len] }

// Int64s returns column c's values.
func (b *Batch) Int64s(c int) []int64 { return b.cols[c].ints[:b.Len] }

// scanBatch is how many rows a Batch holds: small enough that its columns
// stay in the CPU cache between decoding and use.
const scanBatch = 4096

// Scan reads the named columns of the Parquet file at path in batches and
// calls fn for each. Every column must be required (no nulls: every file of
// this program is written so) and a string, boolean or int64 column. Scan
// checks that each column delivered as many rows as the file's metadata says.
func Scan(path string, columns []string, fn func(b *Batch) error) (rows int64, err error) {
	var safe guard
	defer safe.recover(path, &err)
	pf, idx, err := openColumns(path, columns)
	if err != nil {
		return 0, err
	}
	defer pf.Close()
	b := &Batch{cols: make([]columnBuf, len(columns)), types: make([]parquet.Type, len(columns))}
	for c := range columns {
		b.types[c] = pf.MetaData().Schema.Column(idx[c]).PhysicalType()
		b.cols[c] = newColumnBuf(b.types[c])
	}
	readers := make([]file.ColumnChunkReader, len(columns))
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := pf.RowGroup(g)
		for c, i := range idx {
			if readers[c], err = rg.Column(i); err != nil {
				return rows, fmt.Errorf("%s: row group %d, column %q: %w", path, g, columns[c], err)
			}
		}
		for left := rg.NumRows(); left > 0; {
			b.Start, b.Len = rows, int(min(left, scanBatch))
			for c, r := range readers {
				n, err := readBatch(r, &b.cols[c], b.Len)
				if err == nil && n != b.Len {
					err = fmt.Errorf("%d values where the row group has %d more rows", n, left)
				}
				if err != nil {
					return rows, fmt.Errorf("%s: row group %d, column %q: %w", path, g, columns[c], err)
				}
			}
			if err := safe.call(func() error { return fn(b) }); err != nil {
				return rows, err
			}
			rows += int64(b.Len)
			left -= int64(b.Len)
		}
	}
	if want := pf.NumRows(); rows != want {
		return rows, fmt.Errorf("%s: read %d rows, file metadata says %d", path, rows, want)
	}
	return rows, nil
}

// openColumns opens path and finds the columns: each must be required (no
// nulls: every file of this program is written so) and a string, boolean
// or int64 column.
func openColumns(path string, columns []string) (*file.Reader, []int, error) {
	// A buffered stream reads a column chunk a piece at a time: by default
	// Arrow reads each whole chunk into memory, and copies it once more. A
	// piece is 1 MB for a few columns, less for many, so that a reader of
	// every column of a wide file (a plan's 30) holds 8 MB, not 30.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = min(1<<20, max(128<<10, (8<<20)/int64(max(1, len(columns)))))
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(props))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	sc := pf.MetaData().Schema
	idx := make([]int, len(columns))
	for c, name := range columns {
		i := sc.ColumnIndexByName(name)
		if i < 0 {
			pf.Close()
			return nil, nil, fmt.Errorf("%s: no column %q", path, name)
		}
		col := sc.Column(i)
		if col.MaxDefinitionLevel() != 0 || col.MaxRepetitionLevel() != 0 {
			pf.Close()
			return nil, nil, fmt.Errorf("%s: column %q is not a required column", path, name)
		}
		switch col.PhysicalType() {
		case parquet.Types.ByteArray, parquet.Types.Boolean, parquet.Types.Int64:
		default:
			pf.Close()
			return nil, nil, fmt.Errorf("%s: column %q has physical type %s, which is not read here", path, name, col.PhysicalType())
		}
		idx[c] = i
	}
	return pf, idx, nil
}

// readBatch reads n values of r into buf; a reader returns fewer only at the
// end of its column chunk.
func readBatch(r file.ColumnChunkReader, buf *columnBuf, n int) (int, error) {
	var got int
	var err error
	switch r := r.(type) {
	case *file.ByteArrayColumnChunkReader:
		_, got, err = r.ReadBatch(int64(n), buf.bytes, nil, nil)
	case *file.BooleanColumnChunkReader:
		_, got, err = r.ReadBatch(int64(n), buf.bools, nil, nil)
	case *file.Int64ColumnChunkReader:
		_, got, err = r.ReadBatch(int64(n), buf.ints, nil, nil)
	default:
		return 0, fmt.Errorf("unexpected column reader %T", r)
	}
	return got, err
}

// ReadRowsAt reads the rows of path whose row numbers are in at (ascending)
// into T, filling only the fields named in columns, and calls fn with each
// one's position in at, in that order. The row is reused after fn returns;
// its strings are copies, safe to keep. It is for the few rows of a large file that a first pass found
// it needs: every page is still decompressed, but where a column chunk is
// plain-encoded (every file this program writes) the values of the rows
// skipped are not even decoded, only stepped over (measured: pass 2 of the
// diff at 1M users, 17 columns of two files, went from about 0.38 s to 0.28 s).
// The columns are read one after the other, so the rows of one row group
// are held in memory until the last one is read.
func ReadRowsAt[T any](path string, columns []string, at []int64, fn func(i int, row *T) error) (rows int64, err error) {
	if !slices.IsSorted(at) {
		return 0, fmt.Errorf("%s: row numbers to read are not in order", path)
	}
	var safe guard
	defer safe.recover(path, &err)
	all := structFields(reflect.TypeFor[T]())
	fields := make([]fieldInfo, len(columns))
	for c, name := range columns {
		i := slices.IndexFunc(all, func(f fieldInfo) bool { return f.name == name })
		if i < 0 {
			return 0, fmt.Errorf("%s: %v has no field for column %q", path, reflect.TypeFor[T](), name)
		}
		fields[c] = all[i]
	}
	if fields, err = inFile(path, fields); err != nil {
		return 0, err
	}
	columns = columnNames(fields)
	pf, idx, err := openColumns(path, columns)
	if err != nil {
		return 0, err
	}
	defer pf.Close()
	var out []T // the rows of at in the row group being read
	for c, f := range fields {
		col := pf.MetaData().Schema.Column(idx[c])
		if fills[col.PhysicalType()] != f.kind {
			return 0, fmt.Errorf("%s: column %q (%s) cannot fill a %v field", path, f.name, col.PhysicalType(), f.kind)
		}
	}
	// The strings of the rows handed out are copied into an arena: a plan
	// of a million creates holds twenty million cells, and one allocation
	// each was most of the diff's time and memory. A kept string keeps its
	// chunk: the rows read are the rows wanted.
	var text arena.Strings
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := pf.RowGroup(g)
		n := rg.NumRows()
		lo, _ := slices.BinarySearch(at, rows)
		hi, _ := slices.BinarySearch(at, rows+n)
		out = resize(out, hi-lo)
		rowsOf := reflect.ValueOf(out)
		for c, f := range fields {
			w := &picker{at: at[lo:hi], first: lo, start: rows, set: func(k int, v value) {
				fv := rowsOf.Index(k - lo).Field(f.index)
				switch f.kind {
				case reflect.String:
					fv.SetString(text.Bytes(v.bytes))
				case reflect.Bool:
					fv.SetBool(v.b)
				case reflect.Int64:
					fv.SetInt(v.i)
				}
			}}
			err := w.plain(rg, idx[c], n)
			if errors.Is(err, errNotPlain) {
				w.k = 0
				err = w.decoded(rg, idx[c], n)
			}
			if err != nil {
				return rows, fmt.Errorf("%s: row group %d, column %q: %w", path, g, columns[c], err)
			}
		}
		for k := range out {
			if err := safe.call(func() error { return fn(lo+k, &out[k]) }); err != nil {
				return rows, err
			}
		}
		rows += n
	}
	if want := pf.NumRows(); rows != want {
		return rows, fmt.Errorf("%s: read %d rows, file metadata says %d", path, rows, want)
	}
	if len(at) > 0 && at[len(at)-1] >= rows {
		return rows, fmt.Errorf("%s: no row %d: the file has %d rows", path, at[len(at)-1], rows)
	}
	return rows, nil
}

// fills is the kind of field each physical type openColumns accepts fills.
var fills = map[parquet.Type]reflect.Kind{parquet.Types.ByteArray: reflect.String, parquet.Types.Boolean: reflect.Bool, parquet.Types.Int64: reflect.Int64}

// value is one value of a column, of whichever physical type it has.
type value struct {
	bytes []byte
	b     bool
	i     int64
}

// picker hands the values of the rows in at (row numbers in the file, in
// order; the row group starts at row start) to set, with their index in
// ReadRowsAt's at.
type picker struct {
	at    []int64
	first int // at[0]'s index in ReadRowsAt's at
	start int64
	k     int    // the next of at to pick
	last  []byte // the last byte-array value picked
	set   func(k int, v value)
}

var errNotPlain = errors.New("not a plain-encoded column chunk")

// plain walks the raw pages of a column chunk that has no dictionary and
// plain-encoded values only, stepping over the values of rows not wanted.
// It returns errNotPlain for any other chunk; the caller then decodes the
// chunk from its start (setting a value twice is harmless).
func (p *picker) plain(rg *file.RowGroupReader, col int, n int64) error {
	md, err := rg.MetaData().ColumnChunk(col)
	if err != nil {
		return err
	}
	if md.HasDictionaryPage() {
		return errNotPlain
	}
	for _, e := range md.Encodings() {
		if e != parquet.Encodings.Plain && e != parquet.Encodings.RLE && e != parquet.Encodings.BitPacked {
			return errNotPlain
		}
	}
	pr, err := rg.GetColumnPageReader(col)
	if err != nil {
		return err
	}
	typ := md.Type()
	pageStart := p.start // the row of the page's first value
	for pr.Next() {
		pg, ok := pr.Page().(*file.DataPageV1)
		if !ok || parquet.Encoding(pg.Encoding()) != parquet.Encodings.Plain {
			return errNotPlain
		}
		data, nv := pg.Data(), int64(pg.NumValues())
		off, walked := 0, 0 // byte arrays: value number walked starts at data[off]
		for ; p.k < len(p.at) && p.at[p.k] < pageStart+nv; p.k++ {
			r := int(p.at[p.k] - pageStart)
			var v value
			switch typ {
			case parquet.Types.ByteArray:
				if walked > r { // r repeats in at: the value picked last
					v.bytes = p.last
					break
				}
				// Each value is a 4-byte length and its bytes: step over those before r.
				for ; walked <= r; walked++ {
					if off+4 > len(data) || off+4+int(binary.LittleEndian.Uint32(data[off:])) > len(data) {
						return errors.New("a page ends inside a value")
					}
					l := int(binary.LittleEndian.Uint32(data[off:]))
					v.bytes = data[off+4 : off+4+l]
					off += 4 + l
				}
				p.last = v.bytes
			case parquet.Types.Boolean:
				if r/8 >= len(data) {
					return errors.New("a page ends inside a value")
				}
				v.b = data[r/8]>>(r%8)&1 == 1
			case parquet.Types.Int64:
				if 8*r+8 > len(data) {
					return errors.New("a page ends inside a value")
				}
				v.i = int64(binary.LittleEndian.Uint64(data[8*r:]))
			default:
				return errNotPlain
			}
			p.set(p.first+p.k, v)
		}
		pageStart += nv // Next releases the page
	}
	if err := pr.Err(); err != nil {
		return err
	}
	if pageStart != p.start+n {
		return fmt.Errorf("%d values where the row group has %d rows", pageStart-p.start, n)
	}
	return nil
}

// decoded picks the values of a column chunk of any encoding, decoding
// every value through Arrow's column-chunk reader.
func (p *picker) decoded(rg *file.RowGroupReader, col int, n int64) error {
	r, err := rg.Column(col)
	if err != nil {
		return err
	}
	buf := newColumnBuf(r.Descriptor().PhysicalType())
	for batchStart := p.start; batchStart < p.start+n; {
		want := int(min(p.start+n-batchStart, scanBatch))
		got, err := readBatch(r, &buf, want)
		if err == nil && got != want {
			err = fmt.Errorf("%d values where the row group has %d more rows", got, p.start+n-batchStart)
		}
		if err != nil {
			return err
		}
		for ; p.k < len(p.at) && p.at[p.k] < batchStart+int64(got); p.k++ {
			i := int(p.at[p.k] - batchStart)
			var v value
			switch {
			case buf.bytes != nil:
				v.bytes = buf.bytes[i]
			case buf.bools != nil:
				v.b = buf.bools[i]
			default:
				v.i = buf.ints[i]
			}
			p.set(p.first+p.k, v)
		}
		batchStart += int64(got)
	}
	return nil
}

// guard turns a panic of Arrow's reader into an error naming the file: the
// reader can panic on a damaged file (a corrupt snappy block, for one), and
// every caller would rather say which file than crash. A panic in the
// caller's own callback is not the file's fault and stays a panic.
type guard struct{ inCallback bool }

func (g *guard) call(fn func() error) error {
	g.inCallback = true
	err := fn()
	g.inCallback = false
	return err
}

func (g *guard) recover(path string, err *error) {
	if r := recover(); r != nil {
		if g.inCallback {
			panic(r)
		}
		*err = fmt.Errorf("%s: damaged file: the Parquet reader failed: %v", path, r)
	}
}
