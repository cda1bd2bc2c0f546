package pipeline

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/diff"
)

// Chapter is what one run did with one user, stage by stage, in words.
type Chapter struct {
	Run, Export string
	Lines       []string
}

// History tells one user's story across the kept runs, oldest first: who
// names the user by Condeco UserID, or by userName or email in any case
// (matched in each run's export, so a user renamed since is followed by
// its UserID). Each run the user appears in gives a chapter: the export
// row (line, AccessLevel, active, deleted), a reject or warning and its
// reason, the desired state with the Condeco value behind each derived
// field (the AccessLevel behind admin), the plan's change with each field's
// old and new value and why, and what the server answered (outcome, HTTP
// status, SCIM id, error). Every file is read through its manifest, its
// sha256 checked; a run whose files are missing or damaged says so.
func History(env Env, who string) ([]Chapter, error) {
	ids, err := RunIDs(env.Config)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	if !strings.Contains(who, "@") {
		keys[who] = true
	} else { // the UserIDs that have had this userName or email in any run
		for _, id := range ids {
			if run, err := OpenRun(env.Config, id); err == nil {
				f, err := verified(run, ExtractUsers)
				if err != nil || f == "" {
					continue
				}
				// Three columns of every row: the userName and email to match.
				parquetio.Read(f, []string{"user_id", "user_name", "email"}, func(batch []schemas.RawUser) error {
					for _, u := range batch {
						if strings.EqualFold(u.UserName, who) || strings.EqualFold(u.Email, who) {
							keys[u.UserID] = true
						}
					}
					return nil
				})
			}
		}
	}
	var out []Chapter
	for _, id := range ids {
		run, err := OpenRun(env.Config, id)
		if err != nil {
			continue
		}
		// A provision run is the story of its one user: of anyone else
		// it planned nothing, and the next daily run plans what it would.
		if p := run.Manifest.Provision; p != "" && !keys[p] {
			continue
		}
		ch := Chapter{Run: id, Export: run.Manifest.Export}
		// Every line names its UserID: an email found under two UserIDs
		// (reused, or handed over) tells two stories side by side.
		say := func(key, format string, a ...any) {
			ch.Lines = append(ch.Lines, "UserID "+key+": "+fmt.Sprintf(format, a...))
		}
		if p := run.Manifest.Provision; p != "" {
			if run.Stage(StageLoad).Status == stages.ModeDryRun {
				say(p, "provision --dry-run: this run planned this user's change alone and sent nothing")
			} else {
				say(p, "provisioned on demand: this run planned and sent this user's change alone")
			}
		}
		all := strings.Join(slices.Sorted(maps.Keys(keys)), ", ")
		raw, err := rowsOf[schemas.RawUser](run, ExtractUsers, "user_id", keys)
		if err != nil {
			say(all, "extract: %v", err)
		}
		for _, u := range raw {
			say(u.UserID, "export: %s line %d: UserID %s, UserName %s, Email %s, AccessLevel %s, active %v, deleted %v",
				run.Manifest.Export, u.Line, u.UserID, u.UserName, u.Email, u.AccessLevel, u.Active, u.Deleted)
		}
		for _, r := range peopleRows(run, ExtractRejects, 4, keys) {
			say(r[4], "rejected: %s line %s column %s (%s): %s", r[0], r[1], r[2], r[3], r[5])
		}
		desired, err := rowsOf[schemas.User](run, TransformUsers, "user_id", keys)
		if err != nil && len(raw) > 0 {
			say(all, "transform: %v", err)
		}
		for _, u := range desired {
			access := ""
			for _, r := range raw {
				if r.UserID == u.UserID {
					access = r.AccessLevel
				}
			}
			admin := "admin false"
			switch {
			case u.Admin:
				admin = fmt.Sprintf("admin at %s (AccessLevel %s is in access.admin_access_levels)", u.DefaultLocation, access)
			case u.HomeAdmin != "":
				admin = fmt.Sprintf("admin at %s, the home location (AccessLevel %s is in access.home_admin_levels)", u.HomeAdmin, access)
			}
			state := fmt.Sprintf("desired: userName %s, active %v, %s, default location %s", u.UserName, u.Active, admin, u.DefaultLocation)
			if u.Held {
				state += ", held: " + u.HoldReason
			}
			say(u.UserID, "%s", state)
		}
		for _, r := range peopleRows(run, TransformWarnings, 1, keys) {
			say(r[1], "warning: %s %q: %s", r[3], r[4], r[5])
		}
		changes, err := rowsOf[schemas.Change](run, DiffChanges, "key", keys)
		if err != nil && len(desired) > 0 {
			say(all, "diff: %v", err)
		}
		for _, c := range changes {
			if c.Entity != schemas.EntityUser { // a location with the same key
				continue
			}
			line := fmt.Sprintf("plan: %s %s: %s", c.Op, c.Name, c.Reason)
			if d := diff.Describe(&c, ", ", strconv.Quote); d != "" {
				line += "; " + d
			}
			say(c.Key, "%s", line)
		}
		for _, r := range peopleRows(run, LoadResults, 1, keys) {
			if r[0] != schemas.EntityUser {
				continue
			}
			line := fmt.Sprintf("server: %s %s", r[3], r[4])
			if r[5] != "" {
				line += " (HTTP " + r[5] + ")"
			}
			if r[6] != "" {
				line += ", SCIM id " + r[6]
			}
			if r[4] == "failed" {
				line += ": " + r[9]
			}
			say(r[1], "%s", line)
		}
		if len(ch.Lines) > 0 {
			out = append(out, ch)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no kept run knows a user %q (a UserID, userName or email)", who)
	}
	return out, nil
}

// rowsOf reads the rows of a Parquet artifact whose keyColumn is one of
// keys, once its sha256 is checked (only those rows are filled); none when
// the stage has not written it.
func rowsOf[T any](run *Run, a Artifact, keyColumn string, keys map[string]bool) ([]T, error) {
	f, err := verified(run, a)
	if err != nil || f == "" {
		return nil, err
	}
	var out []T
	_, err = parquetio.ReadRows(f, nil, keyColumn, func(k string) bool { return keys[k] }, func(row *T) error {
		out = append(out, *row)
		return nil
	})
	return out, err
}

// verified is the path of artifact a of run once its sha256 is checked, ""
// when its stage has not run.
func verified(run *Run, a Artifact) (string, error) {
	m, err := ReadManifest(run.Dir, a.Stage)
	if err != nil {
		return "", nil // the stage has not run
	}
	f, err := checkedFile(run, m, a)
	if err != nil {
		return "", err
	}
	return filepath.Join(run.Dir, f.Path), nil
}

// peopleRows reads the rows of a people's CSV artifact whose cell at
// column keyCol is one of keys (none when the file is missing or damaged).
func peopleRows(run *Run, a Artifact, keyCol int, keys map[string]bool) [][]string {
	in, err := OpenArtifact(run, a)
	if err != nil {
		return nil
	}
	defer in.Close()
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	var out [][]string
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF || (err != nil && !first) {
			return out
		}
		if err == nil && !first && keyCol < len(rec) && keys[rec[keyCol]] {
			for len(rec) < 14 {
				rec = append(rec, "")
			}
			out = append(out, rec)
		}
	}
}
