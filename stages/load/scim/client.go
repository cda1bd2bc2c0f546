// Package scim is a SCIM 2.0 client (RFC 7644) on net/http: just what the
// loader needs. It knows HTTP and SCIM, not the change set. The bearer
// token goes in a header and nowhere else: no error, log line or artifact
// built from this package can hold it.
package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	return &Client{base: strings.TrimRight(u.String(), "/"), token: token, http: &http.Client{Timeout: timeout, Transport: tr}}, nil
}

// WithTransport returns a copy of c that sends its requests through rt
// (load --dry-run records them instead of sending them).
func (c *Client) WithTransport(rt http.RoundTripper) *Client {
	cc := *c
	cc.http = &http.Client{Timeout: c.http.Timeout, Transport: rt}
	return &cc
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
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := parseError(method, path, resp.StatusCode, raw)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not SCIM JSON: %w", method, path, err)
	}
	return nil
}

// parseError reads a SCIM error body; status may come as a string or a
// number (RFC 7644 says string, servers differ).
func parseError(method, path string, status int, raw []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	var body struct {
		Status   json.RawMessage `json:"status"`
		SCIMType string          `json:"scimType"`
		Detail   string          `json:"detail"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.SCIMType, e.Detail = body.SCIMType, body.Detail
		if s, err := strconv.Unquote(string(body.Status)); err == nil {
			if n, err := strconv.Atoi(s); err == nil {
				e.Status = n
			}
		} else if n, err := strconv.Atoi(string(body.Status)); err == nil {
			e.Status = n
		}
	} else if len(raw) > 0 {
		e.Detail = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	return e
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
	var cfg ServiceProviderConfig
	if err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil, &cfg); err != nil {
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

// Patch applies ops to /<typ>/<id>.
func (c *Client) Patch(ctx context.Context, typ, id string, ops []PatchOp) (Resource, error) {
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
	for start := 1; ; {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(pageSize)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page struct {
			TotalResults int        `json:"totalResults"`
			Resources    []Resource `json:"Resources"`
		}
		if err := c.do(ctx, http.MethodGet, "/"+typ, q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Resources...)
		start += len(page.Resources)
		if len(page.Resources) == 0 || len(all) >= page.TotalResults {
			return all, nil
		}
	}
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
		out = append(out, r.Endpoint)
	}
	return out, nil
}

// Eq is a filter `attr eq "value"` with value quoted as SCIM wants.
func Eq(attr, value string) string {
	b, _ := json.Marshal(value)
	return fmt.Sprintf("%s eq %s", attr, b)
}

// SchemaBulkRequest is the URN of a /Bulk request.
const SchemaBulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

// BulkOp is one operation of a /Bulk request (RFC 7644 §3.7).
type BulkOp struct {
	Method string   `json:"method"`
	BulkID string   `json:"bulkId,omitempty"`
	Path   string   `json:"path"`
	Data   Resource `json:"data,omitempty"`
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
			r.ID = o.Location[strings.LastIndex(o.Location, "/")+1:]
		} else {
			r.Err = parseError(ops[i].Method, ops[i].Path, r.Status, o.Response)
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
