// Package humancsv writes the CSV files meant for people (rejects, warnings,
// changes, results): plain column names, one row per item, and no cell that a
// spreadsheet would run as a formula.
package humancsv

import (
	"encoding/csv"
	"io"
	"strings"
)

// Writer writes rows of strings under a header.
type Writer struct {
	w   *csv.Writer
	row []string
}

// New writes the header and returns a Writer for the rows.
func New(w io.Writer, header ...string) (*Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return nil, err
	}
	return &Writer{w: cw, row: make([]string, len(header))}, nil
}

// Write writes one row, escaping each cell.
func (w *Writer) Write(cells ...string) error {
	w.row = w.row[:0]
	for _, c := range cells {
		w.row = append(w.row, Escape(c))
	}
	return w.w.Write(w.row)
}

// Flush writes any buffered rows and reports the first error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}

// Escape neutralises a cell that a spreadsheet would read as a formula (one
// starting with = + - @ TAB or CR) by prefixing a single quote, as OWASP's
// CSV-injection guidance recommends. Other cells are returned unchanged.
func Escape(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
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
