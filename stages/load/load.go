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
	"strings"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/zeebo/xxh3"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
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
	// Changes is diff's change set: the whole plan. Load reads nothing
	// else of the run.
	Changes string
	// BaselineUsers and BaselineLocations are the applied state diff
	// compared with ("" on the initial synchronization): the locations'
	// SCIM ids, and the rows the next applied state is made from.
	BaselineUsers, BaselineLocations string
	// PriorJournal is the journal of the latest earlier attempt of this
	// load that wrote one ("" for none): what it records as done is not
	// sent again.
	PriorJournal string
	Attempt      int
	RunID        string // named in results.csv

	Client      *scim.Client
	Profile     string  // scim.profile: its traits (internal/profile) and behaviour (target)
	Extension   string  // scim.extension (visitor profile); "": schemas.DefaultExtension
	CoreSchema  string  // scim.core_schema (visitor-generic profile); "": schemas.SchemaCore10
	Concurrency int     // scim.concurrency
	MaxRPS      float64 // scim.max_rps; 0: no limit
	MaxRequests int     // scim.max_requests_per_run; 0: no cap
	ChunkSize   int     // members per group PATCH; 0: DefaultChunkSize
	Log         zerolog.Logger
	Progress    io.Writer // a terminal for a progress line; nil: log lines only
}

// DefaultChunkSize is how many members one PATCH of a group adds or
// removes. Servers that apply a PATCH by rewriting the whole group pay for
// the group's size on every PATCH (SCIMMY: about 0.35 ms a member), so
// fewer, larger PATCHes cost them much less. And a group takes one PATCH
// at a time, so at 20 ms an answer 100,000 members cost 4 s in chunks of
// 500 and 1 s in chunks of 2,000 (measured: BenchmarkLoadInitial). 2,000
// members of 36-character ids are about 110 KB, far below the 2 MB a
// request servers commonly accept.
const DefaultChunkSize = profile.MemberChunk

// FailedError is a load that ran to its end with operations the server
// refused or never answered. They are listed in results.csv; the applied
// state leaves them out, so the next run's diff has them again.
type FailedError struct{ Failed, Total int }

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d operations failed (see results.csv); the next run sends them again", e.Failed, e.Total)
}

// loader is one attempt of a load. It streams the change set, phase by
// phase: what it holds grows with the work in flight and with what the
// load did (a small record per operation), not with the population.
type loader struct {
	in     Input
	prof   target
	traits profile.Traits
	send   *sender
	spc    *scim.ServiceProviderConfig
	// wire11: the server speaks SCIM 1.1 (readSPC): no PatchOp, no /Bulk.
	wire11 bool
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

	counts    map[planKey]int // the plan's changes
	stepped   int             // of them, those in a step of the names changing hands
	locations []schemas.Change
	baseLocs  map[string]*schemas.Location

	mu         sync.Mutex
	results    resultStore                   // by op id, the latest word: carried over and this attempt
	groupIDs   map[string]string             // group key (LocationID, or LocationID:admins) → SCIM id
	chunks     []*Entry                      // membership entries, carried over and this attempt, in order
	groupLocks map[string]*sync.Mutex        // one membership change of a group at a time
	phaseTimes map[string]map[string]float64 // phase → operations, seconds: for the manifest

	brk breaker

	scanMu sync.Mutex
	byName map[string]scim.Resource // the target's users by lower-cased userName, once read (see findUser)

	owners owners // the applied state's accounts and their UserIDs, once read (see claimable)
}

// result is what became of one operation, kept small: a million of them
// are held at the end of an initial synchronization (48 bytes each).
type result struct {
	scimID  string
	err     string
	at      uint32 // Unix seconds (until 2106)
	status  int16
	tries   int16
	load    int16
	outcome outcome
}

// outcome is an Outcome constant by its place in outcomes; 0 is none.
type outcome uint8

var outcomes = []string{"", OutcomeDone, OutcomeAdopted, OutcomeUnchanged, OutcomeGone, OutcomeFailed, OutcomeUnsupported}

// outcomeOf is o's place in outcomes; an outcome of a later version's
// journal it does not know counts as failed: sent again.
func outcomeOf(o string) outcome {
	if i := slices.Index(outcomes, o); i > 0 {
		return outcome(i)
	}
	return outcome(slices.Index(outcomes, OutcomeFailed))
}

func (o outcome) String() string { return outcomes[o] }

// done reports whether the operation is recorded, and as done: the zero
// result (nothing recorded) is not.
func (r result) done() bool { return r.outcome != 0 && done(r.outcome.String()) }

