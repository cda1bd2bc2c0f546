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
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// writeState writes the applied state: the baseline with exactly the
// operations that succeeded applied to it, every resource with its SCIM
// id. What failed keeps its baseline state, so the next diff finds it
// again. It streams the baseline and the plan's creates; only the changes
// of users in the baseline are held, to join them to their rows.
func (l *loader) writeState(dir string) (users, locs int64, err error) {
	if err := artifact.MkdirAll(filepath.Join(dir, "state")); err != nil {
		return 0, 0, err
	}
	changed := map[string]*schemas.Change{}
	if err := l.eachUser(userColumns, []string{schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate, schemas.OpDelete, schemas.OpHold},
		func(c *schemas.Change) error {
			cc := *c
			changed[cc.Key] = &cc
			return nil
		}); err != nil {
		return 0, 0, err
	}
	// A cycle's first step done and its second not: the user is under its
	// temporary name, and the next diff renames it again.
	renamed := map[string]string{}
	if err := l.eachUser(userColumns, []string{schemas.OpRename}, func(c *schemas.Change) error {
		if l.isDone(opID(schemas.EntityUser, c.Op, c.Key)) {
			renamed[c.Key] = c.UserName
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	index := map[string]map[string][]*Chunk{kindAdd: l.doneChunks(kindAdd), kindRemove: l.doneChunks(kindRemove)}
	users, err = parquetio.Write(filepath.Join(dir, UsersStateFile), func(emit func(schemas.User) error) error {
		if l.in.BaselineUsers != "" {
			if _, err := parquetio.Read(l.in.BaselineUsers, nil, func(batch []schemas.User) error {
				for i := range batch {
					if row, keep := l.appliedUser(index, &batch[i], changed[batch[i].UserID], renamed); keep {
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
		return l.eachUser(userColumns, []string{schemas.OpCreate}, func(c *schemas.Change) error {
			if !l.isDone(opID(schemas.EntityUser, c.Op, c.Key)) {
				return nil
			}
			row, _ := l.appliedUser(index, nil, c, nil)
			return emit(row)
		})
	})
	if err != nil {
		return 0, 0, err
	}
	rows := l.appliedLocations()
	_, err = parquetio.WriteSlice(filepath.Join(dir, LocationsStateFile), rows)
	return users, int64(len(rows)), err
}

// appliedUser is the applied state of one user: base is its baseline row
// (nil for a create), c its change (nil for none), renamed the temporary
// userNames of the users whose cycle stopped half way. keep is false for
// a user this load deleted.
func (l *loader) appliedUser(index map[string]map[string][]*Chunk, base *schemas.User, c *schemas.Change, renamed map[string]string) (row schemas.User, keep bool) {
	if c == nil {
		return *base, true
	}
	r, _ := l.result(opID(schemas.EntityUser, c.Op, c.Key))
	ok := r.done()
	switch {
	case c.Op == schemas.OpCreate:
		row = c.User()
		row.SCIMID = r.scimID
	case c.Op == schemas.OpDelete && ok:
		return row, false
	case ok && c.Op != schemas.OpHold && c.Op != schemas.OpDelete:
		row = c.User() // the plan's record, with the baseline's target state
		row.SCIMID, row.Granted, row.Owed = base.SCIMID, base.Granted, base.Owed
	default:
		row = *base
		if tmp, ok := renamed[c.Key]; ok {
			row.UserName = tmp
		}
	}
	if c.Op != schemas.OpDelete && c.Op != schemas.OpHold {
		l.applyAccess(index, &row, base, c, ok)
	}
	row.SendInvitation, row.Held, row.HoldReason = false, false, ""
	row.RowHash = row.Hash()
	return row, true
}

// applyAccess records in row the access decisions of c that were carried
// out: the locations whose group the user joined go to Granted, those it
// could not join to Owed (the next diff grants them again); admin rights
// as far as the admin groups were changed. userDone: c's own operation
// was done (the visitor profile carries access on it).
func (l *loader) applyAccess(index map[string]map[string][]*Chunk, row, base *schemas.User, c *schemas.Change, userDone bool) {
	carried := func(kind, group string) bool {
		if l.traits.Access != profile.ByGroups {
			return userDone
		}
		return covered(index[kind][group], c.Op, c.Key)
	}
	granted, owed := row.GrantedIDs(), schemas.SplitIDs(row.Owed)
	for _, g := range schemas.SplitIDs(c.Grant) {
		if carried(kindAdd, g) {
			granted = appendNew(granted, g)
			owed = slices.DeleteFunc(owed, func(o string) bool { return o == g })
		} else {
			owed = appendNew(owed, g)
		}
	}
	row.Granted, row.Owed = schemas.JoinIDs(granted), schemas.JoinIDs(owed)
	switch {
	case c.AdminRevoke == "" && c.AdminGrant == "":
	case c.AdminRevoke != "" && !carried(kindRemove, adminKey(c.AdminRevoke)):
		row.Admin, row.DefaultLocation, row.HomeAdmin = base.Admin, base.DefaultLocation, base.HomeAdmin // still admin where it was
	case c.AdminGrant != "" && !carried(kindAdd, adminKey(c.AdminGrant)):
		row.Admin, row.DefaultLocation, row.HomeAdmin = false, c.DefaultLocation, "" // the diff asks for the rights again
	default:
		row.Admin, row.DefaultLocation, row.HomeAdmin = c.Admin, c.DefaultLocation, c.HomeAdmin
	}
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// appliedLocations is the applied state of the locations: a location's
// change counts when the operations on all its resources succeeded.
func (l *loader) appliedLocations() []schemas.Location {
	changeOf := map[string]*schemas.Change{}
	for i := range l.locations {
		changeOf[l.locations[i].Key] = &l.locations[i]
	}
	allDone := func(c *schemas.Change) bool {
		for _, k := range l.traits.LocationKeys(c.Key) {
			if !l.isDone(opID(c.Entity, c.Op, k)) {
				return false
			}
		}
		return true
	}
	withIDs := func(loc schemas.Location) schemas.Location {
		loc.SCIMID, loc.AdminSCIMID = l.groupID(loc.LocationID), l.groupID(adminKey(loc.LocationID))
		loc.Held, loc.HoldReason = false, ""
		return loc
	}
	var out []schemas.Location
	keys := make([]string, 0, len(l.baseLocs))
	for k := range l.baseLocs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		b := l.baseLocs[key]
		c := changeOf[key]
		switch {
		case c == nil || c.Op == schemas.OpHold || c.Op == schemas.OpRemoved || !allDone(c):
			out = append(out, *b)
		case c.Op == schemas.OpDelete:
		default:
			out = append(out, withIDs(c.Location()))
		}
	}
	for _, c := range l.locations {
		if c.Op == schemas.OpCreate && allDone(&c) {
			out = append(out, withIDs(c.Location()))
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

// writeResults writes results.csv: every change of the plan with what
// became of it, then every membership PATCH. It returns how many rows are
// failures, how many rows there are, and the outcomes counted by entity,
// op and outcome for the manifest.
func (l *loader) writeResults(path string) (failed, total int, counts map[string]int64, err error) {
	counts = map[string]int64{}
	err = artifact.Write(path, func(w io.Writer) error {
		cw, err := humancsv.New(w, l.in.RunID, resultsHeader...)
		if err != nil {
			return err
		}
		row := func(entity, key, name, op string, r result, sent bool, detail, full, email string) error {
			total++
			if !sent {
				return cw.Write(entity, key, name, op, "not sent", "", "", "", "", detail, "", full, email)
			}
			counts[entity+" "+op+" "+r.outcome.String()]++
			switch r.outcome.String() {
			case OutcomeFailed:
				failed++
				detail = r.err + " (" + detail + ")"
			case OutcomeUnsupported:
				detail = unsupportedDetail + " (" + detail + ")"
			}
			at := ""
			if r.at != 0 {
				at = time.Unix(int64(r.at), 0).UTC().Format(time.RFC3339)
			}
			return cw.Write(entity, key, name, op, r.outcome.String(), itoa(int(r.status)), r.scimID, itoa(int(r.tries)), itoa(int(r.load)), detail, at, full, email)
		}
		cols := []string{"entity", "key", "op", "name", "reason", "given_name", "family_name", "email"}
		if _, err := parquetio.Read(l.in.Changes, cols, func(batch []schemas.Change) error {
			for i := range batch {
				c := &batch[i]
				keys := []string{c.Key}
				if c.Entity == schemas.EntityLocation && c.Op != schemas.OpHold && c.Op != schemas.OpRemoved {
					keys = l.traits.LocationKeys(c.Key)
				}
				var full, email string
				if c.Entity == schemas.EntityUser && (c.Op == schemas.OpCreate || c.Op == schemas.OpDelete) {
					full, email = strings.TrimSpace(c.GivenName+" "+c.FamilyName), c.Email
				}
				for _, k := range keys {
					r, sent := l.result(opID(c.Entity, c.Op, k))
					name := c.Name
					if k != c.Key {
						name = adminName(c.Name)
					}
					if err := row(c.Entity, k, name, c.Op, r, sent, c.Reason, full, email); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for _, e := range l.chunks {
			ch := e.Chunk
			if e.Outcome == OutcomeFailed && l.mended(ch) {
				continue // a failure mended by a later attempt is in the journal, not here
			}
			verb := map[string]string{kindAdd: "added to", kindRemove: "removed from"}[ch.Kind]
			detail := fmt.Sprintf("%d users (%s changes %s to %s) %s %s", ch.Count, ch.Section, ch.First, ch.Last, verb, ch.Name)
			if len(ch.Skipped) > 0 {
				detail += fmt.Sprintf("; not sent, for want of a SCIM id: %s", humancsv.Truncate(strings.Join(ch.Skipped, " "), 200))
			}
			if err := row(entityMembership, ch.Group, ch.Name, ch.Kind, resultOf(e), true, detail, "", ""); err != nil {
				return err
			}
		}
		return cw.Flush()
	})
	return failed, total, counts, err
}

// mended reports whether the members of a failed chunk were sent again
// by a chunk that was carried out: one covering its first and last.
func (l *loader) mended(ch *Chunk) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.chunks {
		d := e.Chunk
		if done(e.Outcome) && d.Group == ch.Group && d.Kind == ch.Kind && d.covers(ch.Section, ch.First) && d.covers(ch.Section, ch.Last) {
			return true
		}
	}
	return false
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
