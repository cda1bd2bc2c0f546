package schemas

import (
	"strconv"
)

// Field is one compared field of a user or a location, once: the name a
// plan gives it, its Parquet column (the same in the snapshots and the
// change set), the SCIM attribute it is sent as, and how to read it.
// row_hash, the diff's comparison and load's requests all go by these
// tables, so a new Condeco column is one row here (and its struct field).
type Field[T any] struct {
	Name   string // as a plan names it: "givenName"
	Column string // its Parquet column: "given_name"
	// SCIM is the attribute path a PATCH sets for it in the scim2 profile
	// ("name", "emails", the enterprise extension's "…:department"); "" when the
	// field is not sent as a user attribute: kept for the plan (country,
	// userType), or carried as access (admin, defaultLocation).
	SCIM string
	Text func(*T) string // a text field's value
	Flag func(*T) bool   // a flag's value (Text is nil)
	// Added marks a text field added after the first snapshot layout: it
	// is hashed only when it has a value, after its name (so that two
	// added fields cannot pass for one another), and the row_hash of every
	// row without it is what it was: no baseline looks changed after an
	// upgrade. Its struct field is tagged parquetio:"added", so an applied
	// state written before it existed still reads.
	Added bool
}

// Value is f's value in r as a plan shows it.
func (f *Field[T]) Value(r *T) string {
	if f.Flag != nil {
		return strconv.FormatBool(f.Flag(r))
	}
	return f.Text(r)
}

// UserFields are the fields of a user that a diff compares, in the order
// row_hash hashes them and a plan lists them.
var UserFields = []Field[User]{
	{Name: "userName", Column: "user_name", SCIM: "userName", Text: func(u *User) string { return u.UserName }},
	{Name: "givenName", Column: "given_name", SCIM: "name", Text: func(u *User) string { return u.GivenName }},
	{Name: "familyName", Column: "family_name", SCIM: "name", Text: func(u *User) string { return u.FamilyName }},
	{Name: "email", Column: "email", SCIM: "emails", Text: func(u *User) string { return u.Email }},
	{Name: "workPhone", Column: "phone_work", SCIM: "phoneNumbers", Text: func(u *User) string { return u.PhoneWork }},
	{Name: "mobilePhone", Column: "phone_mobile", SCIM: "phoneNumbers", Text: func(u *User) string { return u.PhoneMobile }},
	{Name: "country", Column: "country", Text: func(u *User) string { return u.Country }},
	{Name: "preferredLanguage", Column: "language", SCIM: "preferredLanguage", Text: func(u *User) string { return u.Language }},
	{Name: "title", Column: "title", SCIM: "title", Text: func(u *User) string { return u.Title }},
	{Name: "department", Column: "department", SCIM: SchemaEnterprise + ":department", Text: func(u *User) string { return u.Department }},
	{Name: "costCenter", Column: "cost_center", SCIM: SchemaEnterprise + ":costCenter", Text: func(u *User) string { return u.CostCenter }},
	{Name: "userType", Column: "user_type", Text: func(u *User) string { return u.UserType }},
	{Name: "active", Column: "active", SCIM: "active", Flag: func(u *User) bool { return u.Active }},
	{Name: "deleted", Column: "deleted", Flag: func(u *User) bool { return u.Deleted }},
	{Name: "admin", Column: "admin", Flag: func(u *User) bool { return u.Admin }},
	{Name: "defaultLocation", Column: "default_location", Text: func(u *User) string { return u.DefaultLocation }},
	// city is the City of the user's home location (the export's
	// Location column), set where the profile sends it (visitor-generic):
	// the tenant places users by the city of their address.
	{Name: "city", Column: "city", SCIM: "addresses", Text: func(u *User) string { return u.City }, Added: true},
	// homeAdmin is the home location where the user is an admin
	// (access.home_admin_levels); carried as access.
	{Name: "homeAdmin", Column: "home_admin", Text: func(u *User) string { return u.HomeAdmin }, Added: true},
}

// LocationFields are the fields of a location that a diff compares, in
// the order row_hash hashes them. A location is a group named after it in
// the scim2 profile (SCIM is that of the group).
var LocationFields = []Field[Location]{
	{Name: "name", Column: "name", SCIM: "displayName", Text: func(l *Location) string { return l.Name }},
	{Name: "country", Column: "country", Text: func(l *Location) string { return l.Country }},
	{Name: "region", Column: "region", Text: func(l *Location) string { return l.Region }},
	{Name: "city", Column: "city", Text: func(l *Location) string { return l.City }},
	{Name: "address", Column: "address", Text: func(l *Location) string { return l.Address }},
	{Name: "postalCode", Column: "postal_code", Text: func(l *Location) string { return l.PostalCode }},
	{Name: "timeZone", Column: "time_zone", Text: func(l *Location) string { return l.TimeZone }},
	{Name: "active", Column: "active", Flag: func(l *Location) bool { return l.Active }},
}

// FieldSet is a set of fields of one table, by position: bit i is
// UserFields[i] (or LocationFields[i]). A change set stores which fields
// changed as one.
type FieldSet int64

// Has reports whether the field at position i is in s.
func (s FieldSet) Has(i int) bool { return s&(1<<i) != 0 }

// With is s with the field at position i.
func (s FieldSet) With(i int) FieldSet { return s | 1<<i }

// FieldIndex is the position of the field named name in fields, -1 if none.
func FieldIndex[T any](fields []Field[T], name string) int {
	for i := range fields {
		if fields[i].Name == name {
			return i
		}
	}
	return -1
}

// hashFields is the row_hash of r over fields: each field length-prefixed
// (or one byte for a flag), in order.
func hashFields[T any](fields []Field[T], r *T) int64 {
	var stack hashBuffer
	b := stack[:0]
	for i := range fields {
		switch f := &fields[i]; {
		case f.Flag != nil:
			b = appendFlag(b, f.Flag(r))
		case !f.Added:
			b = appendText(b, f.Text(r))
		case f.Text(r) != "":
			b = appendText(appendText(b, f.Name), f.Text(r))
		}
	}
	return hashOf(b)
}

// Mapped are the user attributes mapping.users may make, by the name it
// gives them, each with the field of UserFields it sets. The userName and
// the work email are rule 1's and stay out of it: extract holds the
// userNames of an export unique, and a mapped one would pass unchecked.
var Mapped = map[string]string{
	"name.givenName": "givenName", "name.familyName": "familyName", "title": "title",
	"preferredLanguage": "preferredLanguage", "department": "department", "costCenter": "costCenter",
}

// SetText sets u's text field named name (a name of UserFields) to v.
func (u *User) SetText(name, v string) {
	switch name {
	case "givenName":
		u.GivenName = v
	case "familyName":
		u.FamilyName = v
	case "title":
		u.Title = v
	case "preferredLanguage":
		u.Language = v
	case "department":
		u.Department = v
	case "costCenter":
		u.CostCenter = v
	}
}
