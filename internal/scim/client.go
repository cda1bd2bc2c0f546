// Package scim is a SCIM 2.0 client (RFC 7644) on net/http: just what the
// loader needs. It knows HTTP and SCIM, not the change set. The bearer
// token goes in a header and nowhere else: no error, log line or artifact
// built from this package can hold it.
//
// The client does not take the server's word on trust (docs/security.md):
// it follows no redirect (a 3xx is an error naming where it pointed, so the
// token and the users' data never travel to a second address), every 2xx
// answer must be 204 or a JSON object, and whatever text of the server's
// it hands on (an error's detail, an endpoint) has the token cut out, in
// case the server echoes it.
package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/zeebo/xxh3"
)

// Resource is a SCIM resource as JSON: the loader builds and reads them.
type Resource = map[string]any

// Schema URNs of messages.
const (
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// ServiceProviderConfig is what the client reads once per run.
type ServiceProviderConfig struct {
	Patch struct {
		Supported bool `json:"supported"`
	} `json:"patch"`
	Bulk struct {
		Supported      bool `json:"supported"`
		MaxOperations  int  `json:"maxOperations"`
		MaxPayloadSize int  `json:"maxPayloadSize"`
	} `json:"bulk"`
	Filter struct {
		Supported  bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	} `json:"filter"`
}

// Error is a SCIM error response (RFC 7644 §3.12), or any non-2xx answer.
type Error struct {
	Method, Path string // the request, without host or query
	Status       int
	SCIMType     string
	Detail       string
	// RetryAfter is the wait a 429 or 503 asked for (Retry-After, in
	// seconds or as a date); 0 when it asked for none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %d", e.Method, e.Path, e.Status)
	if e.SCIMType != "" {
		s += " " + e.SCIMType
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// IsStatus reports whether err is a SCIM error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Client talks to one SCIM service provider.
type Client struct {
	base  string // without a trailing slash
	token string
	http  *http.Client
	// v11: the server speaks SCIM 1.1 (SCIM11): bodies go as
	// application/json, and PATCH, whose 1.1 form is another message, is
	// refused here.
	v11 bool
}

// SCIM11 returns a copy of c for a SCIM 1.1 service provider.
func (c *Client) SCIM11() *Client {
	cc := *c
	cc.v11 = true
	return &cc
}

// New returns a client of the service provider at baseURL (…/scim/v2).
// TLS certificates are verified (Go's default); timeout bounds each request.
func New(baseURL, token string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("scim.url %q is not an http(s) URL", baseURL)
	}
	if u.User != nil {
		return nil, errors.New("scim.url must not hold credentials: use scim.token_env or scim.token_file")
	}
	// Keep a connection per worker alive between requests (net/http keeps
	// two per host by default, and a loader runs many workers).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &Client{base: strings.TrimRight(u.String(), "/"), token: token, http: httpClient(timeout, tr)}, nil
}

// httpClient sends through rt and never follows a redirect: the answer
// to a request is the 3xx itself, which do turns into an error.
func httpClient(timeout time.Duration, rt http.RoundTripper) *http.Client {
	return &http.Client{Timeout: timeout, Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// WithTransport returns a copy of c that sends its requests through rt
// (load --dry-run records them instead of sending them).
func (c *Client) WithTransport(rt http.RoundTripper) *Client {
	cc := *c
	cc.http = httpClient(c.http.Timeout, rt)
	return &cc
}

// Transport is what c sends its requests through.
func (c *Client) Transport() http.RoundTripper { return c.http.Transport }

// Redacted stands for the token in text a server sent back.
const Redacted = "[REDACTED]"

// Scrub returns s, a text the server sent, with the token cut out: a
// server that echoes the credential must not put it in a journal, a
// results file or a log line.
func (c *Client) Scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, Redacted)
}

type statusKey struct{}

// WithStatus returns a context whose requests store their HTTP status in
// *status: the journal records what the server answered, success included.
func WithStatus(ctx context.Context, status *int) context.Context {
	return context.WithValue(ctx, statusKey{}, status)
}

// do sends one request and decodes a 2xx JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
		if c.v11 { // 1.1 knows no media type of its own
			req.Header.Set("Content-Type", "application/json")
		}
	}
	resp, err := c.http.Do(req)
	if p, ok := ctx.Value(statusKey{}).(*int); ok && err == nil {
		*p = resp.StatusCode
	}
	if err != nil {
		// net/http's errors name the URL, never the headers.
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Detail: c.Scrub(fmt.Sprintf(
			"the server redirected to %q; condeco-sync follows no redirect (the token and the users' data would go along): set scim.url to the address that answers",
			resp.Header.Get("Location")))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.parseError(method, path, resp.StatusCode, raw)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if why := notSCIM(resp.Header.Get("Content-Type"), raw, c.Scrub); why != "" {
		// A sign-in page or a proxy's error page answered in the server's
		// place: whatever was asked was not done, as far as we can tell.
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Detail: why}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Detail: c.Scrub("the answer is not SCIM JSON: " + err.Error())}
	}
	return nil
}

