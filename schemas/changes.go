package schemas

import (
	"slices"
	"strings"
)

// Entities and operations of a change set (docs/rules.md).
const (
	EntityUser     = "user"
	EntityLocation = "location"

	OpCreate = "create"
	// OpRename is the first of a cycle's two steps (rule 13): a user's
	// userName goes to a temporary name, so that the name it had is free
	// for the user who takes it; its update then gives it its new name.
	OpRename     = "rename"
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
	OpCreate: 0, OpRename: 1, OpUpdate: 2, OpReactivate: 3, OpDeactivate: 4, OpDelete: 5, OpRemoved: 6, OpHold: 7,
}

// Change is one row of diff/changes.parquet: one operation on one user or
// location, with everything load needs to carry it out. The plan is
// whole: load reads no other snapshot of the run, and never decides again
// what diff decided (which fields to send, which access to grant or take
// back).
type Change struct {
	Entity string `parquet:"name=entity, type=BYTE_ARRAY, convertedtype=UTF8"`
	Key    string `parquet:"name=key, type=BYTE_ARRAY, convertedtype=UTF8"`
	Op     string `parquet:"name=op, type=BYTE_ARRAY, convertedtype=UTF8"`
	// Name is what people know the entity by: the userName or the
	// location's name.
	Name   string `parquet:"name=name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Reason string `parquet:"name=reason, type=BYTE_ARRAY, convertedtype=UTF8"`
	// SCIMID is the resource's id in the target, from the baseline: ""
	// for a create.
	SCIMID string `parquet:"name=scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	// Changed is the set of fields that change (UserFields or
	// LocationFields): what an update sends.
	Changed FieldSet `parquet:"name=changed, type=INT64"`
	// Fields, Before and After are the changed fields and their values as
	// people read them in the plan, newline-separated and in the same
	// order. Load reads none of them.
	Fields string `parquet:"name=fields, type=BYTE_ARRAY, convertedtype=UTF8"`
	Before string `parquet:"name=before, type=BYTE_ARRAY, convertedtype=UTF8"`
	After  string `parquet:"name=after, type=BYTE_ARRAY, convertedtype=UTF8"`

	// A user's access decisions (rules 4 and 5). Grant is the LocationIDs
	// it is given access to as a user (JoinIDs); AdminGrant the location
	// where it becomes an admin, AdminRevoke the one where admin rights
	// condeco-sync granted are taken back ("" for none).
	Grant       string `parquet:"name=grant, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdminGrant  string `parquet:"name=admin_grant, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdminRevoke string `parquet:"name=admin_revoke, type=BYTE_ARRAY, convertedtype=UTF8"`

	// The record the target holds once the change is made: the user's
	// (empty for a delete or a hold) or the location's. Country, City and
	// Active serve both (a user's City is its home location's).
	UserName        string `parquet:"name=user_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	GivenName       string `parquet:"name=given_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	FamilyName      string `parquet:"name=family_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Email           string `parquet:"name=email, type=BYTE_ARRAY, convertedtype=UTF8"`
	PhoneWork       string `parquet:"name=phone_work, type=BYTE_ARRAY, convertedtype=UTF8"`
	PhoneMobile     string `parquet:"name=phone_mobile, type=BYTE_ARRAY, convertedtype=UTF8"`
	Country         string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
	Language        string `parquet:"name=language, type=BYTE_ARRAY, convertedtype=UTF8"`
	Title           string `parquet:"name=title, type=BYTE_ARRAY, convertedtype=UTF8"`
	Department      string `parquet:"name=department, type=BYTE_ARRAY, convertedtype=UTF8"`
	CostCenter      string `parquet:"name=cost_center, type=BYTE_ARRAY, convertedtype=UTF8"`
	UserType        string `parquet:"name=user_type, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active          bool   `parquet:"name=active, type=BOOLEAN"`
	Admin           bool   `parquet:"name=admin, type=BOOLEAN"`
	DefaultLocation string `parquet:"name=default_location, type=BYTE_ARRAY, convertedtype=UTF8"`
	SendInvitation  bool   `parquet:"name=send_invitation, type=BOOLEAN"`
	Region          string `parquet:"name=region, type=BYTE_ARRAY, convertedtype=UTF8"`
	City            string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8"`
	HomeAdmin       string `parquet:"name=home_admin, type=BYTE_ARRAY, convertedtype=UTF8"`
	Address         string `parquet:"name=address, type=BYTE_ARRAY, convertedtype=UTF8"`
	PostalCode      string `parquet:"name=postal_code, type=BYTE_ARRAY, convertedtype=UTF8"`
	TimeZone        string `parquet:"name=time_zone, type=BYTE_ARRAY, convertedtype=UTF8"`

	// Step orders the changes by which userNames change hands (rule 13):
	// 0 for a change no other waits for and that waits for none; else
	// load carries out the changes of step 1, then of step 2 …, before
	// every other user change. WaitsFor is what the change waits for: the
	// op ids (OpID) of the changes that free its name, newline-separated.
	Step     int64  `parquet:"name=step, type=INT64" parquetio:"added"`
	WaitsFor string `parquet:"name=waits_for, type=BYTE_ARRAY, convertedtype=UTF8" parquetio:"added"`
}

