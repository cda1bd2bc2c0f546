package rowexpr

import (
	"strings"
	"testing"
)

// The examples, over rows: included by one expression, excluded by
// another; a misspelt column or a non-boolean is refused when compiled.
func TestScope(t *testing.T) {
	s, err := NewScope([]string{`Location in ["LON", "MAN"]`, `Department startsWith "Contract"`}, []string{`UserType == "Vendor"`})
	if err != nil {
		t.Fatal(err)
	}
	var r Runner
	for _, tc := range []struct {
		row  Row
		want bool
	}{
		{Row{Location: "LON", UserType: "Internal"}, true},
		{Row{Location: "PAR", Department: "Contractors", UserType: "External"}, true},
		{Row{Location: "PAR", Department: "Sales"}, false},
		{Row{Location: "MAN", UserType: "Vendor"}, false},
	} {
		if got, err := s.In(&r, &tc.row); err != nil || got != tc.want {
			t.Errorf("%+v: in scope %v (%v), want %v", tc.row, got, err, tc.want)
		}
	}
	for _, bad := range []string{`Locaton == "LON"`, `Department`, `Active == "yes"`} {
		if _, err := CompileBool(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
	if s, _ := NewScope(nil, nil); s != nil {
		t.Error("no expressions make a scope")
	}
}

// No cell can crash an expression, of scope or of a mapping: whatever a
// row holds, In and Text answer or say which expression failed on it
// (int(Floor) of a cell that is no number does).
func FuzzExpressions(f *testing.F) {
	f.Add("LON", "Contractors", "Vendor", "x")
	f.Add("", "", "", "")
	f.Add("\xff", "Contract\x00", "Visitor", "日本")
	f.Add("MAN", "ENG", "Internal", "7")
	s, err := NewScope([]string{`Location in ["LON", "MAN"] || Department startsWith "Contract"`, `len(JobTitle) > 3 && JobTitle[0:3] == "Sen"`},
		[]string{`UserType == "Vendor"`, `upper(Email) endsWith "@EXAMPLE.COM"`, `int(Floor) > 3`})
	if err != nil {
		f.Fatal(err)
	}
	var texts []*Text
	for _, src := range []string{
		`Department + " " + JobTitle + " (floor " + string(int(Floor)) + ")"`,
		`coalesce(lookup("depts", Department), trim(Department), "none")`,
		`lower(Language) + upper(Group)`,
		`replace(JobTitle, "Sr", "Senior")`,
		`join([Location, Department, Floor], "/")`,
		`JobTitle[0:2]`,
	} {
		t, err := CompileText(src, map[string]map[string]string{"depts": {"ENG": "Engineering"}})
		if err != nil {
			f.Fatal(err)
		}
		texts = append(texts, t)
	}
	f.Fuzz(func(t *testing.T, location, department, userType, cell string) {
		var r Runner
		row := Row{Location: location, Department: department, UserType: userType, JobTitle: cell, Email: cell, Floor: cell,
			Language: cell, Group: department}
		if _, err := s.In(&r, &row); err != nil && !strings.HasPrefix(err.Error(), "len(JobTitle)") && !strings.HasPrefix(err.Error(), "int(Floor)") {
			t.Fatalf("an error that names no expression: %v", err)
		}
		for _, x := range texts {
			if _, err := r.Text(x, &row); err != nil && !strings.HasPrefix(err.Error(), x.Src+": ") {
				t.Fatalf("an error that names no expression: %v", err)
			}
		}
	})
}

// A mapping's expressions: text from the row, with coalesce and lookup.
func TestText(t *testing.T) {
	tables := map[string]map[string]string{"depts": {"ENG": "Engineering"}}
	var r Runner
	for _, tc := range []struct{ src, want string }{
		{`JobTitle`, "Engineer"},
		{`"Staff"`, "Staff"},
		{`Department + " " + JobTitle`, "ENG Engineer"},
		{`lower(Language)`, "en-gb"},
		{`coalesce(Floor, Group, "none")`, "B"},
		{`lookup("depts", Department)`, "Engineering"},
		{`lookup("depts", "SAL")`, ""},
	} {
		p, err := CompileText(tc.src, tables)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got, err := r.Text(p, &Row{JobTitle: "Engineer", Department: "ENG", Language: "en-GB", Group: "B"}); err != nil || got != tc.want {
			t.Errorf("%s = %q (%v), want %q", tc.src, got, err, tc.want)
		}
	}
	for _, bad := range []string{`Active`, `lookup("titles", JobTitle)`, `Jobtitle`} {
		if _, err := CompileText(bad, tables); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
}
