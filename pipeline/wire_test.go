package pipeline

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// The samples' two days under visitor-generic end with the same users on
// the SCIM 1.1 wire (the profile's default core schema, against the
// sandbox's strict 1.1 mode, which refuses a PatchOp and anything but
// application/json) as on SCIM 2.0; on 1.1 no PATCH is sent, and the
// work phone day 2 drops (user 100018's "ext. 4471") is gone from the
// target, not merged into what it had.
func TestGenericSamplesOnBothWires(t *testing.T) {
	var dropped string // the userName of 100018, whose work phone day 2 drops
	for _, u := range sampleRows(t, "day2", "users_*.csv") {
		if u["UserID"] == "100018" && u["Telephone"] == "ext. 4471" {
			dropped = strings.ToLower(u["UserName"])
		}
	}
	if dropped == "" {
		t.Fatal("the samples' day 2 no longer gives 100018 an unusable work phone")
	}
	final := map[string]map[string]map[string]any{}
	for _, wire := range []struct {
		name string
		opts sandbox.Options
		core string
	}{
		{"1.1", sandbox.Options{Generic: true, SCIM11: true}, ""},
		{"2.0", sandbox.Options{Generic: true}, schemas.SchemaUser},
	} {
		url := startGenericSandbox(t, wire.opts)
		proxy, err := faultproxy.Start(url, faultproxy.Faults{})
		if err != nil {
			t.Fatal(err)
		}
		defer proxy.Close()
		f := loadFixture(t, proxy.URL)
		f.env.Config.SCIM.Profile, f.env.Config.SCIM.CoreSchema = profile.VisitorGeneric, wire.core
		var users map[string]scim.Resource
		for _, day := range []string{"day1", "day2"} {
			if _, err := runDay(t, f, day); err != nil {
				t.Fatalf("SCIM %s, %s: %v", wire.name, day, err)
			}
			if day == "day1" {
				users = accountsByUserName(t, url)
				if phones := users[dropped]["phoneNumbers"]; !hasPhoneType(phones, "work") {
					t.Fatalf("SCIM %s: day 1 gave user 100018 no work phone (%v): the check below proves nothing", wire.name, phones)
				}
			}
		}
		users = accountsByUserName(t, url)
		if phones := users[dropped]["phoneNumbers"]; hasPhoneType(phones, "work") {
			t.Errorf("SCIM %s: user 100018 still has a work phone after day 2 dropped it: %v", wire.name, phones)
		}
		fwd, _ := proxy.Counts()
		if wire.name == "1.1" && (fwd["PATCH Users"] != 0 || fwd["PUT Users"] == 0) {
			t.Errorf("SCIM 1.1: %d PATCHes and %d PUTs reached the server: want updates as PUTs only", fwd["PATCH Users"], fwd["PUT Users"])
		}
		final[wire.name] = map[string]map[string]any{}
		for name, r := range users {
			kept := map[string]any{}
			for _, attr := range []string{"userName", "name", "emails", "phoneNumbers", "addresses", "title", "preferredLanguage", "active"} {
				kept[attr] = r[attr]
			}
			final[wire.name][name] = kept
		}
	}
	if len(final["1.1"]) < 200 {
		t.Fatalf("only %d users on the 1.1 wire", len(final["1.1"]))
	}
	for name, want := range final["2.0"] {
		if got := final["1.1"][name]; !reflect.DeepEqual(got, want) {
			t.Errorf("user %s on SCIM 1.1: %v\non SCIM 2.0: %v", name, got, want)
		}
	}
	if len(final["1.1"]) != len(final["2.0"]) {
		t.Errorf("%d users on SCIM 1.1, %d on SCIM 2.0", len(final["1.1"]), len(final["2.0"]))
	}
}

func hasPhoneType(phones any, typ string) bool {
	list, _ := phones.([]any)
	for _, p := range list {
		if m, _ := p.(map[string]any); m["type"] == typ {
			return true
		}
	}
	return false
}

// accountsByUserName reads the target's users by lower-cased userName.
func accountsByUserName(t *testing.T, url string) map[string]scim.Resource {
	t.Helper()
	return targetcheck.ByUserName(accounts(t, url))
}

// A page that reflects the credential across the place where the client
// cuts an answer short (80 bytes of a 2xx that is not SCIM, 200 of an
// error page) leaves no part of it in any artifact: the token is scrubbed
// from the whole answer before it is cut.
func TestLoadKeepsATokenAcrossTheCutOut(t *testing.T) {
	_, proxy := lyingProxy(t)
	// "Bearer " and the token start at byte 61 of the 2xx and 181 of the
	// error page: the cuts at 80 and 200 fall inside the token.
	proxy.Lie(faultproxy.Rule{Match: "POST Users", Status: http.StatusOK, ContentType: "text/html", Body: strings.Repeat("a", 61) + "{auth} signed in"},
		faultproxy.Rule{Match: "POST Groups", Status: http.StatusBadGateway, ContentType: "text/html", Body: strings.Repeat("b", 181) + "{auth} failed"})
	f := loadFixture(t, proxy.URL)
	run, err := runDay(t, f, "day1")
	if err == nil {
		t.Fatal("the load succeeded against a server that answers HTML")
	}
	results := resultsCSV(t, run)
	if !strings.Contains(results, "aaaaaaaa") {
		t.Fatalf("results.csv does not quote the answers, so the check below proves nothing:\n%s", results[:min(len(results), 2000)])
	}
	tok := scimmytest.Token
	filepath.WalkDir(f.env.Config.Data, func(p string, d os.DirEntry, err error) error {
		if d == nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for i := 0; i+8 <= len(tok); i++ {
			if bytes.Contains(b, []byte(tok[i:i+8])) {
				t.Errorf("%s holds %q, a part of the token", p, tok[i:i+8])
				break
			}
		}
		return nil
	})
}

// A server that ignores startIndex and promises a billion users is asked
// a handful of times, not for ever: the listing stops with a clear error,
// and the load with it.
func TestLoadStopsAnEndlessListing(t *testing.T) {
	_, proxy := lyingProxy(t)
	proxy.Lie(faultproxy.Rule{Match: "GET Users", Status: http.StatusOK, ContentType: "application/scim+json",
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1000000000,"itemsPerPage":1,` +
			`"Resources":[{"id":"a1","userName":"someone@example.com"}]}`})
	f := loadFixture(t, proxy.URL)
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = runDay(t, f, "day1")
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the load still lists after a minute")
	}
	if err == nil || !strings.Contains(err.Error(), "does not make progress") {
		t.Fatalf("load: %v; want the listing stopped", err)
	}
	if _, injected := proxy.Counts(); injected["lie"] >= 100 {
		t.Errorf("the listing asked %d times", injected["lie"])
	} else {
		t.Logf("stopped after %d pages: %v", injected["lie"], err)
	}
}
