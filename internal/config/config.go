// Package config is the YAML file of docs/configuration.md: decoded
// strictly (an unknown key is an error naming its line), defaults filled,
// every value checked, and the token read from where it says.
package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/rowexpr"
	"github.com/condeco-sync/condeco-sync/schemas"
	"go.yaml.in/yaml/v3"
)

// Config is the YAML file of docs/configuration.md. Relative paths are resolved against
// the directory of the config file.
type Config struct {
	Inbox     string          `yaml:"inbox"`
	Data      string          `yaml:"data"`
	Exports   ExportsConfig   `yaml:"exports"`
	SCIM      SCIMConfig      `yaml:"scim"`
	Access    AccessConfig    `yaml:"access"`
	Users     UsersConfig     `yaml:"users"`
	Locations LocationsConfig `yaml:"locations"`
	Guards    GuardsConfig    `yaml:"guards"`
	Scope     ScopeConfig     `yaml:"scope"`
	Mapping   MappingConfig   `yaml:"mapping"`
	Schedule  ScheduleConfig  `yaml:"schedule"`
	Retention RetentionConfig `yaml:"retention"`
	Notify    NotifyConfig    `yaml:"notify"`

	// Path is the file the config was read from; SHA256 is the sha256 of its
	// bytes, recorded in every manifest.
	Path   string `yaml:"-"`
	SHA256 string `yaml:"-"`
	// Insecure (--insecure) lets the token go over clear-text http to a
	// host that is not this machine, and be read from a file others can
	// read; Token refuses both otherwise.
	Insecure bool `yaml:"-"`
	// Warnings name keys of the file that the profile does not act on,
	// for every command to say (they are not errors: a profile may change).
	Warnings []string `yaml:"-"`
}

type ExportsConfig struct {
	Users     string        `yaml:"users"`
	Locations string        `yaml:"locations"`
	Delimiter string        `yaml:"delimiter"`
	Settle    time.Duration `yaml:"settle"`
	// Columns maps a column of the export layout (docs/rules.md) to the
	// header the customer's export gives it: {UserID: "Employee Id"}. A
	// name of both files' layouts (Country, Active …) maps in both, unless
	// qualified: users.Active, locations.Active.
	Columns map[string]string `yaml:"columns"`
}

// ColumnsOf is exports.columns for one export file (schemas.UsersFile or
// LocationsFile): the customer's header, lower case and trimmed as headers
// are matched, to the layout's column it stands for (a csv tag). The
// config has checked it (columnErrors).
func (e ExportsConfig) ColumnsOf(file string) map[string]string {
	byColumn := map[string]string{}                 // ours → the customer's header
	for _, qualified := range []bool{false, true} { // a qualified key wins over a plain one
		for key, header := range e.Columns {
			if ours, ok := columnOf(key, file); ok && strings.Contains(key, ".") == qualified {
				byColumn[ours] = strings.ToLower(strings.TrimSpace(header))
			}
		}
	}
	out := map[string]string{}
	for ours, header := range byColumn {
		out[header] = ours
	}
	return out
}

// columnOf is the layout's column that key (exports.columns) names in
// file, and whether it names one there.
func columnOf(key, file string) (string, bool) {
	name := strings.ToLower(strings.TrimSpace(key))
	if q, rest, ok := strings.Cut(name, "."); ok {
		if q != file {
			return "", false
		}
		name = rest
	}
	return name, slices.Contains(schemas.ExportColumns(file), name)
}

// hasQualified reports whether columns names file's column ours with a
// qualified key (users.Active), in any case.
func hasQualified(columns map[string]string, file, ours string) bool {
	for key := range columns {
		if o, ok := columnOf(key, file); ok && o == ours && strings.Contains(key, ".") {
			return true
		}
	}
	return false
}

