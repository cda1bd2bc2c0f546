// Package sandbox is condeco-sync's embedded SCIM 2.0 server: a stand-in
// for Eptura Visitor for demos and tests of the visitor profile. The SCIM
// protocol (routing, schema validation, filters, paging, errors) is
// github.com/elimity-com/scim; this package adds what Eptura Visitor
// enforces on top:
//
//   - /Users with the visitor extension schema declared, /Locations as a
//     resource type, /Groups answered as not supported (501);
//   - userName must equal the primary work email (400 invalidValue);
//   - a duplicate userName, in any case, is a 409 uniqueness;
//   - phone numbers must be E.164 (400 invalidValue);
//   - a user created with sendInvitation true gets a line in the
//     invitations.jsonl outbox (sendInvitation is write-only: never stored);
//   - a bearer token is required.
//
// Its data lives in a file under its data directory and survives restarts.
package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/time/rate"
)

// Files under the sandbox's data directory.
const (
	InvitationsFile = "invitations.jsonl" // the outbox: one line per invitation the target would email
)

// Base is the path the SCIM API is served under: a URL of
// http://HOST:PORT/scim/v2.
const Base = "/scim/v2"

// SchemaLocation is the schema of a /Locations resource: the one the
// visitor profile of the loader sends.
const SchemaLocation = schemas.SchemaLocation

// Sandbox is a running sandbox's state.
type Sandbox struct {
	dir       string
	base      string // the path served under
	token     string
	extension string
	generic   bool          // Options.Generic
	limit     *rate.Limiter // Options.MaxRPM; nil: none
	maxRPM    float64
	scim11    bool // Options.SCIM11
	store     *store
	scim      scim.Server
	users     *handler

	outboxMu sync.Mutex
}

// Options are how a sandbox behaves beyond the visitor model.
type Options struct {
	// Generic makes it Eptura Visitor's public Generic SCIM API: /Users
	// only (404 for /Groups and /Locations), no extension (400 for a user
	// that names one), and the SCIM 1.0 core URN taken for 2.0's.
	Generic bool
	// MaxRPM answers 429, with Retry-After, to requests past this many a
	// minute (Eptura publishes 500); 0: no limit.
	MaxRPM float64
	// SCIM11 makes the Generic API speak SCIM 1.1, strictly (scim11.go).
	SCIM11 bool
	// Base is the path the API is served under ("" for Base): that of
	// scim.url, such as /scim/v1 for the public API's.
	Base string
}

// New opens (or makes) the sandbox whose data is in dir, answering only
// requests that carry token, with the visitor extension schema extension.
func New(dir, token, extension string) (*Sandbox, error) {
	return NewWith(dir, token, extension, Options{})
}

// NewWith is New with opts.
func NewWith(dir, token, extension string, opts Options) (*Sandbox, error) {
	if token == "" {
		return nil, fmt.Errorf("the sandbox needs a bearer token")
	}
	if opts.SCIM11 && !opts.Generic {
		return nil, fmt.Errorf("SCIM 1.1 is the wire of the public Generic SCIM API: use it with the visitor-generic profile")
	}
	st, err := openStore(dir, map[string]func(map[string]any) string{"Users": userNameOf})
	if err != nil {
		return nil, err
	}
	s := &Sandbox{dir: dir, token: token, extension: extension, store: st, generic: opts.Generic, maxRPM: opts.MaxRPM, scim11: opts.SCIM11, base: Base}
	if opts.Base != "" {
		s.base = strings.TrimSuffix(opts.Base, "/")
	}
	if opts.MaxRPM > 0 {
		s.limit = rate.NewLimiter(rate.Limit(opts.MaxRPM/60), max(1, int(opts.MaxRPM/60)))
	}
	users := &handler{s: s, typ: "Users", core: coreUser, check: s.checkUser, created: s.invite}
	s.users = users
	locations := &handler{s: s, typ: "Locations", core: SchemaLocation}
	// The public Generic API documents no extension: its users name the
	// core schema alone, in what it answers too.
	extensions := []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}, {Schema: visitorExtension(extension)}}
	if opts.Generic {
		extensions = nil
	}
	s.scim, err = scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("condeco-sync sandbox: a stand-in for Eptura Visitor"),
			AuthenticationSchemes: []scim.AuthenticationScheme{{Type: scim.AuthenticationTypeOauthBearerToken,
				Name: "Bearer token", Description: "Authorization: Bearer <token>", Primary: true}},
			MaxResults: 200, SupportFiltering: true, SupportPatch: true,
		},
		ResourceTypes: []scim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("User Account"),
				Schema: schema.CoreUserSchema(), SchemaExtensions: extensions, Handler: users},
			{ID: optional.NewString("Location"), Name: "Location", Endpoint: "/Locations", Description: optional.NewString("A site visitors come to"),
				Schema: locationSchema(), Handler: locations},
		},
	})
	if err != nil {
		st.close()
		return nil, err
	}
	return s, nil
}

