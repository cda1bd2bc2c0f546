// Package load is the fourth stage: it applies a run's change set to the
// SCIM service provider, journals every operation as it finishes, and
// writes the applied state that becomes the next run's baseline.
//
// A load may be killed at any moment and run again: operations the journal
// records as done are not sent again, a create whose answer was lost looks
// before it sends, and a create that meets its user already there adopts
// it (rule 11). So a rerun never makes a duplicate and never loses one.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Output file names, relative to the stage directory.
const (
	JournalFile        = "journal.jsonl"
	ResultsFile        = "results.csv"
	UsersStateFile     = "state/users.parquet"
	LocationsStateFile = "state/locations.parquet"
	RequestsFile       = "requests.jsonl" // load --dry-run
)

// CountFailed is the key of the manifest's count of failed operations:
// present once a load ran to its end (see pipeline.LoadEnded).
const CountFailed = "failed"

// Input is what load needs.
type Input struct {
	Changes                          string // diff's change set
	Users, Locations                 string // transform's desired state
	BaselineUsers, BaselineLocations string // the applied state diff compared with; "" on the initial synchronization
	// PriorJournal is the journal of the latest earlier attempt of this
	// load that wrote one ("" for none): what it records as done is not
	// sent again.
	PriorJournal string
	Attempt      int
	RunID        string // named in results.csv

	Client      *scim.Client
	Profile     string  // scim.profile: ProfileSCIM2 or ProfileVisitor
	Extension   string  // scim.extension (visitor profile); "": DefaultExtension
	Concurrency int     // scim.concurrency
	MaxRPS      float64 // scim.max_rps; 0: no limit
	ChunkSize   int     // members per group PATCH; 0: DefaultChunkSize
	Log         zerolog.Logger
	Progress    io.Writer // a terminal for a progress line; nil: log lines only
}

// DefaultChunkSize is how many members one PATCH of a group adds or
// removes. Servers that apply a PATCH by rewriting the whole group pay for
// the group's size on every PATCH (SCIMMY: about 0.35 ms a member), so
// fewer, larger PATCHes cost them much less; 500 members is about 25 KB.
const DefaultChunkSize = 500

// FailedError is a load that ran to its end with operations the server
// refused or never answered. They are listed in results.csv; the applied
// state leaves them out, so the next run's diff has them again.
type FailedError struct{ Failed, Total int }

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d operations failed (see results.csv); the next run sends them again", e.Failed, e.Total)
}

// loader is one attempt of a load.
type loader struct {
	in   Input
	prof profile
	send *sender
	spc  *scim.ServiceProviderConfig
	// hasLocations: the target lists /Locations (visitor profile).
	hasLocations bool
	// With no baseline (the initial synchronization, or a data directory
	// that lost state/baseline.json), what the target already holds with
	// an externalId: the SCIM ids of users, and the resources of
	// locations, by externalId. A create of one of them adopts it, so
	// nobody is made twice. Read once, before any operation; read-only.
	existingUsers map[string]string
	existingNamed map[string]scim.Resource
	// lookFirst: the target held such resources; a group's membership is
	// then read before it is changed.
	lookFirst bool
	journal   *journal
	prog      *progress

	changes    []schemas.Change
	userChange map[string]*schemas.Change // by UserID
	desired    map[string]*schemas.User   // by UserID: the desired rows of the users with changes
	base       map[string]*schemas.User   // by UserID: the baseline rows of the users with changes
	locs       map[string]*schemas.Location
	baseLocs   map[string]*schemas.Location

	mu         sync.Mutex
	outcomes   map[string]Entry              // by op id, the latest: carried over and this attempt
	pairs      map[pairKey]string            // membership (kind, group, UserID) → latest outcome
	userIDs    map[string]string             // UserID → SCIM id
	groupIDs   map[string]string             // group key (LocationID, or LocationID:admins) → SCIM id
	history    []Entry                       // every entry, carried over and this attempt, in order
	groupLocks map[string]*sync.Mutex        // one membership change of a group at a time
	phaseTimes map[string]map[string]float64 // phase → operations, seconds: for the manifest

	brk breaker

	scanMu sync.Mutex
	byName map[string]scim.Resource // the target's users by lower-cased userName, once read (see findUser)
}

type pairKey struct{ kind, group, user string }

