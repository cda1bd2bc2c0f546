package main

import (
	"bytes"
	"testing"
)

// Control characters from files and servers reach a terminal escaped,
// however the writes cut the text.
func TestTerminalSafe(t *testing.T) {
	in := "user,100001,\x1b[2J\x1b]0;pwned\x07,create,failed,400,\u009b31m é\r\nnext\tline\n\x7f\xff"
	want := `user,100001,\x1b[2J\x1b]0;pwned\x07,create,failed,400,\u009b31m é` + "\r\nnext\tline\n" + `\x7f\xff`
	for _, chunk := range []int{1, 2, 3, 7, len(in)} {
		var out bytes.Buffer
		w := &terminalSafe{w: &out}
		for i := 0; i < len(in); i += chunk {
			w.Write([]byte(in[i:min(i+chunk, len(in))]))
		}
		w.Write(nil)
		if out.String() != want {
			t.Errorf("chunks of %d: %q\nwant %q", chunk, out.String(), want)
		}
	}
}
