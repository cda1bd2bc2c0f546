package exportcsv

import "github.com/gocarina/gocsv"

// Decode streams the rows of rr through gocsv into fn with their line.
// gocsv decodes on a goroutine of its own; a buffered channel lets it run
// ahead of fn (its own callback API hands rows over one at a time, through
// an unbuffered channel and reflection, which kept the two goroutines
// waiting on each other). gocsv cannot be stopped, so after fn's first
// error the rows are drained, and that error is returned once gocsv is done.
// fn gets the same *R for every row, overwritten: it must not keep it.
func Decode[R any](rr *Reader, fn func(line int64, rec *R) error) error {
	rows := make(chan R, cap(rr.lines))
	done := make(chan error, 1)
	go func() { done <- gocsv.UnmarshalDecoderToChan(gocsv.NewSimpleDecoderFromCSVReader(rr), rows) }()
	var ferr error
	// One variable for every row: fn is a function value, so escape
	// analysis moves what it is given to the heap, and a variable of the
	// loop's own was a heap copy of every row.
	var rec R
	for rec = range rows {
		line := <-rr.lines
		if ferr == nil {
			ferr = fn(line, &rec)
		}
	}
	if err := <-done; err != nil {
		return err
	}
	return ferr
}
