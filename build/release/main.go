// Command release builds condeco-sync for every platform it supports:
// static (no cgo), trimmed binaries that know their version and commit,
// each packed with the README and the docs into an archive (.tar.gz, .zip
// for Windows), and SHA256SUMS beside them. `go tool task release` runs
// it; the archives' entries carry the commit's time, so that two builds
// of one commit give the same archives.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
)

// Targets are the platforms a release is built for.
var Targets = []string{"linux/amd64", "linux/arm64", "windows/amd64", "windows/arm64", "darwin/amd64", "darwin/arm64"}

func main() {
	out := flag.String("out", "dist", "the folder the archives and SHA256SUMS are written to")
	version := flag.String("version", "", "the version (default: git describe --tags --always --dirty)")
	targets := flag.String("targets", strings.Join(Targets, ","), "GOOS/GOARCH pairs, comma-separated; host for this machine's")
	flag.Parse()
	if err := release(*out, *version, strings.Split(*targets, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func release(out, version string, targets []string) error {
	if version == "" {
		version = strings.TrimSpace(git("describe", "--tags", "--always", "--dirty"))
		if version == "" {
			version = "dev"
		}
	}
	stamp := time.Unix(0, 0).UTC()
	if s, err := strconv.ParseInt(strings.TrimSpace(git("log", "-1", "--format=%ct")), 10, 64); err == nil {
		stamp = time.Unix(s, 0).UTC()
	}
	docs, _ := filepath.Glob("docs/*.md")
	extra := append([]string{"README.md"}, docs...)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(out, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var sums []string
	for _, target := range targets {
		if target == "host" {
			target = runtime.GOOS + "/" + runtime.GOARCH
		}
		goos, goarch, ok := strings.Cut(target, "/")
		if !ok {
			return fmt.Errorf("target %q is not GOOS/GOARCH", target)
		}
		exe := "condeco-sync"
		if goos == "windows" {
			exe += ".exe"
		}
		bin := filepath.Join(tmp, goos+"-"+goarch, exe)
		build := exec.Command("go", "build", "-trimpath", "-buildvcs=auto",
			"-ldflags", "-s -w -X github.com/condeco-sync/condeco-sync/pipeline.Version="+version,
			"-o", bin, "./cmd/condeco-sync")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", target, err)
		}
		name := fmt.Sprintf("condeco-sync_%s_%s_%s", version, goos, goarch)
		files := append([][2]string{{bin, exe}}, pairs(extra)...)
		var archive []byte
		if goos == "windows" {
			name += ".zip"
			archive, err = zipOf(strings.TrimSuffix(name, ".zip"), files, stamp)
		} else {
			name += ".tar.gz"
			archive, err = tarOf(strings.TrimSuffix(name, ".tar.gz"), files, stamp)
		}
		if err != nil {
			return err
		}
		if err := artifact.WritePublic(filepath.Join(out, name), writeBytes(archive)); err != nil {
			return err
		}
		sum := sha256.Sum256(archive)
		sums = append(sums, hex.EncodeToString(sum[:])+"  "+name+"\n")
		fmt.Printf("%s  %d bytes\n", name, len(archive))
	}
	slices.SortFunc(sums, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return artifact.WritePublic(filepath.Join(out, "SHA256SUMS"), writeBytes([]byte(strings.Join(sums, ""))))
}

// pairs is each file with its name in the archive.
func pairs(paths []string) [][2]string {
	var out [][2]string
	for _, p := range paths {
		out = append(out, [2]string{p, filepath.ToSlash(p)})
	}
	return out
}

func tarOf(dir string, files [][2]string, stamp time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		b, err := os.ReadFile(f[0])
		if err != nil {
			return nil, err
		}
		mode := int64(0o644)
		if strings.HasPrefix(f[1], "condeco-sync") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/" + f[1], Mode: mode, Size: int64(len(b)), ModTime: stamp, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipOf(dir string, files [][2]string, stamp time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f[0])
		if err != nil {
			return nil, err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: dir + "/" + f[1], Method: zip.Deflate, Modified: stamp})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeBytes fills a file with b.
func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// git is git's output for args, "" when it fails (no git, no repository).
func git(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}
