package pipeline

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// applyAll plays load's part until load exists: it applies every operation
// of run's change set as if the target accepted it, writes the applied
// state into load/state/ and makes it the baseline. (Creates only: the
// initial synchronization is all this test needs.)
func applyAll(t *testing.T, env Env, run *Run) {
	t.Helper()
	changes, err := parquetio.ReadAll[schemas.Change](filepath.Join(run.Dir, "diff", "changes.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	users, _ := parquetio.ReadAll[schemas.User](filepath.Join(run.Dir, "transform", "users.parquet"))
	locs, _ := parquetio.ReadAll[schemas.Location](filepath.Join(run.Dir, "transform", "locations.parquet"))
	byKey := map[string]schemas.User{}
	for _, u := range users {
		byKey[u.UserID] = u
	}
	var appliedUsers []schemas.User
	var appliedLocs []schemas.Location
	for _, c := range changes {
		if c.Op != schemas.OpCreate {
			continue
		}
		switch c.Entity {
		case schemas.EntityUser:
			u := byKey[c.Key]
			u.SCIMID, u.Granted, u.SendInvitation = "scim-"+c.Key, c.Grant, false
			appliedUsers = append(appliedUsers, u)
		case schemas.EntityLocation:
			for _, l := range locs {
				if l.LocationID == c.Key {
					l.SCIMID = "scim-" + c.Key
					appliedLocs = append(appliedLocs, l)
				}
			}
		}
	}
	if _, err := parquetio.WriteSlice(filepath.Join(run.Dir, "load", "state", "users.parquet"), appliedUsers); err != nil {
		t.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(filepath.Join(run.Dir, "load", "state", "locations.parquet"), appliedLocs); err != nil {
		t.Fatal(err)
	}
	if _, err := SetBaseline(env.Config, run, env.Now()); err != nil {
		t.Fatal(err)
	}
}

func copySample(t *testing.T, f *fixture, day string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "samples", day, "*.csv"))
	for _, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(f.env.Config.Inbox, filepath.Base(src))
		os.WriteFile(dst, b, 0o600)
		old := f.now.Add(-time.Hour)
		os.Chtimes(dst, old, old)
	}
}

// samplesDay1 runs the samples' day 1 through diff and applies it.
func samplesDay1(t *testing.T, f *fixture) *Run {
	t.Helper()
	copySample(t, f, "day1")
	day1 := f.extract()
	if err := Transform(f.env, day1); err != nil {
		t.Fatal(err)
	}
	if err := Diff(f.env, day1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Approved(day1); !ok {
		t.Error("an ok diff needs no approval")
	}
	applyAll(t, f.env, day1)
	return day1
}

// TestSamplesDay1ToDay2 is the plan people read for the samples' second
// day, against the state the first day applied. Golden files:
// go test ./pipeline -run TestSamplesDay1ToDay2 -update
func TestSamplesDay1ToDay2(t *testing.T) {
	f := newFixture(t)
	f.env.Config.Guards.MinUsers = 100
	samplesDay1(t, f)

	f.now = f.now.Add(24 * time.Hour)
	copySample(t, f, "day2")
	day2 := f.extract()
	if err := Transform(f.env, day2); err != nil {
		t.Fatal(err)
	}
	if err := Diff(f.env, day2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"summary.md", "changes.csv"} {
		got, err := os.ReadFile(filepath.Join(day2.Dir, "diff", name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", "day2-"+name)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			os.WriteFile(golden, got, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s (run with -update after checking the change):\n%s", name, golden, got)
		}
	}

	// A rerun of diff on day 2 compares against the same baseline even after
	// the baseline moved on.
	applyAll(t, f.env, day2)
	if err := Diff(f.env, day2); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(day2.Dir, "diff", "summary.md"))
	first, _ := os.ReadFile(filepath.Join(day2.Dir, "diff.attempt-1", "summary.md"))
	if string(again) != string(first) {
		t.Error("rerun of diff used another baseline")
	}
}