// columnErrors checks exports.columns: each key a column of the layout
// (of either file, or of the one it is qualified with), each header
// given, and no header of a file standing for two columns. Each error
// names the key's line.
func (e ExportsConfig) columnErrors(line func(key string) int) []string {
	var errs []string
	keys := slices.Sorted(maps.Keys(e.Columns))
	for _, file := range []string{schemas.UsersFile, schemas.LocationsFile} {
		claimed := map[string]string{} // header → the key that claims it
		for _, key := range keys {
			ours, ok := columnOf(key, file)
			if !ok || !strings.Contains(key, ".") && hasQualified(e.Columns, file, ours) {
				continue // a qualified key names this file's column
			}
			header := strings.ToLower(strings.TrimSpace(e.Columns[key]))
			if other, dup := claimed[header]; dup && header != "" {
				errs = append(errs, fmt.Sprintf("line %d: exports.columns: %s and %s both name the %s column %q", line(key), other, key, file, e.Columns[key]))
			}
			claimed[header] = key
		}
	}
	for _, key := range keys {
		_, users := columnOf(key, schemas.UsersFile)
		_, locs := columnOf(key, schemas.LocationsFile)
		switch {
		case !users && !locs:
			errs = append(errs, fmt.Sprintf("line %d: exports.columns: %q is not a column of the users or locations layout (docs/rules.md)", line(key), key))
		case strings.TrimSpace(e.Columns[key]) == "":
			errs = append(errs, fmt.Sprintf("line %d: exports.columns: %s names no column of the export", line(key), key))
		}
	}
	return errs
}

type SCIMConfig struct {
	URL         string  `yaml:"url"`
	TokenEnv    string  `yaml:"token_env"`
	TokenFile   string  `yaml:"token_file"`
	Profile     string  `yaml:"profile"`
	Extension   string  `yaml:"extension"`
	CoreSchema  string  `yaml:"core_schema"`
	Concurrency int     `yaml:"concurrency"`
	MaxRPS      float64 `yaml:"max_rps"`
	// MaxRPM caps the requests a minute; unset (nil), the profile's
	// default (profile.Traits.DefaultRPM). 0: no cap.
	MaxRPM *int `yaml:"max_rpm"`
	// MaxRequestsPerRun caps the requests one load attempt sends (0: no
	// cap); a load that reaches it stops, and the next run goes on.
	MaxRequestsPerRun int           `yaml:"max_requests_per_run"`
	Timeout           time.Duration `yaml:"timeout"`
}

// Traits is what the profile's target is (scim.profile; the config
// checks the name when it is read).
func (s SCIMConfig) Traits() profile.Traits {
	t, _ := profile.Of(s.Profile)
	return t
}

// RequestsPerMinute is scim.max_rpm as it applies to the profile (0: no
// cap): unset, the profile's default (Eptura's published throttle on the
// visitor profiles).
func (s SCIMConfig) RequestsPerMinute() int {
	if s.MaxRPM != nil {
		return *s.MaxRPM
	}
	return s.Traits().DefaultRPM
}

// SCIM11 reports whether the target speaks SCIM 1.1: a core schema of
// SCIM 1.0 (visitor-generic's default).
func (s SCIMConfig) SCIM11() bool { return s.Traits().SCIM11(s.CoreSchema) }

// Rate is the requests a second load keeps under: the tighter of
// scim.max_rps and scim.max_rpm (0: no cap).
func (s SCIMConfig) Rate() float64 {
	r := s.MaxRPS
	if m := float64(s.RequestsPerMinute()) / 60; m > 0 && (r == 0 || m < r) {
		r = m
	}
	return r
}

type AccessConfig struct {
	DefaultLocation                  string   `yaml:"default_location"`
	AdminAccessLevels                []string `yaml:"admin_access_levels"`
	HomeAdminLevels                  []string `yaml:"home_admin_levels"`
	GrantNewLocationsToExistingUsers bool     `yaml:"grant_new_locations_to_existing_users"`
}

type UsersConfig struct {
	Deprovision string `yaml:"deprovision"`
	Invitations string `yaml:"invitations"`
}

type LocationsConfig struct {
	DeleteRemoved bool `yaml:"delete_removed"`
}

// MappingConfig is mapping: what the attributes a profile sends are made
// of, where it is not the layout's default (docs/rules.md).
type MappingConfig struct {
	// Users maps an attribute (schemas.Mapped: title, preferredLanguage
	// …) to an expression over a users row whose value is text: a column
	// (JobTitle), a constant ("Staff") or anything between.
	Users map[string]string `yaml:"users"`
	// Tables are the lookup tables expressions read with lookup(name, key).
	Tables map[string]map[string]string `yaml:"tables"`
}

