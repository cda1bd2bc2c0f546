package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
)

// Membership operations: adding users to a group and removing them. One
// entry of the journal covers a chunk of members.
const (
	entityMembership = "membership"
	kindAdd          = "add"
	kindRemove       = "remove"
)

// locationTasks are phase 1 (scim2 profile): each location is a group, and
// its admins are a second group.
func (l *loader) locationTasks() []task {
	var out []task
	for _, c := range l.changes {
		if c.Entity != schemas.EntityLocation {
			continue
		}
		if l.prof.visitor {
			if t, ok := l.visitorLocationTask(c); ok {
				out = append(out, t)
			}
			continue
		}
		loc := l.locs[c.Key]
		for _, g := range []struct{ key, name string }{{c.Key, c.Name}, {adminKey(c.Key), adminName(c.Name)}} {
			e := Entry{Op: opID(schemas.EntityLocation, c.Op, g.key), Entity: schemas.EntityLocation, Key: g.key, Kind: c.Op, Name: g.name}
			switch c.Op {
			case schemas.OpCreate:
				out = append(out, task{e: e, run: func(ctx context.Context, lost bool) (string, string, error) {
					return l.createNamed(ctx, "Groups", groupResource(g.name, g.key), g.key, g.name, lost)
				}})
			case schemas.OpUpdate:
				renamed := slices.Contains(strings.Split(c.Fields, "\n"), "name") && loc != nil
				out = append(out, task{e: e, run: func(ctx context.Context, _ bool) (string, string, error) {
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
				}})
			case schemas.OpDelete:
				out = append(out, task{e: e, run: func(ctx context.Context, _ bool) (string, string, error) {
					return l.deleteResource(ctx, "Groups", l.groupID(g.key))
				}})
			}
		}
	}
	return out
}

// userTasks are the user operations of the given kinds (phases 2, 3, 6, 7).
func (l *loader) userTasks(kinds ...string) func() []task {
	return func() []task {
		var out []task
		for _, c := range l.changes {
			if c.Entity != schemas.EntityUser || !slices.Contains(kinds, c.Op) {
				continue
			}
			e := Entry{Op: opID(schemas.EntityUser, c.Op, c.Key), Entity: schemas.EntityUser, Key: c.Key, Kind: c.Op, Name: c.Name}
			var run func(ctx context.Context, lost bool) (string, string, error)
			switch c.Op {
			case schemas.OpCreate:
				run = func(ctx context.Context, lost bool) (string, string, error) { return l.createUser(ctx, &c, lost) }
			case schemas.OpUpdate, schemas.OpReactivate:
				run = func(ctx context.Context, _ bool) (string, string, error) {
					return l.updateUser(ctx, l.desired[c.Key], &c)
				}
			case schemas.OpDeactivate:
				run = func(ctx context.Context, _ bool) (string, string, error) {
					// The desired row when Condeco has one (inactive there), else
					// the baseline's (gone from Condeco): either way, inactive.
					u := l.desired[c.Key]
					if u == nil || u.Deleted {
						u = l.base[c.Key]
					}
					if u == nil {
						return "", "", permanentf("user %s is in neither the desired state nor the baseline", c.Key)
					}
					off := *u
					off.Active = false
					return l.updateUser(ctx, &off, &c)
				}
			case schemas.OpDelete:
				run = func(ctx context.Context, _ bool) (string, string, error) {
					id, err := l.knownUserID(ctx, c.Key)
					if err != nil {
						return "", "", err
					}
					return l.deleteResource(ctx, "Users", id)
				}
			}
			out = append(out, task{e: e, run: run})
		}
		return out
	}
}

// createUser creates a user, or adopts it when the target has it already.
func (l *loader) createUser(ctx context.Context, c *schemas.Change, lost bool) (string, string, error) {
	key := c.Key
	u := l.desired[key]
	if u == nil {
		return "", "", permanentf("user %s is not in the desired state", key)
	}
	if id, ok := l.existingUsers[key]; ok { // there before this load, with no baseline to say so
		found := scim.Resource{"id": id}
		if l.prof.visitor { // the access it has is kept: read it
			r, err := l.in.Client.Get(ctx, "Users", id)
			if err != nil {
				return "", "", err
			}
			found = r
		}
		return l.adoptUser(ctx, u, c, found)
	}
	if lost { // an earlier try may have created it: look first
		if r, err := l.findUser(ctx, u, true); err != nil {
			return "", "", err
		} else if r != nil {
			id, err := l.idOf(r)
			return OutcomeDone, id, err
		}
	}
	sent := l.newUser(u, c, nil)
	r, err := l.in.Client.Create(ctx, "Users", sent)
	id, unsure := l.confirmCreate(sent, r, err, "externalId", "userName")
	if unsure != nil {
		found, ferr := l.findUser(ctx, u, true)
		return l.unconfirmed(unsure, found, ferr, "user with externalId "+key)
	}
	if err == nil {
		return OutcomeDone, id, nil
	}
	if !scim.IsStatus(err, http.StatusConflict) {
		return "", "", err
	}
	found, ferr := l.findUser(ctx, u, false)
	if ferr != nil {
		return "", "", ferr
	}
	if found == nil {
		return "", "", permanent{fmt.Errorf("%w (and no user with this externalId or userName could be found to adopt)", err)}
	}
	if ext := str(found, "externalId"); ext != "" && ext != key {
		return "", "", permanentf("userName %s belongs to another user in the target (externalId %s): not adopted", u.UserName, ext)
	}
	return l.adoptUser(ctx, u, c, found)
}

