// Package faultproxy is a loopback HTTP proxy for the load tests: it sits
// between the loader and the SCIM test server and, for a seeded random
// fraction of the requests, answers 429 or 503 with Retry-After, answers
// 500, drops the connection before or after the server saw the request,
// or answers slowly. It can also add a fixed latency to every answer (the
// load benchmark), and lie by rules (Lie): redirect, answer in the
// server's place, ignore a filter, echo the credential. It counts what it
// forwarded.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Faults are the fractions of requests that meet each fault (their sum at
// most 1), and the fixed latency of every answer.
type Faults struct {
	Throttle    float64 // 429 with Retry-After
	Unavailable float64 // 503 with Retry-After
	ServerError float64 // 500
	DropBefore  float64 // connection closed; the server never saw the request
	DropAfter   float64 // the server did the request; its answer is lost
	Slow        float64 // answered after SlowDelay
	RetryAfter  string  // the Retry-After value; "1" when empty
	SlowDelay   time.Duration
	Latency     time.Duration // added to every answer
	Seed        uint64
}

// Proxy is a running proxy.
type Proxy struct {
	URL string // the target's URL with the proxy's host

	target *url.URL
	faults Faults
	srv    *httptest.Server
	client *http.Client

	mu        sync.Mutex
	refuse    string // requests whose body holds it get a 400
	lies      []*lie
	rnd       *rand.Rand
	forwarded map[string]int // "POST Users" → count
	injected  map[string]int // fault → count
	recording bool
	seen      []string // with recording, each forwarded request: method, URI (unescaped) and body
}

// Start proxies target (…/scim/v2) with faults.
func Start(target string, f Faults) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if f.RetryAfter == "" {
		f.RetryAfter = "1"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	p := &Proxy{target: u, faults: f, client: &http.Client{Transport: tr}, rnd: rand.New(rand.NewPCG(f.Seed, 1)),
		forwarded: map[string]int{}, injected: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL + u.Path
	return p, nil
}

// Refuse makes the proxy answer 400 invalidValue, as a server refusing a
// record would, to every request whose body contains s ("" to stop).
func (p *Proxy) Refuse(s string) { p.mu.Lock(); p.refuse = s; p.mu.Unlock() }

// Rule is a lie the proxy tells about the requests it matches, as a
// misbehaving server or a man in the middle would.
type Rule struct {
	// Match is "METHOD Type" ("POST Users"), a method ("DELETE"), or ""
	// for every request.
	Match string
	// Forward sends the request to the server first; its answer is then
	// replaced by the one below (when Status is set).
	Forward bool
	// Status, ContentType, Body and Location are the answer given in the
	// server's place (Status 0: the server's own). In Body, {auth} stands
	// for the request's Authorization header; in Location, {uri} for the
	// request's path and query.
	Status      int
	ContentType string
	Body        string
	Location    string
	// DropFilter forwards the request without its filter parameter and
	// answers what the server answers: a server that ignores filters.
	DropFilter bool
	// After lets the first After matching requests through untouched: the
	// lie starts mid-load.
	After int
}

type lie struct {
	Rule
	seen int // matching requests so far
}

// Lie adds rules, the first matching one applying to a request; with no
// arguments, it takes every rule back.
func (p *Proxy) Lie(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(rules) == 0 {
		p.lies = nil
	}
	for _, r := range rules {
		p.lies = append(p.lies, &lie{Rule: r})
	}
}

func (p *Proxy) rule(r *http.Request) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kind := r.Method + " " + resourceType(r.URL.Path, p.target.Path)
	for _, l := range p.lies {
		if l.Match == "" || l.Match == kind || l.Match == r.Method {
			if l.seen++; l.seen <= l.After {
				return Rule{}, false
			}
			return l.Rule, true
		}
	}
	return Rule{}, false
}

