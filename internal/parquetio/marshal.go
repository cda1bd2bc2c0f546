package parquetio

import (
	"reflect"
	"strings"

	"github.com/xitongsys/parquet-go/common"
	"github.com/xitongsys/parquet-go/layout"
	"github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/schema"
)

// flatMarshal returns a parquet-go MarshalFunc for T when T is flat: every
// field a required string, bool, int32 or int64, which is what every
// record of this program is. It builds each column's table straight from
// the fields, where parquet-go's general marshaller walks a tree of
// reflected nodes per row: the same tables, a third of the time (measured:
// it was the largest cost of writing a snapshot). ok is false for other
// types, which keep parquet-go's own marshaller.
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
		if strings.Contains(strings.ToLower(tag), "repetitiontype") {
			return nil, false
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int32, reflect.Int64:
		default:
			return nil, false
		}
	}
	return func(records []interface{}, sh *schema.SchemaHandler) (*map[string]*layout.Table, error) {
		res := make(map[string]*layout.Table)
		if len(records) == 0 {
			return &res, nil
		}
		rows := make([]reflect.Value, len(records))
		for j, r := range records {
			rows[j] = reflect.ValueOf(r)
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
			table.Values = make([]interface{}, len(records))
			table.DefinitionLevels = make([]int32, len(records))
			table.RepetitionLevels = make([]int32, len(records))
			idx := f.Index[0]
			switch f.Type.Kind() {
			case reflect.String:
				for j, v := range rows {
					table.Values[j] = v.Field(idx).String()
				}
			case reflect.Bool:
				for j, v := range rows {
					table.Values[j] = v.Field(idx).Bool()
				}
			case reflect.Int32:
				for j, v := range rows {
					table.Values[j] = int32(v.Field(idx).Int())
				}
			case reflect.Int64:
				for j, v := range rows {
					table.Values[j] = v.Field(idx).Int()
				}
			}
			res[path] = table
		}
		return &res, nil
	}, true
}
