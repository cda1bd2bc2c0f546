package diff

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/profile"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"golang.org/x/sync/errgroup"
)

// Output file names, relative to the stage directory.
const (
	ChangesFile    = "changes.parquet"
	ChangesCSVFile = "changes.csv"
	SummaryFile    = "summary.md"
)

// CountOf is the key of the manifest's count of changes of one kind:
// "user_create", "location_update" …
func CountOf(entity, op string) string { return entity + "_" + op }

// Totals is a plan in four numbers, of users and locations alike, as
// summary.md ends and `runs` shows it: what is added, changed (an update,
// a reactivation or a deactivation), destroyed and held. A cycle's
// temporary rename is a step of a change, and a location kept in the
// target though gone from Condeco is no change: neither is counted.
type Totals struct{ Add, Change, Destroy, Held int64 }

// TotalsOf is the totals of the changes counted by CountOf in counts
// (a diff manifest's counts).
func TotalsOf(counts map[string]int64) Totals {
	var t Totals
	for _, e := range []string{schemas.EntityUser, schemas.EntityLocation} {
		c := func(op string) int64 { return counts[CountOf(e, op)] }
		t.Add += c(schemas.OpCreate)
		t.Change += c(schemas.OpUpdate) + c(schemas.OpReactivate) + c(schemas.OpDeactivate)
		t.Destroy += c(schemas.OpDelete)
		t.Held += c(schemas.OpHold)
	}
	return t
}

func (t Totals) String() string {
	return fmt.Sprintf("%d to add, %d to change, %d to destroy, %d held", t.Add, t.Change, t.Destroy, t.Held)
}

// Verdict is the mass-deletion guard's reading of a change set (rule 10).
type Verdict struct {
	Removals, Baseline int
	Fraction           float64
	Guard              Guard
	Halted             bool
}

func (v Verdict) String() string {
	s := fmt.Sprintf("%d of %d users in the baseline (%.1f%%) would be deleted or deactivated; the limits are %d and %.0f%% (guards.max_deletes, guards.max_delete_fraction)",
		v.Removals, v.Baseline, 100*v.Fraction, v.Guard.MaxDeletes, 100*v.Guard.MaxFraction)
	if v.Halted {
		return "HALTED: " + s
	}
	return "ok: " + s
}

// Judge applies the guard to cs.
func Judge(cs *ChangeSet, g Guard) Verdict {
	v := Verdict{Baseline: cs.BaselineUsers, Guard: g}
	for _, c := range cs.Changes {
		if c.Entity == schemas.EntityUser && (c.Op == schemas.OpDelete || c.Op == schemas.OpDeactivate) {
			v.Removals++
		}
	}
	if v.Baseline > 0 {
		v.Fraction = float64(v.Removals) / float64(v.Baseline)
	}
	v.Halted = v.Removals > g.MaxDeletes || v.Fraction > g.MaxFraction
	return v
}

// Run diffs in into dir. A change set past the guard's limits is written
// whole and returned with a *stages.HaltError.
func Run(in Input, dir, runID, baselineRun string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}, Details: map[string]any{}}
	cs, err := Compare(in)
	if err != nil {
		return res, err
	}
	v := Judge(cs, in.Guard)
	for _, c := range cs.Changes {
		res.Counts[CountOf(c.Entity, c.Op)]++
	}
	res.Details["guard"] = v.String()
	traits, err := profile.Of(in.Profile)
	if err != nil {
		return res, err
	}
	req := CountRequests(cs.Changes, traits, in.SCIM11, profile.MemberChunk)
	req.Rate = in.Rate
	res.Details["requests"] = req
	todos, standing := Todos(cs, in, traits)
	res.Details["todo"] = len(todos)
	// The three files only read the change set: write them side by side.
	var nRows int64
	var g errgroup.Group
	g.Go(func() (err error) {
		nRows, err = parquetio.WriteSlice(filepath.Join(dir, ChangesFile), cs.Changes)
		return err
	})
	g.Go(func() error { return writeChangesCSV(filepath.Join(dir, ChangesCSVFile), runID, cs.Changes) })
	g.Go(func() error {
		return artifact.Write(filepath.Join(dir, SummaryFile), func(w io.Writer) error {
			return writeSummary(w, cs, v, req, todos, standing, runID, baselineRun)
		})
	})
	g.Go(func() error {
		return artifact.Write(filepath.Join(dir, TodoFile), func(w io.Writer) error { return writeTodo(w, runID, todos, standing) })
	})
	g.Go(func() error {
		return artifact.Write(filepath.Join(dir, TodoCSVFile), func(w io.Writer) error { return writeTodoCSV(w, runID, todos) })
	})
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.Outputs = []stages.Output{{Path: ChangesFile, Rows: nRows}, {Path: ChangesCSVFile, Rows: nRows}, {Path: SummaryFile},
		{Path: TodoFile}, {Path: TodoCSVFile, Rows: int64(len(todos))}}
	if v.Halted {
		// What to do next is the caller's to say: it knows the commands.
		return res, &stages.HaltError{Msg: "the mass-deletion guard: " + strings.TrimPrefix(v.String(), "HALTED: ")}
	}
	return res, nil
}

func writeChangesCSV(path, runID string, changes []schemas.Change) error {
	return artifact.Write(path, func(w io.Writer) error {
		cw, err := humancsv.New(w, runID, "entity", "key", "name", "op", "changes", "grant", "reason")
		if err != nil {
			return err
		}
		for i := range changes {
			c := &changes[i] // a change is a few hundred bytes: not copied a million times
			grant := strings.ReplaceAll(c.Grant, "\n", " ")
			if err := cw.Write(c.Entity, c.Key, c.Name, c.Op, Describe(c, "; ", plain), grant, c.Reason); err != nil {
				return err
			}
		}
		return cw.Flush()
	})
}

