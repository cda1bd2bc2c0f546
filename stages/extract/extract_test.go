package extract

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/exportcsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
)

const locsCSV = "LocationID,Name,Country,Active\nLON,London,GB,yes\nPAR,Paris,France,1\n"

const hdr = "UserID,UserName,FirstName,LastName,Email,Telephone,Country,AccessLevel,UserType,Active,Deleted\n"

// setup writes an export set into a fresh inbox and returns it with the stage directory.
func setup(t *testing.T, users []byte) (ExportSet, string) {
	t.Helper()
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	os.MkdirAll(inbox, 0o700)
	os.WriteFile(filepath.Join(inbox, "users_20261123.csv"), users, 0o600)
	os.WriteFile(filepath.Join(inbox, "locations_20261123.csv"), []byte(locsCSV), 0o600)
	sets, err := FindSets(inbox, "users_*.csv", "locations_*.csv")
	if err != nil || len(sets) != 1 {
		t.Fatalf("FindSets = %v, %v", sets, err)
	}
	return sets[0], filepath.Join(root, "extract")
}

type outcome struct {
	users   []schemas.RawUser
	rejects string
	err     error
	dir     string
}

func run(t *testing.T, users string, minUsers int) outcome {
	t.Helper()
	set, dir := setup(t, []byte(users))
	return runSet(t, set, dir, minUsers)
}

func runSet(t *testing.T, set ExportSet, dir string, minUsers int) outcome {
	t.Helper()
	_, err := Run(Input{Set: set, MinUsers: minUsers}, dir)
	o := outcome{err: err, dir: dir}
	if b, rerr := os.ReadFile(filepath.Join(dir, RejectsFile)); rerr == nil {
		o.rejects = string(b)
	}
	if _, serr := os.Stat(filepath.Join(dir, UsersFile)); serr == nil {
		users, rerr := parquetio.ReadAll[schemas.RawUser](filepath.Join(dir, UsersFile))
		if rerr != nil {
			t.Fatal(rerr)
		}
		o.users = users
	}
	return o
}

func (o outcome) user(t *testing.T, id string) schemas.RawUser {
	t.Helper()
	for _, u := range o.users {
		if u.UserID == id {
			return u
		}
	}
	t.Fatalf("user %s not in raw snapshot %+v", id, o.users)
	return schemas.RawUser{}
}

// fileErr checks that err refuses the file and names it with line and column.
func fileErr(t *testing.T, err error, wantPos, wantMsg string) {
	t.Helper()
	var fe *exportcsv.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want a FileError", err, err)
	}
	if !strings.HasPrefix(err.Error(), "users_20261123.csv:"+wantPos+": ") || !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("err = %q, want users_20261123.csv:%s: …%s…", err, wantPos, wantMsg)
	}
}

func noSnapshot(t *testing.T, o outcome) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(o.dir, UsersFile)); !os.IsNotExist(err) {
		t.Errorf("users.parquet written although the file was refused")
	}
}

const ada = "1,ada@example.com,Ada,Lovelace,ada@example.com,020 7946 0001,GB,User,Internal,true,false\n"
const bob = "2,bob,Bob,Babbage,bob@example.com,,GB,global admin,INTERNAL,yes,no\n"

func TestValidExport(t *testing.T) {
	o := run(t, hdr+ada+bob, 1)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if len(o.users) != 2 {
		t.Fatalf("got %d users", len(o.users))
	}
	b := o.user(t, "2")
	if b.Line != 3 || b.UserName != "bob" || b.AccessLevel != "Global Admin" || b.UserType != "Internal" || !b.Active || b.Deleted || b.Reject != "" {
		t.Errorf("bob = %+v", b)
	}
	if strings.Count(o.rejects, "\n") != 1 {
		t.Errorf("rejects.csv has rows: %q", o.rejects)
	}
}

func TestRefusedFiles(t *testing.T) {
	for _, tc := range []struct {
		name, users, pos, msg string
	}{
		{"empty file", "", "1:1", "file is empty"},
		{"only blank", "\n\n", "1:1", "file is empty"},
		{"missing required column", "UserID,UserName,FirstName,LastName\n1,a,b,c\n", "1:1", "missing required column Email"},
		{"missing several", "UserID,FirstName\n1,a\n", "1:1", "missing required column UserName, LastName, Email"},
		{"duplicate header", "UserID,UserName,FirstName,LastName,Email, userid \n", "1:6", `duplicate column "userid" (also column 1)`},
		{"unknown delimiter", "UserID:UserName:FirstName:LastName:Email\n1:a:b:c:d\n", "1:1", "cannot detect the delimiter"},
		{"unterminated quote", hdr + ada + "2,bob,\"Bob,Babbage,bob@example.com,,GB,,,,\n3,c@x.com,C,D,c@x.com,,,,,,\n", "4:29", `extraneous or missing " in quoted-field (the quoted field opened on line 3 is not closed as expected)`},
		{"quote then text", hdr + "1,\"ada\"x,Ada,L,ada@example.com,,,,,,\n", "2:7", `extraneous or missing "`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, tc.users, 1)
			fileErr(t, o.err, tc.pos, tc.msg)
			noSnapshot(t, o)
		})
	}
}