// Run loads in into dir.
func Run(ctx context.Context, in Input, dir string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}, Details: map[string]any{}}
	if in.Concurrency <= 0 {
		in.Concurrency = 1
	}
	if in.ChunkSize <= 0 {
		in.ChunkSize = DefaultChunkSize
	}
	if in.Extension == "" {
		in.Extension = DefaultExtension
	}
	switch in.Profile {
	case ProfileSCIM2, ProfileVisitor:
	default:
		return res, fmt.Errorf("scim.profile %q is not %s or %s", in.Profile, ProfileVisitor, ProfileSCIM2)
	}
	l := &loader{in: in, prof: profile{visitor: in.Profile == ProfileVisitor, extension: in.Extension}, send: newSender(in.MaxRPS, in.Log), outcomes: map[string]Entry{}, pairs: map[pairKey]string{},
		userIDs: map[string]string{}, groupIDs: map[string]string{}}
	if err := l.read(); err != nil {
		return res, err
	}
	carried, err := readJournal(in.PriorJournal)
	if err != nil {
		return res, err
	}
	for _, e := range carried {
		l.remember(e)
	}
	var spc *scim.ServiceProviderConfig
	if _, err := l.send.do(ctx, false, func(bool) (err error) {
		spc, err = in.Client.ServiceProviderConfig(ctx)
		return err
	}); err != nil {
		return res, fmt.Errorf("reading the service provider's configuration: %w", err)
	}
	l.spc = spc
	res.Details["service_provider"] = map[string]any{"patch": spc.Patch.Supported, "bulk": spc.Bulk.Supported,
		"bulk_max_operations": spc.Bulk.MaxOperations, "bulk_max_payload": spc.Bulk.MaxPayloadSize}
	if l.prof.visitor {
		var types []string
		if _, err := l.send.do(ctx, false, func(bool) (err error) {
			types, err = in.Client.ResourceTypes(ctx)
			return err
		}); err != nil {
			return res, fmt.Errorf("reading the service provider's resource types: %w", err)
		}
		l.hasLocations = slices.Contains(types, "/Locations")
		res.Details["resource_types"] = types
	}
	if in.BaselineUsers == "" {
		if err := l.indexTarget(ctx); err != nil {
			return res, err
		}
		res.Details["target_held"] = map[string]int{"users": len(l.existingUsers), "locations": len(l.existingNamed)}
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: JournalFile})
	if l.journal, err = openJournal(dir+"/"+JournalFile, carried); err != nil {
		return res, err
	}
	l.prog = newProgress(in.Log, in.Progress, len(l.changes))
	runErr := l.phases(ctx)
	l.prog.stop()
	if err := l.journal.close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%s: %w", JournalFile, err)
	}
	res.Details["throttled"], res.Details["retried"], res.Details["phases"] = l.send.throttled, l.send.retried, l.phaseTimes
	if runErr != nil {
		return res, runErr // no state: a rerun resumes from the journal
	}

	failed, total, err := l.writeResults(dir + "/" + ResultsFile)
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: ResultsFile, Rows: int64(total)})
	users, locs, err := l.writeState(dir)
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: UsersStateFile, Rows: users}, stages.Output{Path: LocationsStateFile, Rows: locs})
	for _, e := range l.outcomes {
		res.Counts[e.Entity+" "+e.Kind+" "+e.Outcome]++
	}
	res.Counts[CountFailed] = int64(failed)
	if failed > 0 {
		return res, &FailedError{Failed: failed, Total: total}
	}
	return res, nil
}

// read loads the change set, and the desired and baseline rows of the
// users it names (only those: a daily change set is small next to the
// snapshots).
func (l *loader) read() error {
	var err error
	if l.changes, err = parquetio.ReadAll[schemas.Change](l.in.Changes); err != nil {
		return err
	}
	keys := map[string]bool{}
	l.userChange = map[string]*schemas.Change{}
	for i, c := range l.changes {
		if c.Entity == schemas.EntityUser {
			l.userChange[c.Key] = &l.changes[i]
			if c.Op != schemas.OpHold {
				keys[c.Key] = true
			}
		}
	}
	keep := func(k string) bool { return keys[k] }
	l.desired, err = readUsers(l.in.Users, keep)
	if err != nil {
		return err
	}
	l.base = map[string]*schemas.User{}
	if l.in.BaselineUsers != "" {
		if l.base, err = readUsers(l.in.BaselineUsers, keep); err != nil {
			return err
		}
	}
	for k, u := range l.base {
		if u.SCIMID != "" {
			l.userIDs[k] = u.SCIMID
		}
	}
	if l.locs, err = readLocations(l.in.Locations); err != nil {
		return err
	}
	l.baseLocs = map[string]*schemas.Location{}
	if l.in.BaselineLocations != "" {
		if l.baseLocs, err = readLocations(l.in.BaselineLocations); err != nil {
			return err
		}
	}
	for k, loc := range l.baseLocs {
		if loc.SCIMID != "" {
			l.groupIDs[k] = loc.SCIMID
		}
		if loc.AdminSCIMID != "" {
			l.groupIDs[adminKey(k)] = loc.AdminSCIMID
		}
	}
	return nil
}

