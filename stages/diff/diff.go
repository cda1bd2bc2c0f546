// Package diff is the third stage: it compares the desired state that
// transform made with the baseline (the state the last load applied) and
// writes the change set, the plan a person can read before anything is
// sent, and the mass-deletion guard's verdict.
package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"golang.org/x/sync/errgroup"
)

// Input is what diff needs.
type Input struct {
	Users, Locations                 string // transform's desired state
	BaselineUsers, BaselineLocations string // the applied state; both "" on the initial synchronization
	Deprovision                      string // users.deprovision: delete | deactivate
	GrantNewLocations                bool   // access.grant_new_locations_to_existing_users
	DeleteRemovedLocations           bool   // locations.delete_removed
	Profile                          string // scim.profile: what the plan's request count and to-do list reckon with ("": scim2)
	SCIM11                           bool   // the target speaks SCIM 1.1 (scim.core_schema): updates read then PUT
	Invitations                      string // users.invitations: send | suppress
	ScopeOnExit                      string // scope.on_exit: deprovision ("": it) | keep
	// RulesChanged names the rules of transform that changed since the
	// baseline's run ("mapping", "scope.users"; "" for none): the plan
	// then says how many users the change touches.
	RulesChanged []string
	Rate         float64 // requests a second load keeps under (0: none): the plan says how long it takes
	Guard        Guard
	// Only is the UserID of a provision's one user ("" for a daily run):
	// the plan holds that user's change and the creates of the locations
	// it is granted; every other change waits for the next daily run.
	Only string
}

// Guard is rule 10's limits on one change set: on the users it deletes
// or deactivates, and on those it creates.
type Guard struct {
	MaxDeletes  int
	MaxFraction float64
	// Creates: the limits on creates apply (not to the initial
	// synchronization, nor to the first daily run after provisions only).
	Creates           bool
	MaxCreates        int
	MaxCreateFraction float64
}

// ChangeSet is the outcome of a diff, in the order of schemas.OpOrder.
type ChangeSet struct {
	Changes       []schemas.Change
	BaselineUsers int // users in the baseline, the base of the guard's fraction
	Initial       bool
	// Admins counts the desired state's active admins (not held), and
	// Locations holds the desired locations by LocationID: the standing
	// part of the Superuser's to-do list, and its names.
	Admins    int
	Locations map[string]schemas.Location
	// Blocked are the creates and renames that take a userName a user of
	// the baseline keeps (rule 13): load fails them, naming the holder,
	// and the to-do list says how to free the name.
	Blocked []Blocked
}

// Compare builds the whole change set of in, in the plan's order.
func Compare(in Input) (*ChangeSet, error) {
	var all collector
	cs, err := compare(in, &all)
	if err != nil {
		return nil, err
	}
	cs.Changes = all
	return cs, nil
}

// sink takes a plan as compare makes it: begin once, with the change set
// whole but for its changes, then add with each change in the plan's
// order.
type sink interface {
	begin(cs *ChangeSet)
	add(c *schemas.Change) error
}

// collector is a sink that keeps every change.
type collector []schemas.Change

func (*collector) begin(*ChangeSet) {}
func (all *collector) add(c *schemas.Change) error {
	*all = append(*all, *c)
	return nil
}

