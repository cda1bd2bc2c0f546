package exportcsv

import (
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/schemas"
)

func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want, ok bool
	}{
		{"", true, true}, {"TRUE", true, true}, {"Yes", true, true}, {"y", true, true}, {"1", true, true},
		{"false", false, true}, {"NO", false, true}, {"n", false, true}, {"0", false, true}, {" 0 ", false, true},
		{"2", true, false}, {"on", true, false},
	} {
		got, ok := ParseBool(tc.in, true)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseBool(%q) = %v, %v", tc.in, got, ok)
		}
	}
}

// exports.columns renames the customer's headers to the layout's: a
// renamed column reads as the layout's, a column renamed onto one the
// file also has is refused naming both, a renamed required column that
// is missing says which header it looked for, and a reject names the
// customer's header with the layout's.
func TestRenamedColumns(t *testing.T) {
	cols := map[string]string{"employee id": "userid", "work email": "email"}
	open := func(csv string) (*Reader, error) {
		return NewReader("users_1.csv", strings.NewReader(csv), ',', schemas.UserRequired, "userid", cols)
	}
	r, err := open("Employee Id,UserName,FirstName,LastName,Work Email\n1,a@x.com,A,B,not-an-email\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.columnName("email"); got != "Work Email (Email)" {
		t.Errorf("a renamed column is named %q", got)
	}
	if _, err := open("Employee Id,UserID,UserName,FirstName,LastName,Work Email\n"); err == nil || !strings.Contains(err.Error(), `columns 1 ("Employee Id") and 2 ("UserID") both stand for UserID (exports.columns)`) {
		t.Errorf("a column renamed onto one the file has: %v", err)
	}
	if _, err := open("UserName,FirstName,LastName,Work Email\n"); err == nil || !strings.Contains(err.Error(), `missing required column UserID`) || !strings.Contains(err.Error(), `exports.columns names UserID "employee id"`) {
		t.Errorf("a renamed required column missing: %v", err)
	}
}