func readUsers(path string, keep func(string) bool) (map[string]*schemas.User, error) {
	out := map[string]*schemas.User{}
	_, err := parquetio.ReadRows(path, nil, "user_id", keep, func(u *schemas.User) error {
		c := *u
		out[c.UserID] = &c
		return nil
	})
	return out, err
}

func readLocations(path string) (map[string]*schemas.Location, error) {
	all, err := parquetio.ReadAll[schemas.Location](path)
	out := map[string]*schemas.Location{}
	for i := range all {
		out[all[i].LocationID] = &all[i]
	}
	return out, err
}

// remember records e as the latest word on its operation.
func (l *loader) remember(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rememberLocked(e)
}

func (l *loader) rememberLocked(e Entry) {
	l.history = append(l.history, e)
	if e.Entity == entityMembership {
		for _, m := range e.Members {
			k := pairKey{e.Kind, e.Key, m}
			if prev, ok := l.pairs[k]; !ok || !done(prev) {
				l.pairs[k] = e.Outcome
			}
		}
		return
	}
	if prev, ok := l.outcomes[e.Op]; ok && done(prev.Outcome) {
		return // done stays done
	}
	l.outcomes[e.Op] = e
	if e.SCIMID != "" && done(e.Outcome) {
		switch e.Entity {
		case schemas.EntityUser:
			l.userIDs[e.Key] = e.SCIMID
		case schemas.EntityLocation:
			l.groupIDs[e.Key] = e.SCIMID
		}
	}
}

// isDone reports whether the operation op is recorded as done.
func (l *loader) isDone(op string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.outcomes[op]
	return ok && done(e.Outcome)
}

func (l *loader) outcome(op string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.outcomes[op]
	return e, ok
}

func (l *loader) userID(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.userIDs[key]
}

func (l *loader) groupID(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.groupIDs[key]
}

// task is one operation: what the journal will say of it, and the request
// (or requests) that carry it out. run returns the outcome and the SCIM id
// of the resource.
type task struct {
	e   Entry
	run func(ctx context.Context, lost bool) (outcome, scimID string, err error)
	// lost: an earlier request for it may have been carried out unanswered.
	lost bool
}

// phases applies the change set in the safe order of the issue: locations
// first (users refer to them), then creates, updates, memberships, revokes,
// deactivations and deletes last, so that a run stopped half way has
// removed nothing it should not have.
func (l *loader) phases(ctx context.Context) error {
	l.phaseTimes = map[string]map[string]float64{}
	for _, p := range []struct {
		name  string
		tasks func() []task
	}{
		{"locations", l.locationTasks},
		{"creates", l.userTasks(schemas.OpCreate)},
		{"updates", l.userTasks(schemas.OpUpdate, schemas.OpReactivate)},
		{"memberships", l.grantTasks},
		{"revokes", l.revokeTasks},
		{"deactivations", l.userTasks(schemas.OpDeactivate)},
		{"deletes", l.userTasks(schemas.OpDelete)},
	} {
		tasks := p.tasks()
		if len(tasks) == 0 {
			continue
		}
		l.in.Log.Info().Str("phase", p.name).Int("operations", len(tasks)).Msg("phase started")
		start := time.Now()
		run := l.runTasks
		if p.name == "creates" && l.bulkable(schemas.OpCreate) {
			run = l.bulkCreates
		}
		if err := run(ctx, tasks); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		l.phaseTimes[p.name] = map[string]float64{"operations": float64(len(tasks)), "seconds": time.Since(start).Seconds()}
	}
	return nil
}