func TestHeaderOnlyIsTooFewUsers(t *testing.T) {
	o := run(t, hdr, 1)
	var tf *TooFewUsersError
	if !errors.As(o.err, &tf) || tf.Valid != 0 || tf.Min != 1 {
		t.Fatalf("err = %v, want TooFewUsersError", o.err)
	}
	if !strings.Contains(o.err.Error(), "guards.min_users") {
		t.Errorf("message %q does not name the guard", o.err)
	}
	noSnapshot(t, o)
	// With min_users 0 an empty export is accepted (the operator asked for it).
	if o := run(t, hdr, 0); o.err != nil || len(o.users) != 0 {
		t.Fatalf("min_users 0: %v, %d users", o.err, len(o.users))
	}
}

func TestAcceptedShapes(t *testing.T) {
	rows := hdr + ada + bob
	utf16le := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		return b
	}
	utf16be := func(s string) []byte {
		b := []byte{0xFE, 0xFF}
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.BigEndian.AppendUint16(b, u)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		users []byte
	}{
		{"CRLF", []byte(strings.ReplaceAll(rows, "\n", "\r\n"))},
		// Old Mac line endings, alone or mixed with others: a bare CR is a
		// line break, never a character that joins two rows (rule 9).
		{"CR", []byte(strings.ReplaceAll(rows, "\n", "\r"))},
		{"CR between LF rows", []byte(strings.Replace(rows, ada, strings.TrimSuffix(ada, "\n")+"\r", 1))},
		{"CR in UTF-16", utf16le(strings.ReplaceAll(rows, "\n", "\r"))},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, rows...)},
		{"UTF-16LE BOM", utf16le(rows)},
		{"UTF-16BE BOM", utf16be(rows)},
		{"semicolon", []byte(strings.ReplaceAll(rows, ",", ";"))},
		{"tab", []byte(strings.ReplaceAll(rows, ",", "\t"))},
		{"pipe", []byte(strings.ReplaceAll(rows, ",", "|"))},
		{"header case and spaces", []byte(strings.Replace(rows, "UserID,UserName", " userid ,USERNAME", 1))},
		{"no final newline", []byte(strings.TrimSuffix(rows, "\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, dir := setup(t, tc.users)
			o := runSet(t, set, dir, 1)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if len(o.users) != 2 {
				t.Fatalf("got %d users", len(o.users))
			}
			a := o.user(t, "1")
			if a.FirstName != "Ada" || a.Email != "ada@example.com" || a.Line != 2 || a.Telephone != "020 7946 0001" {
				t.Errorf("ada = %+v", a)
			}
			if b := o.user(t, "2"); b.AccessLevel != "Global Admin" || b.Line != 3 {
				t.Errorf("bob = %+v", b)
			}
		})
	}
}

