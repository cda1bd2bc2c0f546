// Package diff is the third stage: it compares the desired state that
// transform made with the baseline (the state the last load applied) and
// writes the change set, the plan a person can read before anything is
// sent, and the mass-deletion guard's verdict.
package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// Input is what diff needs.
type Input struct {
	Users, Locations                 string // transform's desired state
	BaselineUsers, BaselineLocations string // the applied state; both "" on the initial synchronization
	Deprovision                      string // users.deprovision: delete | deactivate
	GrantNewLocations                bool   // access.grant_new_locations_to_existing_users
	DeleteRemovedLocations           bool   // locations.delete_removed
	Guard                            Guard
}

// Guard is rule 10's limits on one change set.
type Guard struct {
	MaxDeletes  int
	MaxFraction float64
}

// ChangeSet is the outcome of a diff, in the order of schemas.OpOrder.
type ChangeSet struct {
	Changes       []schemas.Change
	BaselineUsers int // users in the baseline, the base of the guard's fraction
	Initial       bool
}

// baseEntry is what pass 1 keeps of a baseline user.
type baseEntry struct {
	hash    int64
	active  bool
	name    string
	granted string
	seen    bool
}

// Compare builds the change set of in.
func Compare(in Input) (*ChangeSet, error) {
	cs := &ChangeSet{Initial: in.BaselineUsers == ""}
	locChanges, activeLocs, err := compareLocations(in)
	if err != nil {
		return nil, err
	}
	cs.Changes = append(cs.Changes, locChanges...)

	// Pass 1, baseline: keys, hashes and what the verdicts need.
	base := map[string]*baseEntry{}
	if !cs.Initial {
		cols := []string{"user_id", "user_name", "row_hash", "active", "granted"}
		n, err := parquetio.Read(in.BaselineUsers, cols, func(b []schemas.User) error {
			for i := range b {
				u := &b[i]
				if u.UserID == "" {
					return fmt.Errorf("%s: a user without UserID in the baseline", in.BaselineUsers)
				}
				if _, dup := base[u.UserID]; dup {
					return fmt.Errorf("%s: UserID %s twice in the baseline", in.BaselineUsers, u.UserID)
				}
				base[u.UserID] = &baseEntry{hash: u.RowHash, active: u.Active, name: u.UserName, granted: u.Granted}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		cs.BaselineUsers = int(n)
	}

	// Pass 1, desired: classify every key; remember those whose fields
	// differ for pass 2.
	allLocs := schemas.JoinIDs(activeLocs)
	compare := map[string]string{} // key → the op it gets, fields to fill in pass 2
	cols := []string{"user_id", "user_name", "row_hash", "active", "deleted", "held", "hold_reason"}
	seen := map[string]bool{}
	_, err = parquetio.Read(in.Users, cols, func(b []schemas.User) error {
		for i := range b {
			u := &b[i]
			if u.UserID == "" {
				return fmt.Errorf("%s: a user without UserID in the desired state", in.Users)
			}
			if seen[u.UserID] {
				return fmt.Errorf("%s: UserID %s twice in the desired state", in.Users, u.UserID)
			}
			seen[u.UserID] = true
			old := base[u.UserID]
			if old != nil {
				old.seen = true
			}
			user := func(op, reason string) schemas.Change {
				return schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Op: op, Name: u.UserName, Reason: reason}
			}
			switch {
			case u.Held:
				c := user(schemas.OpHold, "held: "+u.HoldReason)
				if old != nil {
					c.Name = old.name
				} else {
					c.Reason += "; not created"
				}
				cs.Changes = append(cs.Changes, c)
			case old == nil && (u.Deleted || !u.Active):
				// Rule 2: an inactive or deleted user is not created.
			case old == nil:
				c := user(schemas.OpCreate, "new in export")
				c.Grant = allLocs // rule 4: a new user gets every location
				cs.Changes = append(cs.Changes, c)
			case u.Deleted:
				if c, ok := deprovision(in.Deprovision, u.UserID, old, "deleted in Condeco"); ok {
					cs.Changes = append(cs.Changes, c)
				}
			default:
				newLocs := ""
				if in.GrantNewLocations {
					newLocs = schemas.JoinIDs(missing(activeLocs, schemas.SplitIDs(old.granted)))
				}
				if u.RowHash != old.hash || newLocs != "" {
					compare[u.UserID] = newLocs
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for key, old := range base {
		if !old.seen {
			if c, ok := deprovision(in.Deprovision, key, old, "missing from export"); ok {
				cs.Changes = append(cs.Changes, c)
			}
		}
	}

	// Pass 2: full rows of the keys that differ, for the fields.
	if len(compare) > 0 {
		updates, err := compareUsers(in, compare)
		if err != nil {
			return nil, err
		}
		cs.Changes = append(cs.Changes, updates...)
	}
	sortChanges(cs.Changes)
	return cs, nil
}

// deprovision is rule 2 for a user who is gone or deleted in Condeco.
func deprovision(mode, key string, old *baseEntry, reason string) (schemas.Change, bool) {
	c := schemas.Change{Entity: schemas.EntityUser, Key: key, Name: old.name, Reason: reason}
	if mode == "deactivate" {
		if !old.active {
			return c, false // already inactive: nothing to do
		}
		c.Op = schemas.OpDeactivate
		c.Fields, c.Before, c.After = "active", "true", "false"
		return c, true
	}
	c.Op = schemas.OpDelete
	return c, true
}

// compareUsers reads the full rows of the keys in compare from both sides
// and makes their update, deactivate or reactivate changes.
func compareUsers(in Input, compare map[string]string) ([]schemas.Change, error) {
	before := map[string]schemas.User{}
	if _, err := parquetio.Read(in.BaselineUsers, nil, func(b []schemas.User) error {
		for _, u := range b {
			if _, ok := compare[u.UserID]; ok {
				before[u.UserID] = u
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []schemas.Change
	_, err := parquetio.Read(in.Users, nil, func(b []schemas.User) error {
		for i := range b {
			u := &b[i]
			grant, ok := compare[u.UserID]
			if !ok {
				continue
			}
			old := before[u.UserID]
			ch := userChanges(&old, u)
			c := schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Name: u.UserName, Op: schemas.OpUpdate, Grant: grant}
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
				c.Reason = joinReasons(c.Reason, "new location granted (access.grant_new_locations_to_existing_users)")
			}
			c.Fields, c.Before, c.After = strings.Join(ch.names, "\n"), strings.Join(ch.before, "\n"), strings.Join(ch.after, "\n")
			if c.Fields != "" {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// compareLocations diffs the locations (a few hundred at most: read whole)
// and returns the LocationIDs a new user gets: the active, not held ones.
func compareLocations(in Input) ([]schemas.Change, []string, error) {
	desired, err := parquetio.ReadAll[schemas.Location](in.Locations)
	if err != nil {
		return nil, nil, err
	}
	var baseline []schemas.Location
	if in.BaselineLocations != "" {
		if baseline, err = parquetio.ReadAll[schemas.Location](in.BaselineLocations); err != nil {
			return nil, nil, err
		}
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
			ch := locationChanges(o, l)
			c.Op, c.Reason = schemas.OpUpdate, strings.Join(ch.names, ", ")+" changed"
			c.Fields, c.Before, c.After = strings.Join(ch.names, "\n"), strings.Join(ch.before, "\n"), strings.Join(ch.after, "\n")
		}
		if c.Op != "" {
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
	return out, active, nil
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