// adoptUser takes over found, the target's resource of u, by replacing it
// with u's (keeping the access found has).
func (l *loader) adoptUser(ctx context.Context, u *schemas.User, c *schemas.Change, found scim.Resource) (string, string, error) {
	id, err := l.idOf(found)
	if err != nil {
		return "", "", err
	}
	if _, err := l.in.Client.Replace(ctx, "Users", id, l.newUser(u, c, found)); err != nil {
		return "", "", err
	}
	return OutcomeAdopted, id, nil
}

// newUser is the whole resource of a user that change c creates: for a
// create (found nil), with the invitation the run asks for; for an
// adoption of found, keeping the access found has (rule 5).
func (l *loader) newUser(u *schemas.User, c *schemas.Change, found scim.Resource) scim.Resource {
	if !l.prof.visitor {
		return l.prof.userResource(u, nil, false)
	}
	return l.prof.userResource(u, l.visitorAccess(l.currentAccess(found), c), found == nil && u.SendInvitation)
}

// findUser looks for u in the target by externalId and, unless byKeyOnly,
// by userName. userNames compare case-insensitively (RFC 7643 §4.1.1), but
// not every server's filter does: an exact and a lower-case query are both
// tried, and the answer is checked here.
func (l *loader) findUser(ctx context.Context, u *schemas.User, byKeyOnly bool) (scim.Resource, error) {
	filters := []string{scim.Eq("externalId", u.UserID)}
	if !byKeyOnly {
		filters = append(filters, scim.Eq("userName", u.UserName))
		if low := strings.ToLower(u.UserName); low != u.UserName {
			filters = append(filters, scim.Eq("userName", low))
		}
	}
	for i, f := range filters {
		rs, err := l.in.Client.Filter(ctx, "Users", f, 10)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if (i == 0 && str(r, "externalId") == u.UserID) || (i > 0 && strings.EqualFold(str(r, "userName"), u.UserName)) {
				return r, nil
			}
		}
	}
	if byKeyOnly {
		return nil, nil
	}
	// The server said the userName is taken, yet its filter finds it in no
	// case we tried: its filter compares case-sensitively. Read its users
	// once and compare here.
	byName, err := l.targetUserNames(ctx)
	if err != nil {
		return nil, err
	}
	return byName[strings.ToLower(u.UserName)], nil
}

// targetUserNames lists the target's users by lower-cased userName, read
// once per load on the first conflict the filters cannot resolve.
func (l *loader) targetUserNames(ctx context.Context) (map[string]scim.Resource, error) {
	l.scanMu.Lock()
	defer l.scanMu.Unlock()
	if l.byName != nil {
		return l.byName, nil
	}
	all, err := l.in.Client.Filter(ctx, "Users", "", 500)
	if err != nil {
		return nil, err
	}
	l.byName = map[string]scim.Resource{}
	for _, r := range all {
		l.byName[strings.ToLower(str(r, "userName"))] = r
	}
	return l.byName, nil
}

// knownUserID is key's SCIM id: from the baseline or this load, else
// looked up by externalId. "" when the target has no such user.
func (l *loader) knownUserID(ctx context.Context, key string) (string, error) {
	if id := l.userID(key); id != "" {
		return id, nil
	}
	r, err := l.findUser(ctx, &schemas.User{UserID: key}, true)
	if r == nil || err != nil {
		return "", err
	}
	return l.idOf(r)
}

