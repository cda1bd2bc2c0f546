// Package schemas holds the record types of every table condeco-sync reads
// or writes, once: the CSV tags of an export row, the Parquet tags of the
// snapshots, and the functions that define a record's identity and hash. A
// new column is one edit in this package.
//
// Arrow reads these files through the Parquet names in the tags
// (parquetio.Read maps Arrow columns to struct fields by those names).
package schemas

import (
	"reflect"
	"strings"
)

// Version is the version of the snapshot layouts. It is written into every
// manifest; a stage refuses a snapshot of another version.
const Version = 1

// Canonical values of the export's enumerations. Matching is case-insensitive.
var (
	AccessLevels = []string{"Global Admin", "Country Admin", "Location Admin", "Group Admin", "Video Admin", "User"}
	UserTypes    = []string{"Internal", "External", "Vendor", "Visitor"}
)

// UserTypeVisitor is never provisioned (rule 2).
const UserTypeVisitor = "Visitor"

// Canonical returns the member of values that equals s ignoring case and
// surrounding spaces; def when s is empty; ok=false when s matches nothing.
func Canonical(values []string, s, def string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, true
	}
	for _, v := range values {
		if strings.EqualFold(v, s) {
			return v, true
		}
	}
	return "", false
}

// Export files, as exports.columns qualifies a column: users.Email.
const (
	UsersFile     = "users"
	LocationsFile = "locations"
)

// ExportColumns are the columns of an export file's layout (UsersFile or
// LocationsFile) as their records' csv tags name them: lower case.
func ExportColumns(file string) []string {
	t := reflect.TypeFor[UserRecord]()
	if file == LocationsFile {
		t = reflect.TypeFor[LocationRecord]()
	}
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Tag.Get("csv")
	}
	return out
}
