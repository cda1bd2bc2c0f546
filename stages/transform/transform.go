// Package transform is the second stage: it applies the business rules to
// the raw snapshot and writes the desired state of every user and location
// in the target, one row per key, each with its row_hash.
package transform

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/rowexpr"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"golang.org/x/sync/errgroup"
)

// Input is what transform needs: the raw snapshot and the rules' settings.
type Input struct {
	RawUsers, RawLocations string // extract's users.parquet and locations.parquet
	Holds                  string // extract's holds.parquet: the keys rule 9 holds
	DefaultLocation        string
	AdminAccessLevels      []string // admins at the default location
	HomeAdminLevels        []string // admins at their home location
	Invitations            string   // send | suppress
	// HomeCity fills each user's City from its home location: the
	// export's Location column, a LocationID or a location's name in any
	// case; the default location's when it names none (visitor-generic).
	HomeCity bool
	// Mapping is mapping.users (attribute → expression over the row) and
	// Tables mapping.tables: a mapped attribute is the expression's value,
	// exactly; one that fails on a row holds the user.
	Mapping map[string]string
	Tables  map[string]map[string]string
	// ScopeInclude and ScopeExclude are scope.users: a row outside it is
	// marked OutOfScope (an expression that fails on it holds the user).
	ScopeInclude, ScopeExclude []string
	// InOrder writes users.parquet in order of UserID, for the diff of an
	// initial synchronization, which streams its creates only from a
	// desired state in that order. A daily run's diff holds its few
	// creates and needs no order: its users are written in the export's
	// order, which costs nothing (sorting a million users whose UserIDs
	// are numbers of several widths costs a second and 150 MB).
	InOrder bool
	Workers int    // 0: one per CPU
	RunID   string // named in warnings.csv
	Earlier Earlier
}

// Earlier is the desired state of the baseline's run (Path: its
// transform/users.parquet, sha256 checked by the caller), whose phones
// this run reuses where their export cells are unchanged: Run names that
// run, Rules the PhoneRules it was made under. Without a Path (Why says
// why) every number is parsed.
type Earlier struct{ Path, Run, Rules, Why string }

// Output file names, relative to the stage directory.
const (
	UsersFile     = "users.parquet"
	LocationsFile = "locations.parquet"
	WarningsFile  = "warnings.csv"
)

// Keys of the manifest's counts.
const (
	CountUsers               = "users"                 // users in the desired state
	CountUsersHeld           = "users_held"            // of them, held (rule 9)
	CountUsersNotProvisioned = "users_not_provisioned" // visitors, never provisioned
	CountUsersAdmin          = "users_admin"           // users with admin rights
	CountUsersOutOfScope     = "users_out_of_scope"    // rows outside scope.users
	CountWarnings            = "warnings"              // rows of warnings.csv
	CountLocations           = "locations"
	CountLocationsHeld       = "locations_held"
)

// Warning is a problem that does not stop a user from being provisioned,
// such as a phone number left out (rule 7).
type Warning struct {
	Entity, Key string
	Line        int64
	Field       string
	Value       string
	Message     string
}

// DefaultLocationError says that access.default_location is not an active
// location of the export: every user's access would point nowhere.
type DefaultLocationError struct{ ID string }

func (e *DefaultLocationError) Error() string {
	return fmt.Sprintf("access.default_location %q is not an active LocationID of the export", e.ID)
}

