package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

const ext = schemas.DefaultExtension

func start(t *testing.T, dir string) (*Sandbox, *scim.Client) {
	t.Helper()
	sb, err := New(dir, "s3cret", ext)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return sb, client(t, srv.URL, "s3cret")
}

func client(t testing.TB, url, token string) *scim.Client {
	t.Helper()
	c, err := scim.New(url+Base, token, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func user(userName, email string, phones ...string) scim.Resource {
	r := scim.Resource{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", ext},
		"userName": userName, "externalId": "U-" + userName,
		"name":   map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails": []any{map[string]any{"value": email, "type": "work", "primary": true}},
		ext:      map[string]any{"defaultLocation": "LON", "locations": []any{map[string]any{"value": "LON", "role": "user"}}, "sendInvitation": true},
	}
	var ps []any
	for _, p := range phones {
		ps = append(ps, map[string]any{"value": p, "type": "work"})
	}
	if ps != nil {
		r["phoneNumbers"] = ps
	}
	return r
}

func TestVisitorRules(t *testing.T) {
	ctx := context.Background()
	_, c := start(t, t.TempDir())

	ada, err := c.Create(ctx, "Users", user("ada@example.com", "Ada@Example.com", "+442079460000"))
	if err != nil {
		t.Fatalf("a valid user: %v", err)
	}
	if e, _ := ada[ext].(map[string]any); e == nil || e["sendInvitation"] != nil || e["defaultLocation"] != "LON" {
		t.Errorf("extension as answered: %v (sendInvitation is write-only)", ada[ext])
	}
	for _, tc := range []struct {
		name   string
		res    scim.Resource
		status int
		words  string
	}{
		{"userName is not the work email", user("ada2@example.com", "other@example.com"), 400, "must equal the primary work email"},
		{"duplicate userName in another case", user("ADA@example.com", "ADA@example.com"), 409, "already taken"},
		{"phone not in E.164", user("bob@example.com", "bob@example.com", "020 7946 0000"), 400, "E.164"},
	} {
		_, err := c.Create(ctx, "Users", tc.res)
		var se *scim.Error
		if !errors.As(err, &se) || se.Status != tc.status || !strings.Contains(se.Detail, tc.words) {
			t.Errorf("%s: got %v, want %d saying %q", tc.name, err, tc.status, tc.words)
		}
	}

	// A PATCH that breaks a rule is refused and changes nothing.
	id := ada["id"].(string)
	_, err = c.Patch(ctx, "Users", id, []scim.PatchOp{{Op: "replace", Path: "userName", Value: "ada@new.example"}})
	if !scim.IsStatus(err, 400) {
		t.Errorf("PATCH of userName alone: %v, want 400", err)
	}
	// With the email, it goes through; extension paths work.
	_, err = c.Patch(ctx, "Users", id, []scim.PatchOp{
		{Op: "replace", Path: "userName", Value: "ada@new.example"},
		{Op: "replace", Path: "emails", Value: []any{map[string]any{"value": "ada@new.example", "type": "work", "primary": true}}},
		{Op: "replace", Path: ext + ":locations", Value: []any{map[string]any{"value": "LON", "role": "admin"}, map[string]any{"value": "PAR", "role": "user"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "Users", id)
	if err != nil {
		t.Fatal(err)
	}
	locs := got[ext].(map[string]any)["locations"].([]any)
	if got["userName"] != "ada@new.example" || len(locs) != 2 {
		t.Errorf("after PATCH: %v", got)
	}
	found, err := c.Filter(ctx, "Users", scim.Eq("userName", "ADA@NEW.example"), 10)
	if err != nil || len(found) != 1 {
		t.Errorf("userName filter (case-insensitive): %v %v", found, err)
	}

	if _, err := c.Create(ctx, "Groups", scim.Resource{"displayName": "x"}); !scim.IsStatus(err, http.StatusNotImplemented) {
		t.Errorf("/Groups: %v, want 501", err)
	}
	types, err := c.ResourceTypes(ctx)
	if err != nil || strings.Join(types, " ") != "/Users /Locations" {
		t.Errorf("resource types %v %v", types, err)
	}
}

func TestTokenRequired(t *testing.T) {
	sb, err := New(t.TempDir(), "s3cret", ext)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	for _, tok := range []string{"", "wrong"} {
		_, err := client(t, srv.URL, tok).ServiceProviderConfig(context.Background())
		if !scim.IsStatus(err, http.StatusUnauthorized) {
			t.Errorf("token %q: %v, want 401", tok, err)
		}
	}
	if _, err := New(t.TempDir(), "", ext); err == nil {
		t.Error("a sandbox without a token started")
	}
}

// The data survives a restart, and the outbox has one line per user
// created with sendInvitation true, none for a PUT.
func TestDataSurvivesRestartAndOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sb, err := New(dir, "s3cret", ext)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	c := client(t, srv.URL, "s3cret")
	ada, err := c.Create(ctx, "Users", user("ada@example.com", "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := user("bob@example.com", "bob@example.com")
	delete(quiet[ext].(map[string]any), "sendInvitation")
	if _, err := c.Create(ctx, "Users", quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Replace(ctx, "Users", ada["id"].(string), user("ada@example.com", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "Locations", scim.Resource{"schemas": []string{SchemaLocation}, "displayName": "London", "externalId": "LON"}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}

	_, c = start(t, dir)
	users, err := c.Filter(ctx, "Users", "", 100)
	if err != nil || len(users) != 2 {
		t.Fatalf("after a restart: %d users, %v", len(users), err)
	}
	locs, err := c.Filter(ctx, "Locations", scim.Eq("externalId", "LON"), 10)
	if err != nil || len(locs) != 1 || locs[0]["displayName"] != "London" {
		t.Fatalf("locations after a restart: %v %v", locs, err)
	}
	f, err := os.Open(filepath.Join(dir, InvitationsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"userName":"ada@example.com"`) {
		t.Errorf("outbox: %q, want one invitation, for ada", lines)
	}
}

// A sandbox killed without closing keeps every change its log had synced:
// the next open replays the log over the snapshot, drops a last line cut
// short, and starts a new snapshot. The userName index is rebuilt from
// what was kept.
func TestStoreSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	unique := map[string]func(map[string]any) string{"Users": userNameOf}
	s, err := openStore(dir, unique)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for i, name := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		rec := &record{ID: fmt.Sprint("id-", i), Attributes: map[string]any{"userName": name}, Created: now()}
		if err := s.update("Users", func(t txn) error { return t.put(rec) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.update("Users", func(t txn) error { return t.del("id-1") }); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	// The crash: the files as they are now, in another directory, with a
	// change half written at the end of the log.
	crashed := t.TempDir()
	for _, f := range []string{StoreFile, LogFile} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if f == LogFile {
			b = append(b, `{"type":"Users","id":"id-9","rec`...)
		}
		os.WriteFile(filepath.Join(crashed, f), b, 0o600)
	}
	again, err := openStore(crashed, unique)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	var ids []string
	for _, r := range again.all("Users") {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, " ") != "id-0 id-2" {
		t.Errorf("after the crash: users %v, want id-0 and id-2", ids)
	}
	again.update("Users", func(t2 txn) error {
		if id, ok := t2.owner("C@EXAMPLE.COM"); !ok || id != "id-2" {
			t.Errorf("the index says C@EXAMPLE.COM is %q (%v), want id-2", id, ok)
		}
		if _, ok := t2.owner("b@example.com"); ok {
			t.Error("the index still holds the deleted b@example.com")
		}
		return nil
	})
}

// In generic mode the sandbox is the public Generic SCIM API: /Users only,
// no extension, the SCIM 1.0 core URN accepted; with MaxRPM it answers
// 429 with Retry-After past the limit.
func TestGenericModeAndRateLimit(t *testing.T) {
	open := func(opts Options) *scim.Client {
		sb, err := NewWith(t.TempDir(), "s3cret", ext, opts)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sb)
		t.Cleanup(func() { srv.Close(); sb.Close() })
		return client(t, srv.URL, "s3cret")
	}
	c := open(Options{Generic: true})
	ctx := context.Background()
	plain := scim.Resource{"schemas": []string{"urn:scim:schemas:core:1.0"}, "userName": "ada@example.com",
		"emails": []any{map[string]any{"value": "ada@example.com", "type": "work", "primary": true}}}
	made, err := c.Create(ctx, "Users", plain)
	if err != nil {
		t.Fatalf("a user with the SCIM 1.0 core URN: %v", err)
	}
	if got, _ := c.Get(ctx, "Users", made["id"].(string)); fmt.Sprint(got["schemas"]) != "[urn:ietf:params:scim:schemas:core:2.0:User]" {
		t.Errorf("a user as the Generic API answers it names schemas %v, want the core schema alone", got["schemas"])
	}
	if _, err := c.Create(ctx, "Users", user("bob@example.com", "bob@example.com")); !scim.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("a user with the visitor extension: %v, want a 400", err)
	}
	for _, typ := range []string{"Groups", "Locations"} {
		if _, err := c.Filter(ctx, typ, "", 10); !scim.IsStatus(err, http.StatusNotFound) {
			t.Errorf("/%s: %v, want a 404", typ, err)
		}
	}
	// 120 a minute is 2 a second, with a burst of 2: a burst of requests
	// meets a 429 that says when to come back.
	c = open(Options{MaxRPM: 120})
	var limited *scim.Error
	for range 10 {
		if _, err := c.Get(ctx, "Users", "none"); errors.As(err, &limited) && limited.Status == http.StatusTooManyRequests {
			break
		}
		limited = nil
	}
	if limited == nil || limited.RetryAfter <= 0 {
		t.Fatalf("ten requests at once under a limit of 120 a minute: %v, want a 429 with Retry-After", limited)
	}
}