func TestColumnOrderAndUnknownColumns(t *testing.T) {
	set, dir := setup(t, []byte("Email,Badge,LastName,FirstName,UserName,UserID\nada@example.com,77,Lovelace,Ada,ada,1\n"))
	res, err := Run(Input{Set: set, MinUsers: 1}, dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := parquetio.ReadAll[schemas.RawUser](filepath.Join(dir, UsersFile))
	if len(u) != 1 || u[0].FirstName != "Ada" || u[0].UserID != "1" || u[0].AccessLevel != "User" || u[0].UserType != "Internal" || !u[0].Active {
		t.Fatalf("users = %+v", u)
	}
	unk := res.Details["unknown_columns"].(map[string][]string)
	if len(unk["users"]) != 1 || unk["users"][0] != "Badge" || len(unk["locations"]) != 0 {
		t.Errorf("unknown columns = %v", unk)
	}
}

func TestEmbeddedNewlineAndBlankLines(t *testing.T) {
	users := hdr + "\n" + "1,ada@example.com,Ada,\"Love\nlace\",ada@example.com,,,,,,\n\n\n" + bob
	o := run(t, users, 1)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if a := o.user(t, "1"); a.LastName != "Love\nlace" || a.Line != 3 {
		t.Errorf("ada = %+v", a)
	}
	if b := o.user(t, "2"); b.Line != 7 {
		t.Errorf("bob on line %d, want 7", b.Line)
	}
}

// A 1 MB cell is read through (encoding/csv has no limit) and rejected: no
// Condeco value is that long. In an unknown column it is ignored.
func TestLargeField(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	o := run(t, "UserID,UserName,FirstName,LastName,Email,Department,Notes\n"+
		"1,ada@example.com,Ada,L,ada@example.com,"+big+",\n"+
		"2,b@example.com,B,B,b@example.com,Ops,"+big+"\n", 1)
	if o.err != nil {
		t.Fatal(o.err)
	}
	rejected(t, o, "2", "6", "Department is 1048576 bytes long; at most 4096 are accepted")
	// A cell too long for a required column is reported for its length
	// only, not also as empty once it is set aside.
	long := run(t, "UserID,UserName,FirstName,LastName,Email\n1,ada@example.com,"+strings.Repeat("A", 5000)+",L,ada@example.com\n2,b@example.com,B,B,b@example.com\n", 1)
	if long.err != nil {
		t.Fatal(long.err)
	}
	rejected(t, long, "2", "3", "FirstName is 5000 bytes long")
	if strings.Contains(long.rejects, "FirstName is empty") {
		t.Errorf("a 5,000-byte FirstName is also reported empty:\n%s", long.rejects)
	}
	if a := o.user(t, "1"); a.Reject == "" || len(a.Department) > exportcsv.MaxFieldBytes {
		t.Errorf("ada kept with her 1 MB department: reject %q, %d bytes", a.Reject, len(a.Department))
	}
	if b := o.user(t, "2"); b.Reject != "" || b.Department != "Ops" {
		t.Errorf("bob = %+v", b)
	}
}

// rejected checks that rejects.csv has a row for line with the column and reason.
func rejected(t *testing.T, o outcome, line, col, reason string) {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(o.rejects)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r[0] == "users_20261123.csv" && r[1] == line && r[2] == col && strings.Contains(r[5], reason) {
			return
		}
	}
	t.Errorf("no reject users_20261123.csv:%s:%s …%s in\n%s", line, col, reason, o.rejects)
}

func TestRejectedRows(t *testing.T) {
	for _, tc := range []struct {
		name, rows string
		line, col  string
		reason     string
		heldKey    string // key still in the raw snapshot, so it is held not deleted
	}{
		{"invalid UTF-8", "3,c@x.com,C\xff,D,c@x.com,,,,,,\n", "3", "3", "FirstName is not valid UTF-8 text", "3"},
		{"control character", "3,c@x.com,C\x07,D,c@x.com,,,,,,\n", "3", "3", "FirstName holds a control character (U+0007)", "3"},
		{"too many fields", "3,c@x.com,C,D,c@x.com,,,,,,,extra\n", "3", "1", "row has 12 fields, the header has 11", "3"},
		{"too few fields", "3,c@x.com,C\n", "3", "1", "row has 3 fields, the header has 11", "3"},
		{"stray quote", "3,c@x.com,C\"x,D,c@x.com,,,,,,\n", "3", "3", `stray " in an unquoted field (byte 12 of the line)`, "3"},
		{"invalid email", "3,c,C,D,not-an-email,,,,,,\n", "3", "5", `Email "not-an-email" is not a valid email address`, "3"},
		{"empty first name", "3,c@x.com,,D,c@x.com,,,,,,\n", "3", "3", "FirstName is empty", "3"},
		{"empty UserID", ",c@x.com,C,D,c@x.com,,,,,,\n", "3", "1", "UserID is empty", ""},
		{"bad boolean", "3,c@x.com,C,D,c@x.com,,,,,maybe,\n", "3", "10", `Active "maybe" is not a boolean`, "3"},
		{"bad access level", "3,c@x.com,C,D,c@x.com,,,Boss,,,\n", "3", "8", `AccessLevel "Boss" is not one of`, "3"},
		{"bad user type", "3,c@x.com,C,D,c@x.com,,,,Robot,,\n", "3", "9", `UserType "Robot" is not one of`, "3"},
		{"duplicate UserID", "1,c@x.com,C,D,c@x.com,,,,,,\n", "3", "", "duplicate UserID 1 (lines 2, 3)", "1"},
		{"userName differs only in case", "3,ADA@example.com,A,L,x@example.com,,,,,,\n", "3", "", "duplicate userName ADA@example.com (lines 2, 3)", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, hdr+ada+tc.rows+bob, 1)
			if o.err != nil {
				t.Fatal(o.err)
			}
			rejected(t, o, tc.line, tc.col, tc.reason)
			if tc.heldKey != "" {
				found := false
				for _, u := range o.users {
					found = found || u.UserID == tc.heldKey
				}
				if !found {
					t.Errorf("key %s missing from the raw snapshot: it would be deleted", tc.heldKey)
				}
			}
			// The rows around the bad one are intact, with their lines.
			if b := o.user(t, "2"); b.Line != 4 || b.Reject != "" {
				t.Errorf("bob = %+v", b)
			}
		})
	}
}

