package load

import (
	"context"
	"fmt"
	"slices"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// The visitor profile (README, "The visitor profile"): Eptura Visitor takes /Users only.
// Locations, access and the default location travel on the user, in the
// extension scim.extension; locations themselves go to /Locations when the
// target lists that resource type, and are otherwise reported as not
// supported by it.

// OutcomeUnsupported is a location the target has no resource type for:
// nothing is sent, and its users are provisioned all the same.
const OutcomeUnsupported = "not supported"

// unsupportedDetail is what results.csv says of such a location.
const unsupportedDetail = "locations not supported by the target"

// Roles of a location in a user's locations attribute.
const (
	roleUser  = "user"
	roleAdmin = "admin"
)

// visitor is Eptura Visitor as the sandbox models it.
type visitor struct {
	extension string // scim.extension: the user extension URN
	// hasLocations: the target lists /Locations.
	hasLocations bool
}

func (v *visitor) prepare(ctx context.Context, l *loader, details map[string]any) error {
	var types []string
	if _, err := l.send.do(ctx, false, func(bool) (err error) {
		types, err = l.in.Client.ResourceTypes(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("reading the service provider's resource types: %w", err)
	}
	v.hasLocations = slices.Contains(types, "/Locations")
	details["resource_types"] = types
	return nil
}

func (v *visitor) locationTypes() []string {
	if v.hasLocations {
		return []string{"Locations"}
	}
	return nil
}

// locationTasks: the one operation of a location change.
func (v *visitor) locationTasks(l *loader, c *schemas.Change) []task {
	t := task{op: opID(schemas.EntityLocation, c.Op, c.Key)}
	switch {
	case c.Op != schemas.OpCreate && c.Op != schemas.OpUpdate && c.Op != schemas.OpDelete:
		return nil
	case !v.hasLocations:
		t.run = func(context.Context, bool) (string, string, error) { return OutcomeUnsupported, "", nil }
	case c.Op == schemas.OpCreate:
		t.run = func(ctx context.Context, lost bool) (string, string, error) {
			return l.createNamed(ctx, "Locations", locationResource(c), c.Key, c.Name, lost)
		}
	case c.Op == schemas.OpUpdate:
		t.run = func(ctx context.Context, _ bool) (string, string, error) {
			id := l.groupID(c.Key)
			if id == "" {
				return "", "", permanentf("location %s is not in the baseline's target state: it cannot be updated", c.Key)
			}
			_, err := l.in.Client.Replace(ctx, "Locations", id, locationResource(c))
			return OutcomeDone, id, err
		}
	case c.Op == schemas.OpDelete:
		t.run = func(ctx context.Context, _ bool) (string, string, error) {
			return l.deleteResource(ctx, "Locations", l.groupID(c.Key))
		}
	}
	return []task{t}
}

// user is the whole resource of a user: the core attributes (the userName
// as primary work email), and the extension with its access after change
// c, the default location and, for a create, the invitation the run asks
// for. An adoption keeps the access found has (rule 5).
func (v *visitor) user(l *loader, c *schemas.Change, found scim.Resource) scim.Resource {
	r := userResource(c, l.traits)
	ext := map[string]any{"locations": v.access(l, v.currentAccess(found), c)}
	if c.DefaultLocation != "" {
		ext["defaultLocation"] = c.DefaultLocation
	}
	if found == nil && c.SendInvitation {
		ext["sendInvitation"] = true
	}
	r[v.extension] = ext
	r["schemas"] = []string{schemas.SchemaUser, schemas.SchemaEnterprise, v.extension}
	return r
}

// access is a user's locations attribute after change c: current (what
// the target holds; nil for a new user) with the locations c grants added
// with role user, admin rights given where c grants them and taken back
// where c revokes them. Entries condeco-sync did not grant are left as
// they are (rule 5).
func (v *visitor) access(l *loader, current []any, c *schemas.Change) []any {
	var order []string
	have := map[string]map[string]any{}
	for _, x := range current {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		id := fmt.Sprint(m["value"])
		if have[id] == nil {
			order = append(order, id)
			have[id] = m
		}
	}
	set := func(id, role string) {
		m := have[id]
		if m == nil {
			m = map[string]any{"value": id}
			order = append(order, id)
			have[id] = m
		}
		m["display"] = l.groupName(id)
		if role != "" {
			m["role"] = role
		} else if m["role"] == nil {
			m["role"] = roleUser
		}
	}
	for _, id := range schemas.SplitIDs(c.Grant) {
		set(id, "")
	}
	if m := have[c.AdminRevoke]; c.AdminRevoke != "" && m != nil && m["role"] == roleAdmin {
		m["role"] = roleUser
	}
	if c.AdminGrant != "" {
		set(c.AdminGrant, roleAdmin)
	}
	out := make([]any, 0, len(order))
	for _, id := range order {
		out = append(out, have[id])
	}
	return out
}

// touchesAccess reports whether change c changes a user's locations or
// default location.
func touchesAccess(c *schemas.Change) bool {
	return c.Grant != "" || c.AdminGrant != "" || c.AdminRevoke != "" ||
		c.Changed.Has(schemas.FieldIndex(schemas.UserFields, "defaultLocation"))
}

// currentAccess is the locations attribute of a user as the target has it.
func (v *visitor) currentAccess(r scim.Resource) []any {
	ext, _ := r[v.extension].(map[string]any)
	locs, _ := ext["locations"].([]any)
	return locs
}

// updateUser sends the changed fields and, when access changes, the
// user's locations as read from the target with this change applied, in
// one PATCH (or a PUT where there is none).
func (v *visitor) updateUser(ctx context.Context, l *loader, id string, c *schemas.Change) (string, error) {
	ops := userPatch(c, l.traits)
	if touchesAccess(c) || !l.spc.Patch.Supported {
		r, err := l.in.Client.Get(ctx, "Users", id)
		if err != nil {
			return "", err
		}
		if !l.spc.Patch.Supported {
			_, err := l.in.Client.Replace(ctx, "Users", id, v.user(l, c, r))
			return OutcomeDone, err
		}
		ops = append(ops,
			scim.PatchOp{Op: "replace", Path: v.extension + ":locations", Value: v.access(l, v.currentAccess(r), c)},
			scim.PatchOp{Op: "replace", Path: v.extension + ":defaultLocation", Value: c.DefaultLocation})
	}
	if len(ops) == 0 {
		return OutcomeUnchanged, nil
	}
	_, err := l.in.Client.Patch(ctx, "Users", id, ops)
	return OutcomeDone, err
}