// errors checks mapping: each attribute one the profile sends (traits),
// each expression text over a users row, each error naming its line.
func (m MappingConfig) errors(traits profile.Traits, line func(attr string) int) []string {
	var errs []string
	attrs := slices.Sorted(maps.Keys(m.Users))
	slices.SortStableFunc(attrs, func(a, b string) int { return cmp.Compare(line(a), line(b)) }) // as the file reads
	for _, attr := range attrs {
		field, ok := schemas.Mapped[attr]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("line %d: mapping.users: %q is not an attribute a mapping makes (one of %s)", line(attr), attr,
				strings.Join(slices.Sorted(maps.Keys(schemas.Mapped)), ", ")))
			continue
		case !traits.Sends(schemas.UserFields[schemas.FieldIndex(schemas.UserFields, field)].SCIM):
			errs = append(errs, fmt.Sprintf("line %d: mapping.users: the %s profile sends no %s", line(attr), traits.Name, attr))
			continue
		}
		if _, err := rowexpr.CompileText(m.Users[attr], m.Tables); err != nil {
			errs = append(errs, fmt.Sprintf("line %d: mapping.users.%s: %q: %s", line(attr), attr, m.Users[attr], strings.ReplaceAll(err.Error(), "\n", " ")))
		}
	}
	return errs
}

// ScopeConfig is scope: who of the export is provisioned, beside rule 2.
type ScopeConfig struct {
	Users ScopeRules `yaml:"users"`
	// OnExit is what becomes of a provisioned user who leaves the scope:
	// deprovision (as a leaver, by users.deprovision and behind the
	// guard) or keep (as it is, no longer updated).
	OnExit string `yaml:"on_exit"`
}

// ScopeRules are expressions over a users row (internal/rowexpr): a row is
// in scope when one include passes (or there is none) and no exclude does.
type ScopeRules struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

type GuardsConfig struct {
	MaxDeletes        int     `yaml:"max_deletes"`
	MaxDeleteFraction float64 `yaml:"max_delete_fraction"`
	// MaxCreates and MaxCreateFraction (of the baseline's users) halt a
	// daily plan that creates more: a wrong tenant's export, or a file
	// doubled, must not invite everybody. Not the initial synchronization.
	MaxCreates        int     `yaml:"max_creates"`
	MaxCreateFraction float64 `yaml:"max_create_fraction"`
	MinUsers          int     `yaml:"min_users"`
}

type ScheduleConfig struct {
	At       string `yaml:"at"`
	Timezone string `yaml:"timezone"`
	CatchUp  bool   `yaml:"catch_up"`
}

type RetentionConfig struct {
	KeepRuns int `yaml:"keep_runs"`
}

// Default returns the configuration with every default filled
// (docs/configuration.md).
func Default() Config {
	return Config{
		Inbox: "./inbox",
		Data:  "./data",
		Exports: ExportsConfig{
			Users: "users_*.csv", Locations: "locations_*.csv", Delimiter: "auto", Settle: 30 * time.Second,
		},
		SCIM: SCIMConfig{
			URL: "http://127.0.0.1:8080/scim/v2", TokenEnv: "CONDECO_SYNC_SCIM_TOKEN", Profile: profile.Visitor,
			Extension:   schemas.DefaultExtension,
			Concurrency: 8, Timeout: 30 * time.Second,
		},
		Access:    AccessConfig{DefaultLocation: "LON", AdminAccessLevels: []string{"Global Admin"}},
		Users:     UsersConfig{Deprovision: "delete", Invitations: "send"},
		Guards:    GuardsConfig{MaxDeletes: 500, MaxDeleteFraction: 0.2, MaxCreates: 500, MaxCreateFraction: 0.2, MinUsers: 1},
		Scope:     ScopeConfig{OnExit: "deprovision"},
		Schedule:  ScheduleConfig{At: "02:00", Timezone: "Europe/London", CatchUp: true},
		Retention: RetentionConfig{KeepRuns: 90},
	}
}

