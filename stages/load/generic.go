package load

import (
	"context"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// visitorGeneric is Eptura Visitor's public "Generic SCIM" API, and only
// what it documents: /Users, the core attributes, userName equal to the
// work email, and the user's city in addresses, by which the tenant's
// multi-location mapping places the user. Locations, access and admin
// rights are not sent: they are the Superuser's to set in the tenant.
// No externalId is documented, so the userName names a user (identity
// by email): a user whose email changes is updated by its SCIM id.
type visitorGeneric struct {
	coreSchema string // scim.core_schema
}

// notSentDetail is what results.csv says of a location under this profile.
const notSentDetail = "visitor-generic sends no locations: the tenant places users by the city of their address"

func (g *visitorGeneric) prepare(context.Context, *loader, map[string]any) error { return nil }
func (g *visitorGeneric) locationTypes() []string                                { return nil }

// locationTasks: nothing is sent; the result says so.
func (g *visitorGeneric) locationTasks(_ *loader, c *schemas.Change) []task {
	if c.Op != schemas.OpCreate && c.Op != schemas.OpUpdate && c.Op != schemas.OpDelete {
		return nil
	}
	return []task{{op: opID(schemas.EntityLocation, c.Op, c.Key),
		run: func(context.Context, bool) (string, string, error) { return OutcomeUnsupported, "", nil }}}
}

// user is the whole User the public API documents.
func (g *visitorGeneric) user(l *loader, c *schemas.Change, _ scim.Resource) scim.Resource {
	r := genericAttrs(c, l.traits)
	r["schemas"] = []string{g.coreSchema}
	return r
}

// genericAttrs are the documented attributes of c's user: the core
// attributes (traits t: the userName is the work email, no enterprise
// extension), with that one email, the formatted name and the city. An
// empty value is absent.
func genericAttrs(c *schemas.Change, t profile.Traits) scim.Resource {
	r := scim.Resource(userAttrs(c, t))
	r["emails"] = r["emails"].([]any)[:1] // the work email, which is the userName
	if f := joinNonEmpty(c.GivenName, c.FamilyName); f != "" {
		r["name"].(map[string]any)["formatted"] = f
	}
	if c.City != "" && t.City {
		r["addresses"] = []any{map[string]any{"primary": true, "locality": c.City}}
	}
	return r
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// updateUser PATCHes the changed attributes where the server speaks SCIM
// 2.0 and supports PATCH. Otherwise (SCIM 1.1, or no PATCH) it reads the
// user, changes exactly those attributes and PUTs it back: a PUT is what
// every SCIM 1.1 server must take, and means the same on each, where a
// 1.1 PATCH merges multi-valued attributes unless meta.attributes clears
// them first, which servers honour unevenly (a phone the export dropped
// would stay); reading first leaves what a person set in the tenant as
// the 2.0 PATCH does. A rename is an update by SCIM id like any other:
// the user is never deleted and made anew.
func (g *visitorGeneric) updateUser(ctx context.Context, l *loader, id string, c *schemas.Change) (string, error) {
	ops := patchOps(c, genericAttrs(c, l.traits), l.traits)
	if len(ops) == 0 {
		return OutcomeUnchanged, nil
	}
	if l.wire11 || !l.spc.Patch.Supported {
		r, err := l.in.Client.Get(ctx, "Users", id)
		if err != nil {
			return "", err
		}
		delete(r, "meta")
		for _, op := range ops { // the paths are top-level attributes
			if op.Op == "remove" {
				delete(r, op.Path)
			} else {
				r[op.Path] = op.Value
			}
		}
		r["schemas"] = []string{g.coreSchema} // what the public API documents, whatever the answer named
		_, err = l.in.Client.Replace(ctx, "Users", id, r)
		return OutcomeDone, err
	}
	_, err := l.in.Client.Patch(ctx, "Users", id, ops)
	return OutcomeDone, err
}
