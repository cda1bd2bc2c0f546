// Package artifact writes the files a run leaves behind and proves them
// whole later: every write is atomic (temp file, fsync, rename), directories
// are 0700 and files 0600 because they hold personal data, and every file is
// described by its size and sha256 so a later stage or `verify` can check it.
package artifact

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

const (
	DirPerm  os.FileMode = 0o700
	FilePerm os.FileMode = 0o600
)

// File describes one artifact: where it is (relative to the run directory),
// how large it is, its sha256 and, for tables, how many rows it holds.
type File struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// OpenToOthers reports whether fi's mode lets users other than its owner
// in. On Windows the mode bits say nothing of that (Go reports 0666 or
// 0777 whatever the ACLs are), so it reports false there: the folder's
// ACL is the operator's to set, as the docs say.
func OpenToOthers(fi os.FileInfo) bool {
	return runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0
}

// MkdirAll creates dir and its parents with DirPerm.
func MkdirAll(dir string) error { return os.MkdirAll(dir, DirPerm) }

// Write creates path atomically: fill writes into a temp file in the same
// directory, which is synced and renamed over path only when fill succeeds.
// A reader therefore sees the old file or the whole new one, never a part.
func Write(path string, fill func(w io.Writer) error) error { return write(path, FilePerm, fill) }

// WritePublic is Write for a file other users read and that holds no
// personal data (metrics for node_exporter, a release archive): 0644,
// set before the rename, so that no reader finds it unreadable.
func WritePublic(path string, fill func(w io.Writer) error) error { return write(path, 0o644, fill) }

func write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := MkdirAll(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// Rename moves from, a file finished and synced, to path (in the same file
// system) atomically, and syncs path's folder.
func Rename(from, path string) error {
	if err := os.Rename(from, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// WriteBytes is Write for content already in memory.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems refuse fsync on a directory; the rename is still done.
	_ = d.Sync()
	return nil
}

// SHA256 returns the hex sha256 and size of the file at path.
func SHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Describe returns the File entry for root/rel with the given row count.
func Describe(root, rel string, rows int64) (File, error) {
	sum, n, err := SHA256(filepath.Join(root, rel))
	if err != nil {
		return File{}, err
	}
	return File{Path: filepath.ToSlash(rel), Bytes: n, Rows: rows, SHA256: sum}, nil
}

// ErrMismatch is returned, wrapped with the file's name, when a file no longer
// matches the manifest that produced it.
var ErrMismatch = errors.New("does not match its manifest")

// Check verifies that root/f.Path still has the size and sha256 recorded in f.
func Check(root string, f File) error {
	path := filepath.Join(root, filepath.FromSlash(f.Path))
	sum, n, err := SHA256(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if sum != f.SHA256 || n != f.Bytes {
		return fmt.Errorf("%s: %w (sha256 %s, %d bytes; manifest says %s, %d bytes)",
			path, ErrMismatch, short(sum), n, short(f.SHA256), f.Bytes)
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
