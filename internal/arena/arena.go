// Package arena copies many small strings into shared chunks of 64 KB: one
// allocation a chunk instead of one a string, for the millions of cells and
// keys a stage keeps. A kept string keeps its whole chunk alive, so an
// arena is for strings that are kept, and dropped, together.
package arena

import "unsafe"

const chunk = 64 << 10

// Strings is an arena of strings; the zero value is ready to use. It is not
// safe for use by several goroutines at once.
type Strings struct{ buf []byte }

// Bytes returns a string with the content of b, which b no longer touches.
func (a *Strings) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(chunk, len(b)))
	}
	a.buf = append(a.buf, b...)
	s := a.buf[len(a.buf)-len(b):]
	return unsafe.String(unsafe.SliceData(s), len(s))
}

// String returns a copy of s in the arena: it no longer holds on to the
// memory s was cut from (a row, a line of a file).
func (a *Strings) String(s string) string {
	return a.Bytes(unsafe.Slice(unsafe.StringData(s), len(s)))
}
