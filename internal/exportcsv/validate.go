package exportcsv

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// rowChecker collects the problems of one row, each naming its column.
type rowChecker struct {
	r       *Reader
	line    int64
	key     string
	rejects []Reject
}

// fail records the problem of a cell: the first one only, so that a cell
// emptied for its length is not also reported empty.
func (c *rowChecker) fail(col, reason, value string) {
	name := c.r.columnName(col)
	for _, r := range c.rejects {
		if r.ColumnName == name {
			return
		}
	}
	c.rejects = append(c.rejects, Reject{
		File: c.r.name, Line: c.line, Column: c.r.column(col), ColumnName: name,
		Key: c.key, Reason: reason, Value: humancsv.Truncate(value, 80),
	})
}

func (c *rowChecker) required(col, v string) {
	if v == "" {
		c.fail(col, displayName(col)+" is empty", "")
	}
}

func (c *rowChecker) boolean(col, v string, def bool) bool {
	b, ok := ParseBool(v, def)
	if !ok {
		c.fail(col, fmt.Sprintf("%s %q is not a boolean (true/false, yes/no, y/n, 1/0)", displayName(col), v), v)
	}
	return b
}

func (c *rowChecker) enum(col, v string, values []string, def string) string {
	out, ok := schemas.Canonical(values, v, def)
	if !ok {
		c.fail(col, fmt.Sprintf("%s %q is not one of %s", displayName(col), v, strings.Join(values, ", ")), v)
	}
	return out
}

// MaxFieldBytes bounds a cell of a known column. No Condeco value comes
// near it; a longer one is a damaged export, and SCIM servers refuse such
// values too.
const MaxFieldBytes = 4096

// lengths rejects every known cell of rec longer than MaxFieldBytes and
// empties it, so that it reaches no snapshot (rejects.csv shows its start).
func (c *rowChecker) lengths(rec any) {
	v := reflect.ValueOf(rec).Elem()
	for i := 0; i < v.NumField(); i++ {
		if s := v.Field(i).String(); len(s) > MaxFieldBytes {
			col := v.Type().Field(i).Tag.Get("csv")
			c.fail(col, fmt.Sprintf("%s is %d bytes long; at most %d are accepted", displayName(col), len(s), MaxFieldBytes),
				s)
			v.Field(i).SetString("")
		}
	}
}

// reason joins the row's problems for the raw snapshot's reject column.
func (c *rowChecker) reason() string {
	parts := make([]string, len(c.rejects))
	for i, r := range c.rejects {
		parts[i] = r.Reason
	}
	return strings.Join(parts, "; ")
}

// ParseBool accepts true/false, yes/no, y/n and 1/0 in any case; empty is def.
func ParseBool(s string, def bool) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def, true
	case "true", "yes", "y", "1":
		return true, true
	case "false", "no", "n", "0":
		return false, true
	}
	return def, false
}

// CheckUser types and validates one users row.
func CheckUser(r *Reader, line int64, rec *schemas.UserRecord) (schemas.RawUser, []Reject) {
	c := rowChecker{r: r, line: line, key: strings.TrimSpace(rec.UserID)}
	c.lengths(rec)
	t := strings.TrimSpace
	u := schemas.RawUser{
		Line: line, UserID: t(rec.UserID), UserName: t(rec.UserName), FirstName: t(rec.FirstName),
		LastName: t(rec.LastName), Email: t(rec.Email), Telephone: t(rec.Telephone), Mobile: t(rec.Mobile),
		Country: t(rec.Country), Location: t(rec.Location), Group: t(rec.Group), Floor: t(rec.Floor),
		Language: t(rec.Language), Department: t(rec.Department), CostCode: t(rec.CostCode),
		JobTitle: t(rec.JobTitle), SSO: t(rec.SSO),
	}
	c.required("userid", u.UserID)
	c.required("username", u.UserName)
	c.required("firstname", u.FirstName)
	c.required("lastname", u.LastName)
	c.required("email", u.Email)
	if u.Email != "" && !schemas.ValidEmail(u.Email) {
		c.fail("email", fmt.Sprintf("Email %q is not a valid email address", u.Email), u.Email)
	}
	u.AccessLevel = c.enum("accesslevel", rec.AccessLevel, schemas.AccessLevels, "User")
	u.UserType = c.enum("usertype", rec.UserType, schemas.UserTypes, "Internal")
	u.Active = c.boolean("active", rec.Active, true)
	u.Deleted = c.boolean("deleted", rec.Deleted, false)
	u.Reject = c.reason()
	return u, c.rejects
}

// CheckLocation types and validates one locations row.
func CheckLocation(r *Reader, line int64, rec *schemas.LocationRecord) (schemas.RawLocation, []Reject) {
	c := rowChecker{r: r, line: line, key: strings.TrimSpace(rec.LocationID)}
	c.lengths(rec)
	t := strings.TrimSpace
	l := schemas.RawLocation{
		Line: line, LocationID: t(rec.LocationID), Name: t(rec.Name), Country: t(rec.Country),
		Region: t(rec.Region), City: t(rec.City), Address: t(rec.Address), PostalCode: t(rec.PostalCode),
		TimeZone: t(rec.TimeZone),
	}
	c.required("locationid", l.LocationID)
	c.required("name", l.Name)
	l.Active = c.boolean("active", rec.Active, true)
	l.Reject = c.reason()
	return l, c.rejects
}