// confirmCreate reads the answer to the create of sent (r, err): the new
// resource's id when the answer shows it made sent, or why the outcome is
// unknown (unsure): a 2xx that is not SCIM, or a resource that is not the
// one sent. Both are zero when the server refused (err says how).
func (l *loader) confirmCreate(sent, r scim.Resource, err error, match ...string) (id string, unsure error) {
	var se *scim.Error
	switch {
	case err == nil:
		if id, err = l.in.Client.Confirm(sent, r, match...); err != nil {
			return "", err
		}
		return id, nil
	case errors.As(err, &se) && se.Status >= 200 && se.Status <= 299:
		return "", err
	}
	return "", nil
}

// unconfirmed settles a create the server said yes to without showing
// the resource made (unsure says how): whether it made it is unknown, and
// a lookup by externalId finds out, as for a lost answer. found is what
// the lookup found (nil: nothing; what names it for the message).
func (l *loader) unconfirmed(unsure error, found scim.Resource, ferr error, what string) (string, string, error) {
	if ferr != nil {
		return "", "", ferr
	}
	if found == nil {
		return "", "", permanentf("the server accepted the create, but %v; it has no %s: not created", unsure, what)
	}
	id, err := l.idOf(found)
	return OutcomeDone, id, err
}

// idOf is the SCIM id of r, a resource a lookup found, once checked: it
// goes into the journal, the applied state and later requests' URLs.
func (l *loader) idOf(r scim.Resource) (string, error) {
	id := str(r, "id")
	if err := l.in.Client.CheckID(id); err != nil {
		return "", permanentf("the resource the server found: %v", err)
	}
	return id, nil
}

// updateUser sends u's changed fields (change c): a PATCH of those
// attributes where the server supports PATCH, else a PUT of the whole user.
func (l *loader) updateUser(ctx context.Context, u *schemas.User, c *schemas.Change) (string, string, error) {
	key := c.Key
	if u == nil {
		return "", "", permanentf("user %s is not in the desired state", key)
	}
	id, err := l.knownUserID(ctx, key)
	if err != nil {
		return "", "", err
	}
	if id == "" {
		return "", "", permanentf("user %s is not in the target (deleted there by hand?); the next run creates it if the baseline loses it", key)
	}
	if l.prof.visitor {
		return l.updateVisitorUser(ctx, id, u, c)
	}
	if !l.spc.Patch.Supported {
		_, err := l.in.Client.Replace(ctx, "Users", id, l.prof.userResource(u, nil, false))
		return OutcomeDone, id, err
	}
	ops := l.prof.userPatch(u, c.Fields)
	if len(ops) == 0 {
		return OutcomeUnchanged, id, nil // only fields that travel as group membership, or none in SCIM
	}
	_, err = l.in.Client.Patch(ctx, "Users", id, ops)
	return OutcomeDone, id, err
}

// deleteResource deletes /typ/id; a resource already gone is no failure.
func (l *loader) deleteResource(ctx context.Context, typ, id string) (string, string, error) {
	if id == "" {
		return OutcomeGone, "", nil
	}
	err := l.in.Client.Delete(ctx, typ, id)
	if scim.IsStatus(err, http.StatusNotFound) {
		return OutcomeGone, id, nil
	}
	return OutcomeDone, id, err
}

// createNamed creates res, a location's group (or admin group) or
// /Locations resource, or adopts one the target has already: same
// externalId, or same displayName and no externalId.
func (l *loader) createNamed(ctx context.Context, typ string, res scim.Resource, key, name string, lost bool) (string, string, error) {
	if r, ok := l.existingNamed[key]; ok { // there before this load, with no baseline to say so
		id := str(r, "id")
		var err error
		if str(r, "displayName") != name { // made by an earlier run, under a name since changed
			err = l.patchResource(ctx, typ, id, []scim.PatchOp{{Op: "replace", Path: "displayName", Value: name}},
				func(r scim.Resource) { r["displayName"] = name })
		}
		return OutcomeAdopted, id, err
	}
	if lost {
		if r, err := l.findNamed(ctx, typ, key, ""); err != nil {
			return "", "", err
		} else if r != nil {
			id, err := l.idOf(r)
			return OutcomeDone, id, err
		}
	}
	r, err := l.in.Client.Create(ctx, typ, res)
	id, unsure := l.confirmCreate(res, r, err, "externalId", "displayName")
	if unsure != nil {
		found, ferr := l.findNamed(ctx, typ, key, "")
		return l.unconfirmed(unsure, found, ferr, typ+" with externalId "+key)
	}
	if err == nil {
		return OutcomeDone, id, nil
	}
	if !scim.IsStatus(err, http.StatusConflict) {
		return "", "", err
	}
	found, ferr := l.findNamed(ctx, typ, key, name)
	if ferr != nil || found == nil {
		return "", "", permanent{fmt.Errorf("%w (and no resource with this externalId or displayName could be found to adopt)", err)}
	}
	id, err = l.idOf(found)
	if err != nil {
		return "", "", err
	}
	switch ext := str(found, "externalId"); ext {
	case key:
	case "":
		if err := l.patchResource(ctx, typ, id, []scim.PatchOp{{Op: "replace", Path: "externalId", Value: key}},
			func(r scim.Resource) { r["externalId"] = key }); err != nil {
			return "", "", err
		}
	default:
		return "", "", permanentf("%s %q belongs to another location in the target (externalId %s): not adopted", typ, name, ext)
	}
	return OutcomeAdopted, id, nil
}

