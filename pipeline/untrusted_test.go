package pipeline

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/rs/zerolog"
)

// The tests of this file put a lying proxy between the loader and SCIMMY:
// the loader must not take a server's word for what it did not show.

// lyingProxy is a proxy in front of the package's SCIMMY, emptied.
func lyingProxy(t *testing.T) (*scimmytest.Server, *faultproxy.Proxy) {
	t.Helper()
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return srv, proxy
}

func appliedUsers(t *testing.T, run *Run) map[string]schemas.User {
	t.Helper()
	rows, err := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]schemas.User{}
	for _, u := range rows {
		out[u.UserID] = u
	}
	return out
}

func resultsCSV(t *testing.T, run *Run) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantFailed(t *testing.T, err error, n int) {
	t.Helper()
	var failed *load.FailedError
	if !errors.As(err, &failed) || failed.Failed != n {
		t.Fatalf("load: %v; want %d failed operations", err, n)
	}
}

// A redirect is not followed: neither the token nor a user's data reaches
// the address it points to, and each create fails naming that address.
func TestLoadFollowsNoRedirect(t *testing.T) {
	_, proxy := lyingProxy(t)
	var mu sync.Mutex
	var reached []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer elsewhere.Close()
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Status: http.StatusTemporaryRedirect, Location: elsewhere.URL + "{uri}"})
	f := loadFixture(t, proxy.URL)

	run, err := runDay(t, f, "day1")
	wantFailed(t, err, 211)
	if got := resultsCSV(t, run); strings.Count(got, `307: the server redirected to ""`+elsewhere.URL+"/scim/v2/Users") != 211 {
		t.Errorf("results.csv should name the redirect of each create:\n%s", got[:min(len(got), 2000)])
	}
	if n := len(appliedUsers(t, run)); n != 0 {
		t.Errorf("the applied state holds %d users; none was created", n)
	}

	// Every request redirected (a moved tenant): the load stops at the
	// first one, naming where it pointed.
	proxy.Lie()
	proxy.Lie(faultproxy.Rule{Status: http.StatusPermanentRedirect, Location: elsewhere.URL + "{uri}"})
	err = Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
	if err == nil || !strings.Contains(err.Error(), "redirected to \""+elsewhere.URL+"/scim/v2/ServiceProviderConfig\"") {
		t.Errorf("load through a moved tenant: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reached) > 0 {
		t.Errorf("%d requests reached the address of a redirect, first %s", len(reached), reached[0])
	}
}

