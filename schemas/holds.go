package schemas

// Hold is a key rule 9 holds: a row of it was set aside, or the key or the
// userName it would get is on more than one row. Extract decides the holds
// (it is the stage that sees every row as it decodes the export) and
// writes them to holds.parquet; transform keeps the held keys at their
// baseline state. One row per held key: the row of the export that stands
// for it, and why.
type Hold struct {
	Entity string `parquet:"name=entity, type=BYTE_ARRAY, convertedtype=UTF8"` // HoldUser or HoldLocation
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`    // the UserID or LocationID
	Line   int64  `parquet:"name=line, type=INT64"`                            // the line of the row that stands for the key
	Reason string `parquet:"name=reason, type=BYTE_ARRAY, convertedtype=UTF8"` // why, with the line(s)
}

// The entities of a Hold.
const (
	HoldUser     = "user"
	HoldLocation = "location"
)
