// Package profile says what each kind of target (scim.profile) is, as
// data: one Traits value per profile, one file per profile. The diff reads
// it to reckon a plan's requests and the Superuser's to-do list, the config
// for its defaults, and the loader sends by it; what stays in the loader
// is behaviour (how a body is built, how an update or an adoption goes).
// A rule of a profile is a field here, so that "does this profile …?" has
// one answer, found in one file.
package profile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
)

// Profiles (scim.profile).
const (
	SCIM2          = "scim2"           // scim2.go
	Visitor        = "visitor"         // visitor.go
	VisitorGeneric = "visitor-generic" // generic.go
)

// Names lists the profiles, for messages.
var Names = []string{Visitor, VisitorGeneric, SCIM2}

// Access is how a profile's access decisions (locations a user may use,
// admin rights) reach the target.
type Access int

const (
	// ByGroups: membership of each location's group, and of its admins'
	// group, changed in PATCHes of members.
	ByGroups Access = iota
	// OnUser: an attribute of the user (the visitor extension's
	// locations), sent with the user.
	OnUser
	// ByHand: not through the API; the Superuser's to-do list says what
	// to do in the tenant.
	ByHand
)

// Traits is what one kind of target is.
type Traits struct {
	Name string

	// ExternalID: users carry externalId, the Condeco UserID. Without it
	// the target knows a user by its userName alone, and condeco-sync by
	// the applied state's map from UserID to SCIM id.
	ExternalID bool
	// EmailIsUserName: the primary work email is the userName.
	EmailIsUserName bool
	// Enterprise: users carry the enterprise extension (department,
	// costCenter).
	Enterprise bool
	// City: users carry the city of their home location, as
	// addresses[0].locality; the tenant maps users to locations by it.
	City bool

	// Locations is the resource type a location is made as: "Groups",
	// "Locations" (when the target's /ResourceTypes lists it), or "" for
	// none (the tenant's to create and map).
	Locations string
	// AdminGroups: each location has a second group, of its admins
	// (externalId LocationID + AdminGroupSuffix).
	AdminGroups bool
	Access      Access
	// ReadsForAccess: an update that changes a user's access reads the
	// user first (the access other than condeco-sync's is kept).
	ReadsForAccess bool
	// ReadsToAdopt: an adoption reads the resource found first, for the
	// same reason.
	ReadsToAdopt bool
	// TenantInvites: the tenant emails new users itself; the API has no
	// way to ask it not to (users.invitations: suppress is a to-do).
	TenantInvites bool

	// ConfigOptional: the server may publish no /ServiceProviderConfig;
	// SCIM 1.1's /ServiceProviderConfigs is tried, and with neither the
	// least is assumed (no PATCH, no /Bulk).
	ConfigOptional bool
	// CoreSchema is the `schemas` of a user when scim.core_schema is unset
	// ("": the 2.0 core and the profile's extensions). SCIM 1.0's URN
	// makes the wire SCIM 1.1 (SCIM11).
	CoreSchema string
	// DefaultRPM is scim.max_rpm when unset (0: no cap).
	DefaultRPM int
}

// Wire sizes the plan's request count and the loader share.
const (
	// MemberChunk is how many members one PATCH of a group adds or
	// removes (ByGroups).
	MemberChunk = 2000
	// BulkChunk is how many creates one /Bulk request carries at most.
	BulkChunk = 100
	// AdminGroupSuffix ends the key (externalId) of a location's admin
	// group: "LON:admins" (AdminGroups).
	AdminGroupSuffix = ":admins"
)

// EpturaRPM is Eptura Visitor's published throttle: 500 SCIM calls a
// minute per client.
const EpturaRPM = 500

var all = map[string]Traits{SCIM2: scim2, Visitor: visitor, VisitorGeneric: generic}

// Of is the traits of the profile name ("" is scim2).
func Of(name string) (Traits, error) {
	if name == "" {
		name = SCIM2
	}
	t, ok := all[name]
	if !ok {
		return Traits{}, fmt.Errorf("scim.profile %q is not one of %s", name, strings.Join(Names, ", "))
	}
	return t, nil
}

// Must is Of for a name the config has checked.
func Must(name string) Traits {
	t, err := Of(name)
	if err != nil {
		panic(err)
	}
	return t
}

// Sends reports whether the profile sends the user attribute at path (a
// SCIM path of the field table, schemas.UserFields): every one but the
// enterprise extension's where the profile has none.
func (t Traits) Sends(path string) bool {
	return path != "" && (t.Enterprise || !strings.HasPrefix(path, schemas.SchemaEnterprise))
}

// SendsAttributes reports whether a user update of the fields in set
// changes a SCIM attribute the profile sends: an update of fields kept for
// the plan or carried as access alone sends nothing of the user.
func (t Traits) SendsAttributes(set schemas.FieldSet) bool {
	for i, f := range schemas.UserFields {
		if set.Has(i) && t.Sends(f.SCIM) {
			return true
		}
	}
	return false
}

// SendsChange reports whether the target is sent anything of change c,
// for the plan people read. Where access is the tenant's (ByHand), a
// location's change is not sent when the profile has no locations, nor a
// user update of access alone (admin rights, the default location): the
// to-do list says what to do instead.
func (t Traits) SendsChange(c *schemas.Change) bool {
	if t.Access != ByHand {
		return true
	}
	switch {
	case c.Entity == schemas.EntityLocation:
		return t.Locations != ""
	case c.Op == schemas.OpUpdate:
		return t.SendsAttributes(c.Changed)
	}
	return true
}

// Core is the core schema users are sent with under scim.core_schema core
// ("" for the profile's own).
func (t Traits) Core(core string) string {
	if core == "" {
		return t.CoreSchema
	}
	return core
}

// SCIM11 reports whether the wire is SCIM 1.1 under scim.core_schema core:
// a core schema of SCIM 1.0.
func (t Traits) SCIM11(core string) bool { return t.Core(core) == schemas.SchemaCore10 }

// LocationKeys are the keys (externalIds) of the resources one location is
// made of: its own and, with AdminGroups, its admins'.
func (t Traits) LocationKeys(locationID string) []string {
	if t.AdminGroups {
		return []string{locationID, locationID + AdminGroupSuffix}
	}
	return []string{locationID}
}

// Valid reports whether name is a profile.
func Valid(name string) bool { return slices.Contains(Names, name) }
