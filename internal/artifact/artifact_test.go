package artifact

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteIsAtomicAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "f.txt")
	if err := WriteBytes(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old content in place and no temp file behind.
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error { w.Write([]byte("half")); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "one" {
		t.Fatalf("content = %q after failed write, want %q", got, "one")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only the file (temp left behind?)", len(entries))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != FilePerm {
		t.Errorf("file mode %v, want %v", fi.Mode().Perm(), FilePerm)
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm() != DirPerm {
		t.Errorf("dir mode %v, want %v", di.Mode().Perm(), DirPerm)
	}
}

func TestCheckDetectsChange(t *testing.T) {
	root := t.TempDir()
	if err := WriteBytes(filepath.Join(root, "x.csv"), []byte("a,b\n")); err != nil {
		t.Fatal(err)
	}
	f, err := Describe(root, "x.csv", 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Bytes != 4 || len(f.SHA256) != 64 {
		t.Fatalf("Describe = %+v", f)
	}
	if err := Check(root, f); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	os.WriteFile(filepath.Join(root, "x.csv"), []byte("a,c\n"), 0o600)
	err = Check(root, f)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("changed file: err = %v, want ErrMismatch", err)
	}
	if want := filepath.Join(root, "x.csv"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}
