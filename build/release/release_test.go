package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// A release for this machine: the archive holds the binary, the README and
// the docs; SHA256SUMS names it with its checksum; the binary says its
// version and commit; and a second release of the same commit is the
// same, byte for byte.
func TestRelease(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("reads the archive as a .tar.gz")
	}
	out := t.TempDir()
	t.Chdir("../..")
	if err := release(out, "v9.9.9-test", []string{"host"}); err != nil {
		t.Fatal(err)
	}
	name := "condeco-sync_v9.9.9-test_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	archive, err := os.ReadFile(filepath.Join(out, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if string(sums) != hex.EncodeToString(sum[:])+"  "+name+"\n" {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}

	dir := t.TempDir()
	gz, err := gzip.NewReader(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if filepath.Base(h.Name) == "condeco-sync" {
			b, _ := io.ReadAll(tr)
			os.WriteFile(filepath.Join(dir, "condeco-sync"), b, 0o755)
		}
	}
	top := strings.TrimSuffix(name, ".tar.gz") + "/"
	for _, want := range []string{"condeco-sync", "README.md", "docs/configuration.md", "docs/security.md"} {
		if !slices.Contains(names, top+want) {
			t.Errorf("the archive has no %s: %v", want, names)
		}
	}
	v, err := exec.Command(filepath.Join(dir, "condeco-sync"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "v9.9.9-test (commit ") {
		t.Errorf("condeco-sync version: %s %v", v, err)
	}

	again := t.TempDir()
	if err := release(again, "v9.9.9-test", []string{"host"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(again, name)); string(b) != string(archive) {
		t.Errorf("a second release of the same commit differs")
	}
}
