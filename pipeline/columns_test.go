package pipeline

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An export whose headers are the customer's (every column renamed, in
// another order) read with exports.columns gives the same snapshots as
// the samples read as they are: extract's and transform's files are the
// same, byte for byte, and the extract manifest records the mapping.
func TestCustomersColumnNames(t *testing.T) {
	snapshots := func(f *fixture) map[string][]byte {
		run := f.extract()
		must(t, Transform(f.env, run))
		out := map[string][]byte{}
		for _, p := range []string{"extract/users.parquet", "extract/locations.parquet", "extract/holds.parquet", "transform/users.parquet", "transform/locations.parquet"} {
			b, err := os.ReadFile(filepath.Join(run.Dir, p))
			if err != nil {
				t.Fatal(err)
			}
			out[p] = b
		}
		return out
	}
	plain := newFixture(t)
	plain.env.Config.Guards.MinUsers = 100
	copySample(t, plain, "day1")
	want := snapshots(plain)

	theirs := newFixture(t)
	theirs.env.Config.Guards.MinUsers = 100
	mapping := map[string]string{}
	rename := func(file string) {
		src, _ := filepath.Glob(filepath.Join("..", "samples", "day1", file+"_*.csv"))
		in, err := os.Open(src[0])
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(in).ReadAll()
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		n := len(rows[0])
		order := make([]int, n) // the columns the other way round
		for i := range order {
			order[i] = n - 1 - i
		}
		for _, r := range rows {
			moved := make([]string, n)
			for i, j := range order {
				moved[i] = r[j]
			}
			copy(r, moved)
		}
		for i, h := range rows[0] {
			theirs := fmt.Sprintf("%s Field %d", strings.ToUpper(h[:1]), i)
			mapping[file+"."+h] = theirs
			rows[0][i] = theirs
		}
		dst := filepath.Join(theirs.env.Config.Inbox, filepath.Base(src[0]))
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(out)
		w.WriteAll(rows)
		out.Close()
		old := theirs.now.Add(-time.Hour)
		os.Chtimes(dst, old, old)
	}
	rename("users")
	rename("locations")
	theirs.env.Config.Exports.Columns = mapping
	got := snapshots(theirs)
	for p, b := range want {
		if string(got[p]) != string(b) {
			t.Errorf("%s differs when the export's columns are the customer's", p)
		}
	}
	ids, _ := RunIDs(theirs.env.Config)
	m, err := ReadManifest(filepath.Join(theirs.env.Config.Data, "runs", ids[0]), StageExtract)
	if err != nil {
		t.Fatal(err)
	}
	recorded, _ := json.Marshal(m.Details["columns"])
	if !strings.Contains(string(recorded), `"u field 0":"userid"`) && !strings.Contains(string(recorded), `"s field 0":"sso"`) {
		t.Errorf("the extract manifest records the mapping as %s", recorded)
	}
}