// Error is a configuration the program cannot run with (exit 2).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// yaml.v3 says "line 3: field foo not found in type config.SCIMConfig".
var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// Load reads, decodes strictly, fills defaults and validates the file.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{fmt.Sprintf("config: %v", err)}
	}
	cfg, err := Parse(path, raw)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse is Load for bytes already read from path.
func Parse(path string, raw []byte) (*Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	// An empty file decodes as io.EOF: it is a valid config of all defaults.
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				if sm := unknownField.FindStringSubmatch(m); sm != nil {
					m = fmt.Sprintf("line %s: unknown key %q", sm[1], sm[2])
				}
				msgs[i] = fmt.Sprintf("%s: %s", path, m)
			}
			return nil, &Error{strings.Join(msgs, "\n")}
		}
		return nil, &Error{fmt.Sprintf("%s: %v", path, err)}
	}
	sum := sha256.Sum256(raw)
	cfg.SHA256 = hex.EncodeToString(sum[:])
	cfg.Path = path
	base := filepath.Dir(path)
	cfg.Inbox = resolve(base, cfg.Inbox)
	cfg.Data = resolve(base, cfg.Data)
	if cfg.SCIM.TokenFile != "" {
		cfg.SCIM.TokenFile = resolve(base, cfg.SCIM.TokenFile)
	}
	var doc yaml.Node
	yaml.Unmarshal(raw, &doc) // it decoded above: only its lines are wanted
	errs := cfg.Exports.columnErrors(func(key string) int { return keyLine(&doc, "exports", "columns", key) })
	errs = append(errs, cfg.Scope.errors(func(list string, i int) int { return itemLine(&doc, i, "scope", "users", list) })...)
	if t, err := profile.Of(cfg.SCIM.Profile); err == nil { // a bad profile is validate's to say
		errs = append(errs, cfg.Mapping.errors(t, func(attr string) int { return keyLine(&doc, "mapping", "users", attr) })...)
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i] = path + ": " + errs[i]
		}
		return nil, &Error{strings.Join(errs, "\n")}
	}
	if err := cfg.validate(); err != nil {
		return nil, &Error{fmt.Sprintf("%s: %v", path, err)}
	}
	for _, w := range cfg.ignored(func(key ...string) int { return keyLine(&doc, key...) }) {
		cfg.Warnings = append(cfg.Warnings, path+": "+w)
	}
	return &cfg, nil
}

// errors checks scope: each expression compiles to a boolean over a users
// row, each error naming its line; on_exit is deprovision or keep.
func (s ScopeConfig) errors(line func(list string, i int) int) []string {
	var errs []string
	for _, l := range []struct {
		name string
		srcs []string
	}{{"include", s.Users.Include}, {"exclude", s.Users.Exclude}} {
		for i, src := range l.srcs {
			if _, err := rowexpr.CompileBool(src); err != nil {
				errs = append(errs, fmt.Sprintf("line %d: scope.users.%s: %q: %s", line(l.name, i), l.name, src, strings.ReplaceAll(err.Error(), "\n", " ")))
			}
		}
	}
	if s.OnExit != "deprovision" && s.OnExit != "keep" {
		errs = append(errs, fmt.Sprintf("scope.on_exit: %q is not deprovision or keep", s.OnExit))
	}
	return errs
}

// itemLine is the line of item i of the YAML list at path in doc (0 when
// it is not there).
func itemLine(doc *yaml.Node, i int, path ...string) int {
	n := valueAt(doc, path...)
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return keyLine(doc, path...)
	}
	return n.Content[i].Line
}

// valueAt is the value node at path in doc, nil when it is not there.
func valueAt(doc *yaml.Node, path ...string) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range path {
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// keyLine is the line of the key at path in the YAML document doc (0 when
// it is not there).
func keyLine(doc *yaml.Node, path ...string) int {
	n := valueAt(doc, path[:len(path)-1]...)
	for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == path[len(path)-1] {
			return n.Content[i].Line
		}
	}
	return 0
}