// runTasks runs tasks on scim.concurrency workers. An operation that fails
// is journaled and the others go on; only a cancelled context stops them.
func (l *loader) runTasks(ctx context.Context, tasks []task) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(l.in.Concurrency)
	for _, t := range tasks {
		if t.e.Entity != entityMembership && l.isDone(t.e.Op) {
			continue
		}
		g.Go(func() error {
			if err := l.journal.err(); err != nil {
				return &StoppedError{Why: "the journal cannot be written, so nothing more is sent", Err: err}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var st int
			sctx := scim.WithStatus(ctx, &st)
			var outcome, id string
			// An operation the journal of an earlier attempt does not record
			// may have been sent by it, answer unseen: look before sending.
			// User creates need not: userNames are unique (RFC 7643 §4.1.1),
			// so a second create meets a 409 and adopts.
			lost := t.lost || (l.lookFirst && t.e.Entity == entityMembership) ||
				(l.in.PriorJournal != "" && !(t.e.Entity == schemas.EntityUser && t.e.Kind == schemas.OpCreate))
			tries, err := l.send.do(sctx, lost, func(lost bool) error {
				st = 0
				var err error
				outcome, id, err = t.run(sctx, lost)
				return err
			})
			if ctx.Err() != nil {
				return ctx.Err() // interrupted: not an outcome, the rerun sends it
			}
			if stop := l.stopFor(err); stop != nil {
				return stop // not journaled: the resume sends it again
			}
			e := t.e
			e.Tries, e.Status, e.SCIMID, e.Outcome, e.Load, e.At = tries, st, id, outcome, l.in.Attempt, time.Now().UTC()
			if err != nil {
				e.Outcome, e.Error, e.Status = OutcomeFailed, l.in.Client.Scrub(err.Error()), status(err)
			}
			l.remember(e)
			l.journal.add(e)
			l.prog.add(e)
			return nil
		})
	}
	return g.Wait()
}

// indexTarget reads what the target holds with an externalId, page by
// page: users (only their ids are kept) and the locations' resources.
func (l *loader) indexTarget(ctx context.Context) error {
	l.existingUsers, l.existingNamed = map[string]string{}, map[string]scim.Resource{}
	types := []string{"Users"}
	switch {
	case !l.prof.visitor:
		types = append(types, "Groups")
	case l.hasLocations:
		types = append(types, "Locations")
	}
	for _, typ := range types {
		if _, err := l.send.do(ctx, false, func(bool) error {
			return l.in.Client.Each(ctx, typ, "", 500, func(r scim.Resource) error {
				ext := str(r, "externalId")
				if ext == "" {
					return nil
				}
				id, err := l.idOf(r)
				if err != nil {
					return err
				}
				if typ == "Users" {
					l.existingUsers[ext] = id
				} else {
					l.existingNamed[ext] = scim.Resource{"id": id, "displayName": str(r, "displayName"), "externalId": ext}
				}
				return nil
			})
		}); err != nil {
			return fmt.Errorf("reading what the target holds (there is no baseline): %s: %w", typ, err)
		}
	}
	l.lookFirst = len(l.existingUsers)+len(l.existingNamed) > 0
	return nil
}

// StoppedError is a load that stopped before its end, sending nothing
// more: the server refused the credential, most recent operations failed
// for want of a working server, or the journal could not be written. The
// journal holds what was done; a rerun of the load resumes.
type StoppedError struct {
	Why string
	Err error
}

func (e *StoppedError) Error() string { return fmt.Sprintf("%s: %v", e.Why, e.Err) }
func (e *StoppedError) Unwrap() error { return e.Err }

// stopFor says whether the outcome of one operation (err after its tries)
// must stop the whole load, and why.
func (l *loader) stopFor(err error) error {
	if err == nil {
		l.brk.record(false)
		return nil
	}
	if status(err) == http.StatusUnauthorized {
		return &StoppedError{Why: "the server refused the credential (401): check scim.token_env or scim.token_file", Err: err}
	}
	var p permanent
	transient := !errors.As(err, &p) && (status(err) >= 500 || status(err) == http.StatusTooManyRequests || !answered(err))
	if l.brk.record(transient) {
		return &StoppedError{Why: fmt.Sprintf("the server is failing: %d of the last %d operations got no working answer after %d tries each",
			breakerTrip, breakerWindow, maxTries), Err: err}
	}
	return nil
}

// The breaker stops a load when most recent operations failed for want of
// a working server (5xx, 429 past the retries, no answer): sending the
// rest would only add load to a server that is down.
const (
	breakerWindow = 20
	breakerTrip   = 16
)

type breaker struct {
	mu     sync.Mutex
	recent [breakerWindow]bool // failed, a ring
	n      int
}

// record adds one operation's outcome and reports whether the breaker trips.
func (b *breaker) record(failed bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recent[b.n%breakerWindow] = failed
	b.n++
	if b.n < breakerWindow {
		return false
	}
	bad := 0
	for _, f := range b.recent {
		if f {
			bad++
		}
	}
	return bad >= breakerTrip
}

// permanent marks an error that no retry can mend (a missing group, a
// userName that belongs to another user).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func permanentf(format string, a ...any) error { return permanent{fmt.Errorf(format, a...)} }

// sortedKeys returns m's keys in order, for deterministic requests.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// opID is the stable id of an operation: entity:kind:key.
func opID(entity, kind, key string) string { return entity + ":" + kind + ":" + key }