// A 2xx answer to a create that does not show the user made (an empty
// 201, a list) is not a create: the loader looks the user up. When the
// server did not make it, the create fails and the baseline leaves the
// user out; when it did, the lookup finds it and its id is the real one.
func TestLoadDoesNotTrustAnEmptyCreated(t *testing.T) {
	srv, proxy := lyingProxy(t)
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Status: http.StatusCreated, ContentType: "application/scim+json"})
	proxy.Lie(faultproxy.Rule{Match: "POST Groups", Status: http.StatusCreated, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`})
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	wantFailed(t, err, 211+12)
	got := resultsCSV(t, run)
	if n := strings.Count(got, ",failed,"); n != 223 || !strings.Contains(got, "it has no Groups with externalId LON:admins: not created") || !strings.Contains(got, "it has no user with externalId 100000: not created") {
		t.Errorf("results.csv: %d failed rows, want 223 naming what went wrong:\n%s", n, got[:min(len(got), 2000)])
	}
	if n := len(appliedUsers(t, run)); n != 0 {
		t.Errorf("the applied state holds %d users; none was created", n)
	}
	if state := targetcheck.Read(t, srv.URL, scimmytest.Token); len(state.Users) != 0 {
		t.Errorf("the server holds %d users", len(state.Users))
	}

	// The server makes the users but the proxy blanks its answers: each
	// user is found by a lookup, with the id the server gave it.
	proxy.Lie()
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Forward: true, Status: http.StatusCreated, ContentType: "application/scim+json", Body: "{}"})
	if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
}

// A DELETE answered by a page that is not SCIM (a sign-in page, a proxy's
// error page) is not done: the leavers stay in the baseline, and the next
// load deletes them.
func TestLoadDeleteAnsweredWithHTML(t *testing.T) {
	srv, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	if _, err := runDay(t, f, "day1"); err != nil {
		t.Fatal(err)
	}
	proxy.Lie(faultproxy.Rule{Match: "DELETE Users", Status: http.StatusOK, ContentType: "text/html; charset=utf-8",
		Body: "<html><body><h1>Sign in</h1></body></html>"})
	f.now = f.now.Add(24 * time.Hour)
	run, err := runDay(t, f, "day2")
	wantFailed(t, err, 2)
	got := resultsCSV(t, run)
	if !strings.Contains(got, `user,100010,margaret.turing.10@example.com,delete,failed,200,`) || !strings.Contains(got, `the answer is not SCIM: Content-Type ""text/html; charset=utf-8""`) {
		t.Errorf("results.csv should say the delete's answer was not SCIM:\n%s", got)
	}
	applied := appliedUsers(t, run)
	for _, key := range []string{"100010", "100011"} {
		if _, ok := applied[key]; !ok {
			t.Errorf("user %s left the baseline, though its delete was not confirmed", key)
		}
	}
	proxy.Lie()
	if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
}

// A server that ignores filters lists groups that are not the one looked
// for: none of them is adopted as a location's group.
func TestLoadChecksWhatAGroupLookupFinds(t *testing.T) {
	srv, proxy := lyingProxy(t)
	c, _ := scim.New(srv.URL, scimmytest.Token, 5*time.Second)
	ctx := context.Background()
	staff, err := c.Create(ctx, "Groups", scim.Resource{"schemas": []string{schemas.SchemaGroup}, "displayName": "All Staff"})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Lie(
		faultproxy.Rule{Match: "GET Groups", DropFilter: true},
		faultproxy.Rule{Match: "POST Groups", Status: http.StatusConflict, ContentType: "application/scim+json",
			Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"displayName is taken"}`},
	)
	f := loadFixture(t, proxy.URL)
	_, err = runDay(t, f, "day1")
	var failed *load.FailedError
	if !errors.As(err, &failed) {
		t.Fatalf("load: %v; want the groups' creates failed", err)
	}
	got, err := c.Get(ctx, "Groups", staff["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if members, _ := got["members"].([]any); got["externalId"] != nil || len(members) != 0 {
		t.Errorf("the group made by hand was adopted: %v", got)
	}
}

