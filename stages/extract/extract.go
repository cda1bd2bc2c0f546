// Package extract is the first stage: it takes one Condeco export set,
// copies it byte for byte into the run, decodes it (exportcsv) into typed
// rows, sets bad rows aside with the reason, and writes the raw snapshot.
package extract

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/arena"
	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/exportcsv"
	"github.com/condeco-sync/condeco-sync/internal/humancsv"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
)

// Input is what extract needs: the export set and the rules that apply to it.
type Input struct {
	// Set is the export set as the pipeline found it: a file whose size or
	// modification time differs once it is copied (it was written to since)
	// is refused.
	Set       ExportSet
	Delimiter rune // 0: detect
	// Columns renames the customer's headers (lower case) to the layout's,
	// by file (schemas.UsersFile, LocationsFile): exports.columns.
	Columns  map[string]map[string]string
	MinUsers int
	RunID    string // named in rejects.csv
}

// Output file names, relative to the stage directory.
const (
	UsersFile     = "users.parquet"
	LocationsFile = "locations.parquet"
	HoldsFile     = "holds.parquet"
	RejectsFile   = "rejects.csv"
	InputDir      = "input"
)

// Keys of the manifest's counts.
const (
	CountUsersRows     = "users_rows"     // rows in the users file
	CountUsersValid    = "users_valid"    // of them, rows that decoded and validated
	CountRejects       = "rejects"        // rows set aside (rejects.csv)
	CountLocationsRows = "locations_rows" // rows in the locations file
)

// TooFewUsersError refuses an export with fewer valid users than
// guards.min_users: a truncated or empty export must never look like
// everybody left.
type TooFewUsersError struct {
	File       string
	Valid, Min int
}

func (e *TooFewUsersError) Error() string {
	return fmt.Sprintf("%s: %d valid users, fewer than guards.min_users (%d): the export looks truncated; refused",
		e.File, e.Valid, e.Min)
}

// ChangedError says that an export file changed between the moment the
// run took it and the end of its copy: whoever writes the exports went on
// writing.
type ChangedError struct {
	File   string
	Copied int64 // bytes read
	Taken  int64 // bytes when the run took it
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s changed while it was being taken (%d bytes read, %d when the run took it, or modified since): it is still being written, try again once it is complete",
		e.File, e.Copied, e.Taken)
}