// Close saves the sandbox's data.
func (s *Sandbox) Close() error { return s.store.close() }

// ServeHTTP answers a SCIM request under Base, after checking its token.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.scim11 { // every answer in 1.1's words, refusals included
		out := &buffered{header: http.Header{}}
		s.serve(out, r)
		write11(w, out)
		return
	}
	s.serve(w, r)
}

func (s *Sandbox) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.base)
	if !ok || (rest != "" && rest[0] != '/') {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "the SCIM API is under " + s.base})
		return
	}
	path := "/v2" + rest // where the SCIM server within is mounted
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(auth), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="condeco-sync sandbox"`)
		writeError(w, scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: "a valid bearer token is required"})
		return
	}
	if s.limit != nil {
		if r := s.limit.Reserve(); r.Delay() > 0 {
			wait := r.Delay()
			r.Cancel()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, scimerrors.ScimError{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf("too many requests: the limit is %g a minute", s.maxRPM)})
			return
		}
	}
	if s.scim11 {
		s.door11(w, r, path, func(w http.ResponseWriter, r *http.Request) { s.serve20(w, r, path) })
		return
	}
	s.serve20(w, r, path)
}

// serve20 answers an authorized request as the SCIM 2.0 sandbox.
func (s *Sandbox) serve20(w http.ResponseWriter, r *http.Request, path string) {
	if s.generic {
		if !s.genericRequest(w, r, path) {
			return
		}
	}
	if p := strings.TrimPrefix(path, "/v2"); p == "/Groups" || strings.HasPrefix(p, "/Groups/") {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotImplemented,
			Detail: "Groups are not supported by this service provider: locations and access travel on the user (" + s.extension + ")"})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = path
	s.scim.ServeHTTP(w, r2)
}

// genericRequest holds a request to what the public Generic SCIM API
// documents: it answers and returns false for any other. The body of a
// user it lets through names the 2.0 core URN where it named 1.0's.
func (s *Sandbox) genericRequest(w http.ResponseWriter, r *http.Request, path string) bool {
	p := strings.TrimPrefix(path, "/v2")
	if p != "/Users" && !strings.HasPrefix(p, "/Users/") && p != "/ServiceProviderConfig" && p != "/ResourceTypes" && p != "/Schemas" {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: p + ": the Generic SCIM API has /Users only"})
		return false
	}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return true
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, Detail: err.Error()})
		return false
	}
	if bytes.Contains(body, []byte("urn:ietf:params:scim:schemas:extension:")) || s.extension != "" && bytes.Contains(body, []byte(s.extension)) {
		writeError(w, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest,
			Detail: "the Generic SCIM API documents no extension schema"})
		return false
	}
	body = bytes.ReplaceAll(body, []byte(`"`+schemas.SchemaCore10+`"`), []byte(`"`+coreUser+`"`))
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return true
}

// readBody reads r's body and leaves it to be read again.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return b, err
}

func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// checkUser enforces the visitor rules on user id about to be stored
// with attrs; the store's index of userNames says who has which.
func (s *Sandbox) checkUser(id string, attrs map[string]any, t txn) error {
	userName := userNameOf(attrs)
	if !strings.EqualFold(userName, primaryWorkEmail(attrs)) {
		return invalid("userName %q must equal the primary work email (emails with type work and primary true)", userName)
	}
	if owner, ok := t.owner(userName); ok && owner != id {
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Status: http.StatusConflict,
			Detail: fmt.Sprintf("userName %q is already taken (by user %s)", userName, owner)}
	}
	phones, _ := attrs["phoneNumbers"].([]any)
	for _, p := range phones {
		m, _ := p.(map[string]any)
		v, _ := m["value"].(string)
		if !isE164(v) {
			return invalid("phone number %q is not in E.164 format (+ country code and number, no spaces)", v)
		}
	}
	return nil
}

// userNameOf is a user's userName: unique in any case.
func userNameOf(attrs map[string]any) string { n, _ := attrs["userName"].(string); return n }

func lower(s string) string { return strings.ToLower(s) }

func invalid(format string, a ...any) scimerrors.ScimError {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, a...)}
}

func primaryWorkEmail(attrs map[string]any) string {
	emails, _ := attrs["emails"].([]any)
	for _, e := range emails {
		m, _ := e.(map[string]any)
		if t, _ := m["type"].(string); t == "work" && m["primary"] == true {
			v, _ := m["value"].(string)
			return v
		}
	}
	return ""
}

// isE164 reports whether v is a valid phone number written in E.164.
func isE164(v string) bool {
	n, err := phonenumbers.Parse(v, "")
	return err == nil && strings.HasPrefix(v, "+") && phonenumbers.IsValidNumber(n) &&
		phonenumbers.Format(n, phonenumbers.E164) == v
}

// invite takes sendInvitation off a user just created and, when it was
// true, appends the invitation to the outbox.
func (s *Sandbox) invite(rec *record) error {
	ext, _ := rec.Attributes[s.extension].(map[string]any)
	send := ext != nil && ext["sendInvitation"] == true
	if ext != nil {
		delete(ext, "sendInvitation")
	}
	if !send {
		return nil
	}
	name, _ := rec.Attributes["name"].(map[string]any)
	line, err := json.Marshal(map[string]any{"at": rec.Created, "id": rec.ID, "userName": rec.Attributes["userName"],
		"givenName": name["givenName"], "familyName": name["familyName"]})
	if err != nil {
		return err
	}
	s.outboxMu.Lock()
	defer s.outboxMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, InvitationsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// visitorExtension is the user extension of the visitor profile
// (the visitor profile, README): defaultLocation, locations [{value, display, role}] and the
// write-only sendInvitation.
func visitorExtension(urn string) schema.Schema {
	return schema.Schema{
		ID: urn, Name: optional.NewString("VisitorUser"), Description: optional.NewString("Locations and access in Eptura Visitor"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "defaultLocation"})),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "locations", MultiValued: true, SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{Name: "value", CaseExact: true}),
				schema.SimpleStringParams(schema.StringParams{Name: "display"}),
				schema.SimpleStringParams(schema.StringParams{Name: "role", CanonicalValues: []string{"user", "admin"}}),
			}}),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "sendInvitation",
				Mutability: schema.AttributeMutabilityWriteOnly(), Returned: schema.AttributeReturnedNever()})),
		},
	}
}

// locationSchema is the schema of /Locations.
func locationSchema() schema.Schema {
	str := func(name string) schema.SimpleParams {
		return schema.SimpleStringParams(schema.StringParams{Name: name})
	}
	return schema.Schema{
		ID: SchemaLocation, Name: optional.NewString("Location"), Description: optional.NewString("A site visitors come to"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "displayName", Required: true})),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "address", SubAttributes: []schema.SimpleParams{
				str("streetAddress"), str("locality"), str("region"), str("postalCode"), str("country")}}),
			schema.SimpleCoreAttribute(str("timeZone")),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "active"})),
		},
	}
}

// now is the clock of the sandbox's records.
var now = func() time.Time { return time.Now().UTC() }