// lie answers r as rule says; false when the server's answer is wanted.
func (p *Proxy) lie(w http.ResponseWriter, r *http.Request, rule Rule) bool {
	if rule.Status == 0 {
		return false
	}
	if rule.Location != "" {
		w.Header().Set("Location", strings.ReplaceAll(rule.Location, "{uri}", r.URL.RequestURI()))
	}
	if rule.ContentType != "" {
		w.Header().Set("Content-Type", rule.ContentType)
	}
	w.WriteHeader(rule.Status)
	io.WriteString(w, strings.ReplaceAll(rule.Body, "{auth}", r.Header.Get("Authorization")))
	p.mu.Lock()
	p.injected["lie"]++
	p.mu.Unlock()
	return true
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Forwarded is how many requests of a kind ("POST Users") reached the
// server; Injected how many faults of a kind were injected.
func (p *Proxy) Forwarded(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded[kind]
}
func (p *Proxy) Injected(fault string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[fault]
}

// Counts returns copies of both tallies.
func (p *Proxy) Counts() (forwarded, injected map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	forwarded, injected = map[string]int{}, map[string]int{}
	for k, v := range p.forwarded {
		forwarded[k] = v
	}
	for k, v := range p.injected {
		injected[k] = v
	}
	return
}

// Record keeps every request forwarded from now on, for Mentioning (a
// million-user load would keep a million bodies: only small tests ask).
func (p *Proxy) Record() { p.mu.Lock(); p.recording = true; p.mu.Unlock() }

// Mentioning lists the forwarded requests whose URI (unescaped) or body
// contains s: a user's SCIM id, externalId or userName shows whether it
// was sent anything.
func (p *Proxy) Mentioning(s string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.seen {
		if strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

// ResetCounts zeroes the tallies and forgets the requests seen.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.forwarded)
	clear(p.injected)
	p.seen = nil
}

// pick draws the fault of one request ("" for none).
func (p *Proxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	r := p.rnd.Float64()
	for _, c := range []struct {
		name string
		frac float64
	}{{"throttle", f.Throttle}, {"unavailable", f.Unavailable}, {"error", f.ServerError}, {"drop-before", f.DropBefore},
		{"drop-after", f.DropAfter}, {"slow", f.Slow}} {
		if r < c.frac {
			p.injected[c.name]++
			return c.name
		}
		r -= c.frac
	}
	return ""
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if p.faults.Latency > 0 {
		time.Sleep(p.faults.Latency)
	}
	fault := p.pick()
	switch fault {
	case "throttle", "unavailable":
		status := map[string]int{"throttle": http.StatusTooManyRequests, "unavailable": http.StatusServiceUnavailable}[fault]
		w.Header().Set("Retry-After", p.faults.RetryAfter)
		scimError(w, status, "", "injected by faultproxy")
		return
	case "error":
		scimError(w, http.StatusInternalServerError, "", "injected by faultproxy")
		return
	case "drop-before":
		hangUp(w)
		return
	case "slow":
		time.Sleep(p.faults.SlowDelay)
	}
	rule, lying := p.rule(r)
	if lying && !rule.Forward && p.lie(w, r, rule) {
		return
	}
	if lying && rule.DropFilter {
		q := r.URL.Query()
		q.Del("filter")
		r.URL.RawQuery = q.Encode()
	}
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	refuse := p.refuse != "" && bytes.Contains(body, []byte(p.refuse))
	p.mu.Unlock()
	if refuse {
		scimError(w, http.StatusBadRequest, "invalidValue", "refused by faultproxy")
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.Scheme+"://"+p.target.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.forwarded[r.Method+" "+resourceType(r.URL.Path, p.target.Path)]++
	if p.recording {
		uri, _ := url.QueryUnescape(r.URL.RequestURI())
		p.seen = append(p.seen, r.Method+" "+uri+" "+string(body))
	}
	p.mu.Unlock()
	if fault == "drop-after" {
		hangUp(w)
		return
	}
	if lying && p.lie(w, r, rule) {
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// resourceType is the first path segment below the base: Users, Groups …
func resourceType(path, base string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, base), "/")
	t, _, _ := strings.Cut(rest, "/")
	return t
}

func scimError(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"%d","scimType":%q,"detail":%q}`, status, scimType, detail)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
