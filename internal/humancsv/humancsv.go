// Package humancsv writes the CSV files meant for people (rejects, warnings,
// changes, results): plain column names, one row per item, and no cell that a
// spreadsheet would run as a formula.
package humancsv

import (
	"bufio"
	"io"
	"strings"
	"unicode/utf8"
)

// Writer writes rows of strings under a header, as RFC 4180 CSV that
// Excel opens right: UTF-8 with a byte-order mark, CRLF line ends, a comma
// between cells. It quotes more cells than encoding/csv does: every cell
// holding a comma or a semicolon is quoted, so that a spreadsheet whose
// list separator is ";" still reads it as one cell (and cannot split
// "x;=1+1" into a formula). Every row ends with the run it belongs to
// (column run_id): a file mailed on its own still says where it is from.
type Writer struct {
	w     *bufio.Writer
	err   error
	runID string
	row   []string
}

// BOM is the UTF-8 byte-order mark each file starts with: without it,
// Excel reads UTF-8 as the machine's code page.
const BOM = "\ufeff"

// New writes the BOM and the header (with run_id last) and returns a
// Writer for the rows of run runID.
func New(w io.Writer, runID string, header ...string) (*Writer, error) {
	cw := &Writer{w: bufio.NewWriter(w), runID: runID}
	cw.put(BOM)
	cw.line(append(header[:len(header):len(header)], "run_id"))
	return cw, cw.err
}

// Write writes one row, escaping each cell.
func (w *Writer) Write(cells ...string) error {
	w.row = w.row[:0]
	for _, c := range cells {
		w.row = append(w.row, Escape(c))
	}
	w.line(append(w.row, w.runID))
	return w.err
}

func (w *Writer) line(cells []string) {
	for i, c := range cells {
		if i > 0 {
			w.put(",")
		}
		if strings.ContainsAny(c, ",;\"\r\n") || strings.TrimSpace(c) != c {
			w.put(`"` + strings.ReplaceAll(c, `"`, `""`) + `"`)
		} else {
			w.put(c)
		}
	}
	w.put("\r\n")
}

func (w *Writer) put(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// Flush writes any buffered rows and reports the first error.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// Escape neutralises a cell that a spreadsheet would read as a formula (one
// starting with = + - @ TAB or CR, or their full-width forms ＝ ＋ － ＠,
// which some spreadsheets also take) by prefixing a single quote, as
// OWASP's CSV-injection guidance recommends. Other cells are returned
// unchanged.
func Escape(cell string) string {
	r, _ := utf8.DecodeRuneInString(cell)
	switch r {
	case '=', '+', '-', '@', '\t', '\r', '\uff1d', '\uff0b', '\uff0d', '\uff20':
		return "'" + cell
	}
	return cell
}

// Truncate shortens s to at most n runes for display, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n])) + "…"
}