// A truncated export halts the run at diff; approval records who and why,
// and only then may load go on.
func TestGuardHaltsAndApprovalReleases(t *testing.T) {
	f := newFixture(t)
	f.env.Config.Guards.MinUsers = 1
	day1 := samplesDay1(t, f)

	f.now = f.now.Add(24 * time.Hour)
	f.drop("20261124", "UserID,UserName,FirstName,LastName,Email\n100000,hedy.allen.0@example.com,Hedy,Allen,hedy.allen.0@example.com\n",
		"LocationID,Name\nLON,London\n")
	day2 := f.extract()
	if err := Transform(f.env, day2); err != nil {
		t.Fatal(err)
	}
	err := Diff(f.env, day2)
	var halt *stages.HaltError
	if !errors.As(err, &halt) || !strings.Contains(err.Error(), "diff halted: the mass-deletion guard: 210 of 211 users") {
		t.Fatalf("Diff = %v, want a halt", err)
	}
	m, _ := ReadManifest(day2.Dir, "diff")
	if m.Status != StatusHalted || day2.Manifest.Status != StatusHalted {
		t.Errorf("diff %s, run %s; want halted", m.Status, day2.Manifest.Status)
	}
	if ok, _ := Approved(day2); ok {
		t.Error("a halted run is approved without approval")
	}
	if err := Approve(f.env, day2, "ops", ""); err == nil {
		t.Error("approval without a reason")
	}
	if err := Approve(f.env, day2, "ops", "office closed, everyone moved to a new tenant"); err != nil {
		t.Fatal(err)
	}
	reopened, _ := OpenRun(f.env.Config, day2.ID)
	if ok, _ := Approved(reopened); !ok || reopened.Manifest.Approvals[0].By != "ops" {
		t.Errorf("approval not recorded: %+v", reopened.Manifest.Approvals)
	}
	// A new diff attempt needs a new approval.
	if err := Diff(f.env, reopened); !errors.As(err, &halt) {
		t.Fatalf("second diff = %v, want a halt again", err)
	}
	if ok, _ := Approved(reopened); ok {
		t.Error("an approval of attempt 1 released attempt 2")
	}
	if err := Approve(f.env, day1, "ops", "x"); err == nil || !strings.Contains(err.Error(), "not halted") {
		t.Errorf("approving an ok run: %v", err)
	}
}

// Day 2's transform reuses the phones of the baseline's run (day 1), after
// checking that file's sha256; its files are those of a transform that
// parses every number (the golden plan above is made from them). A day 1
// file changed since it was written is not trusted: the transform parses
// everything, says why in its manifest, and writes the same files.
func TestTransformReusesTheBaselineRun(t *testing.T) {
	f := newFixture(t)
	f.env.Config.Guards.MinUsers = 100
	day1 := samplesDay1(t, f)
	f.now = f.now.Add(24 * time.Hour)
	copySample(t, f, "day2")
	day2 := f.extract()
	must(t, Transform(f.env, day2))
	reuse := func() map[string]any {
		m, err := ReadManifest(day2.Dir, StageTransform)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := m.Details["reuse"].(map[string]any)
		return r
	}
	if r := reuse(); r["from_run"] != day1.ID || r["phones_reused"].(float64) < 150 {
		t.Errorf("day 2's transform reused %v, want most phones from run %s", r, day1.ID)
	}
	first, err := os.ReadFile(filepath.Join(day2.Dir, "transform", "users.parquet"))
	if err != nil {
		t.Fatal(err)
	}

	// Damage day 1's desired state: one byte of its footer.
	p := filepath.Join(day1.Dir, "transform", "users.parquet")
	b, _ := os.ReadFile(p)
	b[len(b)-9] ^= 0xff
	must(t, os.WriteFile(p, b, 0o600))
	must(t, Transform(f.env, day2))
	if r := reuse(); r["from_run"] != nil || !strings.Contains(fmt.Sprint(r["full"]), "refusing to read it") || r["phones_reused"].(float64) != 0 {
		t.Errorf("with day 1's file damaged, day 2's transform reused %v, want none and the reason", r)
	}
	again, _ := os.ReadFile(filepath.Join(day2.Dir, "transform", "users.parquet"))
	if !bytes.Equal(first, again) {
		t.Error("the full transform wrote another users.parquet than the incremental one")
	}
}