// notSCIM says why a 2xx answer other than 204 is not a SCIM answer (""
// when it is one): RFC 7644 answers with a JSON object, as
// application/scim+json (or application/json, which servers also use).
// The excerpt it quotes is cut from the answer once scrub has taken the
// token out of all of it: cut first, a token across the cut would leave
// most of itself behind.
func notSCIM(contentType string, raw []byte, scrub func(string) string) string {
	excerpt := func() string {
		s := strings.Join(strings.Fields(cut(scrub(string(raw)), 80)), " ")
		if s == "" {
			return "an empty body"
		}
		return fmt.Sprintf("%q", s)
	}
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return fmt.Sprintf("the answer is not SCIM: Content-Type %q, %s", contentType, excerpt())
		}
	}
	body := bytes.TrimSpace(raw)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return fmt.Sprintf("the answer is not SCIM: a SCIM answer is 204 or a JSON object, this one is %s", excerpt())
	}
	return ""
}

// parseError reads an error body: SCIM 2.0's (RFC 7644 §3.12), whose
// status may come as a string or a number (RFC 7644 says string, servers
// differ), or SCIM 1.1's {"Errors":[{"description","code"}]}. What the
// server says is scrubbed of the token, whole, before any of it is cut.
func (c *Client) parseError(method, path string, status int, raw []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	var body struct {
		Status   json.RawMessage `json:"status"`
		SCIMType string          `json:"scimType"`
		Detail   string          `json:"detail"`
		Errors   []struct {
			Description string          `json:"description"`
			Code        json.RawMessage `json:"code"`
		} `json:"Errors"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.SCIMType, e.Detail = body.SCIMType, body.Detail
		if n, ok := statusNumber(body.Status); ok {
			e.Status = n
		}
		var descs []string
		for _, x := range body.Errors { // SCIM 1.1
			if x.Description != "" {
				descs = append(descs, x.Description)
			}
			if n, ok := statusNumber(x.Code); ok && len(descs) <= 1 {
				e.Status = n
			}
		}
		if e.Detail == "" {
			e.Detail = strings.Join(descs, "; ")
		}
	} else if len(raw) > 0 {
		e.Detail = strings.TrimSpace(cut(c.Scrub(string(raw)), 200))
	}
	e.SCIMType, e.Detail = c.Scrub(e.SCIMType), c.Scrub(e.Detail)
	return e
}

// statusNumber reads an HTTP status given as a JSON number or string.
func statusNumber(raw json.RawMessage) (int, bool) {
	s := string(raw)
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n >= 100 && n <= 599
}

// cut is s's first n bytes at most, not splitting a UTF-8 character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ServiceProviderConfig reads /ServiceProviderConfig.
func (c *Client) ServiceProviderConfig(ctx context.Context) (*ServiceProviderConfig, error) {
	return c.ServiceProviderConfigAt(ctx, "/ServiceProviderConfig")
}

// ServiceProviderConfigAt reads the configuration at path: SCIM 1.1 names
// it /ServiceProviderConfigs.
func (c *Client) ServiceProviderConfigAt(ctx context.Context, path string) (*ServiceProviderConfig, error) {
	var cfg ServiceProviderConfig
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Create POSTs res to /<typ> and returns what the server made of it.
func (c *Client) Create(ctx context.Context, typ string, res Resource) (Resource, error) {
	var out Resource
	return out, c.do(ctx, http.MethodPost, "/"+typ, nil, res, &out)
}

// Get reads /<typ>/<id>.
func (c *Client) Get(ctx context.Context, typ, id string) (Resource, error) {
	var out Resource
	return out, c.do(ctx, http.MethodGet, "/"+typ+"/"+url.PathEscape(id), nil, nil, &out)
}

// Replace PUTs res over /<typ>/<id>.
func (c *Client) Replace(ctx context.Context, typ, id string, res Resource) (Resource, error) {
	var out Resource
	return out, c.do(ctx, http.MethodPut, "/"+typ+"/"+url.PathEscape(id), nil, res, &out)
}

// PatchOp is one operation of a PATCH (RFC 7644 §3.5.2).
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Patch applies ops to /<typ>/<id>. A SCIM 1.1 server has no PatchOp,
// so the client refuses to send one.
func (c *Client) Patch(ctx context.Context, typ, id string, ops []PatchOp) (Resource, error) {
	if c.v11 {
		return nil, errors.New("PATCH " + typ + ": a SCIM 1.1 service provider takes no PatchOp: send the resource with PUT")
	}
	var out Resource
	body := map[string]any{"schemas": []string{SchemaPatchOp}, "Operations": ops}
	return out, c.do(ctx, http.MethodPatch, "/"+typ+"/"+url.PathEscape(id), nil, body, &out)
}

// Delete removes /<typ>/<id>.
func (c *Client) Delete(ctx context.Context, typ, id string) error {
	return c.do(ctx, http.MethodDelete, "/"+typ+"/"+url.PathEscape(id), nil, nil, nil)
}

// Filter lists the /<typ> resources that match filter (all when ""),
// following the pages to the end.
func (c *Client) Filter(ctx context.Context, typ, filter string, pageSize int) ([]Resource, error) {
	var all []Resource
	err := c.Each(ctx, typ, filter, pageSize, func(r Resource) error {
		all = append(all, r)
		return nil
	})
	return all, err
}

// Each calls fn with each /<typ> resource that matches filter (all when
// ""), a page at a time: a listing of a whole tenant is never held. The
// pages must make progress: a listing stops with an error when a page
// brings nothing new (a resource already listed, or none before
// totalResults is reached), when the answer's startIndex is not the one
// asked for, or when the pages pass totalResults. A server that ignores
// startIndex would otherwise be asked for ever.
func (c *Client) Each(ctx context.Context, typ, filter string, pageSize int, fn func(Resource) error) error {
	seen := map[uint64]bool{} // the ids listed, hashed: a tenant's listing costs 8 bytes an id
	for start := 1; ; {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(pageSize)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page struct {
			TotalResults int             `json:"totalResults"`
			StartIndex   json.RawMessage `json:"startIndex"`
			Resources    []Resource      `json:"Resources"`
		}
		if err := c.do(ctx, http.MethodGet, "/"+typ, q, nil, &page); err != nil {
			return err
		}
		listing := func(format string, a ...any) error {
			return &Error{Method: http.MethodGet, Path: "/" + typ, Status: http.StatusOK, Detail: fmt.Sprintf(
				"the listing does not make progress: "+format+"; condeco-sync stops rather than ask for ever", a...)}
		}
		if len(page.StartIndex) > 0 && !startIs(page.StartIndex, start) {
			return listing("asked for startIndex %d, the server answered startIndex %s", start, c.Scrub(cut(string(page.StartIndex), 40)))
		}
		if len(page.Resources) == 0 {
			if start-1 < page.TotalResults {
				return listing("the page at startIndex %d is empty, yet totalResults is %d", start, page.TotalResults)
			}
			return nil
		}
		for _, r := range page.Resources {
			id, _ := r["id"].(string)
			h := xxh3.HashString(id)
			if seen[h] {
				return listing("the page at startIndex %d lists %q again", start, c.Scrub(id))
			}
			seen[h] = true
			if err := fn(r); err != nil {
				return err
			}
		}
		start += len(page.Resources)
		if start-1 > page.TotalResults {
			return listing("the pages list %d resources, more than the %d of totalResults", start-1, page.TotalResults)
		}
		if start-1 == page.TotalResults {
			return nil
		}
	}
}

// startIs reports whether raw, a page's startIndex (a number, or a
// number in a string), is start.
func startIs(raw json.RawMessage, start int) bool {
	s := string(raw)
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := strconv.Atoi(s)
	return err == nil && n == start
}

// ResourceTypes reads /ResourceTypes and returns the endpoint of each
// ("/Users", "/Locations" …).
func (c *Client) ResourceTypes(ctx context.Context) ([]string, error) {
	var list struct {
		Resources []struct {
			Endpoint string `json:"endpoint"`
		} `json:"Resources"`
	}
	if err := c.do(ctx, http.MethodGet, "/ResourceTypes", nil, nil, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range list.Resources {
		out = append(out, c.Scrub(r.Endpoint))
	}
	return out, nil
}

// Confirm checks that got, a server's answer to the create of sent, is
// the resource it made of sent: a SCIM resource of sent's type (its first
// schema) with a usable id, whose values of the attributes in match agree
// with sent's (userName and displayName in any case). It returns the id,
// or an error saying what is wrong with the answer: then the create's
// outcome is unknown, and the caller finds out by a lookup.
func (c *Client) Confirm(sent, got Resource, match ...string) (string, error) {
	id, _ := got["id"].(string)
	if err := c.CheckID(id); err != nil {
		return "", err
	}
	if want := schemasOf(sent); len(want) > 0 && !slices.ContainsFunc(schemasOf(got), func(g string) bool { return sameSchema(want[0], g) }) {
		return "", fmt.Errorf("the answer is not a resource of schema %s (its schemas: %v)", want[0], schemasOf(got))
	}
	for _, attr := range match {
		w, _ := sent[attr].(string)
		g, _ := got[attr].(string)
		if w == g || (attr != "externalId" && strings.EqualFold(w, g)) {
			continue
		}
		return "", fmt.Errorf("the answer's %s is %q, not the %q sent", attr, c.Scrub(g), w)
	}
	return id, nil
}

// sameSchema reports whether a resource sent with schema a may come back
// with b: the same URN, or the User core schema of SCIM 1.0 and 2.0 (a
// server may name its own version in its answer).
func sameSchema(a, b string) bool {
	core := func(s string) bool { return s == schemas.SchemaUser || s == schemas.SchemaCore10 }
	return a == b || core(a) && core(b)
}

// CheckID reports what is wrong with id as the SCIM id of a resource: it
// goes into the journal, the results and the applied state, and into the
// URL of every later request for that resource.
func (c *Client) CheckID(id string) error {
	switch {
	case id == "":
		return errors.New("the answer has no id")
	case len(id) > 1024:
		return errors.New("the answer's id is longer than 1024 bytes")
	case c.token != "" && strings.Contains(id, c.token):
		return errors.New("the answer's id holds the credential")
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("the answer's id %q holds control characters", id)
	}
	return nil
}

// schemasOf reads a resource's schemas, whether built here ([]string) or
// decoded from JSON ([]any).
func schemasOf(r Resource) []string {
	switch v := r["schemas"].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// Eq is a filter `attr eq "value"` with value quoted as SCIM wants.
func Eq(attr, value string) string {
	b, _ := json.Marshal(value)
	return fmt.Sprintf("%s eq %s", attr, b)
}

// SchemaBulkRequest is the URN of a /Bulk request.
const SchemaBulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

// BulkOp is one operation of a /Bulk request (RFC 7644 §3.7). Data is the
// resource, marshalled: the caller sizes its requests by it, and it is
// marshalled once.
type BulkOp struct {
	Method string          `json:"method"`
	BulkID string          `json:"bulkId,omitempty"`
	Path   string          `json:"path"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// BulkResult is the server's answer to one operation of a /Bulk request.
// Status is the HTTP status of the operation; ID is the new resource's id,
// read from its location (the one place a bulk answer gives it).
type BulkResult struct {
	BulkID string
	Status int
	ID     string
	Err    *Error // set when Status is not 2xx
}

// Bulk sends ops in one /Bulk request (failOnErrors unset: every operation
// is tried) and returns the result of each, in the order of ops.
func (c *Client) Bulk(ctx context.Context, ops []BulkOp) ([]BulkResult, error) {
	body := map[string]any{"schemas": []string{SchemaBulkRequest}, "Operations": ops}
	var out struct {
		Operations []struct {
			Method   string          `json:"method"`
			BulkID   string          `json:"bulkId"`
			Location string          `json:"location"`
			Status   json.RawMessage `json:"status"`
			Response json.RawMessage `json:"response"`
		} `json:"Operations"`
	}
	if err := c.do(ctx, http.MethodPost, "/Bulk", nil, body, &out); err != nil {
		return nil, err
	}
	byID := map[string]int{}
	for i, op := range ops {
		byID[op.BulkID] = i
	}
	res := make([]BulkResult, len(ops))
	seen := make([]bool, len(ops))
	for n, o := range out.Operations {
		i, ok := byID[o.BulkID]
		if o.BulkID == "" && n < len(ops) {
			i, ok = n, true // answers without bulkId come in request order
		}
		if !ok {
			continue
		}
		r := BulkResult{BulkID: ops[i].BulkID, Status: statusOf(o.Status)}
		if r.Status >= 200 && r.Status <= 299 {
			// An id that is not usable leaves r.ID empty: the create is then
			// unconfirmed, and the loader looks it up.
			if id := o.Location[strings.LastIndex(o.Location, "/")+1:]; c.CheckID(id) == nil {
				r.ID = id
			}
		} else {
			r.Err = c.parseError(ops[i].Method, ops[i].Path, r.Status, o.Response)
		}
		res[i], seen[i] = r, true
	}
	for i, s := range seen {
		if !s {
			res[i] = BulkResult{BulkID: ops[i].BulkID, Err: &Error{Method: ops[i].Method, Path: ops[i].Path, Detail: "the /Bulk answer has no result for this operation"}}
		}
	}
	return res, nil
}

// statusOf reads a status given as a number or a string ("201", or
// RFC 7644's bulk form "201 Created").
func statusOf(raw json.RawMessage) int {
	s := strings.Trim(string(raw), `"`)
	s, _, _ = strings.Cut(s, " ")
	n, _ := strconv.Atoi(s)
	return n
}