func TestVisitorInactiveDeletedAreKept(t *testing.T) {
	rows := hdr + ada +
		"3,v@x.com,V,V,v@x.com,,,,visitor,,\n" +
		"4,i@x.com,I,I,i@x.com,,,,,N,\n" +
		"5,d@x.com,D,D,d@x.com,,,,,,TRUE\n" +
		// A deleted user and a new one may share a userName: no hold.
		"6,ada@example.com,A,L,ada@example.com,,,,,,y\n"
	o := run(t, rows, 1)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if u := o.user(t, "3"); u.UserType != "Visitor" || u.Reject != "" {
		t.Errorf("visitor = %+v", u)
	}
	if u := o.user(t, "4"); u.Active || u.Reject != "" {
		t.Errorf("inactive = %+v", u)
	}
	if u := o.user(t, "5"); !u.Deleted || u.Reject != "" {
		t.Errorf("deleted = %+v", u)
	}
	if strings.Count(o.rejects, "\n") != 1 {
		t.Errorf("unexpected rejects:\n%s", o.rejects)
	}
}

func TestFindSets(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"users_20261122.csv", "locations_20261122.csv", "users_20261123.csv", "locations_20261124.csv", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	sets, err := FindSets(dir, "users_*.csv", "locations_*.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 || sets[0].Stamp != "20261122" {
		t.Fatalf("sets = %+v, want only the complete 20261122", sets)
	}
}

// A rejected locations row still claims its key, as a users row does: a
// second row with that key is a duplicate in rejects.csv too, as transform
// holds it.
func TestDuplicateLocationWithARejectedRow(t *testing.T) {
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	os.MkdirAll(inbox, 0o700)
	os.WriteFile(filepath.Join(inbox, "users_1.csv"), []byte(hdr+ada), 0o600)
	os.WriteFile(filepath.Join(inbox, "locations_1.csv"), []byte("LocationID,Name\nPAR,\nPAR,Paris\n"), 0o600)
	sets, _ := FindSets(inbox, "users_*.csv", "locations_*.csv")
	dir := filepath.Join(root, "extract")
	if _, err := Run(Input{Set: sets[0], MinUsers: 1}, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, RejectsFile))
	for _, want := range []string{"locations_1.csv,2,2,Name,PAR,Name is empty", "locations_1.csv,3,,,PAR,\"duplicate LocationID PAR (lines 2, 3)\""} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rejects.csv lacks %q:\n%s", want, b)
		}
	}
}

// TestCopiesAreTheFilesTaken: extract hashes the copies it decodes as it
// writes them, lists the export files as it read them among its inputs,
// and refuses a file that changed after the run took it.
func TestCopiesAreTheFilesTaken(t *testing.T) {
	set, dir := setup(t, []byte(hdr+ada+bob))
	sum, n, err := artifact.SHA256(set.Users)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Input{Set: set, MinUsers: 1}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var copied stages.Output
	for _, o := range res.Outputs {
		if strings.Contains(o.Path, "users") && strings.HasPrefix(o.Path, InputDir) {
			copied = o
		}
	}
	if want := InputDir + "/" + filepath.Base(set.Users); copied.Path != want || copied.SHA256 != sum || copied.Bytes != n {
		t.Errorf("the users copy is described as %+v; want %s, %d bytes, sha256 %s", copied, want, n, sum)
	}
	if got, _, _ := artifact.SHA256(filepath.Join(dir, copied.Path)); got != sum {
		t.Errorf("the copy's sha256 is %s, the export's %s", got, sum)
	}
	if want := (artifact.File{Path: set.Users, Bytes: n, SHA256: sum}); len(res.Inputs) != 2 || res.Inputs[0] != want || res.Inputs[1].Path != set.Locations {
		t.Errorf("inputs %+v; want %+v, then the locations file", res.Inputs, want)
	}

	// The export was written to after the run took it: once appended to
	// (its size), once rewritten in place (its modification time).
	for _, change := range []func(path string){
		func(path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(bob)
			f.Close()
		},
		func(path string) {
			os.WriteFile(path, []byte(hdr+bob+ada), 0o600)
			later := time.Now().Add(time.Minute)
			os.Chtimes(path, later, later)
		},
	} {
		set, dir = setup(t, []byte(hdr+ada+bob))
		change(set.Users)
		_, err = Run(Input{Set: set, MinUsers: 1}, dir)
		var changed *ChangedError
		if !errors.As(err, &changed) || changed.File != set.Users || !strings.Contains(err.Error(), "still being written") {
			t.Fatalf("err = %v, want a ChangedError naming %s", err, set.Users)
		}
		if _, err := os.Stat(filepath.Join(dir, UsersFile)); err == nil {
			t.Error("a snapshot was written from a file that changed")
		}
	}
}

