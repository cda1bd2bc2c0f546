package schemas

// Entities and operations of a change set (docs/rules.md).
const (
	EntityUser     = "user"
	EntityLocation = "location"

	OpCreate     = "create"
	OpUpdate     = "update"
	OpDeactivate = "deactivate"
	OpReactivate = "reactivate"
	OpDelete     = "delete"
	OpHold       = "hold"
	OpRemoved    = "removed" // a location gone from Condeco: reported, not deleted
)

// OpOrder is the order of a change set: the order load applies it in, and
// the order people read it in.
var OpOrder = map[string]int{
	OpCreate: 0, OpUpdate: 1, OpReactivate: 2, OpDeactivate: 3, OpDelete: 4, OpRemoved: 5, OpHold: 6,
}

// Change is one row of diff/changes.parquet: one operation on one user or
// location, with the fields that change and why. Load joins it to the
// desired snapshot by key for the full record.
type Change struct {
	Entity string `parquet:"name=entity, type=BYTE_ARRAY, convertedtype=UTF8"`
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
	Op     string `parquet:"name=op, type=BYTE_ARRAY, convertedtype=UTF8"`
	// Name is what people know the entity by: the userName or the
	// location's name.
	Name string `parquet:"name=name, type=BYTE_ARRAY, convertedtype=UTF8"`
	// Fields, Before and After list the changed fields and their values,
	// newline-separated and in the same order.
	Fields string `parquet:"name=fields, type=BYTE_ARRAY, convertedtype=UTF8"`
	Before string `parquet:"name=before, type=BYTE_ARRAY, convertedtype=UTF8"`
	After  string `parquet:"name=after, type=BYTE_ARRAY, convertedtype=UTF8"`
	// Grant lists the LocationIDs the change gives access to (JoinIDs).
	Grant  string `parquet:"name=grant, type=BYTE_ARRAY, convertedtype=UTF8"`
	Reason string `parquet:"name=reason, type=BYTE_ARRAY, convertedtype=UTF8"`
	SCIMID string `parquet:"name=scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
}
