// Package parquetio writes Parquet files with xitongsys/parquet-go from typed
// structs and reads them back with Apache Arrow, for the reasons below:
// parquet-go is never used to read, because on a damaged file it returns
// wrong rows without an error. Every reader goes through Arrow's
// column-chunk readers (parquet/file): Read, ReadRows and ReadAll fill
// structs from them, Scan hands over raw columns, ReadRowsAt picks rows by
// number. pqarrow is not used: it copies every value into an Arrow builder
// (at a million rows most of the time), and it pulls gRPC into the build.
package parquetio

import (
	"errors"
	"io"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/xitongsys/parquet-go/parquet"
	"github.com/xitongsys/parquet-go/writer"
)

// Write creates path atomically from the rows that fill sends to emit. T is a
// struct with parquet-go tags. One goroutine marshals (np=1): parquet-go's
// parallel marshalling is where its known bugs live.
func Write[T any](path string, fill func(emit func(T) error) error) (rows int64, err error) {
	err = artifact.Write(path, func(w io.Writer) error {
		pw, err := writer.NewParquetWriterFromWriter(w, new(T), 1)
		if err != nil {
			return err
		}
		// Measured on 1M 20-column rows: 16 MiB row groups and 64 KiB pages
		// write a third faster than parquet-go's defaults and hold less in
		// memory (it buffers a row group as boxed values before encoding).
		pw.RowGroupSize = rowGroupSize
		pw.PageSize = 64 << 10
		pw.CompressionType = parquet.CompressionCodec_SNAPPY
		// No page statistics: nothing here reads them, and parquet-go
		// finds each page's minimum and maximum by comparing boxed values,
		// a fifth of its encoding time.
		for _, info := range pw.SchemaHandler.Infos {
			info.OmitStats = true
		}
		fn, flat := flatMarshal[T]()
		flat = flat && !stockMarshal
		if flat {
			pw.MarshalFunc = fn
		}
		// Rows wait here and go to parquet-go a few pages' worth at a time
		// (its Flush marshals and encodes what it holds, and writes a row
		// group once it is full). Its Write would box each row, a heap copy
		// of a few hundred bytes a row; the flat marshaller is handed a
		// pointer into this buffer instead, which parquet-go lets go of
		// before Flush returns (it drops the rows' tables once their pages
		// are encoded), so the buffer is reused.
		buf := make([]T, 0, flushRows)
		objs := make([]interface{}, flushRows)
		flush := func() error {
			for i := range buf {
				if flat {
					objs[i] = &buf[i]
				} else {
					objs[i] = buf[i]
				}
			}
			pw.Objs = objs[:len(buf)]
			buf = buf[:0]
			return pw.Flush(false)
		}
		emit := func(v T) error {
			rows++
			buf = append(buf, v)
			if len(buf) == flushRows {
				return flush()
			}
			return nil
		}
		if err := fill(emit); err != nil {
			return err
		}
		if len(buf) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		return pw.WriteStop()
	})
	return rows, err
}

// flushRows is how many rows Write hands to parquet-go at once: a page of
// 64 KiB holds about that many values of a typical column.
const flushRows = 4096

// rowGroupSize is a variable so that tests can make files of several row
// groups from a few rows.
var rowGroupSize int64 = 16 << 20

// stockMarshal makes Write use parquet-go's own marshaller; tests set it to
// prove that flatMarshal writes the same bytes.
var stockMarshal = false

// WriteSlice writes all of rows to path.
func WriteSlice[T any](path string, rows []T) (int64, error) {
	return Write(path, func(emit func(T) error) error {
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// errStopped tells a producer that the writer gave up.
var errStopped = errors.New("parquetio: writer stopped")

// WriteConcurrent is Write with fill running on a goroutine of its own: rows
// are handed over in batches, and parquet-go encodes them on the goroutine
// that called WriteConcurrent (still one goroutine writes), so producing
// rows and encoding them overlap.
func WriteConcurrent[T any](path string, fill func(emit func(T) error) error) (int64, error) {
	const batchRows = 1024
	return Write(path, func(emit func(T) error) error {
		// Room for the producer to go on while parquet-go encodes a row
		// group (with 4 batches it waited on each one).
		batches := make(chan []T, 32)
		// Written batches come back to the producer: Write copies each row
		// into a buffer of its own, and a new batch for every 1024 rows was
		// as much memory again as the rows themselves. (A batch waiting to
		// be reused keeps its strings alive: at most 34 of them.)
		free := make(chan []T, cap(batches)+2)
		stop := make(chan struct{})
		done := make(chan struct{})
		var fillErr error
		go func() {
			defer close(done)
			defer close(batches)
			batch := make([]T, 0, batchRows)
			send := func() error {
				select {
				case batches <- batch:
					select {
					case batch = <-free:
					default:
						batch = make([]T, 0, batchRows)
					}
					return nil
				case <-stop:
					return errStopped
				}
			}
			fillErr = fill(func(v T) error {
				batch = append(batch, v)
				if len(batch) == batchRows {
					return send()
				}
				return nil
			})
			if fillErr == nil && len(batch) > 0 {
				fillErr = send()
			}
		}()
		var writeErr error
		for b := range batches {
			for i := 0; i < len(b) && writeErr == nil; i++ {
				if writeErr = emit(b[i]); writeErr != nil {
					close(stop) // the producer stops at its next batch
				}
			}
			select {
			case free <- b[:0]:
			default:
			}
		}
		<-done
		if writeErr != nil {
			return writeErr
		}
		return fillErr
	})
}
