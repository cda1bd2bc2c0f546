package humancsv

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=SUM(A1:A2)", "'=SUM(A1:A2)"},
		{"+44 20 7946 0123", "'+44 20 7946 0123"},
		{"-1", "'-1"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"a=b", "a=b"},
		{"\uff1dSUM(A1)", "'\uff1dSUM(A1)"},
		{"\uff0b1", "'\uff0b1"},
		{"\uff0d1", "'\uff0d1"},
		{"\uff20cmd", "'\uff20cmd"},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := New(&buf, "20261123T020000Z", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	w.Write("=1+1", "x,y")
	w.Write("x;=1+1", `say "hi"`)
	w.Write("line\nbreak", " padded")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	const r = ",20261123T020000Z\r\n"
	want := BOM + "a,b,run_id\r\n'=1+1,\"x,y\"" + r + "\"x;=1+1\",\"say \"\"hi\"\"\"" + r + "\"line\nbreak\",\" padded\"" + r
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A strict CSV reader reads the cells back as written (escaped).
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), BOM)))
	rd.FieldsPerRecord = 3
	rows, err := rd.ReadAll()
	if err != nil || len(rows) != 4 || rows[2][0] != "x;=1+1" || rows[2][1] != `say "hi"` || rows[3][0] != "line\nbreak" || rows[3][2] != "20261123T020000Z" {
		t.Errorf("read back %q, %v", rows, err)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("abcdef", 3); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("héllo", 10); got != "héllo" {
		t.Errorf("Truncate = %q", got)
	}
}
