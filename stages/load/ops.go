package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// locationPhase is phase 1: the locations' resources, as the profile
// makes them.
func (l *loader) locationPhase(ctx context.Context) (int, error) {
	return l.workers(ctx, func(submit func(task) error) error {
		for i := range l.locations {
			for _, t := range l.prof.locationTasks(l, &l.locations[i]) {
				if err := submit(t); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// createPhase is phase 2: the users new in Condeco, in /Bulk requests
// where the server takes them.
func (l *loader) createPhase(ctx context.Context) (int, error) {
	if !l.wire11 && l.spc.Bulk.Supported && l.spc.Bulk.MaxOperations > 1 {
		return l.bulkCreates(ctx)
	}
	return l.userPhase(schemas.OpCreate)(ctx)
}

// userPhase is the phase of the user changes of the given ops (phases 2,
// 3, 6 and 7), streamed from the plan.
func (l *loader) userPhase(ops ...string) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		return l.workers(ctx, func(submit func(task) error) error {
			return l.eachUser(userColumns, ops, func(row *schemas.Change) error {
				if row.Step > 0 {
					return nil // carried out in its step (handoverPhase)
				}
				c := *row // the batch is reused; its strings are not
				return submit(l.userTask(&c))
			})
		})
	}
}

// userTask is the operation of one user change.
func (l *loader) userTask(c *schemas.Change) task {
	t := task{op: opID(schemas.EntityUser, c.Op, c.Key)}
	switch c.Op {
	case schemas.OpCreate:
		t.create = true
		t.run = func(ctx context.Context, lost bool) (string, string, error) { return l.createUser(ctx, c, lost) }
	case schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate, schemas.OpRename:
		// A deactivation's record is the user with active false: the
		// desired row when Condeco has one, else the baseline's. A
		// rename's is the user under its temporary name.
		t.run = func(ctx context.Context, _ bool) (string, string, error) { return l.updateUser(ctx, c) }
	case schemas.OpDelete:
		t.run = func(ctx context.Context, _ bool) (string, string, error) {
			id, err := l.knownUserID(ctx, c)
			if err != nil {
				return "", "", err
			}
			return l.deleteResource(ctx, "Users", id)
		}
	default:
		t.run = func(context.Context, bool) (string, string, error) {
			return "", "", permanentf("a %s of a user is no operation", c.Op)
		}
	}
	return t
}

// createUser creates a user, or adopts it when the target has it already.
func (l *loader) createUser(ctx context.Context, c *schemas.Change, lost bool) (string, string, error) {
	key := c.Key
	if id, ok := l.existingUsers[l.identity(c)]; ok { // there before this load, with no baseline to say so
		found := scim.Resource{"id": id}
		if l.traits.ReadsToAdopt {
			r, err := l.in.Client.Get(ctx, "Users", id)
			if err != nil {
				return "", "", err
			}
			found = r
		}
		return l.adoptUser(ctx, c, found)
	}
	if lost { // an earlier try may have created it: look first
		if r, err := l.findUser(ctx, c, true); err != nil && !isOwned(err) {
			return "", "", err
		} else if r != nil {
			id, err := l.idOf(r)
			return OutcomeDone, id, err
		}
	}
	sent := l.prof.user(l, c, nil)
	r, err := l.in.Client.Create(ctx, "Users", sent)
	match := []string{"externalId", "userName"}
	if !l.traits.ExternalID {
		match = match[1:]
	}
	id, unsure := l.confirmCreate(sent, r, err, match...)
	if unsure != nil {
		found, ferr := l.findUser(ctx, c, true)
		return l.unconfirmed(unsure, found, ferr, "user with externalId "+key)
	}
	if err == nil {
		return OutcomeDone, id, nil
	}
	if !scim.IsStatus(err, http.StatusConflict) {
		return "", "", err
	}
	found, ferr := l.findUser(ctx, c, false)
	if isOwned(ferr) { // the server's words, then why it is not adopted
		return "", "", permanent{fmt.Errorf("%w; %w", err, ferr)}
	}
	if ferr != nil {
		return "", "", ferr
	}
	if found == nil {
		return "", "", permanent{fmt.Errorf("%w (and no user with this externalId or userName could be found to adopt)", err)}
	}
	return l.adoptUser(ctx, c, found)
}

// adoptUser takes over found, the target's resource of c's user, by
// replacing it with c's record (keeping the access found has).
func (l *loader) adoptUser(ctx context.Context, c *schemas.Change, found scim.Resource) (string, string, error) {
	id, err := l.idOf(found)
	if err != nil {
		return "", "", err
	}
	if _, err := l.in.Client.Replace(ctx, "Users", id, l.prof.user(l, c, found)); err != nil {
		return "", "", err
	}
	return OutcomeAdopted, id, nil
}

// findUser looks for c's user in the target by externalId and, unless
// byKeyOnly, by userName. userNames compare case-insensitively (RFC 7643
// §4.1.1), but not every server's filter does: an exact and a lower-case
// query are both tried, and the answer is checked here. An account found
// by userName that another UserID holds is not c's: findUser returns nil
// and an OwnedError (claimable).
func (l *loader) findUser(ctx context.Context, u *schemas.Change, byKeyOnly bool) (scim.Resource, error) {
	filters := []string{scim.Eq("externalId", u.Key)}
	if !l.traits.ExternalID { // the profile sends no externalId: the userName is the key
		filters, byKeyOnly = nil, false
	}
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
			byKey := i == 0 && l.traits.ExternalID
			if byKey && str(r, "externalId") == u.Key {
				return r, nil
			}
			if !byKey && strings.EqualFold(str(r, "userName"), u.UserName) {
				return l.claimed(u.Key, r)
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
	if r := byName[strings.ToLower(u.UserName)]; r != nil {
		return l.claimed(u.Key, r)
	}
	return nil, nil
}

// claimed is r, found by userName for UserID key, or nil and why when
// another UserID's account (claimable).
func (l *loader) claimed(key string, r scim.Resource) (scim.Resource, error) {
	if err := l.claimable(key, r); err != nil {
		return nil, err
	}
	return r, nil
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

// knownUserID is the SCIM id of c's user: from the plan (the baseline's),
// else looked up by externalId. "" when the target has no such user.
func (l *loader) knownUserID(ctx context.Context, c *schemas.Change) (string, error) {
	if c.SCIMID != "" {
		return c.SCIMID, nil
	}
	r, err := l.findUser(ctx, c, true)
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

// updateUser sends change c to its user, as the profile does.
func (l *loader) updateUser(ctx context.Context, c *schemas.Change) (string, string, error) {
	id, err := l.knownUserID(ctx, c)
	if err != nil {
		return "", "", err
	}
	if id == "" {
		return "", "", permanentf("user %s is not in the target (deleted there by hand?); the next run creates it if the baseline loses it", c.Key)
	}
	outcome, err := l.prof.updateUser(ctx, l, id, c)
	return outcome, id, err
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

// str reads a string attribute of a resource.
func str(r scim.Resource, attr string) string { s, _ := r[attr].(string); return s }
