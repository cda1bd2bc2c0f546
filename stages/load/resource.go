package load

import (
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/contract"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
)

// Schema URNs and profiles: the names the sandbox and the config share
// (package contract).
const (
	SchemaUser       = contract.SchemaUser
	SchemaEnterprise = contract.SchemaEnterprise
	SchemaGroup      = contract.SchemaGroup
	SchemaLocation   = contract.SchemaLocation
	DefaultExtension = contract.DefaultExtension
	ProfileSCIM2     = contract.ProfileSCIM2
	ProfileVisitor   = contract.ProfileVisitor
)

// profile is what the resources load writes depend on.
type profile struct {
	visitor   bool
	extension string // the visitor profile's user extension URN
}

// userAttrs are the SCIM attributes of u, by the attribute they are sent
// as. An empty value is absent: nothing is sent for it. The visitor
// profile wants userName to be the primary work email, so there the
// userName is that email, and a different Condeco email goes along as
// "other".
func (p profile) userAttrs(u *schemas.User) map[string]any {
	a := map[string]any{
		"userName": u.UserName,
		"name":     map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName},
		"active":   u.Active,
	}
	switch {
	case p.visitor:
		emails := []any{map[string]any{"value": u.UserName, "type": "work", "primary": true}}
		if u.Email != "" && !strings.EqualFold(u.Email, u.UserName) {
			emails = append(emails, map[string]any{"value": u.Email, "type": "other"})
		}
		a["emails"] = emails
	case u.Email != "":
		a["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	}
	var phones []any
	if u.PhoneWork != "" {
		phones = append(phones, map[string]any{"value": u.PhoneWork, "type": "work"})
	}
	if u.PhoneMobile != "" {
		phones = append(phones, map[string]any{"value": u.PhoneMobile, "type": "mobile"})
	}
	if phones != nil {
		a["phoneNumbers"] = phones
	}
	if u.Language != "" {
		a["preferredLanguage"] = u.Language
	}
	if u.Title != "" {
		a["title"] = u.Title
	}
	ent := map[string]any{}
	if u.Department != "" {
		ent["department"] = u.Department
	}
	if u.CostCenter != "" {
		ent["costCenter"] = u.CostCenter
	}
	if len(ent) > 0 {
		a[SchemaEnterprise] = ent
	}
	return a
}

// userResource is u as a whole SCIM User, for a create, an adoption or a
// PUT. In the visitor profile, access is the user's locations attribute
// and invite asks the target to email the new user (creates only).
func (p profile) userResource(u *schemas.User, access []any, invite bool) scim.Resource {
	r := p.userAttrs(u)
	r["schemas"] = []string{SchemaUser, SchemaEnterprise}
	r["externalId"] = u.UserID
	if p.visitor {
		ext := map[string]any{"locations": access}
		if u.DefaultLocation != "" {
			ext["defaultLocation"] = u.DefaultLocation
		}
		if invite {
			ext["sendInvitation"] = true
		}
		r[p.extension] = ext
		r["schemas"] = []string{SchemaUser, SchemaEnterprise, p.extension}
	}
	return r
}

// attrOf maps a field of a plan (the names diff writes in Change.Fields)
// to the SCIM attribute that carries it. Fields with no SCIM attribute
// (country, userType) or carried by group membership (admin,
// defaultLocation) are not here.
var attrOf = map[string]string{
	"userName": "userName", "givenName": "name", "familyName": "name", "email": "emails",
	"workPhone": "phoneNumbers", "mobilePhone": "phoneNumbers", "preferredLanguage": "preferredLanguage",
	"title": "title", "active": "active", "department": SchemaEnterprise + ":department",
	"costCenter": SchemaEnterprise + ":costCenter",
}

// userPatch is the PATCH that brings a user from its baseline state to u,
// given the fields a change lists: each changed attribute replaced, or
// removed when it is now empty. It touches nothing else, so what a person
// set by hand in the target is left alone. No operations: nothing to send.
func (p profile) userPatch(u *schemas.User, fields string) []scim.PatchOp {
	attrs := p.userAttrs(u)
	seen := map[string]bool{}
	var ops []scim.PatchOp
	list := strings.Split(fields, "\n")
	if p.visitor && slices.Contains(list, "userName") {
		list = append(list, "email") // there the primary work email is the userName
	}
	for _, f := range list {
		attr, ok := attrOf[f]
		if !ok || seen[attr] {
			continue
		}
		seen[attr] = true
		v, has := lookup(attrs, attr)
		if has {
			ops = append(ops, scim.PatchOp{Op: "replace", Path: attr, Value: v})
		} else {
			ops = append(ops, scim.PatchOp{Op: "remove", Path: attr})
		}
	}
	return ops
}

// lookup finds the value at a PATCH path in attrs: a top-level attribute,
// or one of the enterprise extension's.
func lookup(attrs map[string]any, path string) (any, bool) {
	if name, ok := strings.CutPrefix(path, SchemaEnterprise+":"); ok {
		ext, _ := attrs[SchemaEnterprise].(map[string]any)
		v, ok := ext[name]
		return v, ok
	}
	v, ok := attrs[path]
	return v, ok
}

// locationResource is a location as a /Locations resource (visitor
// profile).
func locationResource(loc *schemas.Location) scim.Resource {
	addr := map[string]any{}
	for k, v := range map[string]string{"streetAddress": loc.Address, "locality": loc.City, "region": loc.Region,
		"postalCode": loc.PostalCode, "country": loc.Country} {
		if v != "" {
			addr[k] = v
		}
	}
	r := scim.Resource{"schemas": []string{SchemaLocation}, "displayName": loc.Name, "externalId": loc.LocationID, "active": loc.Active}
	if len(addr) > 0 {
		r["address"] = addr
	}
	if loc.TimeZone != "" {
		r["timeZone"] = loc.TimeZone
	}
	return r
}

// groupResource is a location's group, or its admin group.
func groupResource(displayName, externalID string) scim.Resource {
	return scim.Resource{"schemas": []string{SchemaGroup}, "displayName": displayName, "externalId": externalID}
}

// adminKey is the externalId of a location's admin group.
func adminKey(locationID string) string { return locationID + adminSuffix }

const adminSuffix = ":admins"

// adminOf is the LocationID of an admin group key, and whether key is one.
func adminOf(key string) (locationID string, ok bool) { return strings.CutSuffix(key, adminSuffix) }

// adminName is the displayName of a location's admin group.
func adminName(name string) string { return name + " admins" }