// Run transforms the raw snapshot in into dir.
func Run(in Input, dir string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}}
	var warnings []Warning
	reuse := map[string]any{}
	res.Details = map[string]any{"phone_rules": PhoneRules, "reuse": reuse}

	// The earlier run's phones are the longest read before the users can
	// be mapped: it starts first, and goes on beside everything up to the
	// rules themselves.
	var memo *phoneMemo
	var memoErr error
	memoRead := make(chan struct{})
	switch {
	case in.Earlier.Path == "":
		reuse["full"] = in.Earlier.Why
		close(memoRead)
	case in.Earlier.Rules != PhoneRules:
		reuse["full"] = fmt.Sprintf("run %s parsed its phones under other rules (%s; now %s)", in.Earlier.Run, in.Earlier.Rules, PhoneRules)
		close(memoRead)
	default:
		go func() { defer close(memoRead); memo, memoErr = readPhoneMemo(in.Earlier.Path) }()
	}
	defer func() { <-memoRead }() // a transform that fails early does not leave it behind

	userHolds, locHolds, err := readHolds(in.Holds)
	if err != nil {
		return res, err
	}
	locs, err := locations(in.RawLocations, locHolds)
	if err != nil {
		return res, err
	}
	if !activeLocation(locs, in.DefaultLocation) {
		return res, &DefaultLocationError{ID: in.DefaultLocation}
	}
	for _, l := range locs {
		if l.Held {
			res.Counts[CountLocationsHeld]++
		}
	}
	nLocs, err := parquetio.WriteSlice(filepath.Join(dir, LocationsFile), locs)
	if err != nil {
		return res, err
	}
	res.Counts[CountLocations] = nLocs

	scope, err := rowexpr.NewScope(in.ScopeInclude, in.ScopeExclude)
	if err != nil {
		return res, fmt.Errorf("scope.users: %w", err)
	}
	mapping, err := compileMapping(in.Mapping, in.Tables)
	if err != nil {
		return res, err
	}
	rules := userRules{in: in, admin: levels(in.AdminAccessLevels), homeAdmin: levels(in.HomeAdminLevels), scope: scope, mapping: mapping}
	if in.HomeCity || len(rules.homeAdmin) > 0 {
		rules.homes = homes(locs)
	}
	if def := rules.homes[strings.ToLower(in.DefaultLocation)]; in.HomeCity && def != nil {
		rules.defaultCity = def.City // there is one: the default location was checked above
	}
	// The workers wait for the earlier phones. (Reading more raw rows
	// ahead while they wait was slower: 64 batches held 300 MB more, and
	// the two reads took the cores from each other.)
	ready := func() userRules {
		<-memoRead
		r := rules
		if memoErr == nil {
			r.memo = memo
		}
		return r
	}
	var counts userCounts
	write := parquetio.Write[schemas.User]
	if in.InOrder {
		write = writeInOrder
	}
	nUsers, err := write(filepath.Join(dir, UsersFile), func(add func(schemas.User) error) error {
		return mapUsers(in.RawUsers, in.Workers, userHolds, ready, func(b batchResult) error {
			warnings = append(warnings, b.warnings...)
			counts.add(b.counts)
			for _, u := range b.users {
				if err := add(u); err != nil {
					return err
				}
			}
			return nil
		})
	})
	<-memoRead // mapUsers may have stopped before a worker waited
	switch {
	case memoErr != nil:
		reuse["full"] = fmt.Sprintf("run %s's users.parquet could not be read: %v", in.Earlier.Run, memoErr)
	case memo != nil:
		reuse["from_run"] = in.Earlier.Run
	}
	if err != nil {
		return res, err
	}
	res.Counts[CountUsers] = nUsers
	res.Counts[CountUsersHeld] = counts.held
	res.Counts[CountUsersNotProvisioned] = counts.visitors
	res.Counts[CountUsersAdmin] = counts.admin
	if scope != nil {
		res.Counts[CountUsersOutOfScope] = counts.outOfScope
	}
	reuse["phones_reused"] = counts.phonesReused
	res.Counts[CountWarnings] = int64(len(warnings))
	if err := writeWarnings(filepath.Join(dir, WarningsFile), in.RunID, warnings); err != nil {
		return res, err
	}
	res.Outputs = []stages.Output{
		{Path: UsersFile, Rows: nUsers}, {Path: LocationsFile, Rows: nLocs}, {Path: WarningsFile, Rows: int64(len(warnings))},
	}
	return res, nil
}

// readHolds reads extract's holds.parquet: the held users and locations
// by key.
func readHolds(path string) (users, locations map[string]schemas.Hold, err error) {
	rows, err := parquetio.ReadAll[schemas.Hold](path)
	if err != nil {
		return nil, nil, err
	}
	users, locations = map[string]schemas.Hold{}, map[string]schemas.Hold{}
	for _, h := range rows {
		switch h.Entity {
		case schemas.HoldUser:
			users[h.Key] = h
		case schemas.HoldLocation:
			locations[h.Key] = h
		default:
			return nil, nil, fmt.Errorf("%s: line %d holds a %q, neither a user nor a location", path, h.Line, h.Entity)
		}
	}
	return users, locations, nil
}