// Describe is what a change does to its fields (`email: "a" → "b"`): each
// field with its old and new value, joined by sep, each value quoted by
// quote.
func Describe(c *schemas.Change, sep string, quote func(string) string) string {
	if c.Fields == "" {
		return ""
	}
	names := strings.Split(c.Fields, "\n")
	before, after := strings.Split(c.Before, "\n"), strings.Split(c.After, "\n")
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %s → %s", n, quote(at(before, i)), quote(at(after, i)))
	}
	return strings.Join(parts, sep)
}

// plain quotes a value for a CSV cell: the CSV writer doubles its quotes,
// and nothing else is escaped (Excel shows no Go escapes). The summary,
// one change a line, quotes with strconv.Quote instead.
func plain(v string) string { return `"` + v + `"` }

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

var symbols = map[string]string{
	schemas.OpCreate: "+", schemas.OpRename: "~", schemas.OpUpdate: "~", schemas.OpReactivate: "~", schemas.OpDeactivate: "-",
	schemas.OpDelete: "-", schemas.OpRemoved: "?", schemas.OpHold: "!",
}

// writeSummary writes the plan in the spirit of `terraform plan`.
func writeSummary(w io.Writer, cs *ChangeSet, v Verdict, req Requests, todos []Todo, st Standing, runID, baselineRun string) error {
	// Streamed: an initial synchronization lists a million creates.
	b := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(b, "# Plan for run %s\n\n", runID)
	if cs.Initial {
		b.WriteString("Initial synchronization: there is no baseline, so every active user and location is created.\n\n")
	} else {
		fmt.Fprintf(b, "Against the baseline of run %s (%d users).\n\n", baselineRun, cs.BaselineUsers)
	}
	counts := map[string]map[string]int{schemas.EntityUser: {}, schemas.EntityLocation: {}}
	for i := range cs.Changes {
		counts[cs.Changes[i].Entity][cs.Changes[i].Op]++
	}
	b.WriteString("| | create | update | reactivate | deactivate | delete | removed | hold |\n|---|---|---|---|---|---|---|---|\n")
	for _, e := range []string{schemas.EntityUser, schemas.EntityLocation} {
		fmt.Fprintf(b, "| %ss |", e)
		for _, op := range []string{schemas.OpCreate, schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate, schemas.OpDelete, schemas.OpRemoved, schemas.OpHold} {
			fmt.Fprintf(b, " %d |", counts[e][op])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "\nGuard: %s.\n\n", v)
	if len(cs.Changes) > 0 {
		b.WriteString("```\n")
		for i := range cs.Changes {
			c := &cs.Changes[i]
			b.WriteString(symbols[c.Op] + " " + c.Op + " " + c.Entity + " " + display(c))
			// A deprovision's lone "active" flip is said by its reason.
			if d := Describe(c, ", ", strconv.Quote); d != "" && c.Fields != "active" {
				b.WriteString(": " + d)
			}
			if c.Grant != "" {
				b.WriteString(" [access: " + strings.ReplaceAll(c.Grant, "\n", " ") + "]")
			}
			if c.Step > 0 {
				fmt.Fprintf(b, " [step %d]", c.Step)
			}
			if c.Op != schemas.OpUpdate && c.Op != schemas.OpCreate {
				b.WriteString(" (" + c.Reason + ")")
			}
			b.WriteString("\n")
		}
		b.WriteString("```\n\n")
	}
	writeHandovers(b, cs)
	ops := map[string]int64{}
	for i := range cs.Changes {
		ops[CountOf(cs.Changes[i].Entity, cs.Changes[i].Op)]++
	}
	fmt.Fprintf(b, "Plan: %s.\n", TotalsOf(ops))
	fmt.Fprintf(b, "\nLoad: %s\n", req)
	if len(todos) > 0 || st.Admins > 0 || st.Locations > 0 {
		fmt.Fprintf(b, "\n## For the Superuser (%d to do by hand)\n", len(todos))
		todoMarkdown(b, todos, st, 10)
	}
	return b.Flush()
}

// writeHandovers lists the changes whose userNames change hands (rule 13)
// in the order load carries them out, and those the plan cannot unblock.
func writeHandovers(b io.Writer, cs *ChangeSet) {
	var ordered []*schemas.Change
	for i := range cs.Changes {
		if cs.Changes[i].Step > 0 {
			ordered = append(ordered, &cs.Changes[i])
		}
	}
	if len(ordered) == 0 && len(cs.Blocked) == 0 {
		return
	}
	slices.SortStableFunc(ordered, func(a, b *schemas.Change) int { return cmp.Compare(a.Step, b.Step) })
	io.WriteString(b, "Names change hands in this plan: a name is freed before it is taken, and load carries out these changes first, step by step.\n\n```\n")
	for _, c := range ordered {
		fmt.Fprintf(b, "%d. %s %s %s %s (%s)\n", c.Step, symbols[c.Op], c.Op, c.Entity, display(c), c.Reason)
	}
	for _, k := range cs.Blocked {
		fmt.Fprintf(b, "blocked: %s %s %s %s: %s is held by UserID %s, %s\n", symbols[k.Change.Op], k.Change.Op, k.Change.Entity, display(&k.Change), k.Name, k.Holder, k.Why)
	}
	io.WriteString(b, "```\n\n")
}

// display names the entity for people: the name, and the key when they differ.
func display(c *schemas.Change) string {
	if c.Name == "" || c.Name == c.Key {
		return c.Key
	}
	return c.Name + " (" + c.Key + ")"
}
