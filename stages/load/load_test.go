package load

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
)

// A journal cut short by a crash loses only its torn last line; damage
// anywhere else is an error naming the line.
func TestReadJournal(t *testing.T) {
	dir := t.TempDir()
	good := `{"op":"user:create:1","entity":"user","key":"1","kind":"create","outcome":"done","scim_id":"a","load_attempt":1}` + "\n"
	torn := filepath.Join(dir, "torn.jsonl")
	os.WriteFile(torn, []byte(good+good[:40]), 0o600)
	es, err := readJournal(torn)
	if err != nil || len(es) != 1 || es[0].SCIMID != "a" {
		t.Errorf("torn journal: %v, %v", es, err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(good+"{oops\n"+good), 0o600)
	if _, err := readJournal(bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Errorf("damaged journal: %v, want an error naming line 2", err)
	}
	if es, err := readJournal(filepath.Join(dir, "none")); es != nil || err != nil {
		t.Errorf("missing journal: %v, %v", es, err)
	}
}

// A PATCH replaces what changed, removes what is now empty, and says
// nothing of fields with no SCIM attribute.
func TestUserPatch(t *testing.T) {
	u := &schemas.User{UserName: "a@example.com", GivenName: "A", FamilyName: "B", Email: "a@example.com",
		PhoneMobile: "+447911100999", Department: "Legal", Active: true}
	ops := userPatch(u, "givenName\nfamilyName\nworkPhone\nmobilePhone\ndepartment\ncostCenter\ncountry\nadmin")
	var got []string
	for _, op := range ops {
		got = append(got, op.Op+" "+op.Path)
	}
	want := "replace name, replace phoneNumbers, replace " + SchemaEnterprise + ":department, remove " + SchemaEnterprise + ":costCenter"
	if strings.Join(got, ", ") != want {
		t.Errorf("ops: %s\nwant: %s", strings.Join(got, ", "), want)
	}
	if ops := userPatch(u, "country\nuserType\nadmin\ndefaultLocation"); len(ops) != 0 {
		t.Errorf("fields without a SCIM attribute made a PATCH: %v", ops)
	}
}

// What is retried, and how long for.
func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err             error
		retry, throttle bool
		wait            time.Duration
	}{
		{&scim.Error{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second}, true, true, 3 * time.Second},
		{&scim.Error{Status: http.StatusServiceUnavailable}, true, true, throttleWait},
		{&scim.Error{Status: http.StatusTooManyRequests, RetryAfter: time.Hour}, true, true, retryAfterMax},
		{&scim.Error{Status: http.StatusBadGateway}, true, false, 0},
		{&scim.Error{Status: http.StatusBadRequest}, false, false, 0},
		{&scim.Error{Status: http.StatusConflict}, false, false, 0},
		{errors.New("POST /Users: connection reset by peer"), true, false, 0},
		{permanentf("group x is missing"), false, false, 0},
	} {
		retry, throttle, wait := retryable(tc.err)
		if retry != tc.retry || throttle != tc.throttle || wait != tc.wait {
			t.Errorf("retryable(%v) = %v %v %v, want %v %v %v", tc.err, retry, throttle, wait, tc.retry, tc.throttle, tc.wait)
		}
	}
	for n := 1; n < 10; n++ {
		if d := backoff(n); d < min(backoffBase<<(n-1), backoffMax)/2 || d > backoffMax {
			t.Errorf("backoff(%d) = %v", n, d)
		}
	}
}
