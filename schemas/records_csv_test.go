package schemas

import (
	"reflect"
	"testing"
)

// TestRecordsDecodeEveryTag: gocsv hands each cell to UnmarshalCSVWithFields
// with its header, so each csv tag must set its own field and no other; a
// field added to a record without its case fails here.
func TestRecordsDecodeEveryTag(t *testing.T) {
	type cellSetter interface {
		UnmarshalCSVWithFields(header, value string) error
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[UserRecord](), reflect.TypeFor[LocationRecord]()} {
		for i := 0; i < typ.NumField(); i++ {
			tag := typ.Field(i).Tag.Get("csv")
			rec := reflect.New(typ)
			if err := rec.Interface().(cellSetter).UnmarshalCSVWithFields(tag, "value of "+tag); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < typ.NumField(); j++ {
				want := ""
				if j == i {
					want = "value of " + tag
				}
				if got := rec.Elem().Field(j).String(); got != want {
					t.Errorf("%s: header %q set %s to %q, want %q", typ.Name(), tag, typ.Field(j).Name, got, want)
				}
			}
		}
		rec := reflect.New(typ)
		rec.Interface().(cellSetter).UnmarshalCSVWithFields("no such column", "x")
		if !rec.Elem().IsZero() {
			t.Errorf("%s: a header of no field set %+v", typ.Name(), rec.Elem().Interface())
		}
	}
}