// resultOf is what e, a journal entry, says of its operation.
func resultOf(e *Entry) result {
	return result{outcome: outcomeOf(e.Outcome), scimID: e.SCIMID, err: e.Error, at: unix(e.At),
		status: int16(e.Status), tries: int16(e.Tries), load: int16(e.Load)}
}

// Run loads in into dir.
func Run(ctx context.Context, in Input, dir string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}, Details: map[string]any{}}
	if in.Concurrency <= 0 {
		in.Concurrency = 1
	}
	if in.ChunkSize <= 0 {
		in.ChunkSize = DefaultChunkSize
	}
	prof, traits, err := newTarget(in.Profile, in.Extension, in.CoreSchema)
	if err != nil {
		return res, err
	}
	counter := &budget{next: in.Client.Transport(), max: int64(in.MaxRequests)}
	in.Client = in.Client.WithTransport(counter)
	l := &loader{in: in, prof: prof, traits: traits, send: newSender(in.MaxRPS, in.Log), results: newResultStore(0), groupIDs: map[string]string{}}
	if err := l.readPlan(); err != nil {
		return res, err
	}
	l.results = newResultStore(l.operations())
	carried, err := readJournal(in.PriorJournal)
	if err != nil {
		return res, err
	}
	for i := range carried {
		l.remember(&carried[i])
	}
	if err := l.readSPC(ctx); err != nil {
		return res, fmt.Errorf("reading the service provider's configuration: %w", err)
	}
	version := "2.0"
	if l.wire11 {
		version = "1.1"
	}
	res.Details["service_provider"] = map[string]any{"scim": version, "patch": l.spc.Patch.Supported, "bulk": l.spc.Bulk.Supported,
		"bulk_max_operations": l.spc.Bulk.MaxOperations, "bulk_max_payload": l.spc.Bulk.MaxPayloadSize}
	if err := l.prof.prepare(ctx, l, res.Details); err != nil {
		return res, err
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
	carried = nil
	l.prog = newProgress(in.Log, in.Progress, l.operations())
	runErr := l.phases(ctx)
	l.prog.stop()
	if err := l.journal.close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%s: %w", JournalFile, err)
	}
	res.Details["throttled"], res.Details["retried"], res.Details["phases"] = l.send.throttled, l.send.retried, l.phaseTimes
	res.Details["requests"] = counter.sent.Load()
	if runErr != nil {
		return res, runErr // no state: a rerun resumes from the journal
	}

	failed, total, counts, err := l.writeResults(dir + "/" + ResultsFile)
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: ResultsFile, Rows: int64(total)})
	users, locs, err := l.writeState(dir)
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: UsersStateFile, Rows: users}, stages.Output{Path: LocationsStateFile, Rows: locs})
	for k, n := range counts {
		res.Counts[k] = n
	}
	res.Counts[CountFailed] = int64(failed)
	if failed > 0 {
		return res, &FailedError{Failed: failed, Total: total}
	}
	return res, nil
}

// readSPC reads the service provider's configuration, and which SCIM the
// server speaks. A profile that allows it (visitor-generic) reads SCIM
// 1.1's /ServiceProviderConfigs when /ServiceProviderConfig is not there,
// and with neither assumes the least: no PATCH, no /Bulk. With SCIM 1.0's
// core schema (scim.core_schema), or a configuration only at the 1.1
// address, the server speaks SCIM 1.1: /ServiceProviderConfigs is asked
// first, and no 2.0 message (PatchOp, /Bulk) is ever sent.
func (l *loader) readSPC(ctx context.Context) error {
	paths := []string{"/ServiceProviderConfig"}
	if l.traits.ConfigOptional {
		paths = append(paths, "/ServiceProviderConfigs")
	}
	if l.traits.SCIM11(l.in.CoreSchema) {
		l.wire11 = true
		paths = []string{"/ServiceProviderConfigs", "/ServiceProviderConfig"}
	}
	defer func() {
		if l.wire11 {
			l.in.Client = l.in.Client.SCIM11()
		}
	}()
	for _, p := range paths {
		var spc *scim.ServiceProviderConfig
		_, err := l.send.do(ctx, false, func(bool) (err error) {
			spc, err = l.in.Client.ServiceProviderConfigAt(ctx, p)
			return err
		})
		switch {
		case err == nil:
			l.spc = spc
			l.wire11 = l.wire11 || p == "/ServiceProviderConfigs"
			return nil
		case !l.traits.ConfigOptional || !scim.IsStatus(err, http.StatusNotFound):
			return err
		}
	}
	l.in.Log.Warn().Msg("the server publishes no service provider configuration: an update reads the user and PUTs it back, creates go one by one")
	l.spc = &scim.ServiceProviderConfig{}
	return nil
}

