package pipeline

import (
	"bytes"
	"context"
	"errors"
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

// The load tests talk to SCIMMY, a SCIM server we did not write, started
// once for the package on first use.
var (
	scimmyOnce sync.Once
	scimmy     *scimmytest.Server
	scimmyErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if scimmy != nil {
		scimmy.Stop()
	}
	os.Exit(code)
}

// scimServer returns the running SCIMMY, emptied.
func scimServer(t *testing.T) *scimmytest.Server {
	t.Helper()
	scimmyOnce.Do(func() { scimmy, scimmyErr = scimmytest.Start() })
	if scimmyErr != nil {
		t.Fatal(scimmyErr)
	}
	if err := scimmy.Reset(); err != nil {
		t.Fatal(err)
	}
	return scimmy
}

// loadFixture is a fixture whose config points at url with the scim2 profile.
func loadFixture(t *testing.T, url string) *fixture {
	f := newFixture(t)
	cfg := f.env.Config
	cfg.Guards.MinUsers = 100
	cfg.SCIM.URL, cfg.SCIM.Profile, cfg.SCIM.Concurrency, cfg.SCIM.Timeout = url, "scim2", 8, 5*time.Second
	return f
}

func getenv(k string) string {
	if k == "CONDECO_SYNC_SCIM_TOKEN" {
		return scimmytest.Token
	}
	return ""
}

// runDay takes one sample day through every stage, load included.
func runDay(t *testing.T, f *fixture, day string) (*Run, error) {
	t.Helper()
	copySample(t, f, day)
	run := f.extract()
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	if err := Diff(f.env, run); err != nil {
		t.Fatal(err)
	}
	return run, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv})
}

func TestLoadSamplesEndToEnd(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f := loadFixture(t, proxy.URL)
	f.env.Config.Access.HomeAdminLevels = []string{"Location Admin"}

	day1, err := runDay(t, f, "day1")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, proxy.URL, day1.Dir)
	checkAdmins(t, day1, "day1")
	if n := proxy.Forwarded("POST Users"); n != 211 {
		t.Errorf("day 1 sent %d creates, want 211", n)
	}
	if b, _ := ReadBaseline(f.env.Config); b == nil || b.RunID != day1.ID {
		t.Fatalf("baseline %+v, want run %s", b, day1.ID)
	}

	f.now = f.now.Add(24 * time.Hour)
	day2, err := runDay(t, f, "day2")
	if err != nil {
		t.Fatal(err)
	}
	targetcheck.Check(t, scimmytest.Token, proxy.URL, day2.Dir)
	checkAdmins(t, day2, "day2")
	got := targetcheck.Read(t, proxy.URL, scimmytest.Token)
	if _, ok := got.Users["100010"]; ok {
		t.Error("a user missing from day 2's export is still in the server")
	}

	// The same load again sends nothing but the configuration read.
	proxy.ResetCounts()
	if err := Load(context.Background(), f.env, day2, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	if fwd, _ := proxy.Counts(); len(fwd) != 1 || fwd["GET ServiceProviderConfig"] != 1 {
		t.Errorf("a second load of the same run sent %v", fwd)
	}
	targetcheck.Check(t, scimmytest.Token, proxy.URL, day2.Dir)
}

