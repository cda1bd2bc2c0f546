package load

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// writeState writes the applied state: the baseline with exactly the
// operations that succeeded applied to it, every resource with its SCIM
// id. What failed keeps its baseline state, so the next diff finds it again.
func (l *loader) writeState(dir string) (users, locs int64, err error) {
	if err := artifact.MkdirAll(filepath.Join(dir, "state")); err != nil {
		return 0, 0, err
	}
	users, err = parquetio.Write(filepath.Join(dir, UsersStateFile), func(emit func(schemas.User) error) error {
		if l.in.BaselineUsers != "" {
			if _, err := parquetio.Read(l.in.BaselineUsers, nil, func(batch []schemas.User) error {
				for i := range batch {
					if row, keep := l.appliedUser(&batch[i], l.userChange[batch[i].UserID]); keep {
						if err := emit(row); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for _, c := range l.changes {
			if c.Entity == schemas.EntityUser && c.Op == schemas.OpCreate && l.isDone(opID(c.Entity, c.Op, c.Key)) {
				row, _ := l.appliedUser(nil, &c)
				if err := emit(row); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	rows := l.appliedLocations()
	_, err = parquetio.WriteSlice(filepath.Join(dir, LocationsStateFile), rows)
	return users, int64(len(rows)), err
}

// appliedUser is the applied state of one user: base is its baseline row
// (nil for a create), c its change (nil for none). keep is false for a
// user this load deleted.
func (l *loader) appliedUser(base *schemas.User, c *schemas.Change) (row schemas.User, keep bool) {
	if c == nil {
		return *base, true
	}
	d := l.desired[c.Key]
	ok := l.isDone(opID(schemas.EntityUser, c.Op, c.Key))
	switch {
	case c.Op == schemas.OpCreate:
		row = *d
		row.SCIMID = l.userID(c.Key)
	case c.Op == schemas.OpDelete && ok:
		return row, false
	case ok && d != nil && !d.Deleted && c.Op != schemas.OpHold:
		row = *d // the desired fields, with the baseline's target state
		row.SCIMID, row.Granted, row.Owed = base.SCIMID, base.Granted, base.Owed
	default:
		row = *base
		if ok && c.Op == schemas.OpDeactivate {
			row.Active = false // deprovisioned by deactivation
		}
	}
	if c.Op != schemas.OpDelete && c.Op != schemas.OpHold {
		l.applyAccess(&row, base, c)
	}
	row.SendInvitation, row.Held, row.HoldReason = false, false, ""
	row.RowHash = row.Hash()
	return row, true
}

// applyAccess records in row the access this load granted: the locations
// whose group the user joined go to Granted, those it could not join to
// Owed (the next diff grants them again); admin rights as far as the
// admin groups were changed.
func (l *loader) applyAccess(row, base *schemas.User, c *schemas.Change) {
	granted, owed := row.GrantedIDs(), schemas.SplitIDs(row.Owed)
	for _, g := range schemas.SplitIDs(c.Grant) {
		if l.accessDone(kindAdd, g, c) {
			granted = appendNew(granted, g)
			owed = slices.DeleteFunc(owed, func(o string) bool { return o == g })
		} else {
			owed = appendNew(owed, g)
		}
	}
	row.Granted, row.Owed = schemas.JoinIDs(granted), schemas.JoinIDs(owed)

	remove, add := l.adminChange(c.Key)
	d := l.desired[c.Key]
	switch {
	case remove == "" && add == "":
	case remove != "" && !l.accessDone(kindRemove, remove, c):
		row.Admin, row.DefaultLocation = base.Admin, base.DefaultLocation // still admin where it was
	case add != "" && !l.accessDone(kindAdd, add, c):
		row.Admin, row.DefaultLocation = false, d.DefaultLocation // the diff asks for the rights again
	default:
		row.Admin, row.DefaultLocation = d.Admin, d.DefaultLocation
	}
}

// accessDone reports whether change c's grant (kind add) or revoke of
// group for its user was carried out: by the membership PATCH (scim2), or
// with the user's own operation (visitor).
func (l *loader) accessDone(kind, group string, c *schemas.Change) bool {
	if l.prof.visitor {
		return l.isDone(opID(schemas.EntityUser, c.Op, c.Key))
	}
	return l.pairDone(kind, group, c.Key)
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// appliedLocations is the applied state of the locations: a location's
// change counts when both its groups' operations succeeded.
func (l *loader) appliedLocations() []schemas.Location {
	changeOf := map[string]*schemas.Change{}
	for i := range l.changes {
		if c := &l.changes[i]; c.Entity == schemas.EntityLocation {
			changeOf[c.Key] = c
		}
	}
	bothDone := func(c *schemas.Change) bool {
		return l.isDone(opID(c.Entity, c.Op, c.Key)) && (l.prof.visitor || l.isDone(opID(c.Entity, c.Op, adminKey(c.Key))))
	}
	withIDs := func(loc schemas.Location) schemas.Location {
		loc.SCIMID, loc.AdminSCIMID = l.groupID(loc.LocationID), l.groupID(adminKey(loc.LocationID))
		loc.Held, loc.HoldReason = false, ""
		return loc
	}
	var out []schemas.Location
	for _, key := range sortedKeys(l.baseLocs) {
		b := l.baseLocs[key]
		c := changeOf[key]
		switch {
		case c == nil || !bothDone(c) || c.Op == schemas.OpHold || c.Op == schemas.OpRemoved:
			out = append(out, *b)
		case c.Op == schemas.OpDelete:
		default:
			out = append(out, withIDs(*l.locs[key]))
		}
	}
	for _, c := range l.changes {
		if c.Entity == schemas.EntityLocation && c.Op == schemas.OpCreate && bothDone(&c) {
			out = append(out, withIDs(*l.locs[c.Key]))
		}
	}
	return out
}

// resultsHeader is results.csv's header: one row per operation, for people.
// A user's create or delete also carries the user's name and email (the
// row is then readable when the user is gone from both systems); at is
// when the operation finished.
var resultsHeader = []string{"entity", "key", "name", "operation", "outcome", "http_status", "scim_id", "tries", "load_attempt", "detail",
	"at", "full_name", "email"}

// writeResults writes results.csv: every change of the change set with
// what became of it, then every membership PATCH. It returns how many
// rows are failures and how many rows there are.
func (l *loader) writeResults(path string) (failed, total int, err error) {
	err = artifact.Write(path, func(w io.Writer) error {
		cw, err := humancsv.New(w, l.in.RunID, resultsHeader...)
		if err != nil {
			return err
		}
		row := func(entity, key, name, op string, e Entry, sent bool, detail string) error {
			total++
			full, email := l.person(entity, key, op)
			if !sent {
				return cw.Write(entity, key, name, op, "not sent", "", "", "", "", detail, "", full, email)
			}
			switch e.Outcome {
			case OutcomeFailed:
				failed++
				detail = e.Error + " (" + detail + ")"
			case OutcomeUnsupported:
				detail = unsupportedDetail + " (" + detail + ")"
			}
			at := ""
			if !e.At.IsZero() {
				at = e.At.UTC().Format(time.RFC3339)
			}
			return cw.Write(entity, key, name, op, e.Outcome, itoa(e.Status), e.SCIMID, itoa(e.Tries), itoa(e.Load), detail, at, full, email)
		}
		for _, c := range l.changes {
			keys := []string{c.Key}
			if c.Entity == schemas.EntityLocation && c.Op != schemas.OpHold && c.Op != schemas.OpRemoved && !l.prof.visitor {
				keys = append(keys, adminKey(c.Key))
			}
			for _, k := range keys {
				e, sent := l.outcome(opID(c.Entity, c.Op, k))
				name := c.Name
				if k != c.Key {
					name = adminName(c.Name)
				}
				if err := row(c.Entity, k, name, c.Op, e, sent, c.Reason); err != nil {
					return err
				}
			}
		}
		for _, e := range l.history {
			if e.Entity != entityMembership || (e.Outcome == OutcomeFailed && l.allPairsDone(e)) {
				continue // a failure mended by a later attempt is in the journal, not here
			}
			verb := map[string]string{kindAdd: "added to", kindRemove: "removed from"}[e.Kind]
			detail := fmt.Sprintf("%d users %s %s: %s", len(e.Members), verb, e.Name, humancsv.Truncate(strings.Join(e.Members, " "), 200))
			if err := row(e.Entity, e.Key, e.Name, e.Kind, e, true, detail); err != nil {
				return err
			}
		}
		return cw.Flush()
	})
	return failed, total, err
}

// person is the full name and email of the user a create or delete is
// about ("" for any other row): the desired row of a create, the baseline
// row of a delete.
func (l *loader) person(entity, key, op string) (full, email string) {
	var u *schemas.User
	switch {
	case entity != schemas.EntityUser:
	case op == schemas.OpCreate:
		u = l.desired[key]
	case op == schemas.OpDelete:
		u = l.base[key]
	}
	if u == nil {
		return "", ""
	}
	return strings.TrimSpace(u.GivenName + " " + u.FamilyName), u.Email
}

func (l *loader) allPairsDone(e Entry) bool {
	for _, m := range e.Members {
		if !l.pairDone(e.Kind, e.Key, m) {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
