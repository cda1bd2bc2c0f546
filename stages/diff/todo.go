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
	byHand := t.Access == profile.ByHand  // admin rights are the Superuser's
	mapped := t.Locations == "" && t.City // locations too: made by hand, users mapped by city
	var out []Todo
	var st Standing
	where := func(id string) string {
		if l, ok := cs.Locations[id]; ok && l.Name != "" && l.Name != id {
			return fmt.Sprintf("location %s (%s)", l.Name, id)
		}
		return "location " + id
	}
	person := func(c *schemas.Change) string {
		name := strings.TrimSpace(c.GivenName + " " + c.FamilyName)
		if name == "" {
			return c.UserName
		}
		return fmt.Sprintf("%s <%s>", name, c.UserName)
	}
	creates, existing := 0, cs.BaselineUsers > 0
	for i := range cs.Changes {
		c := &cs.Changes[i]
		switch {
		case c.Entity == schemas.EntityLocation && mapped:
			l := cs.Locations[c.Key]
			switch c.Op {
			case schemas.OpCreate:
				out = append(out, Todo{What: "Create the location and map its users by city", Where: "the tenant", Subject: where(c.Key), Key: c.Key,
					Why: fmt.Sprintf("new in Condeco; its users are sent with city %q: enable multi-location mapping and map that city", l.City)})
			case schemas.OpUpdate:
				if c.Changed.Has(schemas.FieldIndex(schemas.LocationFields, "city")) || c.Changed.Has(schemas.FieldIndex(schemas.LocationFields, "name")) {
					out = append(out, Todo{What: "Update the location's name or city mapping", Where: where(c.Key), Subject: where(c.Key), Key: c.Key,
						Why: c.Reason + fmt.Sprintf("; its users are now sent with city %q", l.City)})
				}
			case schemas.OpDelete, schemas.OpRemoved:
				out = append(out, Todo{What: "Retire the location", Where: where(c.Key), Subject: where(c.Key), Key: c.Key, Why: c.Reason})
			}
		case c.Entity == schemas.EntityLocation && c.Op == schemas.OpCreate && existing && !in.GrantNewLocations:
			out = append(out, Todo{What: "Give existing users access to the new location, where they need it", Where: where(c.Key),
				Subject: fmt.Sprintf("the %d users already provisioned", cs.BaselineUsers), Key: c.Key,
				Why: "access.grant_new_locations_to_existing_users is off: only new users get it"})
		case c.Entity == schemas.EntityUser && byHand:
			if c.Op == schemas.OpCreate {
				creates++
			}
			if c.AdminRevoke != "" {
				out = append(out, Todo{What: "Take back admin rights", Where: where(c.AdminRevoke), Subject: person(c), Key: c.Key,
					Why: "no longer an admin there in Condeco (AccessLevel, home location or default location changed)"})
			}
			if c.AdminGrant != "" {
				why := "AccessLevel is in access.admin_access_levels: admin at the default location"
				if !c.Admin {
					why = "AccessLevel is in access.home_admin_levels: admin at the home location"
				}
				out = append(out, Todo{What: "Give admin rights", Where: where(c.AdminGrant), Subject: person(c), Key: c.Key, Why: why})
			}
		}
	}
	for _, b := range cs.Blocked {
		out = append(out, Todo{What: "Free a userName for the user who takes it", Where: "the tenant", Subject: person(&b.Change), Key: b.Change.Key,
			Why: fmt.Sprintf("%s is held by UserID %s, %s: delete or rename that account in the tenant (or give UserID %s another email in Condeco); the next run sends the %s again",
				b.Name, b.Holder, b.Why, b.Change.Key, b.Change.Op)})
	}
	if t.TenantInvites && creates > 0 && in.Invitations != "send" {
		out = append(out, Todo{What: "Stop the tenant's invitation emails, if they must not go", Where: "the account's settings",
			Subject: fmt.Sprintf("the %d users this run creates", creates),
			Why:     "users.invitations is suppress, but the public API has no way to ask for that: the tenant decides"})
	}
	if byHand {
		st.Admins = cs.Admins
	}
	if mapped {
		for _, l := range cs.Locations {
			if l.Active && !l.Held {
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
