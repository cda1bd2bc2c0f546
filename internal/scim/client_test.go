package scim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
)

// The tests talk to SCIMMY, a SCIM server we did not write, on loopback.
var server *scimmytest.Server

func TestMain(m *testing.M) {
	s, err := scimmytest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scim tests:", err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

func client(t *testing.T) *Client {
	t.Helper()
	if err := server.Reset(); err != nil {
		t.Fatal(err)
	}
	c, err := New(server.URL, scimmytest.Token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func user(id, name string) Resource {
	return Resource{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":   name,
		"externalId": id,
		"active":     true,
		"name":       map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":     []map[string]any{{"value": name, "type": "work", "primary": true}},
	}
}

func TestServiceProviderConfig(t *testing.T) {
	cfg, err := client(t).ServiceProviderConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Patch.Supported || !cfg.Filter.Supported || cfg.Filter.MaxResults != 1000 {
		t.Errorf("config = %+v", cfg)
	}
}

func TestUserLifecycle(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	created, err := c.Create(ctx, "Users", user("100000", "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := created["id"].(string)
	if id == "" || created["externalId"] != "100000" {
		t.Fatalf("created = %v", created)
	}
	got, err := c.Get(ctx, "Users", id)
	if err != nil || got["userName"] != "ada@example.com" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	for _, f := range []string{Eq("externalId", "100000"), Eq("userName", "ada@example.com")} {
		found, err := c.Filter(ctx, "Users", f, 100)
		if err != nil || len(found) != 1 || found[0]["id"] != id {
			t.Errorf("Filter(%s) = %v, %v", f, found, err)
		}
	}
	// RFC 7643 makes userName case-insensitive, but SCIMMY's eq filter is
	// not: the loader's adoption by userName must not rely on the server
	// matching another case (issue 4).
	if found, err := c.Filter(ctx, "Users", Eq("userName", "ADA@example.com"), 100); err != nil || len(found) > 1 {
		t.Errorf("Filter in another case = %v, %v", found, err)
	}
	r := user("100000", "ada.l@example.com")
	if _, err := c.Replace(ctx, "Users", id, r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, "Users", id, []PatchOp{{Op: "replace", Path: "active", Value: false}}); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Get(ctx, "Users", id)
	if got["userName"] != "ada.l@example.com" || got["active"] != false {
		t.Errorf("after PUT and PATCH: %v", got)
	}
	if err := c.Delete(ctx, "Users", id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "Users", id); !IsStatus(err, 404) {
		t.Errorf("Get after delete: %v, want 404", err)
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	if _, err := c.Create(ctx, "Users", user("1", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Create(ctx, "Users", user("2", "Ada@Example.com"))
	e, ok := err.(*Error)
	if !ok || e.Status != 409 || e.SCIMType != "uniqueness" || !strings.Contains(e.Detail, "already taken") || e.Path != "/Users" {
		t.Fatalf("duplicate userName: %#v", err)
	}
	if err := c.Delete(ctx, "Users", "no-such-id"); !IsStatus(err, 404) {
		t.Errorf("delete of a missing user: %v", err)
	}
}

func TestPaging(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	for i := 0; i < 25; i++ {
		if _, err := c.Create(ctx, "Users", user(fmt.Sprint(i), fmt.Sprintf("u%d@example.com", i))); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.Filter(ctx, "Users", "", 10)
	if err != nil || len(all) != 25 {
		t.Fatalf("Filter over pages of 10 = %d resources, %v", len(all), err)
	}
	seen := map[any]bool{}
	for _, r := range all {
		seen[r["id"]] = true
	}
	if len(seen) != 25 {
		t.Errorf("%d distinct ids over the pages", len(seen))
	}
}

// The token never appears in an error, whatever goes wrong.
func TestTokenNeverInErrors(t *testing.T) {
	ctx := context.Background()
	const secret = "s3cret-token-that-must-not-leak"
	bad, _ := New(server.URL, secret, 2*time.Second)
	_, err := bad.Get(ctx, "Users", "x")
	if !IsStatus(err, 401) {
		t.Errorf("wrong token: %v, want 401", err)
	}
	down, _ := New("http://127.0.0.1:1/scim/v2", secret, 2*time.Second)
	_, err2 := down.ServiceProviderConfig(ctx)
	if err2 == nil {
		t.Fatal("no error from a closed port")
	}
	for _, e := range []error{err, err2} {
		if strings.Contains(e.Error(), secret) || strings.Contains(fmt.Sprintf("%#v", e), secret) {
			t.Errorf("token in error %q", e)
		}
	}
	if _, err := New("http://user:"+secret+"@127.0.0.1/scim", "x", time.Second); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("credentials in the URL: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, " 2 ": 2 * time.Second, "-1": 0, "soon": 0,
		"Tue, 24 Nov 2026 12:00:30 GMT": 30 * time.Second, "Tue, 24 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// A redirect is an error naming where it points, never followed: not from
// https to http, not to the same host.
func TestNoRedirectIsFollowed(t *testing.T) {
	var reached atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "application/scim+json")
		io.WriteString(w, `{"patch":{"supported":true}}`)
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
	}))
	defer secure.Close()
	c, err := New(secure.URL+"/scim/v2", "secret-token-123456", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithTransport(secure.Client().Transport)
	_, err = c.ServiceProviderConfig(context.Background())
	if !IsStatus(err, http.StatusFound) || !strings.Contains(err.Error(), `redirected to "`+plain.URL+`/scim/v2/ServiceProviderConfig"`) {
		t.Errorf("err = %v", err)
	}
	if reached.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// Every 2xx answer is 204 or a JSON object; the token the server echoes is
// cut out of what the client hands on.
func TestAnswersMustBeSCIM(t *testing.T) {
	const token = "secret-token-123456"
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		want                    string // in the error; "" for none
	}{
		{"html sign-in page", "text/html", "<html>Sign in</html>", 200, `not SCIM: Content-Type "text/html"`},
		{"empty 200", "application/scim+json", "", 200, "not SCIM: a SCIM answer is 204 or a JSON object, this one is an empty body"},
		{"JSON array", "application/json", "[]", 200, "this one is \"[]\""},
		{"no content", "", "", 204, ""},
		{"SCIM object", "application/scim+json; charset=utf-8", `{"id":"1"}`, 200, ""},
		{"echoed token", "application/scim+json", `{"detail":"you sent Bearer ` + token + `"}`, 400, "you sent Bearer [REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, _ := New(srv.URL, token, 5*time.Second)
			err := c.Delete(context.Background(), "Users", "1")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), token):
				t.Errorf("the token is in %v", err)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	c, _ := New("http://127.0.0.1:1", "secret-token-123456", time.Second)
	sent := user("100000", "ada@example.com")
	answer := func(edit func(Resource)) Resource {
		r := Resource{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": "abc", "userName": "Ada@Example.com", "externalId": "100000"}
		edit(r)
		return r
	}
	if id, err := c.Confirm(sent, answer(func(Resource) {}), "externalId", "userName"); id != "abc" || err != nil {
		t.Errorf("Confirm = %q, %v", id, err)
	}
	for name, edit := range map[string]func(Resource){
		"no id":            func(r Resource) { delete(r, "id") },
		"the token as id":  func(r Resource) { r["id"] = "x-secret-token-123456" },
		"a list response":  func(r Resource) { r["schemas"] = []any{SchemaListResponse} },
		"another user":     func(r Resource) { r["externalId"] = "100001" },
		"another userName": func(r Resource) { r["userName"] = "bob@example.com" },
		"a control char":   func(r Resource) { r["id"] = "a\x1b[2Jb" },
	} {
		if id, err := c.Confirm(sent, answer(edit), "externalId", "userName"); err == nil || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s: Confirm = %q, %v", name, id, err)
		}
	}
}

// serve answers every request with status and body (a JSON content type),
// and records the last request's Content-Type.
func serve(t *testing.T, status int, body string) (*Client, *string) {
	t.Helper()
	var ct string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct = r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "tok-0123456789", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c, &ct
}

// SCIM 1.1's error body is read: each description, the code as a string
// or a number.
func TestSCIM11Errors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"Errors":[{"description":"userName is taken","code":"409"}]}`, "POST /Users: 409: userName is taken"},
		{`{"Errors":[{"description":"bad phone","code":400},{"description":"bad title","code":400}]}`, "POST /Users: 400: bad phone; bad title"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}`, "POST /Users: 409 uniqueness: taken"},
	} {
		c, _ := serve(t, http.StatusBadRequest, tc.body)
		_, err := c.SCIM11().Create(context.Background(), "Users", Resource{"userName": "x"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// A SCIM 1.1 client sends application/json and never a PatchOp.
func TestSCIM11Wire(t *testing.T) {
	c, ct := serve(t, http.StatusOK, `{"id":"a1","userName":"x"}`)
	v11 := c.SCIM11()
	if _, err := v11.Replace(context.Background(), "Users", "a1", Resource{"userName": "x"}); err != nil || *ct != "application/json" {
		t.Errorf("PUT: %v, Content-Type %q: want application/json", err, *ct)
	}
	*ct = ""
	if _, err := v11.Patch(context.Background(), "Users", "a1", []PatchOp{{Op: "replace", Path: "title", Value: "x"}}); err == nil || *ct != "" {
		t.Errorf("PATCH on SCIM 1.1: %v (sent: %v); want it refused before sending", err, *ct != "")
	}
	if _, err := c.Replace(context.Background(), "Users", "a1", Resource{"userName": "x"}); err != nil || *ct != "application/scim+json" {
		t.Errorf("PUT on SCIM 2.0: %v, Content-Type %q", err, *ct)
	}
}

// The token is cut out of a whole answer before an excerpt is taken: a
// token across the cut leaves no part of itself.
func TestTokenScrubbedBeforeTheCut(t *testing.T) {
	const tok = "tok-0123456789"
	for _, tc := range []struct {
		status int
		pad    int
	}{{http.StatusOK, 75}, {http.StatusBadGateway, 195}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(tc.status)
			io.WriteString(w, strings.Repeat("x", tc.pad)+r.Header.Get("Authorization"))
		}))
		c, _ := New(srv.URL, tok, time.Second)
		_, err := c.Get(context.Background(), "Users", "a1")
		srv.Close()
		for i := 0; i+5 <= len(tok); i++ {
			if err == nil || strings.Contains(err.Error(), tok[i:i+5]) {
				t.Errorf("status %d: %v holds a part of the token", tc.status, err)
				break
			}
		}
	}
}

// A listing that does not make progress stops with an error: a page
// listed again, a startIndex not the one asked for, pages past
// totalResults, an empty page short of totalResults.
func TestListingMustMakeProgress(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"a page again", `{"totalResults":5,"Resources":[{"id":"a"},{"id":"b"}]}`, `lists "a" again`},
		{"startIndex ignored", `{"totalResults":5,"startIndex":1,"Resources":[{"id":"%d"}]}`, "answered startIndex 1"},
		{"past totalResults", `{"totalResults":1,"Resources":[{"id":"%d"},{"id":"x%d"}]}`, "more than the 1 of totalResults"},
		{"empty too soon", `{"totalResults":9,"Resources":[]}`, "is empty, yet totalResults is 9"},
	} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := n.Add(1)
			w.Header().Set("Content-Type", "application/scim+json")
			io.WriteString(w, strings.ReplaceAll(tc.body, "%d", fmt.Sprint(k)))
		}))
		c, _ := New(srv.URL, "tok", time.Second)
		err := c.Each(context.Background(), "Users", "", 2, func(Resource) error { return nil })
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || n.Load() > 3 {
			t.Errorf("%s: %v after %d requests; want %q", tc.name, err, n.Load(), tc.want)
		}
	}
}
