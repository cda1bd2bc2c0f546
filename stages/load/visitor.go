package load

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
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

// visitorLocationTask is the one operation of a location change.
func (l *loader) visitorLocationTask(c schemas.Change) (task, bool) {
	e := Entry{Op: opID(schemas.EntityLocation, c.Op, c.Key), Entity: schemas.EntityLocation, Key: c.Key, Kind: c.Op, Name: c.Name}
	loc := l.locs[c.Key]
	var run func(ctx context.Context, lost bool) (string, string, error)
	switch {
	case c.Op != schemas.OpCreate && c.Op != schemas.OpUpdate && c.Op != schemas.OpDelete:
		return task{}, false
	case !l.hasLocations:
		run = func(context.Context, bool) (string, string, error) { return OutcomeUnsupported, "", nil }
	case c.Op == schemas.OpCreate:
		run = func(ctx context.Context, lost bool) (string, string, error) {
			return l.createNamed(ctx, "Locations", locationResource(loc), c.Key, c.Name, lost)
		}
	case c.Op == schemas.OpUpdate:
		run = func(ctx context.Context, _ bool) (string, string, error) {
			id := l.groupID(c.Key)
			if id == "" {
				return "", "", permanentf("location %s is not in the baseline's target state: it cannot be updated", c.Key)
			}
			_, err := l.in.Client.Replace(ctx, "Locations", id, locationResource(loc))
			return OutcomeDone, id, err
		}
	case c.Op == schemas.OpDelete:
		run = func(ctx context.Context, _ bool) (string, string, error) {
			return l.deleteResource(ctx, "Locations", l.groupID(c.Key))
		}
	}
	return task{e: e, run: run}, true
}

// visitorAccess is a user's locations attribute after change c: current
// (what the target holds; nil for a new user) with the locations c grants
// added with role user, admin rights given at the new default location
// and taken back at the old one. Entries condeco-sync did not grant are
// left as they are (rule 5).
func (l *loader) visitorAccess(current []any, c *schemas.Change) []any {
	var order []string
	have := map[string]map[string]any{}
	for _, v := range current {
		m, ok := v.(map[string]any)
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
	remove, add := l.adminChange(c.Key)
	if loc, ok := adminOf(remove); ok && have[loc] != nil && have[loc]["role"] == roleAdmin {
		have[loc]["role"] = roleUser
	}
	if loc, ok := adminOf(add); ok {
		set(loc, roleAdmin)
	}
	out := make([]any, 0, len(order))
	for _, id := range order {
		out = append(out, have[id])
	}
	return out
}

// touchesAccess reports whether change c changes a user's locations or
// default location in the visitor profile.
func (l *loader) touchesAccess(c *schemas.Change) bool {
	remove, add := l.adminChange(c.Key)
	return c.Grant != "" || remove != "" || add != "" || slices.Contains(strings.Split(c.Fields, "\n"), "defaultLocation")
}

// currentAccess is the locations attribute of a user as the target has it.
func (l *loader) currentAccess(r scim.Resource) []any {
	ext, _ := r[l.prof.extension].(map[string]any)
	locs, _ := ext["locations"].([]any)
	return locs
}

// updateVisitorUser sends a visitor-profile update: the changed fields
// and, when access changes, the user's locations as read from the target
// with this change applied, in one PATCH (or a PUT where there is none).
func (l *loader) updateVisitorUser(ctx context.Context, id string, u *schemas.User, c *schemas.Change) (string, string, error) {
	ops := l.prof.userPatch(u, c.Fields)
	if l.touchesAccess(c) || !l.spc.Patch.Supported {
		r, err := l.in.Client.Get(ctx, "Users", id)
		if err != nil {
			return "", id, err
		}
		access := l.visitorAccess(l.currentAccess(r), c)
		if !l.spc.Patch.Supported {
			_, err := l.in.Client.Replace(ctx, "Users", id, l.prof.userResource(u, access, false))
			return OutcomeDone, id, err
		}
		ops = append(ops,
			scim.PatchOp{Op: "replace", Path: l.prof.extension + ":locations", Value: access},
			scim.PatchOp{Op: "replace", Path: l.prof.extension + ":defaultLocation", Value: u.DefaultLocation})
	}
	if len(ops) == 0 {
		return OutcomeUnchanged, id, nil
	}
	_, err := l.in.Client.Patch(ctx, "Users", id, ops)
	return OutcomeDone, id, err
}
