package diff

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/profile"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
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

// Verdict is the guard's reading of a change set (rule 10): the users it
// deletes or deactivates, and those it creates, against the baseline.
type Verdict struct {
	Removals, Baseline int
	Fraction           float64
	Creates            int
	CreateFraction     float64
	Guard              Guard
	// HaltedDeletes and HaltedCreates say which limit the plan is past;
	// Halted, either.
	HaltedDeletes, HaltedCreates, Halted bool
}

func (v Verdict) String() string {
	s := fmt.Sprintf("%d of %d users in the baseline (%.1f%%) would be deleted or deactivated; the limits are %d and %.0f%% (guards.max_deletes, guards.max_delete_fraction)",
		v.Removals, v.Baseline, 100*v.Fraction, v.Guard.MaxDeletes, 100*v.Guard.MaxFraction)
	if v.Guard.Creates {
		s += "; " + v.creates()
	}
	if v.Halted {
		return "HALTED: " + s
	}
	return "ok: " + s
}

// creates is what the verdict says of the creates.
func (v Verdict) creates() string {
	return fmt.Sprintf("%d users would be created, %.1f%% of the %d in the baseline; the limits are %d and %.0f%% (guards.max_creates, guards.max_create_fraction)",
		v.Creates, 100*v.CreateFraction, v.Baseline, v.Guard.MaxCreates, 100*v.Guard.MaxCreateFraction)
}

// haltMessage says which guard halted the plan, and why.
func (v Verdict) haltMessage() string {
	if v.HaltedCreates && !v.HaltedDeletes {
		return "the mass-creation guard: " + v.creates()
	}
	return "the mass-deletion guard: " + strings.TrimPrefix(v.String(), "HALTED: ")
}

// Judge applies the guard to cs.
func Judge(cs *ChangeSet, g Guard) Verdict {
	removals, creates := 0, 0
	for _, c := range cs.Changes {
		switch {
		case c.Entity != schemas.EntityUser:
		case c.Op == schemas.OpDelete || c.Op == schemas.OpDeactivate:
			removals++
		case c.Op == schemas.OpCreate:
			creates++
		}
	}
	return judge(removals, creates, cs.BaselineUsers, g)
}

// judge is the guard's verdict on removals of baseline users and on
// creates.
func judge(removals, creates, baseline int, g Guard) Verdict {
	v := Verdict{Removals: removals, Creates: creates, Baseline: baseline, Guard: g}
	if v.Baseline > 0 {
		v.Fraction = float64(v.Removals) / float64(v.Baseline)
		v.CreateFraction = float64(v.Creates) / float64(v.Baseline)
	}
	v.HaltedDeletes = v.Removals > g.MaxDeletes || v.Fraction > g.MaxFraction
	// With no baseline users every create is past any fraction: the
	// count alone judges them.
	v.HaltedCreates = g.Creates && (v.Creates > g.MaxCreates || v.Baseline > 0 && v.CreateFraction > g.MaxCreateFraction)
	v.Halted = v.HaltedDeletes || v.HaltedCreates
	return v
}

