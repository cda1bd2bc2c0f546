package load

import (
	"context"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// target is how one kind of target takes the plan: how a user, a location
// and an access decision become requests. What the kind of target is (its
// traits: identity, endpoints, sizes) is data, in internal/profile; this
// is its behaviour. The plan is the same for every profile.
type target interface {
	// prepare learns what the profile needs of the target before the
	// first operation, and notes it in details (the manifest's).
	prepare(ctx context.Context, l *loader, details map[string]any) error
	// locationTypes are the resource types that hold locations, read when
	// there is no baseline to say what the target holds.
	locationTypes() []string
	// locationTasks are the operations of a location's change.
	locationTasks(l *loader, c *schemas.Change) []task
	// user is the whole SCIM user a change makes: for a create (found
	// nil) or the adoption of found, the target's resource.
	user(l *loader, c *schemas.Change, found scim.Resource) scim.Resource
	// updateUser sends change c to user id.
	updateUser(ctx context.Context, l *loader, id string, c *schemas.Change) (outcome string, err error)
}

// newTarget is the behaviour and the traits of the profile name, with the
// user extension (scim.extension) and core schema (scim.core_schema).
func newTarget(name, extension, coreSchema string) (target, profile.Traits, error) {
	t, err := profile.Of(name)
	if err != nil {
		return nil, t, err
	}
	switch t.Name {
	case profile.VisitorGeneric:
		return &visitorGeneric{coreSchema: t.Core(coreSchema)}, t, nil
	case profile.Visitor:
		if extension == "" {
			extension = schemas.DefaultExtension
		}
		return &visitor{extension: extension}, t, nil
	}
	return scim2{}, t, nil
}

// scim2 is any SCIM 2.0 server: a location is a group and a second group
// of its admins; access is membership of them.
type scim2 struct{}

func (scim2) prepare(context.Context, *loader, map[string]any) error { return nil }
func (scim2) locationTypes() []string                                { return []string{"Groups"} }

func (scim2) user(l *loader, c *schemas.Change, _ scim.Resource) scim.Resource {
	return userResource(c, l.traits)
}

// locationTasks: each of the location's two groups is created, renamed
// or deleted.
func (scim2) locationTasks(l *loader, c *schemas.Change) []task {
	var out []task
	renamed := c.Changed.Has(schemas.FieldIndex(schemas.LocationFields, "name"))
	for _, g := range []struct{ key, name string }{{c.Key, c.Name}, {adminKey(c.Key), adminName(c.Name)}} {
		t := task{op: opID(schemas.EntityLocation, c.Op, g.key)}
		switch c.Op {
		case schemas.OpCreate:
			t.run = func(ctx context.Context, lost bool) (string, string, error) {
				return l.createNamed(ctx, "Groups", groupResource(g.name, g.key), g.key, g.name, lost)
			}
		case schemas.OpUpdate:
			t.run = func(ctx context.Context, _ bool) (string, string, error) {
				id := l.groupID(g.key)
				if !renamed {
					return OutcomeUnchanged, id, nil // a Group carries only the name
				}
				if id == "" {
					return "", "", permanentf("group %s is not in the baseline: it cannot be renamed", g.key)
				}
				err := l.patchResource(ctx, "Groups", id, []scim.PatchOp{{Op: "replace", Path: "displayName", Value: g.name}},
					func(r scim.Resource) { r["displayName"] = g.name })
				return OutcomeDone, id, err
			}
		case schemas.OpDelete:
			t.run = func(ctx context.Context, _ bool) (string, string, error) {
				return l.deleteResource(ctx, "Groups", l.groupID(g.key))
			}
		default:
			continue
		}
		out = append(out, t)
	}
	return out
}

// updateUser PATCHes the attributes of the changed fields where the
// server supports PATCH, else PUTs the whole user.
func (scim2) updateUser(ctx context.Context, l *loader, id string, c *schemas.Change) (string, error) {
	if !l.spc.Patch.Supported {
		_, err := l.in.Client.Replace(ctx, "Users", id, userResource(c, l.traits))
		return OutcomeDone, err
	}
	ops := userPatch(c, l.traits)
	if len(ops) == 0 {
		return OutcomeUnchanged, nil // only fields that travel as access, or none in SCIM
	}
	_, err := l.in.Client.Patch(ctx, "Users", id, ops)
	return OutcomeDone, err
}

// userAttrs are the SCIM attributes of the user record u carries, by the
// attribute they are sent as, on a target of traits t. An empty value is
// absent: nothing is sent for it. Where the primary work email is the
// userName (EmailIsUserName), a different Condeco email goes along as
// "other".
func userAttrs(u *schemas.Change, t profile.Traits) map[string]any {
	a := map[string]any{
		"userName": u.UserName,
		"name":     map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName},
		"active":   u.Active,
	}
	switch {
	case t.EmailIsUserName:
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
	if len(ent) > 0 && t.Enterprise {
		a[schemas.SchemaEnterprise] = ent
	}
	return a
}

// userResource is the user of change c as a whole SCIM User, for a
// create, an adoption or a PUT.
func userResource(c *schemas.Change, t profile.Traits) scim.Resource {
	r := userAttrs(c, t)
	r["schemas"] = []string{schemas.SchemaUser, schemas.SchemaEnterprise}
	r["externalId"] = c.Key
	return r
}

// userPatch is the PATCH that brings a user from its baseline state to
// change c's record: the attribute of each changed field (the field
// table's SCIM path) replaced, or removed when it is now empty. It
// touches nothing else, so what a person set by hand in the target is
// left alone. No operations: nothing to send.
func userPatch(c *schemas.Change, t profile.Traits) []scim.PatchOp {
	return patchOps(c, userAttrs(c, t), t)
}

// patchOps is userPatch over attrs, a profile's attributes of c's user,
// sending only the attributes the profile sends.
func patchOps(c *schemas.Change, attrs map[string]any, t profile.Traits) []scim.PatchOp {
	seen := map[string]bool{}
	var ops []scim.PatchOp
	add := func(attr string) {
		if seen[attr] || !t.Sends(attr) {
			return
		}
		seen[attr] = true
		if v, has := lookup(attrs, attr); has {
			ops = append(ops, scim.PatchOp{Op: "replace", Path: attr, Value: v})
		} else {
			ops = append(ops, scim.PatchOp{Op: "remove", Path: attr})
		}
	}
	for i, f := range schemas.UserFields {
		if c.Changed.Has(i) {
			add(f.SCIM)
			if t.EmailIsUserName && f.Name == "userName" {
				add("emails") // there the primary work email is the userName
			}
		}
	}
	return ops
}

// lookup finds the value at a PATCH path in attrs: a top-level attribute,
// or one of the enterprise extension's.
func lookup(attrs map[string]any, path string) (any, bool) {
	if name, ok := strings.CutPrefix(path, schemas.SchemaEnterprise+":"); ok {
		ext, _ := attrs[schemas.SchemaEnterprise].(map[string]any)
		v, ok := ext[name]
		return v, ok
	}
	v, ok := attrs[path]
	return v, ok
}

// locationResource is the location of change c as a /Locations resource
// (visitor profile).
func locationResource(c *schemas.Change) scim.Resource {
	addr := map[string]any{}
	for k, v := range map[string]string{"streetAddress": c.Address, "locality": c.City, "region": c.Region,
		"postalCode": c.PostalCode, "country": c.Country} {
		if v != "" {
			addr[k] = v
		}
	}
	r := scim.Resource{"schemas": []string{schemas.SchemaLocation}, "displayName": c.Name, "externalId": c.Key, "active": c.Active}
	if len(addr) > 0 {
		r["address"] = addr
	}
	if c.TimeZone != "" {
		r["timeZone"] = c.TimeZone
	}
	return r
}

// groupResource is a location's group, or its admin group.
func groupResource(displayName, externalID string) scim.Resource {
	return scim.Resource{"schemas": []string{schemas.SchemaGroup}, "displayName": displayName, "externalId": externalID}
}

// adminKey is the externalId of a location's admin group.
func adminKey(locationID string) string { return locationID + profile.AdminGroupSuffix }

// adminOf is the LocationID of an admin group key, and whether key is one.
func adminOf(key string) (locationID string, ok bool) {
	return strings.CutSuffix(key, profile.AdminGroupSuffix)
}

// adminName is the displayName of a location's admin group.
func adminName(name string) string { return name + " admins" }