// locations applies rule 6's input side: one row per LocationID; a key
// extract holds (a row rejected, or the key on two rows) is held, so the
// diff neither updates nor reports it removed.
func locations(path string, held map[string]schemas.Hold) ([]schemas.Location, error) {
	raw, err := parquetio.ReadAll[schemas.RawLocation](path)
	if err != nil {
		return nil, err
	}
	var out []schemas.Location
	seen := map[string]bool{}
	for _, r := range raw {
		if r.LocationID == "" || seen[r.LocationID] {
			continue
		}
		seen[r.LocationID] = true
		l := schemas.Location{
			LocationID: r.LocationID, Name: r.Name, Region: r.Region, City: r.City, Address: r.Address,
			PostalCode: r.PostalCode, TimeZone: r.TimeZone, Active: r.Active, Line: r.Line,
		}
		if c, ok := Country(r.Country); ok {
			l.Country = c
		} else {
			l.Country = r.Country
		}
		if h, ok := held[r.LocationID]; ok {
			l.Held, l.HoldReason = true, h.Reason
		}
		l.RowHash = l.Hash()
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b schemas.Location) int { return strings.Compare(a.LocationID, b.LocationID) })
	return out, nil
}

func activeLocation(locs []schemas.Location, id string) bool {
	for _, l := range locs {
		if l.LocationID == id {
			return l.Active && !l.Held
		}
	}
	return false
}

type userRules struct {
	in               Input
	admin, homeAdmin map[string]bool // AccessLevels of admins at the default location, at their home location
	// homes maps a home location, its LocationID or name in lower case,
	// to the location (when Input.HomeCity or home admins need it).
	homes       map[string]*schemas.Location
	defaultCity string
	memo        *phoneMemo     // the earlier transform's phones; nil: parse every number
	scope       *rowexpr.Scope // scope.users; nil: everyone
	mapping     []mapped       // mapping.users, by attribute
}

// mapped is one attribute of mapping.users: the field it sets, and what it
// is made of.
type mapped struct {
	attr, field string
	text        *rowexpr.Text
}

// compileMapping compiles mapping.users, in order of attribute.
func compileMapping(users map[string]string, tables map[string]map[string]string) ([]mapped, error) {
	var out []mapped
	for _, attr := range slices.Sorted(maps.Keys(users)) {
		field, ok := schemas.Mapped[attr]
		if !ok {
			return nil, fmt.Errorf("mapping.users: %q is not an attribute a mapping makes", attr)
		}
		t, err := rowexpr.CompileText(users[attr], tables)
		if err != nil {
			return nil, fmt.Errorf("mapping.users.%s: %w", attr, err)
		}
		out = append(out, mapped{attr: attr, field: field, text: t})
	}
	return out, nil
}

// levels is a set of canonical AccessLevels (the config checked them).
func levels(names []string) map[string]bool {
	out := map[string]bool{}
	for _, a := range names {
		c, _ := schemas.Canonical(schemas.AccessLevels, a, "")
		out[c] = true
	}
	return out
}

// homes indexes the locations by lower-cased LocationID and name. An ID
// wins over another location's name.
func homes(locs []schemas.Location) map[string]*schemas.Location {
	out := map[string]*schemas.Location{}
	for i := range locs {
		if n := strings.ToLower(locs[i].Name); n != "" {
			out[n] = &locs[i]
		}
	}
	for i := range locs {
		out[strings.ToLower(locs[i].LocationID)] = &locs[i]
	}
	return out
}

type userCounts struct{ held, visitors, admin, phonesReused, outOfScope int64 }

func (c *userCounts) add(o userCounts) {
	c.held += o.held
	c.visitors += o.visitors
	c.admin += o.admin
	c.phonesReused += o.phonesReused
	c.outOfScope += o.outOfScope
}

type batchResult struct {
	seq      int
	users    []schemas.User
	warnings []Warning
	counts   userCounts
}

