package diff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/schemas"
	"golang.org/x/sync/errgroup"
)

// planWriter writes a plan as compare hands it over, a change at a time:
// changes.parquet, changes.csv and the lines of summary.md each on a
// goroutine of its own, fed batches of changes, while it counts what the
// rest of the files say (the counts, the guard's removals, the requests,
// the to-do list, the names changing hands). At a million creates nothing
// holds the plan: a batch is let go once the three have written it.
type planWriter struct {
	dir, runID string
	in         Input
	traits     profile.Traits

	cs       *ChangeSet // all but its changes (begin)
	counts   map[string]int64
	removals int              // the guard's: users deleted or deactivated
	creates  int              // and users created
	stepped  []schemas.Change // the names changing hands, a few
	reqs     *requestCounter
	todos    *todoList

	ctx   context.Context
	g     *errgroup.Group
	outs  []chan []schemas.Change
	batch []schemas.Change
	list  *os.File // summary.md's change lines, until summary.md is written
	rows  int64
	// listed is how many changes summary.md lists; byHand how many it
	// leaves to the to-do list (set by its writer, read once it is done).
	listed, byHand int64
	// aborted: the plan will not be whole, and the writers keep nothing.
	aborted atomic.Bool
}

// planBatch is how many changes go to the writers at once.
const planBatch = 1024

func newPlanWriter(in Input, traits profile.Traits, dir, runID string) (*planWriter, error) {
	list, err := os.CreateTemp(dir, ".summary-lines.tmp-*") // a killed diff leaves it for Recover
	if err != nil {
		return nil, err
	}
	g, ctx := errgroup.WithContext(context.Background())
	p := &planWriter{dir: dir, runID: runID, in: in, traits: traits, counts: map[string]int64{},
		reqs: newRequestCounter(traits, in.SCIM11, profile.MemberChunk), ctx: ctx, g: g, list: list,
		batch: make([]schemas.Change, 0, planBatch)}
	each := func(ch chan []schemas.Change, fn func(c *schemas.Change) error) error {
		for b := range ch {
			for i := range b {
				if err := fn(&b[i]); err != nil {
					return err
				}
			}
		}
		if p.aborted.Load() {
			return errAborted // artifact.Write keeps no part of a file
		}
		return nil
	}
	for range 3 {
		p.outs = append(p.outs, make(chan []schemas.Change, 4))
	}
	g.Go(func() (err error) {
		p.rows, err = parquetio.Write(filepath.Join(dir, ChangesFile), func(emit func(schemas.Change) error) error {
			return each(p.outs[0], func(c *schemas.Change) error { return emit(*c) })
		})
		return err
	})
	g.Go(func() error {
		return artifact.Write(filepath.Join(dir, ChangesCSVFile), func(w io.Writer) error {
			cw, err := humancsv.New(w, runID, "entity", "key", "name", "op", "changes", "grant", "reason")
			if err != nil {
				return err
			}
			if err := each(p.outs[1], func(c *schemas.Change) error {
				return cw.Write(c.Entity, c.Key, c.Name, c.Op, Describe(c, "; ", plain), strings.ReplaceAll(c.Grant, "\n", " "), c.Reason)
			}); err != nil {
				return err
			}
			return cw.Flush()
		})
	})
	g.Go(func() error {
		b := bufio.NewWriterSize(list, 256<<10)
		if err := each(p.outs[2], func(c *schemas.Change) error {
			if !p.traits.SendsChange(c) {
				p.byHand++
				return nil
			}
			p.listed++
			return summaryLine(b, c, p.traits)
		}); err != nil {
			return err
		}
		return b.Flush()
	})
	return p, nil
}

// begin is told the change set before its first change.
func (p *planWriter) begin(cs *ChangeSet) {
	p.cs = cs
	p.todos = newTodoList(cs, p.in, p.traits)
}

// add takes the plan's next change.
func (p *planWriter) add(c *schemas.Change) error {
	p.counts[CountOf(c.Entity, c.Op)]++
	if c.Entity == schemas.EntityUser && (c.Op == schemas.OpDelete || c.Op == schemas.OpDeactivate) {
		p.removals++
	}
	if c.Entity == schemas.EntityUser && c.Op == schemas.OpCreate {
		p.creates++
	}
	if c.Step > 0 {
		p.stepped = append(p.stepped, *c)
	}
	p.reqs.add(c)
	p.todos.add(c)
	p.batch = append(p.batch, *c)
	if len(p.batch) == planBatch {
		return p.send()
	}
	return nil
}

// send hands the batch to the three writers; it is theirs from then on.
func (p *planWriter) send() error {
	for _, ch := range p.outs {
		select {
		case ch <- p.batch:
		case <-p.ctx.Done(): // a writer failed: close says how
			return p.ctx.Err()
		}
	}
	p.batch = make([]schemas.Change, 0, planBatch)
	return nil
}

// describeSent is Describe of the fields of c that a target of traits t
// is sent: where access is the tenant's, a user's admin flag, department
// or default location are not (the to-do list says what to do).
func describeSent(c *schemas.Change, t profile.Traits) string {
	if t.Access != profile.ByHand || c.Entity != schemas.EntityUser {
		return Describe(c, ", ", strconv.Quote)
	}
	return describe(c, ", ", strconv.Quote, func(name string) bool {
		i := slices.IndexFunc(schemas.UserFields, func(f schemas.Field[schemas.User]) bool { return f.Name == name })
		return i < 0 || t.Sends(schemas.UserFields[i].SCIM)
	})
}

// errAborted is what the writers of a plan that is not whole return.
var errAborted = errors.New("the plan was not made whole")

// close waits for the three writers; abort says the plan is not whole, and
// what they wrote is not kept.
func (p *planWriter) close(abort bool) error {
	var err error
	if abort {
		p.aborted.Store(true)
	} else if len(p.batch) > 0 {
		err = p.send()
	}
	for _, ch := range p.outs {
		close(ch)
	}
	if werr := p.g.Wait(); err == nil {
		err = werr
	}
	return err
}

// lines is summary.md's change lines, as written; remove them once read.
func (p *planWriter) lines() (io.ReadCloser, error) {
	if _, err := p.list.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return p.list, nil
}

func (p *planWriter) removeLines() {
	p.list.Close()
	os.Remove(p.list.Name())
}

// summaryLine writes change c as one line of the plan in summary.md: what
// a target of traits t is sent of it.
func summaryLine(b *bufio.Writer, c *schemas.Change, t profile.Traits) error {
	b.WriteString(symbols[c.Op] + " " + c.Op + " " + c.Entity + " " + display(c))
	// A deprovision's lone "active" flip is said by its reason.
	if d := describeSent(c, t); d != "" && c.Fields != "active" {
		b.WriteString(": " + d)
	}
	if c.Grant != "" && t.Access != profile.ByHand {
		b.WriteString(" [access: " + strings.ReplaceAll(c.Grant, "\n", " ") + "]")
	}
	if c.Step > 0 {
		fmt.Fprintf(b, " [step %d]", c.Step)
	}
	if c.Op != schemas.OpUpdate && c.Op != schemas.OpCreate {
		b.WriteString(" (" + c.Reason + ")")
	}
	_, err := b.WriteString("\n")
	return err
}