// Run diffs in into dir. The plan is written as it is made (planWriter);
// summary.md and the to-do list once it is whole. A change set past the
// guard's limits is written whole and returned with a *stages.HaltError.
func Run(in Input, dir, runID, baselineRun string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}, Details: map[string]any{}}
	traits, err := profile.Of(in.Profile)
	if err != nil {
		return res, err
	}
	p, err := newPlanWriter(in, traits, dir, runID)
	if err != nil {
		return res, err
	}
	defer p.removeLines()
	cs, err := compare(in, p)
	if cerr := p.close(err != nil); cerr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = cerr // a writer's own error, rather than the cancel it caused
	}
	if err != nil {
		return res, err
	}
	v := judge(p.removals, p.creates, cs.BaselineUsers, in.Guard)
	for k, n := range p.counts {
		res.Counts[k] = n
	}
	res.Details["guard"] = v.String()
	req := p.reqs.result()
	req.Rate = in.Rate
	res.Details["requests"] = req
	todos, standing := p.todos.finish()
	res.Details["todo"] = len(todos)
	lines, err := p.lines()
	if err != nil {
		return res, err
	}
	var g errgroup.Group
	g.Go(func() error {
		return artifact.Write(filepath.Join(dir, SummaryFile), func(w io.Writer) error {
			return writeSummary(w, summary{cs: cs, counts: p.counts, listed: p.listed, byHand: p.byHand, lines: lines, stepped: p.stepped,
				verdict: v, requests: req, todos: todos, standing: standing, rulesChanged: in.RulesChanged, only: in.Only}, runID, baselineRun)
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
	res.Outputs = []stages.Output{{Path: ChangesFile, Rows: p.rows}, {Path: ChangesCSVFile, Rows: p.rows}, {Path: SummaryFile},
		{Path: TodoFile}, {Path: TodoCSVFile, Rows: int64(len(todos))}}
	if v.Halted {
		// What to do next is the caller's to say: it knows the commands.
		return res, &stages.HaltError{Msg: v.haltMessage()}
	}
	return res, nil
}

// Describe is what a change does to its fields (`email: "a" → "b"`): each
// field with its old and new value, joined by sep, each value quoted by
// quote.
func Describe(c *schemas.Change, sep string, quote func(string) string) string {
	return describe(c, sep, quote, nil)
}

// describe is Describe of the fields keep keeps (all when keep is nil).
func describe(c *schemas.Change, sep string, quote func(string) string, keep func(field string) bool) string {
	if c.Fields == "" {
		return ""
	}
	names := strings.Split(c.Fields, "\n")
	before, after := strings.Split(c.Before, "\n"), strings.Split(c.After, "\n")
	parts := make([]string, 0, len(names))
	for i, n := range names {
		if keep == nil || keep(n) {
			parts = append(parts, fmt.Sprintf("%s: %s → %s", n, quote(at(before, i)), quote(at(after, i))))
		}
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

// summary is what summary.md says, once the plan is written: the change
// set, the changes' counts, their lines as planWriter wrote them, the
// names changing hands, and the verdict, requests and to-do list.
type summary struct {
	cs       *ChangeSet
	counts   map[string]int64 // by CountOf
	listed   int64            // the changes lines lists
	byHand   int64            // and those it leaves to the to-do list
	lines    io.Reader
	stepped  []schemas.Change
	verdict  Verdict
	requests Requests
	todos    []Todo
	standing Standing
	// rulesChanged are the rules changed since the baseline's run.
	rulesChanged []string
	only         string // the UserID a provision is for
}

// writeSummary writes the plan in the spirit of `terraform plan`.
func writeSummary(w io.Writer, s summary, runID, baselineRun string) error {
	// Streamed: an initial synchronization lists a million creates.
	b := bufio.NewWriterSize(w, 256<<10)
	cs := s.cs
	fmt.Fprintf(b, "# Plan for run %s\n\n", runID)
	if cs.Initial {
		b.WriteString("Initial synchronization: there is no baseline, so every active user and location is created.\n\n")
	} else {
		fmt.Fprintf(b, "Against the baseline of run %s (%d users).\n\n", baselineRun, cs.BaselineUsers)
	}
	if s.only != "" {
		fmt.Fprintf(b, "Provision of one user, UserID %s: this plan holds its change and the creates of the locations it is granted. "+
			"Every other change waits for the next daily run, which takes this export set as if this run had not been.\n\n", s.only)
	}
	b.WriteString("| | create | update | reactivate | deactivate | delete | removed | hold |\n|---|---|---|---|---|---|---|---|\n")
	for _, e := range []string{schemas.EntityUser, schemas.EntityLocation} {
		fmt.Fprintf(b, "| %ss |", e)
		for _, op := range []string{schemas.OpCreate, schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate, schemas.OpDelete, schemas.OpRemoved, schemas.OpHold} {
			fmt.Fprintf(b, " %d |", s.counts[CountOf(e, op)])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "\nGuard: %s.\n\n", s.verdict)
	if len(s.rulesChanged) > 0 {
		updates := s.counts[CountOf(schemas.EntityUser, schemas.OpUpdate)] + s.counts[CountOf(schemas.EntityUser, schemas.OpReactivate)] +
			s.counts[CountOf(schemas.EntityUser, schemas.OpDeactivate)]
		fmt.Fprintf(b, "Rules changed since the baseline's run (%s): this plan changes %d of its %d users; the changes above say which.\n\n",
			strings.Join(s.rulesChanged, ", "), updates, cs.BaselineUsers)
	}
	if s.listed > 0 {
		b.WriteString("```\n")
		if _, err := io.Copy(b, s.lines); err != nil {
			return err
		}
		b.WriteString("```\n\n")
	}
	if s.byHand > 0 {
		fmt.Fprintf(b, "Not sent: %d changes of locations, access or admin rights, which the tenant makes by hand: the Superuser's to-do list below says what to do (changes.csv has every change).\n\n", s.byHand)
	}
	writeHandovers(b, s.stepped, cs.Blocked)
	fmt.Fprintf(b, "Plan: %s.\n", TotalsOf(s.counts))
	fmt.Fprintf(b, "\nLoad: %s\n", s.requests)
	if len(s.todos) > 0 || s.standing.Admins > 0 || s.standing.Locations > 0 {
		fmt.Fprintf(b, "\n## For the Superuser (%d to do by hand)\n", len(s.todos))
		todoMarkdown(b, s.todos, s.standing, 10)
	}
	return b.Flush()
}

// writeHandovers lists the changes whose userNames change hands (rule 13)
// in the order load carries them out, and those the plan cannot unblock.
func writeHandovers(b io.Writer, stepped []schemas.Change, blocked []Blocked) {
	if len(stepped) == 0 && len(blocked) == 0 {
		return
	}
	ordered := slices.Clone(stepped)
	slices.SortStableFunc(ordered, func(a, b schemas.Change) int { return cmp.Compare(a.Step, b.Step) })
	io.WriteString(b, "Names change hands in this plan: a name is freed before it is taken, and load carries out these changes first, step by step.\n\n```\n")
	for i := range ordered {
		c := &ordered[i]
		fmt.Fprintf(b, "%d. %s %s %s %s (%s)\n", c.Step, symbols[c.Op], c.Op, c.Entity, display(c), c.Reason)
	}
	for _, k := range blocked {
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