// TestLoadThroughFaults loads day 1 through a proxy that throttles, fails,
// drops and slows a fifth of the requests, and refuses one user for good:
// the retries mend every passing fault, the refusal is in results.csv in
// the server's words, and a rerun once the server accepts that user
// sends only what is missing. The server ends in the expected state, with
// no duplicate.
func TestLoadThroughFaults(t *testing.T) {
	srv := scimServer(t)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{
		Throttle: 0.02, Unavailable: 0.02, ServerError: 0.05, DropBefore: 0.04, DropAfter: 0.05, Slow: 0.02,
		SlowDelay: 3 * time.Second, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f := loadFixture(t, proxy.URL)
	f.env.Config.SCIM.Timeout = time.Second // a slow answer is a timeout: its outcome is unknown
	var logs bytes.Buffer
	f.env.Log = zerolog.New(zerolog.SyncWriter(&logs)).Level(zerolog.DebugLevel)
	proxy.Refuse(`"externalId":"100042"`)
	run, err := runDay(t, f, "day1")
	var failed *load.FailedError
	if !errors.As(err, &failed) || failed.Failed != 1 {
		t.Fatalf("load: %v; want one failed operation", err)
	}
	results, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
	if n := strings.Count(string(results), ",failed,"); n != 1 ||
		!strings.Contains(string(results), "user,100042,") || !strings.Contains(string(results), "400 invalidValue: refused by faultproxy") {
		t.Errorf("results.csv should list the refused create in the server's words:\n%s", results)
	}
	applied, _ := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "load", "state", "users.parquet"))
	if len(applied) != 210 {
		t.Errorf("applied state has %d users, want the 210 created", len(applied))
	}

	_, injected := proxy.Counts()
	for _, fault := range []string{"throttle", "unavailable", "error", "drop-before", "drop-after", "slow"} {
		if injected[fault] == 0 {
			t.Errorf("no %s fault was injected: this test proves nothing about it (%v)", fault, injected)
		}
	}
	proxy.Refuse("")
	proxy.ResetCounts()
	if err := Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if fwd, _ := proxy.Counts(); fwd["POST Users"] != 1 {
		t.Errorf("the rerun sent %d creates, want the 1 that failed (all: %v)", fwd["POST Users"], fwd)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)

	// The token is in no log line (retries and errors logged at debug
	// level included) and in no artifact.
	if !strings.Contains(logs.String(), "retrying") {
		t.Error("no retry was logged: the log check below proves little")
	}
	if strings.Contains(logs.String(), scimmytest.Token) {
		t.Error("the token is in the log")
	}
	filepath.WalkDir(f.env.Config.Data, func(p string, d os.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); d != nil && !d.IsDir() && bytes.Contains(b, []byte(scimmytest.Token)) {
			t.Errorf("the token is in %s", p)
		}
		return nil
	})
}

// TestLoadWithBulk loads day 1 through /Bulk (SCIMMY with bulk on), with
// one user already in the server under the same userName in another case:
// its create fails in the bulk answer with a 409 and is adopted on the
// one-request path. The server ends as the snapshots say.
func TestLoadWithBulk(t *testing.T) {
	srv, proxy := ownServer(t, "SCIMMY_BULK=1")
	c, _ := scim.New(srv.URL, scimmytest.Token, 5*time.Second)
	pre, err := c.Create(context.Background(), "Users", scim.Resource{
		"schemas": []string{schemas.SchemaUser}, "userName": strings.ToUpper("hedy.allen.0@example.com"), "name": map[string]any{"givenName": "H", "familyName": "A"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
		t.Fatalf("%v\n%s", err, b)
	}
	targetcheck.Check(t, scimmytest.Token, srv.URL, run.Dir)
	fwd, _ := proxy.Counts()
	if fwd["POST Bulk"] == 0 || fwd["POST Users"] != 1 {
		t.Errorf("requests %v: want the creates in /Bulk, and one POST /Users (the conflict's retry)", fwd)
	}
	results, _ := os.ReadFile(filepath.Join(run.Dir, "load", "results.csv"))
	if !strings.Contains(string(results), "user,100000,hedy.allen.0@example.com,create,adopted,200,"+pre["id"].(string)) {
		t.Errorf("the user already there was not adopted:\n%s", results)
	}
}

// ownServer starts a SCIMMY of the test's own with more environment
// (SCIMMY_BULK=1 …), behind a fault proxy that counts the requests.
func ownServer(t *testing.T, env ...string) (*scimmytest.Server, *faultproxy.Proxy) {
	t.Helper()
	srv := scimmytest.ForTest(t, env...)
	proxy, err := faultproxy.Start(srv.URL, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return srv, proxy
}
