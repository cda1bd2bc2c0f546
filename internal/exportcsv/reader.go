// Package exportcsv reads one Condeco export file: its encoding, delimiter
// and header, its rows through gocsv into the typed records of schemas, and
// the validation that types each row or says why it is rejected. Problems
// name the file, line and column. It writes nothing: extract decides what
// becomes of the rows.
package exportcsv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// FileError is a problem that refuses a whole export file. It names the file,
// line and column as file:line:column, as encoding/csv does.
type FileError struct {
	File   string
	Line   int64
	Column int
	Msg    string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Reject is one problem with one row. The row is set aside; its key, when
// one could be read, is held (rule 9).
type Reject struct {
	File       string
	Line       int64
	Column     int
	ColumnName string
	Key        string
	Reason     string
	Value      string
}

// Reader feeds gocsv one export file as rows of strings. It does the
// work gocsv leaves to its reader: the encoding, the delimiter, headers that
// match whatever their case and spacing, and rows too damaged to decode,
// which it sets aside as rejects instead of handing them on. It implements
// gocsv.CSVReader.
type Reader struct {
	name     string // the file's base name, for messages
	closer   io.Closer
	csv      *csv.Reader
	header   []string // normalised: lower case, trimmed
	original []string // as written, for messages
	sentHdr  bool
	keyCol   int // index of the key column, for holding damaged rows

	// lines carries the line of every row handed to gocsv, in order. gocsv
	// decodes in a goroutine of its own, so the loop that receives a row
	// cannot ask the reader where it was; it takes the next line from here
	// instead. Its capacity is also that of the channel of decoded rows.
	lines chan int64
	// damaged holds the rows set aside before decoding. Read by the caller
	// only after gocsv has returned.
	damaged []Reject
}

// Open opens path and reads its header. delim 0 detects the delimiter.
// required are normalised header names; a missing one refuses the file.
func Open(path string, delim rune, required []string, key string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(filepath.Base(path), f, delim, required, key, nil)
	if err != nil {
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads the header of the export named name from in. columns
// (exports.columns) renames the customer's headers, normalised, to the
// layout's; nil for none.
func NewReader(name string, in io.Reader, delim rune, required []string, key string, columns map[string]string) (*Reader, error) {
	var err error
	r := &Reader{name: name, lines: make(chan int64, 4096), keyCol: -1}
	br := bufio.NewReaderSize(in, 1<<20)
	in = br
	if bom, _ := br.Peek(3); bytes.HasPrefix(bom, []byte{0xEF, 0xBB, 0xBF}) ||
		bytes.HasPrefix(bom, []byte{0xFF, 0xFE}) || bytes.HasPrefix(bom, []byte{0xFE, 0xFF}) {
		// BOMOverride strips a UTF-8 BOM and decodes UTF-16 with a BOM to
		// UTF-8; Nop never applies since a BOM is present.
		in = bufio.NewReaderSize(transform.NewReader(br, unicode.BOMOverride(encoding.Nop.NewDecoder())), 1<<20)
	}
	// encoding/csv ends a line at LF only: it would read a bare CR (old Mac
	// line endings) as part of a field and join two rows into one.
	in = bufio.NewReaderSize(&lineEnds{r: in}, 1<<20)
	if delim == 0 {
		if delim, err = detectDelimiter(in.(*bufio.Reader)); err != nil {
			return nil, &FileError{File: name, Line: 1, Column: 1, Msg: err.Error()}
		}
	}
	r.csv = csv.NewReader(in)
	r.csv.Comma = delim
	r.csv.FieldsPerRecord = -1 // a row of the wrong width is a reject, not the end of the file
	r.csv.ReuseRecord = true
	hdr, err := r.csv.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{File: name, Line: 1, Column: 1, Msg: "file is empty: no header line"}
	}
	if err != nil {
		return nil, r.fileError(err)
	}
	r.original = append([]string(nil), hdr...)
	seen := map[string]int{}
	for i, h := range hdr {
		n := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			n = strings.TrimPrefix(n, "\ufeff")
		}
		if !schemas.ValidText(n) {
			return nil, &FileError{File: name, Line: 1, Column: i + 1, Msg: "header " + schemas.TextProblem(n)}
		}
		if ours, ok := columns[n]; ok {
			n = ours
		}
		if j, dup := seen[n]; dup && n != "" {
			msg := fmt.Sprintf("duplicate column %q (also column %d)", strings.TrimSpace(h), j+1)
			if len(columns) > 0 {
				msg = fmt.Sprintf("columns %d (%q) and %d (%q) both stand for %s (exports.columns)", j+1, strings.TrimSpace(hdr[j]), i+1, strings.TrimSpace(h), displayName(n))
			}
			return nil, &FileError{File: name, Line: 1, Column: i + 1, Msg: msg}
		}
		seen[n] = i
		r.header = append(r.header, n)
		if n == key {
			r.keyCol = i
		}
	}
	var missing []string
	for _, req := range required {
		if _, ok := seen[req]; !ok {
			missing = append(missing, req)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing required column %s (delimiter %q)", strings.Join(displayNames(missing), ", "), string(delim))
		for _, m := range missing {
			for header, ours := range columns {
				if ours == m {
					msg += fmt.Sprintf("; exports.columns names %s %q", displayName(m), header)
				}
			}
		}
		return nil, &FileError{File: name, Line: 1, Column: 1, Msg: msg}
	}
	return r, nil
}

// Read implements gocsv.CSVReader: the header first, then the rows that are
// whole enough to decode.
func (r *Reader) Read() ([]string, error) {
	if !r.sentHdr {
		r.sentHdr = true
		return r.header, nil
	}
	for {
		rec, err := r.csv.Read()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrBareQuote) {
			// A stray quote in an unquoted field damages that line only:
			// encoding/csv has read to its end and goes on from the next.
			// encoding/csv hands back the fields before the one where the
			// quote was met.
			col := len(rec) + 1
			r.setAside(int64(pe.StartLine), col, r.colName(col-1), rec,
				fmt.Sprintf(`stray " in an unquoted field (byte %d of the line)`, pe.Column), "")
			continue
		}
		if err != nil {
			// An unterminated or misplaced quote can swallow any number of
			// lines: nothing after it can be trusted, so the file is refused.
			return nil, r.fileError(err)
		}
		line, _ := r.csv.FieldPos(0)
		if len(rec) != len(r.header) {
			r.setAside(int64(line), 1, "", rec,
				fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(r.header)), "")
			continue
		}
		if i, ok := firstBadText(rec); ok {
			l, _ := r.csv.FieldPos(i)
			r.setAside(int64(l), i+1, r.colName(i), rec, r.colName(i)+" "+schemas.TextProblem(rec[i]), "")
			continue
		}
		r.lines <- int64(line)
		return rec, nil
	}
}