// Run extracts in.Set into dir. On error, the Result lists what was still
// written (rejects.csv when rows were read, so people can see why).
func Run(in Input, dir string) (stages.Result, error) {
	res := stages.Result{Counts: map[string]int64{}, Details: map[string]any{"export": in.Set.Stamp}}
	usersName, locsName := filepath.Base(in.Set.Users), filepath.Base(in.Set.Locations)

	var rejects []exportcsv.Reject
	unknown := map[string][]string{}

	// Locations first: they are small, and a broken locations file should
	// stop the run before the large users file is decoded.
	locKeys := newKeys(0)
	nLocs, err := parquetio.Write(filepath.Join(dir, LocationsFile), func(write func(schemas.RawLocation) error) error {
		emit := func(l schemas.RawLocation) error { locKeys.add(l.Identity(), l.Reject); return write(l) }
		return in.copyAndDecode(1, dir, &res, func(copied io.Reader) error {
			rr, err := exportcsv.NewReader(locsName, copied, in.Delimiter, schemas.LocationRequired, "locationid", in.Columns[schemas.LocationsFile])
			if err != nil {
				return err
			}
			unknown["locations"] = rr.UnknownColumns(reflect.TypeFor[schemas.LocationRecord]())
			err = exportcsv.Decode(rr, func(line int64, rec *schemas.LocationRecord) error {
				l, rj := exportcsv.CheckLocation(rr, line, rec)
				rejects = append(rejects, rj...)
				return emit(l)
			})
			if err != nil {
				return err
			}
			return emitDamaged(rr, &rejects, func(r exportcsv.Reject) error {
				return emit(schemas.RawLocation{Line: r.Line, LocationID: r.Key, Reject: r.Reason})
			})
		})
	})
	if err != nil {
		return res, err
	}
	locDups, holds := locKeys.holds(schemas.HoldLocation, "LocationID")
	rejects = append(rejects, duplicateRejects(locsName, locKeys.ids, locDups)...)
	res.Counts[CountLocationsRows] = nLocs
	res.Outputs = append(res.Outputs, stages.Output{Path: LocationsFile, Rows: nLocs})

	users := newKeys(rowsHint(in.Set.Users))
	var valid int
	nUsers, err := parquetio.WriteConcurrent(filepath.Join(dir, UsersFile), func(write func(schemas.RawUser) error) error {
		emit := func(u schemas.RawUser) error { users.add(u.Identity(), u.Reject); return write(u) }
		return in.copyAndDecode(0, dir, &res, func(copied io.Reader) error {
			rr, err := exportcsv.NewReader(usersName, copied, in.Delimiter, schemas.UserRequired, "userid", in.Columns[schemas.UsersFile])
			if err != nil {
				return err
			}
			unknown["users"] = rr.UnknownColumns(reflect.TypeFor[schemas.UserRecord]())
			err = exportcsv.Decode(rr, func(line int64, rec *schemas.UserRecord) error {
				u, rj := exportcsv.CheckUser(rr, line, rec)
				rejects = append(rejects, rj...)
				return emit(u)
			})
			if err != nil {
				return err
			}
			if err := emitDamaged(rr, &rejects, func(r exportcsv.Reject) error {
				return emit(schemas.RawUser{Line: r.Line, UserID: r.Key, Reject: r.Reason})
			}); err != nil {
				return err
			}
			dups, held := users.holds(schemas.HoldUser, "UserID")
			rejects = append(rejects, duplicateRejects(usersName, users.ids, dups)...)
			holds = append(holds, held...)
			rejected := map[string]bool{}
			for _, r := range rejects {
				if r.File == usersName {
					rejected[r.Key] = true
				}
			}
			for _, id := range users.ids {
				if !rejected[id.Key] {
					valid++
				}
			}
			if valid < in.MinUsers {
				return &TooFewUsersError{File: usersName, Valid: valid, Min: in.MinUsers}
			}
			return nil
		})
	})
	res.Counts[CountUsersRows] = nUsers
	res.Counts[CountUsersValid] = int64(valid)
	res.Counts[CountRejects] = int64(len(rejects))
	res.Details["unknown_columns"] = unknown
	if len(in.Columns[schemas.UsersFile])+len(in.Columns[schemas.LocationsFile]) > 0 {
		res.Details["columns"] = in.Columns // exports.columns, as the headers were read
	}
	if werr := writeRejects(filepath.Join(dir, RejectsFile), in.RunID, rejects); werr != nil {
		return res, werr
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: RejectsFile, Rows: int64(len(rejects))})
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: UsersFile, Rows: nUsers})
	nHolds, err := parquetio.WriteSlice(filepath.Join(dir, HoldsFile), holds)
	if err != nil {
		return res, err
	}
	res.Outputs = append(res.Outputs, stages.Output{Path: HoldsFile, Rows: nHolds})
	return res, nil
}

// keys collects what rule 9 looks at in each row written to a snapshot
// that has a key: its identity and, for a row set aside, why.
type keys struct {
	ids     []schemas.Identity
	rejects map[int]string // by index in ids
	text    arena.Strings  // the keys and userNames of ids
}

func newKeys(rows int) *keys {
	// Sized once: grown row by row, a million identities were copied a
	// dozen times over.
	return &keys{ids: make([]schemas.Identity, 0, rows), rejects: map[int]string{}}
}

func (k *keys) add(id schemas.Identity, reject string) {
	if id.Key == "" {
		return // rejected for that already; nothing to hold
	}
	// Copied: the strings share the memory of their whole row. Into an
	// arena, which holds them in 64 KB chunks rather than two small heap
	// objects a row (extract's peak on 1M users: 325 -> 300 MB).
	id.Key, id.UserName = k.text.String(id.Key), k.text.String(id.UserName)
	if reject != "" {
		k.rejects[len(k.ids)] = reject
	}
	k.ids = append(k.ids, id)
}