// findNamed looks for a location's resource in the target by externalId
// and, when name is given, by displayName. What the server's filter
// answers is checked here: a server that ignores the filter lists
// resources that are not the one asked for, and adopting one of those
// would hand a group made by hand to a location.
func (l *loader) findNamed(ctx context.Context, typ, key, name string) (scim.Resource, error) {
	rs, err := l.in.Client.Filter(ctx, typ, scim.Eq("externalId", key), 10)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if str(r, "externalId") == key {
			return r, nil
		}
	}
	if name == "" {
		return nil, nil
	}
	if rs, err = l.in.Client.Filter(ctx, typ, scim.Eq("displayName", name), 10); err != nil {
		return nil, err
	}
	for _, r := range rs {
		if strings.EqualFold(str(r, "displayName"), name) {
			return r, nil
		}
	}
	return nil, nil
}

// patchResource PATCHes /typ/id, or where the server has no PATCH, reads
// it, changes it with edit and PUTs it back (a group's members included).
func (l *loader) patchResource(ctx context.Context, typ, id string, ops []scim.PatchOp, edit func(scim.Resource)) error {
	if l.spc.Patch.Supported {
		_, err := l.in.Client.Patch(ctx, typ, id, ops)
		return err
	}
	r, err := l.in.Client.Get(ctx, typ, id)
	if err != nil {
		return err
	}
	delete(r, "meta")
	edit(r)
	_, err = l.in.Client.Replace(ctx, typ, id, r)
	return err
}

// adminChange says what user key's admin rights need in the groups: a
// removal from the admin group of the old default location, an addition
// to that of the new one, or neither ("").
func (l *loader) adminChange(key string) (remove, add string) {
	d, b := l.desired[key], l.base[key]
	if d == nil || d.Deleted {
		return "", ""
	}
	var wasAdmin bool
	var was string
	if b != nil {
		wasAdmin, was = b.Admin, b.DefaultLocation
	}
	if wasAdmin && (!d.Admin || was != d.DefaultLocation) {
		remove = adminKey(was)
	}
	if d.Admin && (!wasAdmin || was != d.DefaultLocation) {
		add = adminKey(d.DefaultLocation)
	}
	return remove, add
}

// grantTasks are phase 4: the users created or updated by this load join
// the groups of the locations they are granted, and admins the admin group
// of their default location. A group gets one PATCH per chunk of members.
func (l *loader) grantTasks() []task {
	if l.prof.visitor {
		return nil // access travels on the user there
	}
	add := map[string][]string{}
	for _, c := range l.changes {
		if c.Entity != schemas.EntityUser {
			continue
		}
		switch c.Op {
		case schemas.OpCreate:
			if !l.isDone(opID(schemas.EntityUser, c.Op, c.Key)) {
				continue // not created: nothing to grant
			}
		case schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate:
		default:
			continue
		}
		groups := schemas.SplitIDs(c.Grant)
		if _, admin := l.adminChange(c.Key); admin != "" {
			groups = append(groups, admin)
		}
		for _, g := range groups {
			if l.pairDone(kindAdd, g, c.Key) {
				continue
			}
			add[g] = append(add[g], c.Key)
		}
	}
	return l.memberTasks(kindAdd, add)
}

// revokeTasks are phase 5: admin rights condeco-sync granted and Condeco
// no longer gives (rule 5: nothing granted by hand is in the baseline).
func (l *loader) revokeTasks() []task {
	if l.prof.visitor {
		return nil
	}
	remove := map[string][]string{}
	for _, c := range l.changes {
		if c.Entity != schemas.EntityUser || (c.Op != schemas.OpUpdate && c.Op != schemas.OpReactivate && c.Op != schemas.OpDeactivate) {
			continue
		}
		if g, _ := l.adminChange(c.Key); g != "" && !l.pairDone(kindRemove, g, c.Key) {
			remove[g] = append(remove[g], c.Key)
		}
	}
	return l.memberTasks(kindRemove, remove)
}