// ignored says which keys set in the file (line finds them, 0 when
// absent) the profile does not act on, and why.
func (c *Config) ignored(line func(key ...string) int) []string {
	t, err := profile.Of(c.SCIM.Profile)
	if err != nil {
		return nil
	}
	var out []string
	say := func(why string, key ...string) {
		if n := line(key...); n > 0 {
			out = append(out, fmt.Sprintf("line %d: %s is not acted on under scim.profile %s: %s", n, strings.Join(key, "."), t.Name, why))
		}
	}
	if t.Access != profile.OnUser {
		say("no user carries the visitor extension", "scim", "extension")
	}
	switch {
	case t.TenantInvites:
		say("the tenant emails new users itself and the API cannot ask it not to (with suppress, the to-do list says to turn that off in the tenant)", "users", "invitations")
	case t.Access != profile.OnUser:
		say("the profile sends no invitation", "users", "invitations")
	}
	if t.Locations == "" {
		say("locations are the tenant's to create and remove (the to-do list says which)", "locations", "delete_removed")
	}
	return out
}

func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func (c *Config) validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Inbox == "" {
		bad("inbox: must be set")
	}
	if c.Data == "" {
		bad("data: must be set")
	}
	switch c.Exports.Delimiter {
	case "auto", ",", ";", "\t", "|", "tab", "TAB":
	default:
		bad("exports.delimiter: %q is not one of auto , ; TAB |", c.Exports.Delimiter)
	}
	for _, g := range []string{c.Exports.Users, c.Exports.Locations} {
		if _, err := filepath.Match(g, "x"); err != nil || !strings.Contains(g, "*") {
			bad("exports: %q is not a file pattern with one * for the stamp", g)
		}
	}
	if c.Exports.Settle < 0 {
		bad("exports.settle: must not be negative")
	}
	if !profile.Valid(c.SCIM.Profile) {
		bad("scim.profile: %q is not one of %s", c.SCIM.Profile, strings.Join(profile.Names, ", "))
	}
	if c.SCIM.Concurrency < 1 || c.SCIM.Concurrency > 256 {
		bad("scim.concurrency: %d is not between 1 and 256", c.SCIM.Concurrency)
	}
	if c.SCIM.MaxRequestsPerRun < 0 {
		bad("scim.max_requests_per_run: must not be negative")
	}
	if c.SCIM.MaxRPS < 0 {
		bad("scim.max_rps: must not be negative")
	}
	if c.SCIM.MaxRPM != nil && *c.SCIM.MaxRPM < 0 {
		bad("scim.max_rpm: must not be negative")
	}
	if c.SCIM.Timeout <= 0 {
		bad("scim.timeout: must be positive")
	}
	if u, err := url.Parse(c.SCIM.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("scim.url: %q is not an http(s) URL", c.SCIM.URL)
	} else if u.User != nil {
		bad("scim.url: must not hold credentials: use scim.token_env or scim.token_file")
	}
	if c.SCIM.TokenEnv == "" && c.SCIM.TokenFile == "" {
		bad("scim: set token_env or token_file")
	}
	if c.Access.DefaultLocation == "" {
		bad("access.default_location: must be set")
	}
	levels := map[string]string{} // canonical AccessLevel → the key that names it
	for _, k := range []struct {
		key  string
		list []string
	}{{"access.admin_access_levels", c.Access.AdminAccessLevels}, {"access.home_admin_levels", c.Access.HomeAdminLevels}} {
		for _, l := range k.list {
			canon, ok := schemas.Canonical(schemas.AccessLevels, l, "")
			switch {
			case !ok || strings.TrimSpace(l) == "":
				bad("%s: %q is not one of %s", k.key, l, strings.Join(schemas.AccessLevels, ", "))
			case levels[canon] != "" && levels[canon] != k.key:
				bad("%s: %q is also in %s: a user is an admin at the default location or at its home location, not both", k.key, l, levels[canon])
			default:
				levels[canon] = k.key
			}
		}
	}
	switch c.Users.Deprovision {
	case "delete", "deactivate":
	default:
		bad("users.deprovision: %q is not delete or deactivate", c.Users.Deprovision)
	}
	switch c.Users.Invitations {
	case "send", "suppress":
	default:
		bad("users.invitations: %q is not send or suppress", c.Users.Invitations)
	}
	if c.Guards.MaxDeletes < 0 {
		bad("guards.max_deletes: must not be negative")
	}
	if c.Guards.MaxDeleteFraction < 0 || c.Guards.MaxDeleteFraction > 1 {
		bad("guards.max_delete_fraction: %v is not between 0 and 1", c.Guards.MaxDeleteFraction)
	}
	if c.Guards.MaxCreates < 0 {
		bad("guards.max_creates: must not be negative")
	}
	if c.Guards.MaxCreateFraction < 0 {
		bad("guards.max_create_fraction: must not be negative")
	}
	if c.Guards.MinUsers < 0 {
		bad("guards.min_users: must not be negative")
	}
	if _, err := time.LoadLocation(c.Schedule.Timezone); err != nil || c.Schedule.Timezone == "" {
		bad("schedule.timezone: %q is not a known time zone", c.Schedule.Timezone)
	}
	if _, _, err := c.ScheduleAt(); err != nil {
		bad("schedule.at: %v", err)
	}
	if c.Retention.KeepRuns < 1 {
		bad("retention.keep_runs: must be at least 1")
	}
	errs = append(errs, c.Notify.errors()...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// ScheduleAt returns the hour and minute of schedule.at.
func (c *Config) ScheduleAt() (hour, minute int, err error) {
	t, err := time.Parse("15:04", c.Schedule.At)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a time of day as HH:MM", c.Schedule.At)
	}
	return t.Hour(), t.Minute(), nil
}

