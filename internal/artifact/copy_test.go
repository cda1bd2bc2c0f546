package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyReadsWhatItKeeps: the owner of a Copy reads exactly the bytes
// the copy keeps, and the copy is whole and hashed whether the owner reads
// all of it, part of it or none.
func TestCopyReadsWhatItKeeps(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "export.csv")
	data := bytes.Repeat([]byte("UserID,Email\nu1,a@example.com\n"), 40000) // 1.2 MB: several chunks
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	want := hex.EncodeToString(h[:])
	for name, read := range map[string]int64{"all": -1, "part": 1000, "none": 0} {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(dir, name, "copy.csv")
			c, err := StartCopy(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch {
			case read < 0:
				got, err = io.ReadAll(c)
			case read > 0:
				got, err = io.ReadAll(io.LimitReader(c, read))
			}
			if err != nil {
				t.Fatal(err)
			}
			if read < 0 && !bytes.Equal(got, data) || read > 0 && !bytes.Equal(got, data[:read]) {
				t.Errorf("read %d bytes that differ from the file's", len(got))
			}
			sum, n, err := c.Finish()
			if err != nil || sum != want || n != int64(len(data)) {
				t.Errorf("Finish = %s, %d, %v; want %s, %d", sum, n, err, want, len(data))
			}
			if kept, _ := os.ReadFile(dst); !bytes.Equal(kept, data) {
				t.Errorf("the copy has %d bytes that differ from the file's %d", len(kept), len(data))
			}
		})
	}
	if _, err := StartCopy(filepath.Join(dir, "missing.csv"), filepath.Join(dir, "x")); err == nil {
		t.Error("copying a file that does not exist did not fail")
	}
}
