package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

// Rule 13 on the wire: the plan orders the changes by which userNames
// change hands (Change.Step), and load carries them out in that order
// before every other user change. And rule 1's promise, whatever the plan
// says: an account the applied state records for one UserID is never
// taken over for another (claimable).

// handoverPhase carries out the plan's steps: every change of step 1 (in
// parallel), then of step 2 … A change whose WaitsFor did not succeed is
// not sent, since its name is still taken: it fails, and the next run
// sends it again.
func (l *loader) handoverPhase(ctx context.Context) (int, error) {
	if l.stepped == 0 {
		return 0, nil
	}
	var stepped []schemas.Change // a few a day: held whole
	if err := l.eachUser(userColumns, userOps, func(c *schemas.Change) error {
		if c.Step > 0 {
			stepped = append(stepped, *c)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	slices.SortStableFunc(stepped, func(a, b schemas.Change) int { return int(a.Step - b.Step) })
	n := 0
	for len(stepped) > 0 {
		end := 1
		for end < len(stepped) && stepped[end].Step == stepped[0].Step {
			end++
		}
		step := stepped[:end]
		stepped = stepped[end:]
		k, err := l.workers(ctx, func(submit func(task) error) error {
			for i := range step {
				c := &step[i]
				t := l.userTask(c)
				if waiting := l.unfinished(c.WaitsFor); waiting != "" {
					t.run = func(context.Context, bool) (string, string, error) {
						return "", "", permanentf("not sent: %s did not succeed, so the name is still taken", waiting)
					}
				}
				if err := submit(t); err != nil {
					return err
				}
			}
			return nil
		})
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// userOps are the ops of every user change load sends.
var userOps = []string{schemas.OpCreate, schemas.OpRename, schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate, schemas.OpDelete}

// unfinished names the first of waits (op ids, newline-separated) that is
// not done, for people ("the delete of UserID 100"); "" when all are.
func (l *loader) unfinished(waits string) string {
	for _, op := range strings.Split(waits, "\n") {
		if op != "" && !l.isDone(op) {
			parts := strings.SplitN(op, ":", 3)
			if len(parts) == 3 {
				return fmt.Sprintf("the %s of UserID %s", parts[1], parts[2])
			}
			return op
		}
	}
	return ""
}

// OwnedError is an account found by userName that belongs to another
// UserID: the applied state records it for that UserID, or the account's
// externalId names it. It is never taken over (one person, one account).
type OwnedError struct {
	UserName, Holder string
	How              string // how it is known: "SCIM id … in the applied state", "its externalId in the target"
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("userName %s is the account of UserID %s (%s): not taken over, one person is one account", e.UserName, e.Holder, e.How)
}

// owners is the applied state's accounts: the hash of each SCIM id of the
// baseline, to the hash of its UserID. Read once, on the first account a
// lookup by userName finds: a daily load with no such lookup never reads
// it, and at a million users it is some 40 MB, not the 100 of the strings.
type owners struct {
	once sync.Once
	err  error
	byID map[uint64]uint64
}

// claimable checks that found, an account a lookup by userName found for
// the change of UserID key, is not another UserID's in the applied state.
// The accounts this load creates need no check: the plan gives each
// userName to one user, and frees it before it gives it to another.
func (l *loader) claimable(key string, found scim.Resource) error {
	if ext := str(found, "externalId"); ext != "" && ext != key && l.traits.ExternalID {
		return permanent{&OwnedError{UserName: str(found, "userName"), Holder: ext, How: "its externalId in the target"}}
	}
	if l.in.BaselineUsers == "" {
		return nil // no applied state: nobody else owns it
	}
	id := str(found, "id")
	o := &l.owners
	o.once.Do(func() { o.byID, o.err = readOwners(l.in.BaselineUsers) })
	if o.err != nil {
		return o.err
	}
	owner, ok := o.byID[xxh3.HashString(id)]
	if !ok || owner == xxh3.HashString(key) {
		return nil
	}
	holder, err := ownerOf(l.in.BaselineUsers, id) // the exact UserID, for the message
	if err != nil || holder == "" || holder == key {
		return err // "": two SCIM ids shared a hash; the account is nobody's
	}
	return permanent{&OwnedError{UserName: str(found, "userName"), Holder: holder, How: "SCIM id " + id + " in the applied state"}}
}

// readOwners reads the applied state's SCIM ids and UserIDs, hashed.
func readOwners(path string) (map[uint64]uint64, error) {
	n, err := parquetio.NumRows(path)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]uint64, n)
	_, err = parquetio.Scan(path, []string{"scim_id", "user_id"}, func(b *parquetio.Batch) error {
		ids, keys := b.Bytes(0), b.Bytes(1)
		for i := range ids {
			if len(ids[i]) > 0 {
				out[xxh3.Hash(ids[i])] = xxh3.Hash(keys[i])
			}
		}
		return nil
	})
	return out, err
}

// ownerOf is the UserID whose SCIM id in the applied state at path is id
// ("" for none).
func ownerOf(path, id string) (string, error) {
	owner := ""
	_, err := parquetio.Scan(path, []string{"scim_id", "user_id"}, func(b *parquetio.Batch) error {
		ids, keys := b.Bytes(0), b.Bytes(1)
		for i := range ids {
			if string(ids[i]) == id {
				owner = string(keys[i])
			}
		}
		return nil
	})
	return owner, err
}

// isOwned reports whether err is an OwnedError.
func isOwned(err error) bool {
	var o *OwnedError
	return errors.As(err, &o)
}
