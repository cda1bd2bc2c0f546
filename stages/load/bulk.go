package load

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
	"golang.org/x/sync/errgroup"
)

// maxBulkOps caps the operations of one /Bulk request below the server's
// maxOperations: a failed or unanswered request costs at most this many
// operations' worth of retry.
const maxBulkOps = 100

// bulkCreates sends user creates in /Bulk requests, within the server's
// maxOperations and maxPayloadSize, on the loader's workers. A create the
// bulk answer does not report as done (a 409, any error, or a request
// without an answer) goes through the one-request path afterwards, which
// retries, looks before re-sending and adopts: /Bulk is a fast path, never
// a second set of rules.
func (l *loader) bulkCreates(ctx context.Context, tasks []task) error {
	limit := min(maxBulkOps, l.spc.Bulk.MaxOperations)
	payload := l.spc.Bulk.MaxPayloadSize
	var rest []task // the creates to send one by one
	var batches [][]scim.BulkOp
	var batchTasks [][]task
	var ops []scim.BulkOp
	var ts []task
	size := 0
	for _, t := range tasks {
		if l.isDone(t.e.Op) {
			continue
		}
		if _, ok := l.existingUsers[t.e.Key]; ok {
			rest = append(rest, t) // the target has it: adopted on the one-request path
			continue
		}
		u := l.desired[t.e.Key]
		if u == nil {
			continue // the one-request path reports it
		}
		op := scim.BulkOp{Method: "POST", BulkID: t.e.Key, Path: "/Users", Data: l.newUser(u, l.userChange[t.e.Key], nil)}
		b, _ := json.Marshal(op)
		if len(ops) > 0 && (len(ops) == limit || (payload > 0 && size+len(b)+512 > payload)) {
			batches, batchTasks = append(batches, ops), append(batchTasks, ts)
			ops, ts, size = nil, nil, 0
		}
		ops, ts, size = append(ops, op), append(ts, t), size+len(b)+1
	}
	if len(ops) > 0 {
		batches, batchTasks = append(batches, ops), append(batchTasks, ts)
	}

	restLost := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.in.Concurrency)
	for i := range batches {
		g.Go(func() error {
			if err := l.journal.err(); err != nil {
				return &StoppedError{Why: "the journal cannot be written, so nothing more is sent", Err: err}
			}
			var st int
			var results []scim.BulkResult
			// Retried like any request. A create that an unanswered try
			// carried out meets a 409 in the next answer, and goes to the
			// one-request path, which adopts it.
			sctx := scim.WithStatus(gctx, &st)
			_, err := l.send.do(sctx, false, func(bool) (err error) {
				results, err = l.in.Client.Bulk(sctx, batches[i])
				return err
			})
			if gctx.Err() != nil {
				return gctx.Err()
			}
			if err != nil && status(err) == http.StatusUnauthorized {
				return l.stopFor(err)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			for j, t := range batchTasks[i] {
				if err != nil || results[j].Err != nil || results[j].ID == "" {
					rest = append(rest, t)
					// No answer, or a yes without a usable id: the create may
					// have been made, so the one-request path looks first.
					restLost[t.e.Key] = (err != nil && !answered(err)) || (err == nil && results[j].Err == nil)
					continue
				}
				e := t.e
				e.Outcome, e.Status, e.SCIMID, e.Tries, e.Load, e.At = OutcomeDone, results[j].Status, results[j].ID, 1, l.in.Attempt, time.Now().UTC()
				l.rememberLocked(e)
				l.journal.add(e)
				l.prog.add(e)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(rest) == 0 {
		return nil
	}
	l.in.Log.Info().Int("operations", len(rest)).Msg("creates the /Bulk answers did not confirm: sending them one by one")
	for i := range rest {
		if restLost[rest[i].e.Key] {
			rest[i].lost = true
		}
	}
	return l.runTasks(ctx, rest)
}

// bulkable reports whether the creates of this load go by /Bulk.
func (l *loader) bulkable(kind string) bool {
	return kind == schemas.OpCreate && l.spc.Bulk.Supported && l.spc.Bulk.MaxOperations > 1
}
