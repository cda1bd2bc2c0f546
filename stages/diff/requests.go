package diff

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// Requests is what a plan asks of the SCIM server: the requests load will
// send for it under a profile, reckoned from the plan alone. Retries, and
// the look-ups that follow a conflict or an answer lost, come on top.
type Requests struct {
	Users       int `json:"users"`       // one a user change; an update that changes access in the visitor profile reads the user first
	Creates     int `json:"creates"`     // of Users, the creates: /Bulk carries them BulkChunk a request
	Locations   int `json:"locations"`   // scim2: two groups a location; visitor: one /Locations resource
	Memberships int `json:"memberships"` // scim2: one PATCH a chunk of MemberChunk members; a revoke reads its group first
	// Rate is the requests a second load keeps under (scim.max_rpm,
	// scim.max_rps; 0: none): with it the plan says how long the load
	// takes at the least.
	Rate float64 `json:"rate_per_second,omitempty"`
	// SCIM11: the server speaks SCIM 1.1 (visitor-generic with SCIM 1.0's
	// core schema): an update reads the user and PUTs it back, and creates
	// go one by one (no /Bulk).
	SCIM11 bool `json:"scim11,omitempty"`
}

// AtLeast is the time n requests take at r.Rate (0 without one).
func (r Requests) AtLeast(n int) time.Duration {
	if r.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(n) / r.Rate * float64(time.Second))
}

// roughly says d for people: "40 s", "1 min 13 s", "27 min", "2 h 5 min".
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < 10*time.Minute:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Total is the number of requests when every create is its own request.
func (r Requests) Total() int { return r.Users + r.Locations + r.Memberships }

// WithBulk is the number of requests when the creates go by /Bulk.
func (r Requests) WithBulk() int {
	if r.SCIM11 {
		return r.Total()
	}
	return r.Total() - r.Creates + (r.Creates+profile.BulkChunk-1)/profile.BulkChunk
}

// CountRequests reckons the requests of changes to a target of traits t,
// as load makes them (see stages/load) with chunk members a membership
// PATCH, against a server that supports PATCH; scim11 says the server
// speaks SCIM 1.1 (an update then reads the user before it PUTs it).
func CountRequests(changes []schemas.Change, t profile.Traits, scim11 bool, chunk int) Requests {
	rc := newRequestCounter(t, scim11, chunk)
	for i := range changes {
		rc.add(&changes[i])
	}
	return rc.result()
}

// requestCounter is CountRequests as the plan's changes come, one at a
// time.
type requestCounter struct {
	t       profile.Traits
	chunk   int
	r       Requests
	members map[chunkKey]int
}

type chunkKey struct{ group, section, kind string }

func newRequestCounter(t profile.Traits, scim11 bool, chunk int) *requestCounter {
	return &requestCounter{t: t, chunk: chunk, r: Requests{SCIM11: scim11}, members: map[chunkKey]int{}}
}

var (
	defaultLocField   = schemas.FieldIndex(schemas.UserFields, "defaultLocation")
	locationNameField = schemas.FieldIndex(schemas.LocationFields, "name")
)

func (rc *requestCounter) add(c *schemas.Change) {
	t, r := rc.t, &rc.r
	if c.Op == schemas.OpHold || c.Op == schemas.OpRemoved {
		return
	}
	if c.Entity == schemas.EntityLocation {
		switch {
		case t.Locations == "": // the tenant's to create and map: nothing is sent
		case t.Locations == "Groups" && c.Op == schemas.OpUpdate && !c.Changed.Has(locationNameField):
			// a Group carries only the location's name
		default:
			r.Locations += len(t.LocationKeys(c.Key))
		}
		return
	}
	access := c.Grant != "" || c.AdminGrant != "" || c.AdminRevoke != "" || c.Changed.Has(defaultLocField)
	switch {
	case c.Op == schemas.OpCreate:
		r.Users++
		r.Creates++
	case c.Op == schemas.OpDelete:
		r.Users++
	case access && t.Access == profile.OnUser && t.ReadsForAccess:
		r.Users += 2 // the user's access is read before it is changed
	case t.SendsAttributes(c.Changed) && r.SCIM11:
		r.Users += 2 // the user is read, then PUT back
	case t.SendsAttributes(c.Changed):
		r.Users++
	}
	if t.Access != profile.ByGroups || c.Op == schemas.OpDelete {
		return
	}
	for _, g := range schemas.SplitIDs(c.Grant) {
		rc.members[chunkKey{g, c.Op, "add"}]++
	}
	if c.AdminGrant != "" && t.AdminGroups {
		rc.members[chunkKey{c.AdminGrant + profile.AdminGroupSuffix, c.Op, "add"}]++
	}
	if c.AdminRevoke != "" && t.AdminGroups && c.Op != schemas.OpCreate {
		rc.members[chunkKey{c.AdminRevoke + profile.AdminGroupSuffix, c.Op, "remove"}]++
	}
}

// result is the count of every change added.
func (rc *requestCounter) result() Requests {
	r := rc.r
	for k, n := range rc.members {
		chunks := (n + rc.chunk - 1) / rc.chunk
		if k.kind == "remove" {
			chunks *= 2 // the group is read before members are removed
		}
		r.Memberships += chunks
	}
	return r
}

// String says r for the plan.
func (r Requests) String() string {
	s := fmt.Sprintf("about %d requests to the SCIM server: %d for users, %d for locations", r.Total(), r.Users, r.Locations)
	if r.Memberships > 0 {
		s += fmt.Sprintf(", %d membership PATCHes (up to %d members each)", r.Memberships, profile.MemberChunk)
	}
	if r.Creates > 1 && !r.SCIM11 {
		s += fmt.Sprintf("; about %d where the server offers /Bulk (the %d creates go up to %d a request)", r.WithBulk(), r.Creates, profile.BulkChunk)
	}
	if r.Rate > 0 && r.Total() > 0 {
		s += fmt.Sprintf(". At %s requests a minute (scim.max_rpm, scim.max_rps) that is at least %s", strconv.FormatFloat(math.Round(r.Rate*60*100)/100, 'f', -1, 64), roughly(r.AtLeast(r.Total())))
		if r.Creates > 1 && !r.SCIM11 {
			s += fmt.Sprintf(", %s with /Bulk", roughly(r.AtLeast(r.WithBulk())))
		}
	}
	return s + ". Retries, and look-ups after a conflict or a lost answer, come on top."
}
