package diff

import (
	"strconv"

	"github.com/condeco-sync/condeco-sync/schemas"
)

// field is one compared field of a user, named as people read it in a plan.
type field struct {
	name string
	get  func(*schemas.User) string
}

// userFields are the fields row_hash covers (schemas.User.Hash), in the
// order a plan lists them.
var userFields = []field{
	{"userName", func(u *schemas.User) string { return u.UserName }},
	{"givenName", func(u *schemas.User) string { return u.GivenName }},
	{"familyName", func(u *schemas.User) string { return u.FamilyName }},
	{"email", func(u *schemas.User) string { return u.Email }},
	{"workPhone", func(u *schemas.User) string { return u.PhoneWork }},
	{"mobilePhone", func(u *schemas.User) string { return u.PhoneMobile }},
	{"country", func(u *schemas.User) string { return u.Country }},
	{"preferredLanguage", func(u *schemas.User) string { return u.Language }},
	{"title", func(u *schemas.User) string { return u.Title }},
	{"department", func(u *schemas.User) string { return u.Department }},
	{"costCenter", func(u *schemas.User) string { return u.CostCenter }},
	{"userType", func(u *schemas.User) string { return u.UserType }},
	{"active", func(u *schemas.User) string { return strconv.FormatBool(u.Active) }},
	{"admin", func(u *schemas.User) string { return strconv.FormatBool(u.Admin) }},
	{"defaultLocation", func(u *schemas.User) string { return u.DefaultLocation }},
}

type locField struct {
	name string
	get  func(*schemas.Location) string
}

var locationFields = []locField{
	{"name", func(l *schemas.Location) string { return l.Name }},
	{"country", func(l *schemas.Location) string { return l.Country }},
	{"region", func(l *schemas.Location) string { return l.Region }},
	{"city", func(l *schemas.Location) string { return l.City }},
	{"address", func(l *schemas.Location) string { return l.Address }},
	{"postalCode", func(l *schemas.Location) string { return l.PostalCode }},
	{"timeZone", func(l *schemas.Location) string { return l.TimeZone }},
	{"active", func(l *schemas.Location) string { return strconv.FormatBool(l.Active) }},
}

// changed lists the fields whose values differ between before and after.
type changed struct{ names, before, after []string }

func (c *changed) add(name, b, a string) {
	if b != a {
		c.names = append(c.names, name)
		c.before = append(c.before, b)
		c.after = append(c.after, a)
	}
}

func (c *changed) has(name string) bool {
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

func userChanges(before, after *schemas.User) changed {
	var c changed
	for _, f := range userFields {
		c.add(f.name, f.get(before), f.get(after))
	}
	return c
}

func locationChanges(before, after *schemas.Location) changed {
	var c changed
	for _, f := range locationFields {
		c.add(f.name, f.get(before), f.get(after))
	}
	return c
}
