package exportcsv

import "testing"

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
