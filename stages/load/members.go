package load

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// Membership operations: adding users to a group and removing them. One
// entry of the journal covers a chunk of members.
const (
	entityMembership = "membership"
	kindAdd          = "add"
	kindRemove       = "remove"
)

// memberColumns are what forming chunks reads of the plan.
var memberColumns = []string{"entity", "key", "op", "scim_id", "grant", "admin_grant", "admin_revoke"}

// memberSections are the plan's user ops whose access decisions are
// carried out by membership: a grant of kindAdd, a revoke of kindRemove.
var memberSections = map[string][]string{
	kindAdd:    {schemas.OpCreate, schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate},
	kindRemove: {schemas.OpUpdate, schemas.OpReactivate, schemas.OpDeactivate},
}

// memberPhase is phase 4 (kindAdd: the plan's grants, as members added to
// the locations' groups and admins to the admin groups) or phase 5
// (kindRemove: admin rights taken back). A group gets one PATCH per chunk
// of members, one at a time; different groups go in parallel.
func (l *loader) memberPhase(kind string) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if l.traits.Access != profile.ByGroups {
			return 0, nil
		}
		done := l.doneChunks(kind)
		n := 0
		if err := l.formChunks(kind, done, func(*Chunk, []string) error { n++; return nil }); err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, nil
		}
		l.prog.addChunks(n)
		return l.workers(ctx, func(submit func(task) error) error {
			return l.formChunks(kind, done, func(ch *Chunk, ids []string) error {
				return submit(task{op: opID(entityMembership, kind, ch.Group+":"+ch.First), chunk: ch, lost: l.lookFirst,
					run: func(ctx context.Context, lost bool) (string, string, error) {
						return l.changeMembers(ctx, kind, ch.Group, ids, lost)
					}})
			})
		})
	}
}

// doneChunks are the chunks of kind that earlier attempts carried out, by
// group, sorted by section and first member: their users are not sent
// again.
func (l *loader) doneChunks(kind string) map[string][]*Chunk {
	out := map[string][]*Chunk{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.chunks {
		if c := e.Chunk; c.Kind == kind && done(e.Outcome) {
			out[c.Group] = append(out[c.Group], c)
		}
	}
	for _, cs := range out {
		sortChunks(cs)
	}
	return out
}

func sortChunks(cs []*Chunk) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Section != cs[j].Section {
			return cs[i].Section < cs[j].Section
		}
		return cs[i].First < cs[j].First
	})
}

// covered reports whether one of cs (sorted) covers user of section.
// Chunks of a later attempt may lie inside an earlier one's range (the
// users it skipped), so every chunk of section that starts at or before
// user is looked at, nearest first.
func covered(cs []*Chunk, section, user string) bool {
	i := sort.Search(len(cs), func(i int) bool {
		return cs[i].Section > section || cs[i].Section == section && cs[i].First > user
	})
	for i--; i >= 0 && cs[i].Section == section; i-- {
		if cs[i].covers(section, user) {
			return true
		}
	}
	return false
}

