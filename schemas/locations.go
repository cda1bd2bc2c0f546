package schemas

// LocationRecord is one row of a Condeco locations export as gocsv decodes it.
type LocationRecord struct {
	LocationID string `csv:"locationid"`
	Name       string `csv:"name"`
	Country    string `csv:"country"`
	Region     string `csv:"region"`
	City       string `csv:"city"`
	Address    string `csv:"address"`
	PostalCode string `csv:"postalcode"`
	TimeZone   string `csv:"timezone"`
	Active     string `csv:"active"`
}

// LocationRequired lists the locations columns without which the file is refused.
var LocationRequired = []string{"locationid", "name"}

// RawLocation is one row of extract/locations.parquet.
type RawLocation struct {
	Line       int64  `parquet:"name=line, type=INT64"`
	LocationID string `parquet:"name=location_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Name       string `parquet:"name=name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Country    string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
	Region     string `parquet:"name=region, type=BYTE_ARRAY, convertedtype=UTF8"`
	City       string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8"`
	Address    string `parquet:"name=address, type=BYTE_ARRAY, convertedtype=UTF8"`
	PostalCode string `parquet:"name=postal_code, type=BYTE_ARRAY, convertedtype=UTF8"`
	TimeZone   string `parquet:"name=time_zone, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active     bool   `parquet:"name=active, type=BOOLEAN"`
	Reject     string `parquet:"name=reject, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// Identity is what the uniqueness rules look at in r: its key. A rejected
// row still claims it, as with users.
func (r *RawLocation) Identity() Identity { return Identity{Line: r.Line, Key: r.LocationID} }

// Location is one row of transform/locations.parquet, keyed by LocationID.
type Location struct {
	LocationID string `parquet:"name=location_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Name       string `parquet:"name=name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Country    string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
	Region     string `parquet:"name=region, type=BYTE_ARRAY, convertedtype=UTF8"`
	City       string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8"`
	Address    string `parquet:"name=address, type=BYTE_ARRAY, convertedtype=UTF8"`
	PostalCode string `parquet:"name=postal_code, type=BYTE_ARRAY, convertedtype=UTF8"`
	TimeZone   string `parquet:"name=time_zone, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active     bool   `parquet:"name=active, type=BOOLEAN"`
	Held       bool   `parquet:"name=held, type=BOOLEAN"`
	HoldReason string `parquet:"name=hold_reason, type=BYTE_ARRAY, convertedtype=UTF8"`
	Line       int64  `parquet:"name=line, type=INT64"`
	RowHash    int64  `parquet:"name=row_hash, type=INT64"`
	// The applied state only: the ids of the location's group and of its
	// admin group in the target (scim.profile scim2).
	SCIMID      string `parquet:"name=scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdminSCIMID string `parquet:"name=admin_scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// Hash is the row_hash of l over the fields a diff compares.
func (l *Location) Hash() int64 { return hashFields(LocationFields, l) }
