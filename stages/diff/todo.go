package diff

import (
	"fmt"
	"io"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// Output files of the Superuser's to-do list.
const (
	TodoFile    = "todo.md"
	TodoCSVFile = "todo.csv"
)

// Todo is one decision of the plan that the target cannot take through
// its API under the profile: a person does it in the tenant.
type Todo struct {
	What    string // what to do, as a heading: "Give admin rights"
	Where   string // where in the tenant: "location London (LON)"
	Subject string // whom or what it is about: a user's name and email, a location
	Key     string // the UserID or LocationID
	Why     string // the plan's reason
}

// Standing is what stays manual on every run under the profile, whatever
// changed: counted, not listed.
type Standing struct {
	Admins    int // users with admin rights, which only a person can give
	Locations int // active locations, each mapped by city in the tenant
}

// Todos is the Superuser's to-do list for cs on a target of traits t: each
// decision of this plan that the target cannot take through its API, and
// what stays manual on every run. A profile whose access is ByHand leaves
// admin rights to a person, one that makes no location resources (and
// sends the city) leaves the locations too, and one whose tenant invites
// by itself the invitations. With any profile, a new location is not
// given to existing users unless access.grant_new_locations_to_existing_users
// says so, and the list says who may still need it; and a userName that a
// deactivated or held user keeps must be freed by a person (rule 13).
func Todos(cs *ChangeSet, in Input, t profile.Traits) ([]Todo, Standing) {
	l := newTodoList(cs, in, t)
	for i := range cs.Changes {
		l.add(&cs.Changes[i])
	}
	return l.finish()
}

// todoList makes the to-do list as the plan's changes come, one at a time.
type todoList struct {
	cs       *ChangeSet // all but its changes
	in       Input
	t        profile.Traits
	byHand   bool // admin rights are the Superuser's
	mapped   bool // locations too: made by hand, users mapped by city
	out      []Todo
	creates  int
	existing bool
}

func newTodoList(cs *ChangeSet, in Input, t profile.Traits) *todoList {
	return &todoList{cs: cs, in: in, t: t, byHand: t.Access == profile.ByHand, mapped: t.Locations == "" && t.City,
		existing: cs.BaselineUsers > 0}
}

func (l *todoList) where(id string) string {
	if loc, ok := l.cs.Locations[id]; ok && loc.Name != "" && loc.Name != id {
		return fmt.Sprintf("location %s (%s)", loc.Name, id)
	}
	return "location " + id
}

func person(c *schemas.Change) string {
	name := strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	if name == "" {
		return c.UserName
	}
	return fmt.Sprintf("%s <%s>", name, c.UserName)
}

// add is what change c leaves to a person.
func (l *todoList) add(c *schemas.Change) {
	cs, where := l.cs, l.where
	switch {
	case c.Entity == schemas.EntityLocation && l.mapped:
		loc := cs.Locations[c.Key]
		switch c.Op {
		case schemas.OpCreate:
			l.out = append(l.out, Todo{What: "Create the location and map its users by city", Where: "the tenant", Subject: where(c.Key), Key: c.Key,
				Why: fmt.Sprintf("new in Condeco; its users are sent with city %q: enable multi-location mapping and map that city", loc.City)})
		case schemas.OpUpdate:
			if c.Changed.Has(schemas.FieldIndex(schemas.LocationFields, "city")) || c.Changed.Has(schemas.FieldIndex(schemas.LocationFields, "name")) {
				l.out = append(l.out, Todo{What: "Update the location's name or city mapping", Where: where(c.Key), Subject: where(c.Key), Key: c.Key,
					Why: c.Reason + fmt.Sprintf("; its users are now sent with city %q", loc.City)})
			}
		case schemas.OpDelete, schemas.OpRemoved:
			l.out = append(l.out, Todo{What: "Retire the location", Where: where(c.Key), Subject: where(c.Key), Key: c.Key, Why: c.Reason})
		}
	case c.Entity == schemas.EntityLocation && c.Op == schemas.OpCreate && l.existing && !l.in.GrantNewLocations:
		l.out = append(l.out, Todo{What: "Give existing users access to the new location, where they need it", Where: where(c.Key),
			Subject: fmt.Sprintf("the %d users already provisioned", cs.BaselineUsers), Key: c.Key,
			Why: "access.grant_new_locations_to_existing_users is off: only new users get it"})
	case c.Entity == schemas.EntityUser && l.byHand:
		if c.Op == schemas.OpCreate {
			l.creates++
		}
		if c.AdminRevoke != "" {
			l.out = append(l.out, Todo{What: "Take back admin rights", Where: where(c.AdminRevoke), Subject: person(c), Key: c.Key,
				Why: "no longer an admin there in Condeco (AccessLevel, home location or default location changed)"})
		}
		if c.AdminGrant != "" {
			why := "AccessLevel is in access.admin_access_levels: admin at the default location"
			if !c.Admin {
				why = "AccessLevel is in access.home_admin_levels: admin at the home location"
			}
			l.out = append(l.out, Todo{What: "Give admin rights", Where: where(c.AdminGrant), Subject: person(c), Key: c.Key, Why: why})
		}
	}
}

// finish is the list, once every change was added, and what stays manual.
func (l *todoList) finish() ([]Todo, Standing) {
	cs, in, t, out := l.cs, l.in, l.t, l.out
	var st Standing
	for _, b := range cs.Blocked {
		out = append(out, Todo{What: "Free a userName for the user who takes it", Where: "the tenant", Subject: person(&b.Change), Key: b.Change.Key,
			Why: fmt.Sprintf("%s is held by UserID %s, %s: delete or rename that account in the tenant (or give UserID %s another email in Condeco); the next run sends the %s again",
				b.Name, b.Holder, b.Why, b.Change.Key, b.Change.Op)})
	}
	if t.TenantInvites && l.creates > 0 && in.Invitations != "send" {
		out = append(out, Todo{What: "Stop the tenant's invitation emails, if they must not go", Where: "the account's settings",
			Subject: fmt.Sprintf("the %d users this run creates", l.creates),
			Why:     "users.invitations is suppress, but the public API has no way to ask for that: the tenant decides"})
	}
	if l.byHand {
		st.Admins = cs.Admins
	}
	if l.mapped {
		for _, loc := range cs.Locations {
			if loc.Active && !loc.Held {
				st.Locations++
			}
		}
	}
	return out, st
}

// writeTodoCSV writes todo.csv: one row a decision.
func writeTodoCSV(w io.Writer, runID string, todos []Todo) error {
	cw, err := humancsv.New(w, runID, "what", "where", "subject", "key", "why")
	if err != nil {
		return err
	}
	for _, t := range todos {
		if err := cw.Write(t.What, t.Where, t.Subject, t.Key, t.Why); err != nil {
			return err
		}
	}
	return cw.Flush()
}

// todoMarkdown is the to-do list for people, grouped by what to do;
// limit caps the lines of each group (0: none).
func todoMarkdown(b io.Writer, todos []Todo, st Standing, limit int) {
	if len(todos) == 0 {
		io.WriteString(b, "\nNothing for the Superuser to do by hand for this run.\n")
	}
	var order []string
	groups := map[string][]Todo{}
	for _, t := range todos {
		if groups[t.What] == nil {
			order = append(order, t.What)
		}
		groups[t.What] = append(groups[t.What], t)
	}
	for _, what := range order {
		g := groups[what]
		fmt.Fprintf(b, "\n### %s (%d)\n\n", what, len(g))
		for i, t := range g {
			if limit > 0 && i == limit {
				fmt.Fprintf(b, "- … and %d more: see todo.md\n", len(g)-limit)
				break
			}
			if t.Where == t.Subject {
				fmt.Fprintf(b, "- %s: %s\n", t.Subject, t.Why)
			} else {
				fmt.Fprintf(b, "- %s, at %s: %s\n", t.Subject, t.Where, t.Why)
			}
		}
	}
	if st.Admins > 0 || st.Locations > 0 {
		fmt.Fprintf(b, "\nStanding (every run, nothing new): %d users hold admin rights only a person can give; %d active locations are mapped by city in the tenant.\n",
			st.Admins, st.Locations)
	}
}

// writeTodo writes todo.md.
func writeTodo(w io.Writer, runID string, todos []Todo, st Standing) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# For the Superuser: run %s\n\n", runID)
	b.WriteString("What this run's plan decides that the target cannot be told through its API: do it in the tenant, once the load has run. Only what changed since the last applied run is listed.\n")
	todoMarkdown(&b, todos, st, 0)
	_, err := io.WriteString(w, b.String())
	return err
}