// formChunks streams the plan's users whose decisions need kind of
// membership change and hands over chunks of them, group by group as
// they fill: a chunk holds the users of one section (whose keys are in
// order), at most ChunkSize, with their SCIM ids. Users done is said to
// cover are left out; users with no SCIM id (their create failed) are not
// sent, and listed as skipped.
func (l *loader) formChunks(kind string, done map[string][]*Chunk, emit func(ch *Chunk, ids []string) error) error {
	type pending struct {
		chunk   *Chunk
		ids     []string
		skipped []string // since the last member: listed if another follows
	}
	open := map[string]*pending{}
	flush := func(g string) error {
		p := open[g]
		delete(open, g)
		if p == nil || len(p.ids) == 0 {
			return nil
		}
		p.chunk.Count = len(p.ids)
		return emit(p.chunk, p.ids)
	}
	add := func(g, section, user, id string) error {
		if covered(done[g], section, user) {
			return nil
		}
		p := open[g]
		if p != nil && p.chunk.Section != section {
			if err := flush(g); err != nil {
				return err
			}
			p = nil
		}
		if p == nil {
			g = strings.Clone(g) // see below
			p = &pending{chunk: &Chunk{Group: g, Kind: kind, Section: section, Name: l.groupName(g)}}
			open[g] = p
		}
		if id == "" {
			if len(p.ids) > 0 {
				p.skipped = append(p.skipped, strings.Clone(user))
			}
			return nil
		}
		// The journal keeps a chunk's group and users: copies, since a
		// string of the plan's batch would keep the batch's whole column
		// alive (34 MB of a 1M-user load).
		if len(p.ids) == 0 {
			p.chunk.First = strings.Clone(user)
		}
		p.chunk.Skipped = append(p.chunk.Skipped, p.skipped...)
		p.skipped = p.skipped[:0]
		p.chunk.Last = strings.Clone(user)
		p.ids = append(p.ids, id)
		if len(p.ids) == l.in.ChunkSize {
			return flush(g)
		}
		return nil
	}
	err := l.eachUser(memberColumns, memberSections[kind], func(c *schemas.Change) error {
		id := c.SCIMID
		if c.Op == schemas.OpCreate {
			id = l.createdID(c.Key)
		}
		if kind == kindRemove {
			if c.AdminRevoke == "" {
				return nil
			}
			return add(adminKey(c.AdminRevoke), c.Op, c.Key, id)
		}
		for _, g := range schemas.SplitIDs(c.Grant) {
			if err := add(g, c.Op, c.Key, id); err != nil {
				return err
			}
		}
		if c.AdminGrant != "" {
			return add(adminKey(c.AdminGrant), c.Op, c.Key, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	groups := make([]string, 0, len(open))
	for g := range open {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		if err := flush(g); err != nil {
			return err
		}
	}
	return nil
}

// changeMembers adds users (their SCIM ids) to group, or removes them, in
// one PATCH. A removal reads the group first and removes only its present
// members: a PATCH removing an absent member is an error on most servers,
// and a person may have removed one by hand. An addition reads it first
// when an earlier try may have been carried out unanswered (lost): RFC
// 7644 says adding a present member changes nothing, but not every server
// agrees.
func (l *loader) changeMembers(ctx context.Context, kind, group string, ids []string, lost bool) (string, string, error) {
	gid := l.groupID(group)
	if gid == "" {
		return "", "", permanentf("group %s is not in the target (its location was not created)", group)
	}
	// One change of a group at a time: many servers apply a PATCH by
	// reading the group and writing it back, and two at once lose one.
	mu := l.groupLock(group)
	mu.Lock()
	defer mu.Unlock()
	var present map[string]bool
	if kind == kindRemove || lost {
		r, err := l.in.Client.Get(ctx, "Groups", gid)
		if err != nil {
			return "", gid, err
		}
		present = map[string]bool{}
		for _, m := range members(r) {
			if mm, ok := m.(map[string]any); ok {
				present[fmt.Sprint(mm["value"])] = true
			}
		}
	}
	if kind == kindAdd {
		var value []member
		for _, id := range ids {
			if !present[id] {
				value = append(value, member{id})
			}
		}
		if len(value) == 0 {
			return OutcomeDone, gid, nil // the lost try did it
		}
		err := l.patchResource(ctx, "Groups", gid, []scim.PatchOp{{Op: "add", Path: "members", Value: value}}, func(r scim.Resource) {
			all := members(r)
			for _, m := range value {
				all = append(all, map[string]any{"value": m.Value})
			}
			r["members"] = all
		})
		return OutcomeDone, gid, err
	}
	var ops []scim.PatchOp
	for _, id := range ids {
		if present[id] {
			ops = append(ops, scim.PatchOp{Op: "remove", Path: fmt.Sprintf("members[value eq %q]", id)})
		}
	}
	if len(ops) == 0 {
		return OutcomeUnchanged, gid, nil
	}
	err := l.patchResource(ctx, "Groups", gid, ops, func(r scim.Resource) {
		var keep []any
		for _, m := range members(r) {
			if mm, ok := m.(map[string]any); !ok || !slices.Contains(ids, fmt.Sprint(mm["value"])) {
				keep = append(keep, m)
			}
		}
		r["members"] = keep
	})
	return OutcomeDone, gid, err
}

func (l *loader) groupLock(group string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groupLocks == nil {
		l.groupLocks = map[string]*sync.Mutex{}
	}
	if l.groupLocks[group] == nil {
		l.groupLocks[group] = &sync.Mutex{}
	}
	return l.groupLocks[group]
}

// member is one member of a PATCH that adds members: a struct, not a
// map, since a PATCH carries thousands.
type member struct {
	Value string `json:"value"`
}

func members(r scim.Resource) []any { m, _ := r["members"].([]any); return m }