// remember records e as the latest word on its operation (or, for a
// /Bulk request, on each create it carried out). Done stays done.
func (l *loader) remember(e *Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rememberLocked(e)
}

func (l *loader) rememberLocked(e *Entry) {
	r := resultOf(e)
	switch {
	case e.Chunk != nil:
		l.chunks = append(l.chunks, e)
	case e.Created != nil:
		r.tries = 1
		for _, c := range e.Created {
			r.scimID = c[1]
			l.setResult(opID(schemas.EntityUser, schemas.OpCreate, c[0]), r)
		}
	default:
		l.setResult(e.Op, r)
		if r.done() && r.scimID != "" && strings.HasPrefix(e.Op, schemas.EntityLocation+":") {
			l.groupIDs[keyOf(e.Op)] = r.scimID
		}
	}
}

func (l *loader) setResult(op string, r result) { l.results.set(op, r) }

// resultStore is what became of each operation, by op id. A million are
// held at the end of an initial synchronization, so the op ids are not:
// an operation is found by the 128-bit xxh3 hash of its id (two ids of a
// load sharing one are far less likely than a disk's undetected error),
// its result in a slice. Held as a map of the ids, they were 205 of a
// 1M-user load's 268 MB.
type resultStore struct {
	index map[xxh3.Uint128]int32
	all   []result
}

// newResultStore has room for n results (the plan's operations): grown
// by appending, a million of them were up to twice that.
func newResultStore(n int) resultStore {
	return resultStore{index: make(map[xxh3.Uint128]int32, n), all: make([]result, 0, n)}
}

func (s *resultStore) get(op string) (result, bool) {
	i, ok := s.index[xxh3.HashString128(op)]
	if !ok {
		return result{}, false
	}
	return s.all[i], true
}

// set records r as op's latest word; done stays done.
func (s *resultStore) set(op string, r result) {
	h := xxh3.HashString128(op)
	if i, ok := s.index[h]; ok {
		if !s.all[i].done() {
			s.all[i] = r
		}
		return
	}
	s.index[h] = int32(len(s.all))
	s.all = append(s.all, r)
}

func unix(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(t.Unix())
}

// keyOf is the key of an op id (entity:kind:key).
func keyOf(op string) string {
	parts := strings.SplitN(op, ":", 3)
	return parts[len(parts)-1]
}

// isDone reports whether the operation op is recorded as done.
func (l *loader) isDone(op string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, _ := l.results.get(op)
	return r.done()
}

func (l *loader) result(op string) (result, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results.get(op)
}

// createdID is the SCIM id of the user key that this load (or an earlier
// attempt) created or adopted; "" if none.
func (l *loader) createdID(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, _ := l.results.get(opID(schemas.EntityUser, schemas.OpCreate, key)); r.done() {
		return r.scimID
	}
	return ""
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
	op  string
	run func(ctx context.Context, lost bool) (outcome, scimID string, err error)
	// create: a user create (one that may skip the look before sending).
	create bool
	// chunk: the members a membership change sends.
	chunk *Chunk
	// lost: an earlier request for it may have been carried out unanswered.
	lost bool
}

// phases applies the change set in a safe order: locations first (users
// refer to them), then the changes whose userNames change hands, in the
// plan's steps (rule 13), then creates, updates, memberships, revokes,
// deactivations and deletes last, so that a run stopped half way has
// removed nothing it should not have.
func (l *loader) phases(ctx context.Context) error {
	l.phaseTimes = map[string]map[string]float64{}
	for _, p := range []struct {
		name string
		run  func(ctx context.Context) (int, error)
	}{
		{"locations", l.locationPhase},
		{"handovers", l.handoverPhase},
		{"creates", l.createPhase},
		{"updates", l.userPhase(schemas.OpUpdate, schemas.OpReactivate)},
		{"memberships", l.memberPhase(kindAdd)},
		{"revokes", l.memberPhase(kindRemove)},
		{"deactivations", l.userPhase(schemas.OpDeactivate)},
		{"deletes", l.userPhase(schemas.OpDelete)},
	} {
		start := time.Now()
		n, err := p.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if n > 0 {
			sec := time.Since(start).Seconds()
			l.phaseTimes[p.name] = map[string]float64{"operations": float64(n), "seconds": sec}
			l.in.Log.Info().Str("phase", p.name).Int("operations", n).Float64("seconds", sec).Msg("phase finished")
		}
	}
	return nil
}