// ReadAll is part of gocsv.CSVReader; gocsv's streaming calls do not use it.
func (r *Reader) ReadAll() ([][]string, error) {
	return nil, errors.New("Reader: ReadAll is not supported")
}

// Damaged returns the rows set aside before decoding, each a Reject with
// the key it could read. Call it once Decode has returned.
func (r *Reader) Damaged() []Reject { return r.damaged }

func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// column returns the 1-based position of the normalised column name, 0 if absent.
func (r *Reader) column(name string) int {
	for i, h := range r.header {
		if h == name {
			return i + 1
		}
	}
	return 0
}

// UnknownColumns lists the header names, as written, that no csv tag of
// the record type claims.
func (r *Reader) UnknownColumns(record reflect.Type) []string {
	var known []string
	for i := 0; i < record.NumField(); i++ {
		known = append(known, record.Field(i).Tag.Get("csv"))
	}
	var out []string
	for i, h := range r.header {
		if !slices.Contains(known, h) {
			out = append(out, strings.TrimSpace(r.original[i]))
		}
	}
	return out
}

// columnName is how a message names the layout's column col (normalised):
// the layout's spelling, with the customer's header where exports.columns
// renamed it ("Work Email (Email)").
func (r *Reader) columnName(col string) string {
	i := r.column(col) - 1
	if i >= 0 && !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(r.original[i], "\ufeff")), col) {
		return fmt.Sprintf("%s (%s)", strings.TrimSpace(r.original[i]), displayName(col))
	}
	return displayName(col)
}