// OpID is the stable id of an operation on entity key, the journal's and
// a plan's After: entity:op:key.
func OpID(entity, op, key string) string { return entity + ":" + op + ":" + key }

// Was is the value c's field (a name of UserFields or LocationFields) had
// before the change, and whether the change changes it.
func (c *Change) Was(field string) (string, bool) {
	if c.Fields == "" {
		return "", false
	}
	i := slices.Index(strings.Split(c.Fields, "\n"), field)
	if i < 0 {
		return "", false
	}
	// Values are newline-separated in the order of Fields. A value with a
	// line break of its own would shift those after it; userName, the
	// first field and the one rule 13 reads, never has one.
	before := strings.SplitN(c.Before, "\n", i+2)
	if i >= len(before) {
		return "", true
	}
	return before[i], true
}

// SetUser copies u's record into c.
func (c *Change) SetUser(u *User) {
	c.UserName, c.GivenName, c.FamilyName, c.Email = u.UserName, u.GivenName, u.FamilyName, u.Email
	c.PhoneWork, c.PhoneMobile, c.Country, c.Language = u.PhoneWork, u.PhoneMobile, u.Country, u.Language
	c.Title, c.Department, c.CostCenter, c.UserType = u.Title, u.Department, u.CostCenter, u.UserType
	c.Active, c.Admin, c.DefaultLocation, c.SendInvitation = u.Active, u.Admin, u.DefaultLocation, u.SendInvitation
	c.City, c.HomeAdmin = u.City, u.HomeAdmin
}

// User is the user record c carries, keyed by c.Key, with c's SCIM id.
func (c *Change) User() User {
	u := User{UserID: c.Key, UserName: c.UserName, GivenName: c.GivenName, FamilyName: c.FamilyName, Email: c.Email,
		PhoneWork: c.PhoneWork, PhoneMobile: c.PhoneMobile, Country: c.Country, Language: c.Language, Title: c.Title,
		Department: c.Department, CostCenter: c.CostCenter, UserType: c.UserType, Active: c.Active, Admin: c.Admin,
		DefaultLocation: c.DefaultLocation, SendInvitation: c.SendInvitation, City: c.City, HomeAdmin: c.HomeAdmin, SCIMID: c.SCIMID}
	u.RowHash = u.Hash()
	return u
}

// SetLocation copies l's record into c.
func (c *Change) SetLocation(l *Location) {
	c.Country, c.Region, c.City, c.Address, c.PostalCode, c.TimeZone, c.Active = l.Country, l.Region, l.City, l.Address, l.PostalCode, l.TimeZone, l.Active
}

// Location is the location record c carries, keyed by c.Key.
func (c *Change) Location() Location {
	l := Location{LocationID: c.Key, Name: c.Name, Country: c.Country, Region: c.Region, City: c.City, Address: c.Address,
		PostalCode: c.PostalCode, TimeZone: c.TimeZone, Active: c.Active}
	l.RowHash = l.Hash()
	return l
}