// holds is rule 9 for the rows of one file: the duplicates (by index in
// k.ids, for rejects.csv) and the held keys, one per key in the order of
// the file. The first row of a key with a reason stands for it, and a
// duplicate's reason comes before the row's own reject.
func (k *keys) holds(entity, keyName string) (dups map[int]string, held []schemas.Hold) {
	dups = schemas.Duplicates(k.ids, keyName)
	done := map[string]bool{}
	for i, id := range k.ids {
		reason := dups[i]
		if reason == "" {
			reason = k.rejects[i]
		}
		if reason == "" || done[id.Key] {
			continue
		}
		done[id.Key] = true
		held = append(held, schemas.Hold{Entity: entity, Key: id.Key, Line: id.Line, Reason: withLine(reason, id.Line)})
	}
	return dups, held
}

// withLine adds the source line to a hold's reason, unless the reason
// already lists the lines (duplicates do).
func withLine(reason string, line int64) string {
	if strings.Contains(reason, "(lines ") {
		return reason
	}
	return fmt.Sprintf("%s (line %d)", reason, line)
}

// copyAndDecode copies export file i of the set (0 users, 1 locations)
// into the run while decode reads the bytes as they are copied: what is
// decoded is exactly what is kept, and the file is read once. The copy is
// kept and listed in the outputs even when decoding fails, and the file, as
// it was read, in the inputs; a file that changed while it was read is
// refused before anything decode found.
func (in Input) copyAndDecode(i int, dir string, res *stages.Result, decode func(io.Reader) error) error {
	src := [2]string{in.Set.Users, in.Set.Locations}[i]
	name := filepath.Base(src)
	c, err := artifact.StartCopy(src, filepath.Join(dir, InputDir, name))
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	decodeErr := decode(c)
	sum, n, err := c.Finish()
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	// The users file first, then the locations file (which is read first).
	res.Inputs = slices.Insert(res.Inputs, min(i, len(res.Inputs)), artifact.File{Path: src, Bytes: n, SHA256: sum})
	res.Outputs = append(res.Outputs, stages.Output{Path: InputDir + "/" + name, SHA256: sum, Bytes: n})
	if n != in.Set.Bytes[i] || !in.Set.unchanged(i) {
		return &ChangedError{File: src, Copied: n, Taken: in.Set.Bytes[i]}
	}
	return decodeErr
}

// rowsHint guesses the rows of a CSV file from its size and the length of
// its first lines, a tenth over: a capacity, never a limit.
func rowsHint(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	lines := bytes.Count(head[:n], []byte{'\n'})
	if lines < 2 || int64(n) == st.Size() {
		return lines + 1
	}
	return int(min(st.Size()/int64(n/lines)*11/10, 50_000_000))
}

// emitDamaged adds the rows the reader set aside to the rejects and, where
// a key could be read, to the snapshot, so the key is held and not deleted.
func emitDamaged(rr *exportcsv.Reader, rejects *[]exportcsv.Reject, emit func(exportcsv.Reject) error) error {
	for _, r := range rr.Damaged() {
		*rejects = append(*rejects, r)
		if r.Key != "" {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func duplicateRejects(file string, ids []schemas.Identity, held map[int]string) []exportcsv.Reject {
	var out []exportcsv.Reject
	for i, reason := range held {
		out = append(out, exportcsv.Reject{File: file, Line: ids[i].Line, Key: ids[i].Key, Reason: reason})
	}
	return out
}

// writeRejects writes rejects.csv sorted by file, line and column.
func writeRejects(path, runID string, rejects []exportcsv.Reject) error {
	sort.SliceStable(rejects, func(i, j int) bool {
		a, b := rejects[i], rejects[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return artifact.Write(path, func(w io.Writer) error {
		cw, err := humancsv.New(w, runID, "file", "line", "column", "column_name", "key", "reason", "value")
		if err != nil {
			return err
		}
		for _, r := range rejects {
			col := ""
			if r.Column > 0 {
				col = strconv.Itoa(r.Column)
			}
			if err := cw.Write(r.File, strconv.FormatInt(r.Line, 10), col, r.ColumnName, r.Key, r.Reason, r.Value); err != nil {
				return err
			}
		}
		return cw.Flush()
	})
}
