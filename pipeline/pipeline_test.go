package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/rs/zerolog"
)

const usersCSV = "UserID,UserName,FirstName,LastName,Email\n1,ada@example.com,Ada,L,ada@example.com\n2,bob@example.com,Bob,B,bob@example.com\n"
const locsCSV = "LocationID,Name\nLON,London\n"

// fixture is a config in a temp dir with an inbox and a fixed clock.
type fixture struct {
	t   *testing.T
	env Env
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "condeco-sync.yaml"), []byte("exports: {settle: 30s}\nguards: {min_users: 1}\n"+
		"scim: {max_rpm: 0}\n")) // the test servers have no throttle
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.Inbox, 0o700)
	f := &fixture{t: t, now: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	f.env = Env{Config: cfg, Now: func() time.Time { return f.now }, Log: zerolog.Nop()}
	return f
}

// drop writes an export set and ages it past exports.settle.
func (f *fixture) drop(stamp, users, locs string) {
	for name, body := range map[string]string{"users_" + stamp + ".csv": users, "locations_" + stamp + ".csv": locs} {
		p := filepath.Join(f.env.Config.Inbox, name)
		os.WriteFile(p, []byte(body), 0o600)
		old := f.now.Add(-time.Minute)
		os.Chtimes(p, old, old)
	}
}

func (f *fixture) extract() *Run {
	f.t.Helper()
	set, err := NextExport(f.env)
	if err != nil {
		f.t.Fatal(err)
	}
	run, err := Extract(f.env, set)
	if err != nil {
		f.t.Fatal(err)
	}
	return run
}

func TestRunIDsAndManifests(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	run := f.extract()
	if run.ID != "20261123T020000Z" {
		t.Errorf("run id %q", run.ID)
	}
	m, err := ReadManifest(run.Dir, "extract")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusOK || m.Attempt != 1 || m.RunID != run.ID || m.ConfigSHA256 != f.env.Config.SHA256 || m.Version == "" {
		t.Errorf("manifest = %+v", m)
	}
	if len(m.Inputs) != 2 || m.Inputs[0].SHA256 == "" || !filepath.IsAbs(m.Inputs[0].Path) {
		t.Errorf("inputs = %+v", m.Inputs)
	}
	users, ok := m.Output("extract/users.parquet")
	if !ok || users.Rows != 2 || users.Bytes == 0 {
		t.Errorf("users output = %+v", users)
	}
	copyOf, ok := m.Output("extract/input/users_20261123.csv")
	if !ok || copyOf.SHA256 != m.Inputs[0].SHA256 {
		t.Errorf("input copy %+v is not byte for byte %+v", copyOf, m.Inputs[0])
	}
	// Permissions: directories 0700, files 0600.
	for _, p := range []string{run.Dir, filepath.Join(run.Dir, "extract"), filepath.Join(run.Dir, "extract", "users.parquet"), filepath.Join(run.Dir, "run.json")} {
		fi, _ := os.Stat(p)
		want := artifact.FilePerm
		if fi.IsDir() {
			want = artifact.DirPerm
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	tm, _ := ReadManifest(run.Dir, "transform")
	if tm.Inputs[0] != users {
		t.Errorf("transform input %+v, want extract's output %+v", tm.Inputs[0], users)
	}
	// A second run in the same second gets -2; a processed set is not taken again.
	f.drop("20261124", usersCSV+"3,c@example.com,C,C,c@example.com\n", locsCSV)
	if r2 := f.extract(); r2.ID != "20261123T020000Z-2" {
		t.Errorf("second run id %q", r2.ID)
	}
	_, err = NextExport(f.env)
	var none *NoNewExportError
	if !errors.As(err, &none) || !strings.Contains(err.Error(), "no new export since") {
		t.Errorf("NextExport = %v, want no new export", err)
	}
	ids, _ := RunIDs(f.env.Config)
	if len(ids) != 2 {
		t.Errorf("runs = %v", ids)
	}
}

func TestSettle(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	os.Chtimes(filepath.Join(f.env.Config.Inbox, "users_20261123.csv"), f.now.Add(-10*time.Second), f.now.Add(-10*time.Second))
	_, err := NextExport(f.env)
	var none *NoNewExportError
	if !errors.As(err, &none) || !strings.Contains(err.Error(), "still being written") {
		t.Fatalf("NextExport = %v, want still being written", err)
	}
}

// TestSetWrittenToAfterItWasTaken: a writer that goes on after the set
// was taken fails the extract (still being written) with no snapshot; the
// next run takes the set again once it has settled, and lists it with the
// sha256 of what it read.
func TestSetWrittenToAfterItWasTaken(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	set, err := NextExport(f.env)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(f.env.Config.Inbox, "users_20261123.csv")
	whole := usersCSV + "3,c@example.com,C,C,c@example.com\n"
	os.WriteFile(usersPath, []byte(whole), 0o600)
	os.Chtimes(usersPath, f.now, f.now) // a minute after the set's last change
	run, err := Extract(f.env, set)
	var changed *extract.ChangedError
	if !errors.As(err, &changed) || !strings.Contains(err.Error(), "still being written") {
		t.Fatalf("Extract = %v, want a ChangedError", err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "extract", "users.parquet")); !os.IsNotExist(err) {
		t.Error("a snapshot was written from a file still being written")
	}
	if r, _, _ := Unfinished(f.env.Config); r != nil {
		t.Errorf("run %s is to be finished; a failed extract is taken again by a new run", r.ID)
	}

	// Settled again: the next run takes the set, as it now is.
	f.now = f.now.Add(time.Minute)
	again := f.extract()
	m, err := ReadManifest(again.Dir, StageExtract)
	if err != nil {
		t.Fatal(err)
	}
	sum, n, _ := artifact.SHA256(usersPath)
	if want := (artifact.File{Path: usersPath, Bytes: n, SHA256: sum}); len(m.Inputs) != 2 || m.Inputs[0] != want || m.Counts[extract.CountUsersRows] != 3 {
		t.Errorf("the second run read %+v (%d rows); want %+v, 3 rows", m.Inputs, m.Counts[extract.CountUsersRows], want)
	}
}

func TestFailedExtractLeavesNoSnapshot(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", "UserID,UserName,FirstName,LastName,Email\n", locsCSV)
	set, _ := NextExport(f.env)
	run, err := Extract(f.env, set)
	var se *StageError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a StageError", err)
	}
	m, _ := ReadManifest(run.Dir, "extract")
	if m.Status != StatusFailed || !strings.Contains(m.Error, "guards.min_users") {
		t.Errorf("manifest = %+v", m)
	}
	if _, ok := m.Output("extract/users.parquet"); ok {
		t.Error("failed extract lists users.parquet")
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "extract", "users.parquet")); !os.IsNotExist(err) {
		t.Error("failed extract left users.parquet")
	}
	if _, err := os.Stat(filepath.Join(f.env.Config.Data, "state")); !os.IsNotExist(err) {
		t.Error("failed extract wrote under state/")
	}
	if run.Manifest.Status != StatusFailed {
		t.Errorf("run status %q", run.Manifest.Status)
	}
	// Transform refuses to run on a failed extract.
	if err := Transform(f.env, run); err == nil || !strings.Contains(err.Error(), "extract ended failed") {
		t.Errorf("transform after failed extract: %v", err)
	}
}