func (l *loader) pairDone(kind, group, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.pairs[pairKey{kind, group, user}]
	return ok && done(o)
}

// memberTasks turns group → UserIDs into one task per chunk of members.
// The chunks go round-robin over the groups, and a group takes one PATCH
// at a time (see changeMembers): workers spread over groups, not queue
// behind one.
func (l *loader) memberTasks(kind string, byGroup map[string][]string) []task {
	var chunks [][]task
	for _, g := range sortedKeys(byGroup) {
		users := byGroup[g]
		slices.Sort(users)
		for i, chunk := range slices.Collect(slices.Chunk(users, l.in.ChunkSize)) {
			e := Entry{Op: opID(entityMembership, kind, g+":"+chunk[0]), Entity: entityMembership, Key: g, Kind: kind,
				Name: l.groupName(g), Members: chunk}
			t := task{e: e, run: func(ctx context.Context, lost bool) (string, string, error) {
				return l.changeMembers(ctx, kind, g, chunk, lost)
			}}
			if i == len(chunks) {
				chunks = append(chunks, nil)
			}
			chunks[i] = append(chunks[i], t)
		}
	}
	return slices.Concat(chunks...)
}

// groupName is the displayName of a group key, for people.
func (l *loader) groupName(key string) string {
	loc, admins := adminOf(key)
	name := loc
	if d := l.locs[loc]; d != nil {
		name = d.Name
	} else if b := l.baseLocs[loc]; b != nil {
		name = b.Name
	}
	if admins {
		return adminName(name)
	}
	return name
}

// changeMembers adds users to (or removes them from) group in one PATCH.
// A removal reads the group first and removes only its present members: a
// PATCH removing an absent member is an error on most servers, and a
// person may have removed one by hand. An addition reads it first when an
// earlier try may have been carried out unanswered (lost): RFC 7644 says
// adding a present member changes nothing, but not every server agrees.
func (l *loader) changeMembers(ctx context.Context, kind, group string, users []string, lost bool) (string, string, error) {
	gid := l.groupID(group)
	if gid == "" {
		return "", "", permanentf("group %s is not in the target (its location was not created)", group)
	}
	// One change of a group at a time: many servers apply a PATCH by
	// reading the group and writing it back, and two at once lose one.
	mu := l.groupLock(group)
	mu.Lock()
	defer mu.Unlock()
	ids := make([]string, len(users))
	for i, u := range users {
		if ids[i] = l.userID(u); ids[i] == "" {
			return "", gid, permanentf("user %s has no SCIM id", u)
		}
	}
	var present map[string]bool
	if kind == kindRemove || lost {
		r, err := l.in.Client.Get(ctx, "Groups", gid)
		if err != nil {
			return "", gid, err
		}
		present = map[string]bool{}
		for _, m := range members(r) {
			if mm, ok := m.(map[string]any); ok {
				present[fmt.Sprint(mm["value"])] = true
			}
		}
	}
	if kind == kindAdd {
		var value []any
		for _, id := range ids {
			if !present[id] {
				value = append(value, map[string]any{"value": id})
			}
		}
		if len(value) == 0 {
			return OutcomeDone, gid, nil // the lost try did it
		}
		err := l.patchResource(ctx, "Groups", gid, []scim.PatchOp{{Op: "add", Path: "members", Value: value}}, func(r scim.Resource) {
			r["members"] = append(members(r), value...)
		})
		return OutcomeDone, gid, err
	}
	var ops []scim.PatchOp
	for _, id := range ids {
		if present[id] {
			ops = append(ops, scim.PatchOp{Op: "remove", Path: fmt.Sprintf("members[value eq %q]", id)})
		}
	}
	if len(ops) == 0 {
		return OutcomeUnchanged, gid, nil
	}
	err := l.patchResource(ctx, "Groups", gid, ops, func(r scim.Resource) {
		var keep []any
		for _, m := range members(r) {
			if mm, ok := m.(map[string]any); !ok || !slices.Contains(ids, fmt.Sprint(mm["value"])) {
				keep = append(keep, m)
			}
		}
		r["members"] = keep
	})
	return OutcomeDone, gid, err
}

func (l *loader) groupLock(group string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groupLocks == nil {
		l.groupLocks = map[string]*sync.Mutex{}
	}
	if l.groupLocks[group] == nil {
		l.groupLocks[group] = &sync.Mutex{}
	}
	return l.groupLocks[group]
}

func members(r scim.Resource) []any { m, _ := r["members"].([]any); return m }

// str reads a string attribute of a resource.
func str(r scim.Resource, attr string) string { s, _ := r[attr].(string); return s }
