package pipeline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// take extracts the next export set and returns its stamp, or "" with
// the reason when there is none.
func (f *fixture) take() (stamp, why string) {
	f.t.Helper()
	exp, err := NextExport(f.env)
	var none *NoNewExportError
	if errors.As(err, &none) {
		return "", none.Why
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := Extract(f.env, exp); err != nil {
		f.t.Fatal(err)
	}
	return exp.Set.Stamp, ""
}

// A set is known by its stamp: the same content under a new stamp (a
// revert in Condeco, A → B → A) is a new day, and is taken.
func TestIdenticalContentIsANewDay(t *testing.T) {
	f := newFixture(t)
	b := usersCSV + "3,c@example.com,C,C,c@example.com\n"
	for _, day := range []struct{ stamp, users string }{{"20261123", usersCSV}, {"20261124", b}, {"20261125", usersCSV}} {
		f.drop(day.stamp, day.users, locsCSV)
		if got, why := f.take(); got != day.stamp {
			t.Fatalf("took %q (%s), want %s", got, why, day.stamp)
		}
		f.now = f.now.Add(24 * time.Hour)
	}
	if got, why := f.take(); got != "" || !strings.Contains(why, "no new export since") || !strings.Contains(why, "set 20261125 was taken by run") {
		t.Errorf("took %q (%s), want nothing new naming set 20261125", got, why)
	}
}

// Stamps are dates: a future one is not taken (and does not block the
// ones after it), a dashed one orders by its date, an older set dropped
// late is never taken, and each is reported with its reason.
func TestStampsAreDates(t *testing.T) {
	f := newFixture(t)
	f.now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	f.env.Log = zerolog.New(&logs)
	f.drop("29991231", usersCSV, locsCSV)
	f.drop("20261123", usersCSV, locsCSV)
	if got, why := f.take(); got != "20261123" {
		t.Fatalf("took %q (%s), want 20261123", got, why)
	}
	if !strings.Contains(logs.String(), "set 29991231 is not taken: its stamp is in the future") {
		t.Errorf("the future set is not reported:\n%s", logs.String())
	}
	f.drop("2026-11-24", usersCSV, locsCSV)
	if got, why := f.take(); got != "2026-11-24" {
		t.Fatalf("took %q (%s), want 2026-11-24 (after 20261123 by date)", got, why)
	}
	f.drop("20261120", usersCSV, locsCSV)
	f.drop("20261125", usersCSV, locsCSV)
	f.drop("20261126", usersCSV, locsCSV)
	logs.Reset()
	if got, why := f.take(); got != "20261126" {
		t.Fatalf("took %q (%s), want 20261126", got, why)
	}
	for _, want := range []string{
		"set 20261120 is never taken: it is older than set 2026-11-24",
		"set 20261125 is skipped: set 20261126 is newer",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	f.drop("latest", usersCSV, locsCSV)
	logs.Reset()
	if got, _ := f.take(); got != "" || !strings.Contains(logs.String(), "set latest is never taken: its stamp is not a date") {
		t.Errorf("took %q; log:\n%s", got, logs.String())
	}
}

// A users file whose locations file has not come is reported, and named,
// once it is overdue.
func TestIncompleteSetIsReported(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.env.Log = zerolog.New(&logs)
	p := filepath.Join(f.env.Config.Inbox, "users_20261123.csv")
	os.WriteFile(p, []byte(usersCSV), 0o600)
	old := f.now.Add(-time.Hour)
	os.Chtimes(p, old, old)
	if got, why := f.take(); got != "" || !strings.Contains(why, "no complete export set") {
		t.Errorf("took %q (%s)", got, why)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "incomplete export set: users_20261123.csv has no locations_20261123.csv") {
		t.Errorf("no warning naming the files:\n%s", logs.String())
	}
}

// exports.settle cannot go below a floor: a file changed a moment ago is
// still being written, even with settle: 0s.
func TestSettleHasAFloor(t *testing.T) {
	f := newFixture(t)
	f.env.Config.Exports.Settle = 0
	f.drop("20261123", usersCSV, locsCSV)
	p := filepath.Join(f.env.Config.Inbox, "users_20261123.csv")
	os.Chtimes(p, f.now.Add(-time.Second), f.now.Add(-time.Second))
	if got, why := f.take(); got != "" || !strings.Contains(why, "still being written") {
		t.Errorf("took %q (%s), want a file changed 1 s ago left alone", got, why)
	}
	os.Chtimes(p, f.now.Add(-3*time.Second), f.now.Add(-3*time.Second))
	if got, why := f.take(); got != "20261123" {
		t.Errorf("took %q (%s) once settled", got, why)
	}
}