// colName is the header of column i as written, for messages.
func (r *Reader) colName(i int) string {
	if i < 0 || i >= len(r.original) {
		return ""
	}
	return strings.TrimSpace(r.original[i])
}

func (r *Reader) setAside(line int64, col int, colName string, rec []string, reason, value string) {
	key := ""
	if r.keyCol >= 0 && r.keyCol < len(rec) && schemas.ValidText(rec[r.keyCol]) {
		key = strings.Clone(strings.TrimSpace(rec[r.keyCol]))
	}
	r.damaged = append(r.damaged, Reject{File: r.name, Line: line, Column: col, ColumnName: colName, Key: key, Reason: reason, Value: value})
}

func (r *Reader) fileError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrQuote) && pe.StartLine != pe.Line {
			msg = fmt.Sprintf("%s (the quoted field opened on line %d is not closed as expected)", msg, pe.StartLine)
		}
		return &FileError{File: r.name, Line: int64(pe.Line), Column: pe.Column, Msg: msg}
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

func firstBadText(rec []string) (int, bool) {
	for i, s := range rec {
		if !schemas.ValidText(s) {
			return i, true
		}
	}
	return 0, false
}

// candidates are the delimiters an export may use (docs/rules.md).
var candidates = []rune{',', ';', '\t', '|'}

// detectDelimiter picks the candidate that occurs most often, outside quotes,
// in the header line.
func detectDelimiter(br *bufio.Reader) (rune, error) {
	head, _ := br.Peek(64 << 10)
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(head) {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' || c == '\r' {
			break
		}
		counts[c]++
	}
	best, n := rune(0), 0
	for _, c := range candidates {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	if n == 0 {
		if len(bytes.TrimSpace(head)) == 0 {
			return 0, errors.New("file is empty: no header line")
		}
		return 0, errors.New("cannot detect the delimiter: the header line has none of , ; TAB |")
	}
	return best, nil
}

func displayNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = displayName(n)
	}
	return out
}

// displayName turns a normalised header name back into the spelling of
// the export layout (docs/rules.md), for messages.
func displayName(n string) string {
	for _, d := range []string{"UserID", "UserName", "FirstName", "LastName", "Email", "Telephone", "Mobile",
		"Country", "Location", "Group", "Floor", "Language", "Department", "CostCode", "JobTitle", "AccessLevel",
		"UserType", "Active", "Deleted", "SSO", "LocationID", "Name", "Region", "City", "Address", "PostalCode", "TimeZone"} {
		if strings.EqualFold(d, n) {
			return d
		}
	}
	return n
}

// lineEnds reads r with every line ending made LF: CRLF becomes LF and a
// bare CR becomes LF. Line numbers then count every kind of line break.
// Inside a quoted field the same holds, as encoding/csv already does for
// CRLF there.
type lineEnds struct {
	r      io.Reader
	skipLF bool // the last byte read was a CR: an LF right after it is its pair
}

func (l *lineEnds) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		out := 0
		for i := 0; i < n; {
			if l.skipLF {
				l.skipLF = false
				if p[i] == '\n' {
					i++
					continue
				}
			}
			j := bytes.IndexByte(p[i:n], '\r')
			if j < 0 {
				out += copy(p[out:], p[i:n])
				break
			}
			out += copy(p[out:], p[i:i+j])
			p[out] = '\n'
			out++
			i += j + 1
			l.skipLF = true
		}
		if out > 0 || err != nil {
			return out, err
		}
	}
}
