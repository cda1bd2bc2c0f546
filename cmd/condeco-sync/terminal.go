package main

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// terminalSafe writes through to a terminal with control characters
// escaped (ESC as \x1b, a C1 control as \u009b): a name in an export file
// or a server's error message must not move the cursor, clear the screen
// or retitle the window of whoever reads it. Newlines and tabs pass, and
// so does a CR that ends a line (CRLF files).
type terminalSafe struct {
	w     io.Writer
	carry []byte // the start of a character cut by the end of the last write
}

func (t *terminalSafe) Write(p []byte) (int, error) {
	b := append(t.carry, p...)
	t.carry = nil
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(b[i:]) {
			t.carry = append(t.carry, b[i:]...) // finished by the next write
			break
		}
		c := b[i]
		switch {
		case c == '\n' || c == '\t':
			out = append(out, c)
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, c)
		case c == '\r' && i+1 == len(b):
			t.carry = append(t.carry, c) // a CRLF cut in two, perhaps
		case c < 0x20 || c == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, c)
		case r >= 0x80 && r <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, r)
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, c)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