func TestRerunKeepsAttemptsAndMarksLaterStale(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	run := f.extract()
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	// Rerun transform: the first attempt is kept.
	if err := Transform(f.env, run); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "transform.attempt-1", "manifest.json")); err != nil {
		t.Fatalf("first attempt not kept: %v", err)
	}
	m, _ := ReadManifest(run.Dir, "transform")
	if m.Attempt != 2 {
		t.Errorf("attempt %d, want 2", m.Attempt)
	}
	// Rerun extract in place: transform becomes stale.
	if _, err := run.begin("extract", f.now); err != nil {
		t.Fatal(err)
	}
	if st := run.Stage("transform").Status; st != StatusStale {
		t.Errorf("transform status after extract rerun = %q, want stale", st)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "extract.attempt-1")); err != nil {
		t.Errorf("extract attempt not kept: %v", err)
	}
}

func TestChangedInputIsRefusedAndVerifyFindsIt(t *testing.T) {
	f := newFixture(t)
	f.drop("20261123", usersCSV, locsCSV)
	run := f.extract()
	damage, n, err := Verify(run)
	if err != nil || len(damage) != 0 || n != 6 {
		t.Fatalf("Verify = %v, %d, %v", damage, n, err)
	}
	p := filepath.Join(run.Dir, "extract", "users.parquet")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o600)
	err = Transform(f.env, run)
	if !errors.Is(err, artifact.ErrMismatch) || !strings.Contains(err.Error(), p) {
		t.Fatalf("transform on a damaged input: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "transform")); !os.IsNotExist(err) {
		t.Error("transform started on a damaged input")
	}
	damage, _, _ = Verify(run)
	if len(damage) != 1 || damage[0].Path != "extract/users.parquet" {
		t.Errorf("Verify = %v", damage)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	unlock, err := Lock(dir, "run", now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, "transform", now)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.Command != "run" || le.Holder.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), "in use by condeco-sync run (pid") {
		t.Errorf("message %q", err)
	}
	unlock()
	unlock2, err := Lock(dir, "transform", now)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// A data folder that existed with a mode others can read (made by hand,
// or by an older version) is made 0700 when condeco-sync takes its lock;
// status says so where it still is not.
func TestDataFolderIsPrivate(t *testing.T) {
	f := newFixture(t)
	data := f.env.Config.Data
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.Chmod(data, 0o755))
	if !hasAct(Status(context.Background(), f.env), "data") {
		t.Error("status says nothing of a data folder others can read")
	}
	unlock, err := Lock(data, "run", f.now)
	must(t, err)
	unlock()
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o700 {
		t.Errorf("the data folder is %#o after the lock, want 0700", fi.Mode().Perm())
	}
	if hasAct(Status(context.Background(), f.env), "data") {
		t.Error("status still asks about the data folder")
	}
}

func hasAct(checks []Check, what string) bool {
	for _, c := range checks {
		if c.What == what && c.Level == Act {
			return true
		}
	}
	return false
}

func TestRunIDOrder(t *testing.T) {
	ids := []string{"20261123T020000Z-10", "20261124T020000Z", "20261123T020000Z-2", "20261123T020000Z"}
	sorted := append([]string(nil), ids...)
	slices.SortFunc(sorted, compareRunIDs)
	want := "20261123T020000Z 20261123T020000Z-2 20261123T020000Z-10 20261124T020000Z"
	if got := strings.Join(sorted, " "); got != want {
		t.Errorf("order = %s", got)
	}
}