// mapUsers streams the raw users through the rules on several workers and
// hands the results to sink in the order of the file, so the output is the
// same whatever the number of workers. Each worker takes its rules from
// ready, which may wait (for the earlier phones). sink runs on the calling
// goroutine: parquet-go is written from one goroutine only.
func mapUsers(path string, workers int, held map[string]schemas.Hold, ready func() userRules, sink func(batchResult) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type job struct {
		seq  int
		rows []schemas.RawUser
	}
	jobs := make(chan job, workers)
	results := make(chan batchResult, workers)
	// Batches go round: a raw batch back to the reader once its users are
	// made, a batch of users back to the workers once sink has taken them
	// (the strings they hold are not in the slices). New slices for every
	// batch were a quarter of what a transform allocated. Room for every
	// batch that can be on its way at once; past that they are dropped.
	spareRows := make(chan []schemas.RawUser, 3*workers+2)
	spareUsers := make(chan []schemas.User, 3*workers+2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		seq := 0
		_, err := parquetio.Read(path, nil, func(b []schemas.RawUser) error {
			rows := recycled(spareRows)
			select {
			case jobs <- job{seq, append(rows, b...)}:
				seq++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		return err
	})
	var wg errgroup.Group
	for w := 0; w < workers; w++ {
		wg.Go(func() error {
			w := newWorker()
			rules := ready()
			for j := range jobs {
				r := rules.batch(j.rows, held, w, recycled(spareUsers))
				r.seq = j.seq
				giveBack(spareRows, j.rows)
				select {
				case results <- r:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error { defer close(results); return wg.Wait() })

	// Reorder and sink on this goroutine.
	pending := map[int]batchResult{}
	next := 0
	var sinkErr error
	for r := range results {
		pending[r.seq] = r
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if sinkErr == nil {
				sinkErr = sink(p)
			}
			giveBack(spareUsers, p.users)
		}
		if sinkErr != nil {
			break
		}
	}
	if sinkErr != nil {
		// Stop the producers, let them finish, then report the sink's error.
		cancel()
		for range results {
		}
		g.Wait()
		return sinkErr
	}
	return g.Wait()
}

// recycled is a slice from spare, emptied, or nil when there is none.
func recycled[T any](spare chan []T) []T {
	select {
	case s := <-spare:
		return s[:0]
	default:
		return nil
	}
}

// giveBack puts s in spare for another batch, unless spare is full.
func giveBack[T any](spare chan []T, s []T) {
	select {
	case spare <- s:
	default:
	}
}

// batch applies rules 1–4, 7 and 8 to one batch of raw rows, appending
// the users to users (an empty slice to reuse, or nil).
func (ru userRules) batch(rows []schemas.RawUser, held map[string]schemas.Hold, w *worker, users []schemas.User) batchResult {
	out := batchResult{users: slices.Grow(users, len(rows))}
	for i := range rows {
		r := &rows[i]
		if r.UserID == "" {
			continue // no key: rejected at extract, nothing can be held
		}
		if h, ok := held[r.UserID]; ok {
			// One row per held key: the row whose line the hold names.
			if r.Line == h.Line {
				out.counts.held++
				out.users = append(out.users, schemas.User{UserID: r.UserID, Held: true, HoldReason: h.Reason, Line: r.Line})
			}
			continue
		}
		if r.UserType == schemas.UserTypeVisitor {
			out.counts.visitors++ // rule 2: never provisioned
			continue
		}
		var outOfScope bool
		if ru.scope != nil {
			in, err := ru.scope.In(&w.exprs, r)
			if err != nil { // neither created nor deprovisioned on a rule that failed
				out.counts.held++
				reason := "scope.users: " + err.Error()
				out.users = append(out.users, schemas.User{UserID: r.UserID, Held: true, HoldReason: reason, Line: r.Line})
				out.warnings = append(out.warnings, Warning{Entity: "user", Key: r.UserID, Line: r.Line, Field: "scope.users", Message: "held: " + err.Error()})
				continue
			}
			outOfScope = !in
		}
		user, reused := ru.user(r, w, &out.warnings)
		if why := ru.mapUser(&user, r, w); why != "" { // never a user half made
			out.counts.held++
			out.users = append(out.users, schemas.User{UserID: r.UserID, Held: true, HoldReason: why, Line: r.Line})
			out.warnings = append(out.warnings, Warning{Entity: "user", Key: r.UserID, Line: r.Line, Field: "mapping.users", Message: "held: " + why})
			continue
		}
		user.OutOfScope = outOfScope
		if outOfScope {
			out.counts.outOfScope++
		}
		out.users = append(out.users, user)
		// Hashed where it is kept: Hash calls the fields' functions, so
		// escape analysis moves what it hashes to the heap, and a user
		// hashed in user() was a heap object of its own, a million of them.
		u := &out.users[len(out.users)-1]
		u.RowHash = u.Hash()
		if reused {
			out.counts.phonesReused++
		}
		if u.AdminAt() != "" {
			out.counts.admin++
		}
	}
	return out
}

// mapUser sets u's mapped attributes from row r; why is not empty when an
// expression failed on the row.
func (ru userRules) mapUser(u *schemas.User, r *schemas.RawUser, w *worker) (why string) {
	for _, m := range ru.mapping {
		v, err := w.exprs.Text(m.text, r)
		if err != nil {
			return "mapping.users." + m.attr + ": " + err.Error()
		}
		u.SetText(m.field, v)
	}
	return ""
}

// worker holds one goroutine's memos: the same few languages and office
// lines come back on most rows.
type worker struct {
	phones    *phones
	languages map[string]languageTag
	memoNext  int            // where in the phone memo the next row is likely to be
	exprs     rowexpr.Runner // the machine of scope.users and mapping.users
}

type languageTag struct {
	tag string
	ok  bool
}

func newWorker() *worker { return &worker{phones: newPhones(), languages: map[string]languageTag{}} }

func (w *worker) language(s string) (string, bool) {
	l, seen := w.languages[s]
	if !seen {
		l.tag, l.ok = Language(s)
		if len(w.languages) < maxCached {
			w.languages[s] = l
		}
	}
	return l.tag, l.ok
}

// user applies the rules to one raw row, all but the row hash (batch
// computes it); reused says whether its phones came from the earlier transform.
func (ru userRules) user(r *schemas.RawUser, w *worker, warnings *[]Warning) (u schemas.User, reused bool) {
	warn := func(field, value, msg string) {
		*warnings = append(*warnings, Warning{Entity: "user", Key: r.UserID, Line: r.Line, Field: field, Value: value, Message: msg})
	}
	u = schemas.User{
		UserID: r.UserID, UserName: schemas.SCIMUserName(r.UserName, r.Email),
		GivenName: r.FirstName, FamilyName: r.LastName, Email: r.Email,
		Title: r.JobTitle, Department: r.Department, CostCenter: r.CostCode, UserType: r.UserType,
		Active: r.Active, Deleted: r.Deleted,
		Admin:           ru.admin[r.AccessLevel],
		DefaultLocation: ru.in.DefaultLocation,
		SendInvitation:  ru.in.Invitations == "send",
		Line:            r.Line,
	}
	if script := mixedScript(u.UserName); script != "" {
		warn("UserName", u.UserName, "mixes Latin letters with "+script+" ones, which can look alike: it may pass for another address; provisioned as it is, check it in Condeco")
	}
	if r.Country != "" {
		if c, ok := Country(r.Country); ok {
			u.Country = c
		} else {
			warn("Country", r.Country, "not an ISO 3166-1 code or English country name; national phone numbers cannot be read")
		}
	}
	if r.Language != "" {
		if l, ok := w.language(r.Language); ok {
			u.Language = l
		} else {
			warn("Language", r.Language, "not a language tag or English language name; left out")
		}
	}
	var home *schemas.Location
	if ru.homes != nil { // only rules that need it pay for lower-casing every row's Location
		home = ru.homes[strings.ToLower(strings.TrimSpace(r.Location))]
	}
	if ru.in.HomeCity {
		u.City = ru.defaultCity
		switch {
		case home != nil:
			u.City = home.City
		case r.Location != "":
			warn("Location", r.Location, "not a LocationID or location name; the default location's city is sent")
		}
	}
	if ru.homeAdmin[r.AccessLevel] {
		if home != nil && home.Active && !home.Held {
			u.HomeAdmin = home.LocationID
		} else {
			warn("Location", r.Location, fmt.Sprintf("AccessLevel %s makes an admin at the home location (access.home_admin_levels), "+
				"but this is not an active location of the export: no admin rights are given", r.AccessLevel))
		}
	}
	inputs := phoneInputs(r.Telephone, r.Mobile, u.Country)
	if work, mobile, ok := ru.memo.get(r.UserID, inputs, &w.memoNext); ok {
		u.PhoneWork, u.PhoneMobile, u.PhoneInputs = work, mobile, inputs
		reused = true
	} else {
		var errWork, errMobile error
		if u.PhoneWork, errWork = w.phones.E164(r.Telephone, u.Country); errWork != nil {
			warn("Telephone", r.Telephone, "left out: "+errWork.Error())
		}
		if u.PhoneMobile, errMobile = w.phones.E164(r.Mobile, u.Country); errMobile != nil {
			warn("Mobile", r.Mobile, "left out: "+errMobile.Error())
		}
		if errWork == nil && errMobile == nil {
			u.PhoneInputs = inputs
		}
	}
	return u, reused // without its RowHash: batch hashes it
}

func writeWarnings(path, runID string, ws []Warning) error {
	return artifact.Write(path, func(w io.Writer) error {
		cw, err := humancsv.New(w, runID, "entity", "key", "line", "field", "value", "warning")
		if err != nil {
			return err
		}
		for _, x := range ws {
			if err := cw.Write(x.Entity, x.Key, strconv.FormatInt(x.Line, 10), x.Field, humancsv.Truncate(x.Value, 80), x.Message); err != nil {
				return err
			}
		}
		return cw.Flush()
	})
}
