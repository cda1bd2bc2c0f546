package diff

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

// Rule 13: userNames change hands in order. A userName is unique in the
// target, and where the profile sends no externalId it is how a person is
// found there; so a plan that gives a leaver's email to a joiner, hands an
// email from one employee to another or swaps two must free each name
// (a delete, or a rename away) before it is taken (a create, or a rename
// in), and a cycle of renames goes through a temporary name. The plan
// carries that order (Change.Step, Change.WaitsFor); load follows it.

// Blocked is a change that takes a userName a user of the baseline keeps
// (deactivated, held, or untouched by the plan): nothing in the plan frees
// it. The change stays in the plan, and load fails it, naming the holder,
// unless someone frees the name in the tenant first.
type Blocked struct {
	Change schemas.Change // the taker: a create or a rename in
	Name   string         // the userName, as the taker has it
	Holder string         // the holder's UserID
	Why    string         // why the holder keeps it, for people
}

// edge says that change to waits for change from, which frees name.
type edge struct {
	from, to int
	name     string
}

// orderNames applies rule 13 to changes, the plan against the applied
// state at baselinePath: it finds every userName that the plan takes from
// another user of the baseline, orders the changes that free and take
// those names into steps, breaks each cycle with a temporary rename (a
// change of its own, appended), and returns the plan with the changes a
// person must unblock.
func orderNames(baselinePath string, changes []schemas.Change) ([]schemas.Change, []Blocked, error) {
	takers := map[string][]int{} // lower-cased userName → the changes that take it
	byKey := map[string]int{}
	for i := range changes {
		c := &changes[i]
		if c.Entity != schemas.EntityUser {
			continue
		}
		byKey[c.Key] = i
		if name := takes(c); name != "" {
			takers[name] = append(takers[name], i)
		}
	}
	if len(takers) == 0 || baselinePath == "" {
		return changes, nil, nil
	}
	holders, err := holdersOf(baselinePath, takers, changes)
	if err != nil {
		return nil, nil, err
	}
	var edges []edge
	var blocked []Blocked
	for _, h := range holders {
		t := &changes[h.taker]
		j, changed := byKey[h.key]
		if changed && frees(&changes[j], h.name) {
			edges = append(edges, edge{from: j, to: h.taker, name: t.UserName})
			continue
		}
		why := "and the plan does not change it (a deactivated account keeps its userName)"
		if h.active {
			why = "and the plan does not change its userName"
		}
		if changed {
			why = keeps(&changes[j])
		}
		blocked = append(blocked, Blocked{Change: *t, Name: t.UserName, Holder: h.key, Why: why})
		t.Reason = joinReasons(t.Reason, fmt.Sprintf("%s is held by UserID %s, %s: this %s fails until the name is freed (see the to-do list)",
			t.UserName, h.key, why, t.Op))
	}
	changes, edges = breakCycles(changes, edges)
	steps(changes, edges)
	return changes, blocked, nil
}

// takes is the lower-cased userName change c gives its user where that
// name is new to it ("" for none): a create's, or a rename's. A change of
// case only keeps the name.
func takes(c *schemas.Change) string {
	switch c.Op {
	case schemas.OpCreate:
		return strings.ToLower(c.UserName)
	case schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate:
		if old, ok := c.Was("userName"); ok && !strings.EqualFold(old, c.UserName) {
			return strings.ToLower(c.UserName)
		}
	}
	return ""
}

// frees reports whether change c, of the user who holds name in the
// baseline, frees it: a delete, or a rename to another name.
func frees(c *schemas.Change, name string) bool {
	switch c.Op {
	case schemas.OpDelete:
		return true
	case schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate:
		return !strings.EqualFold(c.UserName, name)
	}
	return false
}

// keeps says why the holder's change c does not free its name, for people.
func keeps(c *schemas.Change) string {
	switch c.Op {
	case schemas.OpDeactivate:
		return "whom this run deactivates (" + c.Reason + "), and a deactivated account keeps its userName"
	case schemas.OpHold:
		return "whose row is held (" + strings.TrimPrefix(c.Reason, "held: ") + ") and keeps its state"
	}
	return "who keeps it"
}

// holding is a user of the baseline whose userName a change of the plan
// takes.
type holding struct {
	taker  int    // the change that takes the name
	key    string // the holder's UserID
	name   string // the holder's userName
	active bool
}

// holdersOf reads the userNames of the applied state at path and returns,
// for each name of takers, the users other than the taker who hold it, in
// file order. Only the userName column is read whole (a million rows in
// about 60 ms); the UserIDs of the few rows that match are read by row.
func holdersOf(path string, takers map[string][]int, changes []schemas.Change) ([]holding, error) {
	var at []int64
	_, err := parquetio.Scan(path, []string{"user_name"}, func(b *parquetio.Batch) error {
		for i, name := range b.Bytes(0) {
			key := []byte(name)
			if hasUpper(key) { // rare: most userNames are stored as typed, in lower case
				key = bytes.ToLower(key)
			}
			if _, ok := takers[string(key)]; ok {
				at = append(at, b.Start+int64(i))
			}
		}
		return nil
	})
	if err != nil || len(at) == 0 {
		return nil, wrapPath(path, err)
	}
	var out []holding
	_, err = parquetio.ReadRowsAt(path, []string{"user_id", "user_name", "active"}, at, func(_ int, u *schemas.User) error {
		for _, t := range takers[strings.ToLower(u.UserName)] {
			if u.UserID != changes[t].Key {
				out = append(out, holding{taker: t, key: u.UserID, name: u.UserName, active: u.Active})
			}
		}
		return nil
	})
	return out, wrapPath(path, err)
}

func wrapPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}

func hasUpper(b []byte) bool {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return false
}

// breakCycles finds each cycle of renames among edges (A takes B's name,
// B takes A's …) and breaks it at its member with the least UserID: that
// user first goes to a temporary name (a rename change, appended), which
// frees its own name for the next in the cycle; its update then gives it
// its new name once that is free. Only renames free and take a name, so
// only renames make cycles.
func breakCycles(changes []schemas.Change, edges []edge) ([]schemas.Change, []edge) {
	for {
		cycle := firstCycle(len(changes), edges)
		if cycle == nil {
			return changes, edges
		}
		m := slices.MinFunc(cycle, func(a, b int) int { return strings.Compare(changes[a].Key, changes[b].Key) })
		old, _ := changes[m].Was("userName")
		r := len(changes)
		changes = append(changes, tempRename(&changes[m], old))
		for i := range edges {
			if edges[i].from == m {
				edges[i].from = r
			}
		}
		edges = append(edges, edge{from: r, to: m})
	}
}

// firstCycle returns the members of a cycle of edges over n nodes (a
// strongly connected component of more than one), or nil. Tarjan's
// algorithm; the graphs are a handful of names a day.
func firstCycle(n int, edges []edge) []int {
	next := make([][]int, n)
	for _, e := range edges {
		next[e.from] = append(next[e.from], e.to)
	}
	index, low := make([]int, n), make([]int, n)
	on := make([]bool, n)
	var stack, found []int
	counter := 0
	var visit func(v int)
	visit = func(v int) {
		counter++
		index[v], low[v] = counter, counter
		stack = append(stack, v)
		on[v] = true
		for _, w := range next[v] {
			if index[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var scc []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			on[w] = false
			scc = append(scc, w)
			if w == v {
				break
			}
		}
		if len(scc) > 1 && found == nil {
			found = scc
		}
	}
	for _, e := range edges {
		if index[e.from] == 0 {
			visit(e.from)
		}
	}
	return found
}

// steps numbers the changes edges join: a change with nothing to wait for
// is step 1, and each other comes one step after the last it waits for.
// Each gets its step, what it waits for, and in its reason the names it
// frees and waits for, so the plan reads in the order load follows.
func steps(changes []schemas.Change, edges []edge) {
	if len(edges) == 0 {
		return
	}
	slices.SortStableFunc(edges, func(a, b edge) int {
		return cmp.Or(strings.Compare(changes[a.to].Key, changes[b.to].Key), strings.Compare(changes[a.from].Key, changes[b.from].Key))
	})
	preds := map[int][]int{}
	for _, e := range edges {
		preds[e.to] = append(preds[e.to], e.from)
	}
	step := map[int]int64{}
	var level func(v int) int64
	level = func(v int) int64 { // acyclic by now
		if s, ok := step[v]; ok {
			return s
		}
		s := int64(1)
		for _, p := range preds[v] {
			s = max(s, level(p)+1)
		}
		step[v] = s
		return s
	}
	notes := map[int][]string{}
	waits := map[int][]string{}
	for _, e := range edges {
		from, to := &changes[e.from], &changes[e.to]
		waits[e.to] = append(waits[e.to], schemas.OpID(from.Entity, from.Op, from.Key))
		if e.name == "" { // a cycle's second step: the same user's update
			continue
		}
		notes[e.to] = append(notes[e.to], fmt.Sprintf("after %s frees %s", doing(from), e.name))
		notes[e.from] = append(notes[e.from], fmt.Sprintf("frees %s for UserID %s", e.name, to.Key))
	}
	for _, e := range edges {
		level(e.from)
		level(e.to)
	}
	for v, s := range step {
		c := &changes[v]
		c.Step, c.WaitsFor = s, strings.Join(waits[v], "\n")
		note := fmt.Sprintf("step %d of the names changing hands", s)
		if len(notes[v]) > 0 {
			note += ": " + strings.Join(notes[v], "; ")
		}
		c.Reason = joinReasons(c.Reason, note)
	}
}

// doing names a change for another's reason: "the delete of 100".
func doing(c *schemas.Change) string {
	if c.Op == schemas.OpRename {
		return "the temporary rename of UserID " + c.Key
	}
	return "the " + c.Op + " of UserID " + c.Key
}

// tempRename is the first step of a cycle for c, a rename from old: the
// user goes to TempUserName, which frees old for the next in the cycle.
// It carries c's record with that name as userName and work email, and
// sends the userName alone; c then gives the user its new name.
func tempRename(c *schemas.Change, old string) schemas.Change {
	t := *c
	tmp := TempUserName(c.Key, old)
	t.Op, t.Name, t.Reason = schemas.OpRename, old, "a temporary userName, so that "+old+" is free for the user who takes it"
	t.UserName, t.Email, t.SendInvitation = tmp, tmp, false
	t.Changed = schemas.FieldSet(0).With(schemas.FieldIndex(schemas.UserFields, "userName"))
	t.Fields, t.Before, t.After = "userName", old, tmp
	t.Grant, t.AdminGrant, t.AdminRevoke = "", "", ""
	return t
}

// TempUserName is the userName a user passes through in a cycle of
// renames: valid as an email, unique to the user and the name it frees
// (so a resumed load sends the same), and in the .invalid domain (RFC
// 2606), where no mail is ever delivered, should the target write to it.
func TempUserName(key, old string) string {
	return fmt.Sprintf("condeco-sync-swap-%016x@swap.invalid", xxh3.HashString(key+"\x00"+strings.ToLower(old)))
}
