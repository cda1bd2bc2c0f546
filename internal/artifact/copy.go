package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
)

// Copy is a file being copied byte for byte, atomically (as Write), on a
// goroutine of its own, whose bytes its owner can read as they are
// written. Extract decodes an export this way: what it decodes is then
// exactly what it keeps, the file is read once, and decoding starts at
// once instead of after a copy of hundreds of megabytes.
type Copy struct {
	pr   *io.PipeReader
	done chan struct{}
	sum  string
	n    int64
	err  error
}

// errReaderGone ends the pipe when the owner stops reading early.
var errReaderGone = errors.New("artifact: the copy's reader stopped")

// StartCopy opens src and starts copying it to dst.
func StartCopy(src, dst string) (*Copy, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	c := &Copy{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer in.Close()
		h := sha256.New()
		c.err = Write(dst, func(w io.Writer) error {
			buf := make([]byte, 256<<10)
			reading := true // false once the owner stopped reading: the copy goes on alone
			for {
				k, err := in.Read(buf)
				if k > 0 {
					if _, werr := w.Write(buf[:k]); werr != nil {
						return werr
					}
					h.Write(buf[:k])
					c.n += int64(k)
					if reading {
						_, perr := pw.Write(buf[:k])
						reading = perr == nil
					}
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		})
		if c.err == nil {
			c.sum = hex.EncodeToString(h.Sum(nil))
		}
		pw.CloseWithError(c.err) // nil: the reader sees io.EOF
	}()
	return c, nil
}

// Read reads the bytes copied so far, and io.EOF once the copy is whole.
// An error of the copy (reading src, writing dst) is its error too.
func (c *Copy) Read(p []byte) (int, error) { return c.pr.Read(p) }

// Finish waits for the copy to be complete and returns the sha256 and size
// of what it wrote. The owner may stop reading before the end: the copy
// still goes on to it, so the file is kept even when decoding it failed.
func (c *Copy) Finish() (sum string, n int64, err error) {
	c.pr.CloseWithError(errReaderGone)
	<-c.done
	return c.sum, c.n, c.err
}

// CopyFile copies src to dst and returns the sha256 and size of what it
// wrote, hashed on the way.
func CopyFile(src, dst string) (sum string, n int64, err error) {
	c, err := StartCopy(src, dst)
	if err != nil {
		return "", 0, err
	}
	return c.Finish()
}