// Delimiter returns the configured delimiter, or 0 for automatic detection.
func (c *Config) Delimiter() rune {
	switch c.Exports.Delimiter {
	case "auto":
		return 0
	case "tab", "TAB":
		return '\t'
	}
	return []rune(c.Exports.Delimiter)[0]
}

// Token returns the SCIM bearer token from the environment variable named by
// scim.token_env, else from the file at scim.token_file. getenv is passed in
// so that no stage reads the environment behind the caller's back.
//
// The token is refused for a channel that would expose it (see
// insecurity), unless Insecure is set.
func (c *Config) Token(getenv func(string) string) (string, error) {
	if why := c.insecurity(); why != "" && !c.Insecure {
		return "", &Error{why + "; fix it, or pass --insecure to accept the risk"}
	}
	return c.Secret(getenv)
}

// Secret is the token as configured, whatever the channel: what logs and
// messages must redact.
func (c *Config) Secret(getenv func(string) string) (string, error) {
	if c.SCIM.TokenEnv != "" {
		if t := strings.TrimSpace(getenv(c.SCIM.TokenEnv)); t != "" {
			return t, nil
		}
	}
	if c.SCIM.TokenFile != "" {
		b, err := os.ReadFile(c.SCIM.TokenFile)
		if err != nil {
			return "", &Error{fmt.Sprintf("scim.token_file: %v", err)}
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", &Error{fmt.Sprintf("scim.token_file: %s is empty", c.SCIM.TokenFile)}
	}
	return "", &Error{fmt.Sprintf("no SCIM token: set the environment variable %s (scim.token_env) or scim.token_file", c.SCIM.TokenEnv)}
}

// insecurity says how the token would be exposed ("" when it would not):
// sent in clear text to another machine (http:// to a host that is not
// loopback), or read from a file that others can read.
func (c *Config) insecurity() string {
	var why []string
	if u, err := url.Parse(c.SCIM.URL); err == nil && u.Scheme == "http" && !loopback(u.Hostname()) {
		why = append(why, fmt.Sprintf("scim.url %s is clear-text http to another machine: the token and the users' data would cross the network readable", c.SCIM.URL))
	}
	if c.SCIM.TokenFile != "" {
		if fi, err := os.Stat(c.SCIM.TokenFile); err == nil && artifact.OpenToOthers(fi) {
			why = append(why, fmt.Sprintf("scim.token_file %s can be read by others (mode %04o): chmod 600 it", c.SCIM.TokenFile, fi.Mode().Perm()))
		}
	}
	return strings.Join(why, "; ")
}

// loopback reports whether host is this machine: localhost or a loopback
// address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
