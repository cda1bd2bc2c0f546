package load

import (
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// readPlan reads what load holds of the plan for the whole load: the
// number of changes of each kind, the location changes (a few hundred at
// most), and the baseline's locations with their groups' SCIM ids. User
// changes are streamed, phase by phase (eachUser).
func (l *loader) readPlan() error {
	l.counts = map[planKey]int{}
	if _, err := parquetio.Read(l.in.Changes, nil, func(batch []schemas.Change) error {
		for i := range batch {
			c := &batch[i]
			l.counts[planKey{c.Entity, c.Op}]++
			if c.Step > 0 {
				l.stepped++
			}
			if c.Entity == schemas.EntityLocation {
				// Its strings keep their batch's buffers alive: the
				// locations come first in a plan, so that is one batch.
				l.locations = append(l.locations, *c)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	l.baseLocs = map[string]*schemas.Location{}
	if l.in.BaselineLocations != "" {
		all, err := parquetio.ReadAll[schemas.Location](l.in.BaselineLocations)
		if err != nil {
			return err
		}
		for i := range all {
			loc := &all[i]
			l.baseLocs[loc.LocationID] = loc
			if loc.SCIMID != "" {
				l.groupIDs[loc.LocationID] = loc.SCIMID
			}
			if loc.AdminSCIMID != "" {
				l.groupIDs[adminKey(loc.LocationID)] = loc.AdminSCIMID
			}
		}
	}
	return nil
}

// eachUser streams the plan's user changes of the given ops, in the
// plan's order, reading only columns (nil: all).
func (l *loader) eachUser(columns []string, ops []string, fn func(c *schemas.Change) error) error {
	want := map[string]bool{}
	for _, op := range ops {
		want[op] = true
	}
	n := 0
	for _, op := range ops {
		n += l.counts[planKey{schemas.EntityUser, op}]
	}
	if n == 0 {
		return nil
	}
	_, err := parquetio.Read(l.in.Changes, columns, func(batch []schemas.Change) error {
		for i := range batch {
			if c := &batch[i]; c.Entity == schemas.EntityUser && want[c.Op] {
				if err := fn(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return err
}

// operations is how many operations the plan asks of the server: every
// change but a hold or a kept location; a location is two groups in a
// profile that makes admin groups.
func (l *loader) operations() int {
	n := 0
	for k, c := range l.counts {
		if k.op != schemas.OpHold && k.op != schemas.OpRemoved {
			n += c
		}
	}
	for _, c := range l.locations {
		if c.Op != schemas.OpHold && c.Op != schemas.OpRemoved {
			n += len(l.traits.LocationKeys(c.Key)) - 1
		}
	}
	return n
}

// groupName is the displayName of a group key, for people.
func (l *loader) groupName(key string) string {
	loc, admins := adminOf(key)
	name := loc
	for _, c := range l.locations {
		if c.Key == loc && c.Name != "" {
			name = c.Name
		}
	}
	if b := l.baseLocs[loc]; b != nil && name == loc {
		name = b.Name
	}
	if admins {
		return adminName(name)
	}
	return name
}

// planKey counts the plan's changes by entity and op.
type planKey struct{ entity, op string }

// userColumns are the columns of a user change that its operations read.
var userColumns = func() []string {
	cols := []string{"entity", "key", "op", "name", "reason", "scim_id", "changed", "grant", "admin_grant", "admin_revoke", "send_invitation",
		"step", "waits_for"}
	for _, f := range schemas.UserFields {
		cols = append(cols, f.Column)
	}
	return cols
}()
