package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/test/bench"
	"github.com/condeco-sync/condeco-sync/internal/test/exportgen"
	"github.com/condeco-sync/condeco-sync/pipeline"
)

// BenchmarkCLIDay2 times a day of a large tenant as an operator meets it:
// `condeco-sync extract`, `transform` and `diff` as processes, on day 2 of
// 1,000,000 generated users (BENCH_USERS overrides: 0.5 % gone, 1 %
// changed, 0.5 % new) against day 1's applied state. It reports each
// command's wall time and peak RSS, and the three together as day2-s.
// Day 1 (the initial synchronization's extract, transform and diff) is
// reported too: the three's wall time and each one's peak.
func BenchmarkCLIDay2(b *testing.B) {
	n := bench.Users(1_000_000)
	root := b.TempDir()
	inbox := filepath.Join(root, "inbox")
	os.MkdirAll(inbox, 0o700)
	cfgPath := filepath.Join(root, "condeco-sync.yaml")
	if err := os.WriteFile(cfgPath, []byte(`inbox: inbox
data: data
scim: {url: "http://127.0.0.1:9/scim/v2", profile: scim2}
guards: {min_users: 1, max_deletes: 100000000, max_delete_fraction: 1, max_creates: 100000000, max_create_fraction: 1}
`), 0o600); err != nil {
		b.Fatal(err)
	}
	write := func(name string, fill func(w io.Writer) error) {
		f, err := os.Create(filepath.Join(inbox, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := fill(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		old := time.Now().Add(-time.Minute)
		os.Chtimes(filepath.Join(inbox, name), old, old)
	}
	locations := func(w io.Writer) error { return exportgen.WriteLocations(w, exportgen.Locations) }
	write("users_20261123.csv", func(w io.Writer) error { return exportgen.WriteUsers(w, 1, n) })
	write("locations_20261123.csv", locations)

	// The command runs under GNU time, which reports its peak RSS: a child
	// forked from this process would count this process's memory too
	// (Linux carries the high-water mark across fork and exec).
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		b.Skip("needs GNU time (/usr/bin/time) to measure each command's peak RSS")
	}
	cli := func(args ...string) (wall time.Duration, peakMB float64) {
		cmd := exec.Command(timeBin, append([]string{"-f", "maxrss-kb=%M", "condeco-sync", "--config", cfgPath, "--log-level", "warn"}, args...)...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("condeco-sync %v: %v\n%s", args, err, stderr.String())
		}
		wall = time.Since(start)
		_, kb, _ := strings.Cut(stderr.String(), "maxrss-kb=")
		k, err := strconv.ParseFloat(strings.TrimSpace(kb), 64)
		if err != nil {
			b.Fatalf("GNU time said %q", stderr.String())
		}
		return wall, k / 1024
	}
	stages := []string{"extract", "transform", "diff"}
	var day1 time.Duration
	day1Peaks := map[string]float64{}
	for _, s := range stages {
		d, mb := cli(s)
		day1 += d
		day1Peaks[s] = mb
	}
	// Day 1's desired state stands in for its applied state: a load of a
	// million users is another benchmark's business.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	run, err := pipeline.OpenRun(cfg, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range []pipeline.Artifact{pipeline.TransformUsers, pipeline.TransformLocations} {
		dst := filepath.Join(run.Dir, string(pipeline.StageLoad), "state", filepath.Base(a.File))
		if err := copyFile(filepath.Join(run.Dir, a.Path()), dst); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pipeline.SetBaseline(cfg, run, time.Now()); err != nil {
		b.Fatal(err)
	}
	write("users_20261124.csv", func(w io.Writer) error { return exportgen.WriteUsersNextDay(w, 1, n) })
	write("locations_20261124.csv", locations)
	data := filepath.Join(root, "data")
	saved := filepath.Join(root, "data-after-day1")
	if err := copyTree(data, saved); err != nil {
		b.Fatal(err)
	}

	secs, peaks := map[string][]float64{}, map[string][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.RemoveAll(data)
		if err := copyTree(saved, data); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, s := range stages {
			d, mb := cli(s)
			secs[s], peaks[s] = append(secs[s], d.Seconds()), append(peaks[s], mb)
		}
	}
	b.StopTimer()
	// The day the benchmark timed is the day it means to time.
	last, err := pipeline.OpenRun(cfg, "")
	if err != nil {
		b.Fatal(err)
	}
	// (Fewer than 0.5 % each: some generated users are visitors, inactive
	// or held, and are neither created nor deleted.)
	if p := pipeline.Report(last).Plan; p == nil || p.Add < int64(n/250) || p.Add > int64(n/200) ||
		p.Destroy < int64(n/250) || p.Destroy > int64(n/200) || p.Change < int64(n/125) {
		b.Fatalf("day 2's plan %+v: want about %d creates, %d deletes and %d updates", p, n/200, n/200, n/100)
	}
	var total float64
	for _, s := range stages {
		total += mean(secs[s])
		b.ReportMetric(mean(secs[s]), s+"-s")
		b.ReportMetric(largest(peaks[s]), s+"-peak-MB")
	}
	b.ReportMetric(total, "day2-s")
	b.ReportMetric(day1.Seconds(), "day1-s")
	for _, s := range stages { // the initial synchronization: every user a create
		b.ReportMetric(day1Peaks[s], "day1-"+s+"-peak-MB")
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func largest(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// copyTree copies a data directory (files and folders only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}
