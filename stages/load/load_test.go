package load

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
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
	u := &schemas.Change{UserName: "a@example.com", GivenName: "A", FamilyName: "B", Email: "a@example.com",
		PhoneMobile: "+447911100999", Department: "Legal", Active: true}
	u.Changed = fields("givenName", "familyName", "workPhone", "mobilePhone", "department", "costCenter", "country", "admin")
	ops := userPatch(u, profile.Must(profile.SCIM2))
	var got []string
	for _, op := range ops {
		got = append(got, op.Op+" "+op.Path)
	}
	want := "replace name, replace phoneNumbers, replace " + schemas.SchemaEnterprise + ":department, remove " + schemas.SchemaEnterprise + ":costCenter"
	if strings.Join(got, ", ") != want {
		t.Errorf("ops: %s\nwant: %s", strings.Join(got, ", "), want)
	}
	u.Changed = fields("country", "userType", "admin", "defaultLocation")
	if ops := userPatch(u, profile.Must(profile.SCIM2)); len(ops) != 0 {
		t.Errorf("fields without a SCIM attribute made a PATCH: %v", ops)
	}
}

// fields is the set of the named user fields.
func fields(names ...string) schemas.FieldSet {
	var s schemas.FieldSet
	for _, n := range names {
		i := schemas.FieldIndex(schemas.UserFields, n)
		if i < 0 {
			panic("no field " + n)
		}
		s = s.With(i)
	}
	return s
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

// The visitor profile's locations attribute after a change: granted
// locations join as role user, admin rights move as the plan decided
// (taken back at LON, given at MAN), and what a person granted by hand
// (PAR as admin, HQ) stays as it is (rule 5).
func TestVisitorAccess(t *testing.T) {
	l := &loader{locations: []schemas.Change{{Entity: schemas.EntityLocation, Key: "BER", Name: "Berlin"}},
		baseLocs: map[string]*schemas.Location{"LON": {Name: "London"}, "MAN": {Name: "Manchester"}}}
	v := &visitor{extension: schemas.DefaultExtension}
	current := []any{
		map[string]any{"value": "LON", "role": "admin"},
		map[string]any{"value": "PAR", "role": "admin"},
		map[string]any{"value": "HQ", "role": "user"},
	}
	got := v.access(l, current, &schemas.Change{Key: "1", Grant: "BER", AdminRevoke: "LON", AdminGrant: "MAN", Admin: true, DefaultLocation: "MAN"})
	var roles []string
	for _, e := range got {
		m := e.(map[string]any)
		roles = append(roles, m["value"].(string)+":"+m["role"].(string))
	}
	want := "LON:user PAR:admin HQ:user BER:user MAN:admin"
	if strings.Join(roles, " ") != want {
		t.Errorf("locations %v, want %s", roles, want)
	}

	// The visitor profile's primary work email is the userName; a
	// different Condeco email goes along as "other", and a new userName
	// moves the email with it.
	u := &schemas.Change{UserName: "ada@example.com", Email: "ada.lovelace@example.com", Changed: fields("userName")}
	ops := userPatch(u, profile.Must(profile.Visitor))
	if len(ops) != 2 || ops[1].Path != "emails" {
		t.Fatalf("userName change in the visitor profile: %+v, want userName and emails replaced", ops)
	}
	emails := ops[1].Value.([]any)
	if len(emails) != 2 || emails[0].(map[string]any)["value"] != "ada@example.com" || emails[1].(map[string]any)["type"] != "other" {
		t.Errorf("emails %v", emails)
	}
}

// A journal that cannot be written (a full disk) stops the load before its
// next request: an operation it cannot record must not be sent, or a
// resume would not know it was done.
func TestJournalFailureStopsTheLoad(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here:", err)
	}
	log := zerolog.Nop()
	l := &loader{in: Input{Concurrency: 2, Log: log}, send: newSender(0, log), results: newResultStore(0), groupIDs: map[string]string{}}
	l.journal = startJournal(full)
	l.prog = newProgress(log, nil, 100)
	defer l.prog.stop()
	var sent atomic.Int32
	_, err = l.workers(context.Background(), func(submit func(task) error) error {
		for i := range 100 {
			key := strconv.Itoa(i)
			if err := submit(task{op: opID(schemas.EntityUser, schemas.OpCreate, key), create: true,
				run: func(context.Context, bool) (string, string, error) {
					sent.Add(1)
					time.Sleep(5 * time.Millisecond)
					return OutcomeDone, "id-" + key, nil
				}}); err != nil {
				return err
			}
		}
		return nil
	})
	var stopped *StoppedError
	if !errors.As(err, &stopped) || !strings.Contains(err.Error(), "journal.jsonl: write /dev/full: no space left on device") {
		t.Fatalf("workers = %v, want a stop naming the journal", err)
	}
	if n := sent.Load(); n > 10 {
		t.Errorf("%d operations were sent after the journal broke, want the few in flight", n)
	}
	if err := l.journal.close(); err == nil {
		t.Error("close reports no error")
	}
}
