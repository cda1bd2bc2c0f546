package load

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
	"golang.org/x/sync/errgroup"
)

// maxBulkOps caps the operations of one /Bulk request below the server's
// maxOperations: a failed or unanswered request costs at most this many
// operations' worth of retry.
const maxBulkOps = profile.BulkChunk

// bulkCreates sends the plan's user creates in /Bulk requests, within the
// server's maxOperations and maxPayloadSize, on the loader's workers, as
// it streams them. A create the bulk answer does not report as done (a
// 409, any error, or a request without an answer) goes through the
// one-request path afterwards, which retries, looks before re-sending and
// adopts: /Bulk is a fast path, never a second set of rules.
func (l *loader) bulkCreates(ctx context.Context) (int, error) {
	limit := min(maxBulkOps, l.spc.Bulk.MaxOperations)
	payload := l.spc.Bulk.MaxPayloadSize
	rest := map[string]bool{} // UserID → lost: the creates to send one by one
	var restMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.in.Concurrency)
	send := func(ops []scim.BulkOp) {
		g.Go(func() error {
			if err := l.journal.err(); err != nil {
				return &StoppedError{Why: "the journal cannot be written, so nothing more is sent", Err: err}
			}
			var st int
			var results []scim.BulkResult
			// Retried like any request. A create that an unanswered try
			// carried out meets a 409 in the next answer, and goes to the
			// one-request path, which adopts it.
			if gctx.Err() != nil { // stopped: send no more
				return gctx.Err()
			}
			sctx := scim.WithStatus(ctx, &st) // one in flight finishes (see workers)
			_, err := l.send.do(sctx, false, func(bool) (err error) {
				results, err = l.in.Client.Bulk(sctx, ops)
				return err
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil && (status(err) == http.StatusUnauthorized || errors.Is(err, ErrBudget)) {
				return l.stopFor(err)
			}
			e := Entry{Op: "bulk", Outcome: OutcomeDone, Status: st, Tries: 1, Load: l.in.Attempt, At: time.Now().UTC()}
			restMu.Lock()
			for j, op := range ops {
				if err != nil || results[j].Err != nil || results[j].ID == "" {
					// No answer, or a yes without a usable id: the create may
					// have been made, so the one-request path looks first.
					rest[op.BulkID] = (err != nil && !answered(err)) || (err == nil && results[j].Err == nil)
					continue
				}
				e.Created = append(e.Created, [2]string{op.BulkID, results[j].ID})
			}
			restMu.Unlock()
			if len(e.Created) > 0 {
				l.record(&e, len(e.Created))
			}
			return nil
		})
	}
	n := 0
	var ops []scim.BulkOp
	size := 0
	err := l.eachUser(userColumns, []string{schemas.OpCreate}, func(row *schemas.Change) error {
		if gctx.Err() != nil {
			return gctx.Err()
		}
		if row.Step > 0 {
			return nil // carried out in its step (handoverPhase)
		}
		n++
		c := *row
		if l.isDone(opID(schemas.EntityUser, schemas.OpCreate, c.Key)) {
			l.prog.add(false, 1, false) // an earlier attempt did it
			return nil
		}
		if _, ok := l.existingUsers[l.identity(&c)]; ok {
			restMu.Lock()
			rest[c.Key] = false // the target has it: adopted on the one-request path
			restMu.Unlock()
			return nil
		}
		// The user is marshalled once, here: its size decides the request
		// it goes in, and the request's body takes these bytes as they are.
		data, err := json.Marshal(l.prof.user(l, &c, nil))
		if err != nil {
			return err
		}
		op := scim.BulkOp{Method: "POST", BulkID: c.Key, Path: "/Users", Data: data}
		opSize := len(data) + len(c.Key) + 64 // the op's other members
		if len(ops) > 0 && (len(ops) == limit || (payload > 0 && size+opSize+512 > payload)) {
			send(ops)
			ops, size = nil, 0
		}
		ops, size = append(ops, op), size+opSize+1
		return nil
	})
	if err == nil && len(ops) > 0 {
		send(ops)
	}
	if werr := g.Wait(); werr != nil {
		return n, werr
	}
	if err != nil || len(rest) == 0 {
		return n, err
	}
	l.in.Log.Info().Int("operations", len(rest)).Msg("creates the /Bulk answers did not confirm: sending them one by one")
	_, err = l.workers(ctx, func(submit func(task) error) error {
		return l.eachUser(userColumns, []string{schemas.OpCreate}, func(row *schemas.Change) error {
			lost, ok := rest[row.Key]
			if !ok {
				return nil
			}
			c := *row
			t := l.userTask(&c)
			t.lost = lost
			return submit(t)
		})
	})
	return n, err
}
