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
	"golang.org/x/sync/errgroup"
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

// baseEntry is what pass 1 keeps of a key, numbered by a keyIndex: no
// pointers, so a million of them cost the garbage collector nothing.
type baseEntry struct {
	hash    int64
	inBase  bool // the baseline has this key
	desired bool // the desired state has this key
}

// Compare builds the change set of in.
func Compare(in Input) (*ChangeSet, error) {
	cs := &ChangeSet{Initial: in.BaselineUsers == ""}
	locChanges, activeLocs, err := compareLocations(in)
	if err != nil {
		return nil, err
	}
	cs.Changes = append(cs.Changes, locChanges...)

	// Pass 1, baseline: keys and hashes.
	var n int64
	if !cs.Initial {
		if n, err = parquetio.NumRows(in.BaselineUsers); err != nil {
			return nil, err
		}
	}
	index := newKeyIndex(int(n + n/50))
	base := make([]baseEntry, 0, n+n/50)
	var granted []string         // by key number; only when new locations may be granted
	owed := map[int32][]string{} // by key number: access a load failed to grant
	if !cs.Initial {
		cols := []string{"user_id", "row_hash", "owed"}
		if in.GrantNewLocations {
			cols = append(cols, "granted")
		}
		if _, err := parquetio.Read(in.BaselineUsers, cols, func(b []schemas.User) error {
			for i := range b {
				u := &b[i]
				if u.UserID == "" {
					return fmt.Errorf("%s: a user without UserID in the baseline", in.BaselineUsers)
				}
				if _, added := index.Add(u.UserID); !added {
					return fmt.Errorf("%s: UserID %s twice in the baseline", in.BaselineUsers, u.UserID)
				}
				base = append(base, baseEntry{hash: u.RowHash, inBase: true})
				if u.Owed != "" {
					owed[int32(len(base)-1)] = schemas.SplitIDs(strings.Clone(u.Owed))
				}
				if in.GrantNewLocations {
					granted = append(granted, strings.Clone(u.Granted))
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
		cs.BaselineUsers = len(base)
	}

	// Pass 1, desired: classify every key; remember those whose fields
	// differ, and those to deprovision, for pass 2.
	allLocs := schemas.JoinIDs(activeLocs)
	compare := map[string]string{} // key → LocationIDs to grant, for pass 2
	gone := map[string]string{}    // key → why it is deprovisioned
	held := map[string]string{}    // key → why it is held, for users the baseline has
	cols := []string{"user_id", "user_name", "row_hash", "active", "deleted", "held", "hold_reason"}
	_, err = parquetio.Read(in.Users, cols, func(b []schemas.User) error {
		for i := range b {
			u := &b[i]
			if u.UserID == "" {
				return fmt.Errorf("%s: a user without UserID in the desired state", in.Users)
			}
			idx, added := index.Add(u.UserID)
			if added {
				base = append(base, baseEntry{})
			}
			if base[idx].desired {
				return fmt.Errorf("%s: UserID %s twice in the desired state", in.Users, u.UserID)
			}
			base[idx].desired = true
			var old *baseEntry
			if base[idx].inBase {
				old = &base[idx]
			}
			user := func(op, reason string) schemas.Change {
				// Clones: u's strings would keep their Arrow batch alive.
				return schemas.Change{Entity: schemas.EntityUser, Key: strings.Clone(u.UserID), Op: op, Name: strings.Clone(u.UserName), Reason: reason}
			}
			switch {
			case u.Held && old == nil:
				cs.Changes = append(cs.Changes, user(schemas.OpHold, "held: "+u.HoldReason+"; not created"))
			case u.Held:
				held[strings.Clone(u.UserID)] = "held: " + u.HoldReason // named from the baseline in pass 2
			case old == nil && (u.Deleted || !u.Active):
				// Rule 2: an inactive or deleted user is not created.
			case old == nil:
				c := user(schemas.OpCreate, "new in export")
				c.Grant = allLocs // rule 4: a new user gets every location
				cs.Changes = append(cs.Changes, c)
			case u.Deleted:
				gone[strings.Clone(u.UserID)] = "deleted in Condeco"
			default:
				var grant []string
				if in.GrantNewLocations {
					grant = missing(activeLocs, schemas.SplitIDs(granted[idx]))
				}
				for _, id := range owed[idx] { // still owed, and still there to grant
					if slices.Contains(activeLocs, id) && !slices.Contains(grant, id) {
						grant = append(grant, id)
					}
				}
				newLocs := schemas.JoinIDs(grant)
				if u.RowHash != old.hash || newLocs != "" {
					compare[strings.Clone(u.UserID)] = newLocs
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range base {
		if base[i].inBase && !base[i].desired {
			gone[index.Key(int32(i))] = "missing from export"
		}
	}
	index, base, granted = nil, nil, nil // pass 2 needs none of them

	// Pass 2: full rows of the keys that differ or go, for their fields and names.
	if len(compare) > 0 || len(gone) > 0 || len(held) > 0 {
		changes, err := compareUsers(in, compare, gone, held)
		if err != nil {
			return nil, err
		}
		cs.Changes = append(cs.Changes, changes...)
	}
	sortChanges(cs.Changes)
	return cs, nil
}

// deprovision is rule 2 for a user who is gone or deleted in Condeco.
func deprovision(mode string, old *schemas.User, reason string) (schemas.Change, bool) {
	c := schemas.Change{Entity: schemas.EntityUser, Key: old.UserID, Name: old.UserName, Reason: reason}
	if mode == "deactivate" {
		if !old.Active {
			return c, false // already inactive: nothing to do
		}
		c.Op = schemas.OpDeactivate
		c.Fields, c.Before, c.After = "active", "true", "false"
		return c, true
	}
	c.Op = schemas.OpDelete
	return c, true
}

// comparedColumns are the Parquet columns pass 2 reads: the key and the
// fields a diff compares (userFields).
var comparedColumns = []string{"user_id", "owed", "user_name", "given_name", "family_name", "email", "phone_work", "phone_mobile",
	"country", "language", "title", "department", "cost_center", "user_type", "active", "admin", "default_location"}

// compareUsers reads the compared columns of the keys in compare, gone
// and held from both sides and makes their update, deactivate, reactivate,
// deprovision and hold changes (a held user keeps its baseline name).
func compareUsers(in Input, compare, gone, held map[string]string) ([]schemas.Change, error) {
	// The two reads are independent: run them on both cores.
	before := make(map[string]schemas.User, len(compare))
	after := make(map[string]schemas.User, len(compare))
	var out []schemas.Change
	var g errgroup.Group
	wanted := func(m map[string]string) func(string) bool {
		return func(k string) bool { _, ok := m[k]; return ok }
	}
	g.Go(func() error {
		_, err := parquetio.ReadRows(in.BaselineUsers, comparedColumns, "user_id",
			func(k string) bool { return wanted(compare)(k) || wanted(gone)(k) || wanted(held)(k) },
			func(u *schemas.User) error {
				if _, ok := compare[u.UserID]; ok {
					before[u.UserID] = *u
				} else if reason, ok := gone[u.UserID]; ok {
					if c, ok := deprovision(in.Deprovision, u, reason); ok {
						out = append(out, c)
					}
				} else if reason, ok := held[u.UserID]; ok {
					out = append(out, schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Op: schemas.OpHold, Name: u.UserName, Reason: reason})
				}
				return nil
			})
		return err
	})
	if len(compare) > 0 {
		g.Go(func() error {
			_, err := parquetio.ReadRows(in.Users, comparedColumns, "user_id", wanted(compare), func(u *schemas.User) error {
				after[u.UserID] = *u
				return nil
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for key, grant := range compare {
		old, u := before[key], after[key]
		ch := userChanges(&old, &u)
		c := schemas.Change{Entity: schemas.EntityUser, Key: key, Name: u.UserName, Op: schemas.OpUpdate, Grant: grant}
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
		if c.Fields != "" {
			out = append(out, c)
		}
	}
	return out, nil
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