// workers runs tasks as produce hands them over, on scim.concurrency
// workers, and returns how many it was given. An operation that fails is
// journaled and the others go on; a cancelled context, or a failure that
// stops the load (stopFor), stops them. The workers live for the phase
// and take the next task from a queue the producer keeps ahead: a worker
// whose request is answered sends the next at once, without waiting for
// the producer to be scheduled (that hop cost about 3 % of the bound at
// 20 ms an answer).
func (l *loader) workers(ctx context.Context, produce func(submit func(task) error) error) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan task, 4*l.in.Concurrency)
	for range l.in.Concurrency {
		g.Go(func() error {
			for t := range queue {
				// A stop (gctx) keeps new operations from starting; one in
				// flight finishes under ctx, so its outcome is journaled
				// and a resume need not look for it.
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if err := l.runTask(gctx, ctx, t); err != nil {
					return err
				}
			}
			return nil
		})
	}
	n := 0
	err := produce(func(t task) error {
		if gctx.Err() != nil {
			return gctx.Err()
		}
		n++
		if l.isDone(t.op) {
			l.prog.add(false, 1, false) // an earlier attempt did it
			return nil
		}
		select {
		case queue <- t:
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	})
	close(queue)
	if werr := g.Wait(); werr != nil {
		return n, werr
	}
	return n, err
}

// runTask sends one operation and journals what became of it. Its
// requests go under ctx; once stop is done (another operation stopped the
// load) it tries no more, but a request in flight finishes.
func (l *loader) runTask(stop, ctx context.Context, t task) error {
	if err := l.journal.err(); err != nil {
		return &StoppedError{Why: "the journal cannot be written, so nothing more is sent", Err: err}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var st int
	sctx := scim.WithStatus(ctx, &st)
	var outcome, id string
	// An operation the journal of an earlier attempt does not record may
	// have been sent by it, answer unseen: look before sending. User
	// creates need not: userNames are unique (RFC 7643 §4.1.1), so a
	// second create meets a 409 and adopts.
	lost := t.lost || (l.in.PriorJournal != "" && !t.create)
	first := true
	tries, err := l.send.do(sctx, lost, func(lost bool) error {
		if !first && stop.Err() != nil {
			return stop.Err()
		}
		first, st = false, 0
		var err error
		outcome, id, err = t.run(sctx, lost)
		return err
	})
	if err != nil && (ctx.Err() != nil || stop.Err() != nil) {
		return errors.Join(ctx.Err(), stop.Err()) // interrupted: not an outcome, the rerun sends it
	}
	if stop := l.stopFor(err); stop != nil {
		return stop // not journaled: the resume sends it again
	}
	e := Entry{Op: t.op, Tries: tries, Status: st, SCIMID: id, Outcome: outcome, Load: l.in.Attempt, At: time.Now().UTC(), Chunk: t.chunk}
	if err != nil {
		e.Outcome, e.Error, e.Status = OutcomeFailed, l.in.Client.Scrub(err.Error()), status(err)
	}
	l.record(&e, 1)
	return nil
}

// record remembers e, journals it and counts it done: n operations (a
// /Bulk request carries many).
func (l *loader) record(e *Entry, n int) {
	l.remember(e)
	l.journal.add(*e)
	l.prog.add(e.Chunk != nil, n, e.Outcome == OutcomeFailed)
}

// identity is what names c's user in the target: its externalId (the
// UserID), or where the profile sends none, its userName in lower case.
func (l *loader) identity(c *schemas.Change) string {
	if !l.traits.ExternalID {
		return strings.ToLower(c.UserName)
	}
	return c.Key
}

// indexTarget reads what the target holds with an externalId (or, where
// the profile sends none, every user by userName), page by page: users
// (only their ids are kept) and the locations' resources.
func (l *loader) indexTarget(ctx context.Context) error {
	l.existingUsers, l.existingNamed = map[string]string{}, map[string]scim.Resource{}
	for _, typ := range append([]string{"Users"}, l.prof.locationTypes()...) {
		if _, err := l.send.do(ctx, false, func(bool) error {
			return l.in.Client.Each(ctx, typ, "", 500, func(r scim.Resource) error {
				ext := str(r, "externalId")
				if typ == "Users" && !l.traits.ExternalID {
					ext = strings.ToLower(str(r, "userName"))
				}
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
	if errors.Is(err, ErrBudget) {
		return &StoppedError{Why: fmt.Sprintf("this load has sent its %d requests (scim.max_requests_per_run)", l.in.MaxRequests), Err: err}
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

// opID is the stable id of an operation: entity:kind:key.
func opID(entity, kind, key string) string { return entity + ":" + kind + ":" + key }