// TestCopyKeptWhenDecodingFails: a file extract cannot decode is still
// copied whole into the run, so support can see what came in.
func TestCopyKeptWhenDecodingFails(t *testing.T) {
	export := []byte("UserID,FirstName\n1,Ada\n" + strings.Repeat("2,Bob\n", 100000))
	set, dir := setup(t, export)
	res, err := Run(Input{Set: set, MinUsers: 1}, dir)
	var fe *exportcsv.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FileError for the missing columns", err)
	}
	copied := filepath.Join(dir, InputDir, filepath.Base(set.Users))
	if kept, _ := os.ReadFile(copied); !bytes.Equal(kept, export) {
		t.Errorf("the copy has %d bytes, the export %d", len(kept), len(export))
	}
	listed := false
	for _, o := range res.Outputs {
		listed = listed || o.Path == InputDir+"/"+filepath.Base(set.Users) && o.Bytes == int64(len(export))
	}
	if !listed {
		t.Errorf("the copy is not among the outputs %+v", res.Outputs)
	}
}

// TestHolds: holds.parquet has one row per held key, the row that stands
// for it and why: a duplicate UserID (both rows, the first stands), a
// userName two users would get, a row set aside, and a damaged row whose
// key a good row also has (the good row is held too, and rejects.csv
// says so).
func TestHolds(t *testing.T) {
	users := hdr + ada + bob +
		"3,cy@example.com,Cy,One,cy@example.com,,GB,User,Internal,true,false\n" +
		"3,cy2@example.com,Cy,Two,cy2@example.com,,GB,User,Internal,true,false\n" + // line 5: UserID 3 again
		"4,ADA@example.com,Ad,Again,ad@example.com,,GB,User,Internal,true,false\n" + // line 6: ada's userName
		"5,eve,Eve,Bad,not-an-email,,GB,User,Internal,true,false\n" + // line 7: rejected
		"6,fay@example.com,Fay,Good,fay@example.com,,GB,User,Internal,true,false\n" +
		"6,too,few\n" // line 9: damaged, with the key of line 8
	o := run(t, users, 1)
	if o.err != nil {
		t.Fatal(o.err)
	}
	got, err := parquetio.ReadAll[schemas.Hold](filepath.Join(o.dir, HoldsFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Hold{
		{Entity: schemas.HoldUser, Key: "1", Line: 2, Reason: "duplicate userName ada@example.com (lines 2, 6)"},
		{Entity: schemas.HoldUser, Key: "3", Line: 4, Reason: "duplicate UserID 3 (lines 4, 5)"},
		{Entity: schemas.HoldUser, Key: "4", Line: 6, Reason: "duplicate userName ADA@example.com (lines 2, 6)"},
		{Entity: schemas.HoldUser, Key: "6", Line: 8, Reason: "duplicate UserID 6 (lines 8, 9)"},
	}
	var rejected *schemas.Hold
	for i := range got {
		if got[i].Key == "5" {
			h := got[i]
			rejected = &h
			got = slices.Delete(got, i, i+1)
			break
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holds:\n got %+v\nwant %+v", got, want)
	}
	if rejected == nil || rejected.Line != 7 || !strings.HasSuffix(rejected.Reason, "(line 7)") {
		t.Errorf("the rejected row 5 is held as %+v, want line 7 with its reason", rejected)
	}
	if !strings.Contains(o.rejects, `users_20261123.csv,8,,,6,"duplicate UserID 6 (lines 8, 9)"`) {
		t.Errorf("rejects.csv does not hold the good row that shares its key with a damaged one:\n%s", o.rejects)
	}
}
