package parquetio

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/xitongsys/parquet-go/common"
	"github.com/xitongsys/parquet-go/layout"
	"github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/schema"
)

// flatMarshal returns a parquet-go MarshalFunc for T when T is flat: every
// field a required string, bool, int32 or int64, with no dictionary,
// which is what every record of this program is. It builds each column's
// table straight from the fields, where parquet-go's general marshaller
// walks a tree of reflected nodes per row: the same tables, a third of the
// time (measured: it was the largest cost of writing a snapshot). Its records are *T, each
// pointing into Write's buffer (never boxed copies of T). ok is false for
// other types, which keep parquet-go's own marshaller.
func flatMarshal[T any]() (fn func([]interface{}, *schema.SchemaHandler) (*map[string]*layout.Table, error), ok bool) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		if tag == "" {
			continue
		}
		// A dictionary keeps the values it has seen until its row group
		// is written, past the reuse of Write's buffer: such a column keeps
		// parquet-go's marshaller, whose rows are copies of their own.
		if tag = strings.ToLower(tag); strings.Contains(tag, "repetitiontype") || strings.Contains(tag, "dictionary") {
			return nil, false
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int32, reflect.Int64:
		default:
			return nil, false
		}
	}
	pt := reflect.PointerTo(t)
	// What one call builds is reused by the next: parquet-go drops a
	// call's tables once their pages are encoded, before it calls again
	// (one goroutine marshals, and no column has a dictionary to keep
	// values). Each call's value slices, new, were a sixth of all that
	// writing a snapshot allocated.
	var values []interface{} // every column's values, one after the other
	var zeros []int32
	return func(records []interface{}, sh *schema.SchemaHandler) (*map[string]*layout.Table, error) {
		res := make(map[string]*layout.Table)
		if len(records) == 0 {
			return &res, nil
		}
		for _, r := range records {
			if reflect.TypeOf(r) != pt {
				return nil, fmt.Errorf("parquetio: a %T among rows of %v", r, pt)
			}
		}
		// Every column is required, so every level is 0: one slice of
		// zeros serves all of them (parquet-go only reads the levels of a
		// table it is given; the capacity is the length, so an append would
		// copy it).
		n := len(records)
		if len(zeros) < n {
			zeros = make([]int32, n)
		}
		if cols := len(sh.Infos) - 1; len(values) < n*cols {
			values = make([]interface{}, n*cols)
		}
		root := sh.GetRootInName()
		for i := 1; i < len(sh.Infos); i++ {
			info := sh.Infos[i]
			path := root + common.PAR_GO_PATH_DELIMITER + info.InName
			f, _ := t.FieldByName(info.InName)
			table := layout.NewEmptyTable()
			table.Path = common.StrToPath(path)
			table.Schema = sh.SchemaElements[sh.MapIndex[path]]
			table.Info = info
			table.RepetitionType = parquet.FieldRepetitionType_REQUIRED
			table.Values = values[(i-1)*n : i*n : i*n]
			table.DefinitionLevels = zeros[:n:n]
			table.RepetitionLevels = zeros[:n:n]
			typ := valueTypes[f.Type.Kind()]
			for j := range records {
				table.Values[j] = fieldValue(&records[j], f.Offset, typ)
			}
			res[path] = table
		}
		return &res, nil
	}, true
}

// Each value parquet-go encodes is an interface. Boxing a field's value
// makes a copy of it on the heap (for a string, and for an integer over
// 255): a million rows of forty columns made tens of millions of small
// objects for the garbage collector. Each record is a pointer to
// its row, which stays where it is until its pages are encoded, so
// fieldValue makes an interface that points at the field inside that row
// instead: the same type and value, nothing allocated.

// eface is the layout of an empty interface in the Go runtime: the
// dynamic type and a pointer to the value.
type eface struct {
	typ, data unsafe.Pointer
}

// valueTypes are the runtime types of the values parquet-go expects for a
// field of each kind (a named string type is written as a string).
var valueTypes = map[reflect.Kind]unsafe.Pointer{
	reflect.String: typeOf(""),
	reflect.Bool:   typeOf(false),
	reflect.Int32:  typeOf(int32(0)),
	reflect.Int64:  typeOf(int64(0)),
}

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// fieldValue is the field at offset of the struct that row holds, as an
// interface of type typ; row holds a pointer to the struct.
func fieldValue(row *interface{}, offset uintptr, typ unsafe.Pointer) interface{} {
	var v interface{}
	e := (*eface)(unsafe.Pointer(&v))
	e.typ = typ
	e.data = unsafe.Add((*eface)(unsafe.Pointer(row)).data, offset)
	return v
}