// compare builds the change set of in and hands each change to s, in
// the plan's order (locations, then users, each by op in OpOrder and by
// key); the ChangeSet it returns holds no changes. Pass 1 reads only the
// keys, row hashes and flags of both snapshots (in parallel) and matches
// them; pass 2 reads the full rows of the users that changed, by row
// number, for their fields and names.
//
// The initial synchronization is a create for every user: with the
// desired state in order of UserID (transform writes it so), its creates
// are handed over as they are read, so a million of them are never held
// at once (it held 1.3 GB at a million users to sort them). A daily plan
// is held whole to be ordered: its creates are few, and where a name
// changes hands (rule 13) their order is known only once every change is.
func compare(in Input, s sink) (*ChangeSet, error) {
	cs := &ChangeSet{Initial: in.BaselineUsers == ""}
	locChanges, activeLocs, locs, err := compareLocations(in)
	if err != nil {
		return nil, err
	}
	cs.Locations = locs

	base := &baseline{}
	var desired []entry
	var inOrder bool
	var g errgroup.Group
	if !cs.Initial {
		g.Go(func() (err error) {
			base, err = readBaseline(in.BaselineUsers, in.GrantNewLocations)
			return err
		})
	}
	g.Go(func() (err error) {
		desired, inOrder, err = readDesired(in.Users)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cs.BaselineUsers = len(base.entries)
	for i := range desired {
		if e := &desired[i]; e.is(admin) && e.is(active) && !e.is(deleted) && !e.is(held) && !e.is(outOfScope) {
			cs.Admins++
		}
	}
	if cs.Initial && inOrder {
		desired = nil
		sortChanges(locChanges)
		if in.Only != "" {
			// Every location is a create, and granted to every user.
			s = oneUser{s, in.Only}
		}
		s.begin(cs)
		if err := addAll(s, locChanges); err != nil {
			return nil, err
		}
		return cs, streamCreates(in.Users, schemas.JoinIDs(activeLocs), s)
	}

	work := match(in, base, desired, activeLocs)
	base, desired = nil, nil // pass 2 needs none of them
	changes, err := work.resolve(in, locChanges)
	if err != nil {
		return nil, err
	}
	if in.Only != "" {
		changes = onlyUser(changes, in.Only)
	}
	if changes, cs.Blocked, err = orderNames(in.BaselineUsers, changes); err != nil {
		return nil, err
	}
	sortChanges(changes)
	s.begin(cs)
	return cs, addAll(s, changes)
}

// oneUser is a sink that passes on the changes of locations and of one
// user.
type oneUser struct {
	sink
	key string
}

func (o oneUser) add(c *schemas.Change) error {
	if c.Entity == schemas.EntityUser && c.Key != o.key {
		return nil
	}
	return o.sink.add(c)
}

// onlyUser keeps, of changes, key's user change and the creates and
// reactivations of the locations it is granted: what provisioning it
// alone needs. Its name may be one another user frees today (rule 13):
// that change is not kept, so the plan says the name is held and by
// whom, and the daily run makes the handover in order.
func onlyUser(changes []schemas.Change, key string) []schemas.Change {
	needs := map[string]bool{}
	for i := range changes {
		if c := &changes[i]; c.Entity == schemas.EntityUser && c.Key == key {
			for _, id := range schemas.SplitIDs(c.Grant) {
				needs[id] = true
			}
			if c.AdminGrant != "" {
				needs[c.AdminGrant] = true
			}
		}
	}
	return slices.DeleteFunc(changes, func(c schemas.Change) bool {
		if c.Entity == schemas.EntityUser {
			return c.Key != key
		}
		return !needs[c.Key] || c.Op != schemas.OpCreate && c.Op != schemas.OpReactivate
	})
}

func addAll(s sink, changes []schemas.Change) error {
	for i := range changes {
		if err := s.add(&changes[i]); err != nil {
			return err
		}
	}
	return nil
}

// streamCreates reads the desired state at path, in order of UserID, and
// hands s a create for each user that is active and not deleted (rule
// 2), granting it the active locations grant (rule 4); then the holds, a
// few, in the same order. This is the initial synchronization's user
// section, as resolve makes it, without the plan held.
func streamCreates(path, grant string, s sink) error {
	var holds []schemas.Change
	_, err := parquetio.Read(path, append(desiredColumns, "held", "out_of_scope"), func(batch []schemas.User) error {
		for i := range batch {
			switch u := &batch[i]; {
			case u.Held:
				holds = append(holds, heldNew(u))
			case u.Deleted || !u.Active || u.OutOfScope:
			default:
				c := created(u, grant)
				if err := s.add(&c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return addAll(s, holds)
}

// created is the create of user now, new in the export, with the
// locations grant (rule 4) and, where it is an admin, its admin rights.
func created(now *schemas.User, grant string) schemas.Change {
	c := userChange(now, schemas.OpCreate, "new in export")
	c.SetUser(now)
	c.Grant = grant
	_, c.AdminGrant = adminDecisions(nil, now)
	return c
}

// heldNew is the hold of a user new in the export whose row is held: it is
// not created.
func heldNew(now *schemas.User) schemas.Change {
	return userChange(now, schemas.OpHold, "held: "+now.HoldReason+"; not created")
}

func userChange(u *schemas.User, op, reason string) schemas.Change {
	return schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Op: op, Name: u.UserName, Reason: reason}
}

// pending is a change that pass 1 found and pass 2 completes from the rows
// it reads: the user's old row from the baseline, its new one from the
// desired state, or both.
type pending struct {
	kind   int
	reason string // of a deprovision
	grant  string // LocationIDs to grant, "\n"-separated
	pair   int    // a change that needs both rows: its index among those
}

const (
	kindCreate  = iota // new in export: now
	kindHoldNew        // held and not in the baseline: now
	kindGone           // deleted in Condeco or missing from export: old
	kindHold           // held, in the baseline: old keeps its state, now says why
	kindCompare        // fields or access differ: old and now
)

// work is pass 1's outcome: what pass 2 must read, and for which change.
type work struct {
	pending   []pending
	base, now []rowRef // the rows to read of each side, in file order once matched
	pairs     int      // the changes that need both rows
}

// rowRef is a row to read and the pending change it completes.
type rowRef struct {
	row     int64
	pending int
}

func (w *work) add(p pending, baseRow, nowRow int32) {
	if baseRow >= 0 && nowRow >= 0 {
		p.pair = w.pairs
		w.pairs++
	}
	w.pending = append(w.pending, p)
	if baseRow >= 0 {
		w.base = append(w.base, rowRef{int64(baseRow), len(w.pending) - 1})
	}
	if nowRow >= 0 {
		w.now = append(w.now, rowRef{int64(nowRow), len(w.pending) - 1})
	}
}

// match walks both sorted key lists at once and classifies every key.
func match(in Input, base *baseline, desired []entry, activeLocs []string) *work {
	w := &work{}
	if len(base.entries) == 0 {
		// The initial synchronization: every desired row is a change.
		w.pending, w.now = make([]pending, 0, len(desired)), make([]rowRef, 0, len(desired))
	}
	allLocs := schemas.JoinIDs(activeLocs)
	bs := base.entries
	i, j := 0, 0
	for i < len(bs) || j < len(desired) {
		switch {
		case j == len(desired) || i < len(bs) && less(bs[i].key, desired[j].key):
			w.add(pending{kind: kindGone, reason: "missing from export"}, bs[i].row, -1)
			i++
		case i == len(bs) || less(desired[j].key, bs[i].key):
			u := &desired[j]
			switch {
			case u.is(held):
				w.add(pending{kind: kindHoldNew}, -1, u.row)
			case u.is(deleted) || !u.is(active) || u.is(outOfScope):
				// Rule 2: an inactive or deleted user is not created, nor one
				// outside scope.users.
			default:
				w.add(pending{kind: kindCreate, grant: allLocs}, -1, u.row) // rule 4: every location
			}
			j++
		default:
			old, u := &bs[i], &desired[j]
			switch {
			case u.is(held):
				w.add(pending{kind: kindHold}, old.row, u.row) // it keeps its baseline state
			case u.is(deleted):
				w.add(pending{kind: kindGone, reason: "deleted in Condeco"}, old.row, -1)
			case u.is(outOfScope) && in.ScopeOnExit == "keep":
				// It keeps what it has, and is no longer updated.
			case u.is(outOfScope):
				w.add(pending{kind: kindGone, reason: "left the scope (scope.users)"}, old.row, -1)
			default:
				var grant []string
				if in.GrantNewLocations {
					grant = missing(activeLocs, schemas.SplitIDs(base.granted[old.row]))
				}
				for _, id := range base.owed[old.row] { // still owed, and still there to grant
					if slices.Contains(activeLocs, id) && !slices.Contains(grant, id) {
						grant = append(grant, id)
					}
				}
				if u.hash != old.hash || len(grant) > 0 {
					w.add(pending{kind: kindCompare, grant: schemas.JoinIDs(grant)}, old.row, u.row)
				}
			}
			i++
			j++
		}
	}
	byRow := func(a, b rowRef) int { return cmp.Compare(a.row, b.row) }
	slices.SortFunc(w.base, byRow)
	slices.SortFunc(w.now, byRow)
	return w
}

// Pass 2 reads the key and the compared fields (schemas.UserFields) of
// each side: the plan carries the whole record the target is to hold. The
// desired state also gives a hold's reason and the invitation, the
// baseline the SCIM id and the access owed.
var (
	userColumns = func() []string {
		var cs []string
		for _, f := range schemas.UserFields {
			cs = append(cs, f.Column)
		}
		return cs
	}()
	baselineColumns = append([]string{"user_id", "owed", "scim_id"}, userColumns...)
	desiredColumns  = append([]string{"user_id", "hold_reason", "send_invitation"}, userColumns...)
)

// resolve is pass 2: it reads the rows w needs from both sides (in
// parallel) and appends the changes to dst. Those that need one row are
// made as it is read; only the rows of those that need both are kept. The
// change set is built in place, once: at a million creates, every copy of
// it was a few hundred MB more at the peak.
func (w *work) resolve(in Input, dst []schemas.Change) ([]schemas.Change, error) {
	var nBase, nNow int
	for _, p := range w.pending {
		switch p.kind {
		case kindGone:
			nBase++
		case kindCreate, kindHoldNew:
			nNow++
		}
	}
	start := len(dst)
	out := slices.Grow(dst, nBase+nNow+w.pairs)[:start+nBase+nNow]
	// Each side's goroutine appends within its own region of out.
	fromBase, fromNow := out[start:start:start+nBase], out[start+nBase:start+nBase:start+nBase+nNow]
	olds, nows := make([]schemas.User, w.pairs), make([]schemas.User, w.pairs)
	var g errgroup.Group
	read := func(path string, columns []string, refs []rowRef, use func(p *pending, u *schemas.User)) {
		if len(refs) == 0 {
			return
		}
		at := make([]int64, len(refs))
		for i, r := range refs {
			at[i] = r.row
		}
		g.Go(func() error {
			_, err := parquetio.ReadRowsAt(path, columns, at, func(i int, u *schemas.User) error {
				use(&w.pending[refs[i].pending], u)
				return nil
			})
			return err
		})
	}
	read(in.BaselineUsers, baselineColumns, w.base, func(p *pending, old *schemas.User) {
		switch p.kind {
		case kindGone:
			if c, ok := deprovision(in.Deprovision, old, p.reason); ok {
				fromBase = append(fromBase, c)
			}
		default:
			olds[p.pair] = *old
		}
	})
	read(in.Users, desiredColumns, w.now, func(p *pending, now *schemas.User) {
		switch p.kind {
		case kindCreate:
			fromNow = append(fromNow, created(now, p.grant))
		case kindHoldNew:
			fromNow = append(fromNow, heldNew(now))
		default:
			nows[p.pair] = *now
		}
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// A user already inactive makes no deactivate: close the gap it left.
	n := copy(out[start+len(fromBase):], fromNow)
	out = out[:start+len(fromBase)+n]
	for k := range w.pending {
		p := &w.pending[k]
		switch p.kind {
		case kindHold:
			old, now := &olds[p.pair], &nows[p.pair]
			out = append(out, userChange(old, schemas.OpHold, "held: "+now.HoldReason)) // named from the baseline
		case kindCompare:
			old, now := &olds[p.pair], &nows[p.pair]
			if old.UserID != now.UserID {
				return nil, fmt.Errorf("%s and %s: UserIDs %s and %s share a 128-bit hash; please report this", in.BaselineUsers, in.Users, old.UserID, now.UserID)
			}
			if c, ok := update(old, now, p.grant); ok {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// deprovision is rule 2 for a user who is gone or deleted in Condeco.
func deprovision(mode string, old *schemas.User, reason string) (schemas.Change, bool) {
	c := schemas.Change{Entity: schemas.EntityUser, Key: old.UserID, Name: old.UserName, Reason: reason, SCIMID: old.SCIMID}
	c.SetUser(old) // who it was, for people; a deactivation sends it
	if mode == "deactivate" {
		if !old.Active {
			return c, false // already inactive: nothing to do
		}
		c.Op, c.Active = schemas.OpDeactivate, false
		c.Fields, c.Before, c.After = "active", "true", "false"
		c.Changed = c.Changed.With(schemas.FieldIndex(schemas.UserFields, "active"))
		return c, true
	}
	c.Op = schemas.OpDelete
	return c, true
}

// update is the change of a user whose fields or access differ: an update,
// or a deactivate or reactivate when active changed.
func update(old, u *schemas.User, grant string) (schemas.Change, bool) {
	ch := compareFields(schemas.UserFields, old, u)
	c := schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Name: u.UserName, Op: schemas.OpUpdate, Grant: grant,
		SCIMID: old.SCIMID, Changed: ch.set}
	c.SetUser(u)
	c.SendInvitation = false // an invitation goes with a create only
	c.AdminRevoke, c.AdminGrant = adminDecisions(old, u)
	switch {
	case ch.has("active") && !u.Active:
		c.Op, c.Reason = schemas.OpDeactivate, "inactive in Condeco"
	case ch.has("active") && u.Active:
		c.Op, c.Reason = schemas.OpReactivate, "active again in Condeco"
	case len(ch.names) > 0:
		c.Reason = strings.Join(ch.names, ", ") + " changed"
	}
	if grant != "" {
		ch.add("locations", "", "+"+strings.ReplaceAll(grant, "\n", " +"))
		why := "new location granted (access.grant_new_locations_to_existing_users)"
		if old.Owed != "" {
			why = "access a previous load could not grant, granted again"
		}
		c.Reason = joinReasons(c.Reason, why)
	}
	c.Fields, c.Before, c.After = strings.Join(ch.names, "\n"), strings.Join(ch.before, "\n"), strings.Join(ch.after, "\n")
	return c, c.Fields != ""
}

// compareLocations diffs the locations (a few hundred at most: read whole)
// and returns the LocationIDs a new user gets: the active, not held ones.
func compareLocations(in Input) ([]schemas.Change, []string, map[string]schemas.Location, error) {
	desired, err := parquetio.ReadAll[schemas.Location](in.Locations)
	if err != nil {
		return nil, nil, nil, err
	}
	var baseline []schemas.Location
	if in.BaselineLocations != "" {
		if baseline, err = parquetio.ReadAll[schemas.Location](in.BaselineLocations); err != nil {
			return nil, nil, nil, err
		}
	}
	byID := map[string]schemas.Location{}
	for _, l := range baseline {
		byID[l.LocationID] = l
	}
	for _, l := range desired {
		byID[l.LocationID] = l
	}
	old := map[string]*schemas.Location{}
	for i := range baseline {
		old[baseline[i].LocationID] = &baseline[i]
	}
	var out []schemas.Change
	var active []string
	seen := map[string]bool{}
	for i := range desired {
		l := &desired[i]
		seen[l.LocationID] = true
		o := old[l.LocationID]
		c := schemas.Change{Entity: schemas.EntityLocation, Key: l.LocationID, Name: l.Name}
		switch {
		case l.Held:
			c.Op, c.Reason = schemas.OpHold, "held: "+l.HoldReason
			out = append(out, c)
			if o != nil && o.Active {
				active = append(active, l.LocationID) // it keeps its baseline state
			}
			continue
		case o == nil && !l.Active:
			continue // an inactive new location is not created
		case o == nil:
			c.Op, c.Reason = schemas.OpCreate, "new in export"
		case o.RowHash != l.RowHash:
			ch := compareFields(schemas.LocationFields, o, l)
			c.Changed = ch.set
			c.Op, c.Reason = schemas.OpUpdate, strings.Join(ch.names, ", ")+" changed"
			c.Fields, c.Before, c.After = strings.Join(ch.names, "\n"), strings.Join(ch.before, "\n"), strings.Join(ch.after, "\n")
		}
		if c.Op != "" {
			c.SetLocation(l)
			out = append(out, c)
		}
		if l.Active {
			active = append(active, l.LocationID)
		}
	}
	for _, o := range baseline {
		if !seen[o.LocationID] {
			c := schemas.Change{Entity: schemas.EntityLocation, Key: o.LocationID, Name: o.Name, Op: schemas.OpRemoved,
				Reason: "missing from export; kept in the target (locations.delete_removed is false)"}
			if in.DeleteRemovedLocations {
				c.Op, c.Reason = schemas.OpDelete, "missing from export (locations.delete_removed)"
			}
			out = append(out, c)
		}
	}
	slices.Sort(active)
	return out, active, byID, nil
}

// adminDecisions is rule 5 for a user whose applied state is old (nil for
// a new user) and whose desired state is u: the location where the admin
// rights condeco-sync granted are taken back, and the one where they are
// granted ("" for none). A user is an admin at one location at most
// (User.AdminAt): the default location, or its home location.
func adminDecisions(old, u *schemas.User) (revoke, grant string) {
	var was string
	if old != nil {
		was = old.AdminAt()
	}
	if now := u.AdminAt(); was != now {
		return was, now
	}
	return "", ""
}

// missing lists the members of want that have is lacks.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

func joinReasons(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// sortChanges orders by entity (locations first: users refer to them), then
// by op in OpOrder, then by key: the same inputs give the same bytes.
func sortChanges(cs []schemas.Change) {
	slices.SortFunc(cs, func(a, b schemas.Change) int {
		if a.Entity != b.Entity {
			if a.Entity == schemas.EntityLocation {
				return -1
			}
			return 1
		}
		if d := schemas.OpOrder[a.Op] - schemas.OpOrder[b.Op]; d != 0 {
			return d
		}
		return strings.Compare(a.Key, b.Key)
	})
}