// With state/baseline.json lost, the next run plans everyone as a create,
// warns, and the load finds each one by externalId: the renamed user is
// renamed, not made twice, and no location's group is made twice.
func TestLoadWithTheBaselineLost(t *testing.T) {
	srv, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	if _, err := runDay(t, f, "day1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(baselinePath(f.env.Config)); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	f.env.Log = zerolog.New(zerolog.SyncWriter(&logs))
	f.now = f.now.Add(24 * time.Hour)
	proxy.ResetCounts()
	run, err := runDay(t, f, "day2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "state/baseline.json is missing, yet earlier runs were loaded") {
		t.Errorf("no warning that the baseline is lost:\n%s", logs.String())
	}
	state := targetcheck.Read(t, srv.URL, scimmytest.Token) // fails the test on a duplicate externalId or userName
	if u := state.Users["100003"]; u == nil || u["userName"] != "renamed.user.3@example.com" {
		t.Errorf("the renamed user is %v", u)
	}
	if n := proxy.Forwarded("POST Users"); n != 6 {
		t.Errorf("%d users were created; day 2 has 6 new ones", n)
	}
	if got := resultsCSV(t, run); strings.Count(got, "\nuser,") != 206+6+3 || strings.Count(got, ",create,adopted,") != 206+10 {
		t.Errorf("want the 206 users of day 1 still in day 2's export, and the groups of its 5 locations, adopted:\n%s", got)
	}
	groups, err := scim.New(srv.URL, scimmytest.Token, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	all, err := groups.Filter(context.Background(), "Groups", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range all {
		ext, _ := g["externalId"].(string)
		if seen[ext] {
			t.Errorf("two groups with externalId %s", ext)
		}
		seen[ext] = true
	}
}

// A server that echoes the credential in its answers does not get it into
// any artifact: the journal, results.csv, the manifests.
func TestLoadKeepsAnEchoedTokenOut(t *testing.T) {
	_, proxy := lyingProxy(t)
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Status: http.StatusBadRequest, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"{auth}","detail":"not allowed with Authorization: {auth}"}`})
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	wantFailed(t, err, 211)
	if got := resultsCSV(t, run); !strings.Contains(got, "not allowed with Authorization: Bearer [REDACTED]") {
		t.Errorf("results.csv should quote the server, the token cut out:\n%s", got[:min(len(got), 1000)])
	}
	filepath.WalkDir(f.env.Config.Data, func(p string, d os.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); d != nil && !d.IsDir() && bytes.Contains(b, []byte(scimmytest.Token)) {
			t.Errorf("the token is in %s", p)
		}
		return nil
	})
}

// A 401 in the middle of a load stops it at once: the token is wrong or
// revoked, and every further request would be refused too. The resume,
// once the server takes the token again, sends the rest.
func TestLoadStopsOnUnauthorized(t *testing.T) {
	srv, proxy := lyingProxy(t)
	proxy.Lie(faultproxy.Rule{Match: "POST Users", After: 20, Status: http.StatusUnauthorized, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"token revoked"}`})
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	if err == nil || !strings.Contains(err.Error(), "refused the credential (401)") || !strings.Contains(err.Error(), "resume with condeco-sync load --run "+run.ID) {
		t.Fatalf("load: %v", err)
	}
	_, injected := proxy.Counts()
	sent := proxy.Forwarded("POST Users") + injected["lie"]
	if sent > 20+f.env.Config.SCIM.Concurrency {
		t.Errorf("%d creates were sent; the load should stop at the first 401 (20 accepted, %d in flight)", sent, f.env.Config.SCIM.Concurrency)
	}
	t.Logf("%d create requests were answered before the first 401 stopped the load (the proxy let 20 through)", sent)
	proxy.Lie()
	if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
}

// A server that fails everything trips the breaker: the load stops after
// a few operations instead of trying every one six times.
func TestLoadBreaker(t *testing.T) {
	_, proxy := lyingProxy(t)
	proxy.Lie(faultproxy.Rule{Match: "POST Users", After: 5, Status: http.StatusInternalServerError, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"database down"}`})
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	if err == nil || !strings.Contains(err.Error(), "the server is failing") || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("load: %v", err)
	}
	_, injected := proxy.Counts()
	if n := injected["lie"]; n > (20+f.env.Config.SCIM.Concurrency)*6 {
		t.Errorf("%d failing requests were sent; the breaker should stop the load after about 20 operations", n)
	}
	t.Logf("the breaker stopped the load after %d answers of 500 (of 211 creates × 6 tries = 1,266 without it)", injected["lie"])
	if m, _ := ReadManifest(run.Dir, "load"); m == nil || m.Status != StatusFailed {
		t.Errorf("load manifest %+v: want failed", m)
	}
}

// state/baseline.json records the rows of the applied state it names.
func TestBaselineCountsRows(t *testing.T) {
	_, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBaseline(f.env.Config)
	if err != nil || b.RunID != run.ID || b.Users.Rows != 211 || b.Locations.Rows != 6 {
		t.Errorf("baseline %+v, %v: want run %s with 211 users and 6 locations", b, err, run.ID)
	}
}

// load --dry-run, then load twice (the README's advice after exit 4): the
// kept attempts never collide.
func TestLoadAttemptsNeverCollide(t *testing.T) {
	srv, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	copySample(t, f, "day1")
	run := f.extract()
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	if err := Diff(f.env, run); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, dry := range []bool{true, true, false, false, true, false} {
		if err := Load(ctx, f.env, run, LoadOptions{Getenv: getenv, DryRun: dry}); err != nil {
			t.Fatalf("load %d (dry run %v): %v", i+1, dry, err)
		}
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
}
