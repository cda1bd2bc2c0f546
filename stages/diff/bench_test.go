package diff

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/test/bench"
	"github.com/condeco-sync/condeco-sync/schemas"
)

// BenchmarkDiff1M diffs two snapshots of 1,000,000 users: 1% changed, 0.5%
// added and 0.5% removed (BENCH_USERS overrides the size). Issue #3's
// target: at most 0.6 s median and 300 MB peak on a 2-core machine.
func BenchmarkDiff1M(b *testing.B) {
	n := bench.Users(1_000_000)
	dir := b.TempDir()
	locs := []schemas.Location{loc("LON"), loc("PAR"), loc("NYC")}
	in := Input{
		Users: filepath.Join(dir, "users.parquet"), Locations: filepath.Join(dir, "locations.parquet"),
		BaselineUsers: filepath.Join(dir, "base-users.parquet"), BaselineLocations: filepath.Join(dir, "base-locations.parquet"),
		Deprovision: "delete", Guard: Guard{MaxDeletes: n, MaxFraction: 1},
	}
	// Baseline: users 0..n-1. Desired: drop every 200th (0.5%), change
	// every 100th (1%), add n/200 new ones (0.5%).
	if _, err := parquetio.Write(in.BaselineUsers, func(emit func(schemas.User) error) error {
		for i := 0; i < n; i++ {
			u := benchUser(i)
			u.SCIMID, u.Granted = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), "LON\nNYC\nPAR"
			if err := emit(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := parquetio.Write(in.Users, func(emit func(schemas.User) error) error {
		for i := 0; i < n+n/200; i++ {
			if i < n && i%200 == 0 {
				continue
			}
			u := benchUser(i)
			if i%100 == 1 {
				u.Title = "Senior " + u.Title
				u.RowHash = u.Hash()
			}
			if err := emit(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	parquetio.WriteSlice(in.Locations, locs)
	parquetio.WriteSlice(in.BaselineLocations, locs)

	measure(b, in, int64(n/100+n/200+n/200))
}

// BenchmarkDiff1MInitial is the first run of a tenant of 1,000,000 users:
// no baseline, so every user is a create. It holds the largest change set
// a day can have, so it is the one that tells the memory bound.
func BenchmarkDiff1MInitial(b *testing.B) {
	n := bench.Users(1_000_000)
	dir := b.TempDir()
	in := Input{Users: filepath.Join(dir, "users.parquet"), Locations: filepath.Join(dir, "locations.parquet"),
		Deprovision: "delete", Guard: Guard{MaxDeletes: n, MaxFraction: 1}}
	if _, err := parquetio.Write(in.Users, func(emit func(schemas.User) error) error {
		for i := 0; i < n; i++ {
			if err := emit(benchUser(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	parquetio.WriteSlice(in.Locations, []schemas.Location{loc("LON"), loc("PAR"), loc("NYC")})
	measure(b, in, int64(n))
}

// measure runs the diff of in b.N times and reports its peak memory; each
// run must find changes user changes.
func measure(b *testing.B, in Input, changes int64) {
	var peak float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		out := b.TempDir()
		bench.ResetPeakRSS()
		b.StartTimer()
		res, err := Run(in, out, "r1", "r0")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := res.Counts["user_update"] + res.Counts["user_create"] + res.Counts["user_delete"]; got != changes {
			b.Fatalf("%d changes, want %d: %v", got, changes, res.Counts)
		}
		peak = max(peak, bench.PeakRSSMB())
		b.StartTimer()
	}
	b.ReportMetric(peak, "peak-MB")
}

// Columns a tenant repeats have as many distinct values as a large one
// would (5,000 given names, 2,000 cost centres …), not one each: a
// dictionary-encoded column is only as cheap as its real cardinality.
func pick(i, distinct int, prefix string) string {
	return prefix + strconv.Itoa((i*7919+distinct/3)%distinct)
}

// benchUser is user i of the benchmarks' snapshots.
func benchUser(i int) schemas.User {
	id := strconv.Itoa(1_000_000 + i)
	u := schemas.User{UserID: id, UserName: "user" + id + "@example.com", Email: "user" + id + "@example.com",
		GivenName: pick(i, 5000, "Given"), FamilyName: "Family" + id, PhoneMobile: "+447911" + id[1:],
		Country: pick(i, 40, "C"), Language: pick(i, 12, "L"), Title: pick(i, 300, "Title "), Department: pick(i, 80, "Dept "),
		CostCenter: pick(i, 2000, "CC"), UserType: pick(i, 3, "Type"), Active: true, DefaultLocation: pick(i, 200, "LOC")}
	u.RowHash = u.Hash()
	return u
}
