package load_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/internal/test/bench"
	"github.com/condeco-sync/condeco-sync/internal/test/loadtest"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/rs/zerolog"
)

// benchLocations are the six locations of the initial-synchronization
// benchmarks: every new user is granted all six (rule 4).
var benchLocations = []string{"AMS", "BER", "LON", "NYC", "PAR", "SYD"}

// initialPlan writes the desired state of n users over six locations (one
// user in a hundred an admin) and diffs it against no baseline: the plan
// of an initial synchronization, made by the diff stage itself.
func initialPlan(b testing.TB, dir string, n int) load.Input {
	b.Helper()
	users, locs := writeDesired(b, dir, n, func(i int) (schemas.User, bool) { return benchUser(i), true })
	return plan(b, dir, diff.Input{Users: users, Locations: locs})
}

// benchUser is user i of the benchmarks: one in a hundred an admin.
func benchUser(i int) schemas.User {
	u := schemas.User{UserID: strconv.Itoa(100000 + i), UserName: fmt.Sprintf("user.%d@example.com", i),
		GivenName: "Given", FamilyName: "Family", PhoneMobile: "+447911123456", Department: "Sales", Title: "Engineer",
		UserType: "Internal", Active: true, Admin: i%100 == 0, DefaultLocation: benchLocations[i%len(benchLocations)]}
	u.Email = u.UserName
	u.RowHash = u.Hash()
	return u
}

// writeDesired writes transform's snapshots: the users user(0 … n-1)
// gives (those it keeps) and the six locations.
func writeDesired(b testing.TB, dir string, n int, user func(i int) (schemas.User, bool)) (users, locs string) {
	users, locs = filepath.Join(dir, "users.parquet"), filepath.Join(dir, "locations.parquet")
	if _, err := parquetio.Write(users, func(emit func(schemas.User) error) error {
		for i := range n {
			if u, ok := user(i); ok {
				if err := emit(u); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(locs, benchLocs(false)); err != nil {
		b.Fatal(err)
	}
	return users, locs
}

// benchLocs are the six locations; applied, with their groups' SCIM ids.
func benchLocs(applied bool) []schemas.Location {
	var ls []schemas.Location
	for _, id := range benchLocations {
		l := schemas.Location{LocationID: id, Name: "Office " + id, City: id, Active: true}
		l.RowHash = l.Hash()
		if applied {
			l.SCIMID, l.AdminSCIMID = "g-"+id, "g-"+id+"-admins"
		}
		ls = append(ls, l)
	}
	return ls
}

// plan runs the diff stage on in: the plan load is given.
func plan(b testing.TB, dir string, in diff.Input) load.Input {
	diffDir := filepath.Join(dir, "diff")
	os.MkdirAll(diffDir, 0o700)
	in.Deprovision, in.Guard = "delete", diff.Guard{MaxDeletes: 1 << 30, MaxFraction: 1}
	if _, err := diff.Run(in, diffDir, "bench", ""); err != nil {
		b.Fatal(err)
	}
	return load.Input{Changes: filepath.Join(diffDir, diff.ChangesFile), BaselineUsers: in.BaselineUsers, BaselineLocations: in.BaselineLocations,
		Profile: profile.SCIM2, Concurrency: 16, Log: zerolog.Nop(), RunID: "bench"}
}

// dailyPlan is the plan of a day after an applied state of n users: 1%
// changed (a new title), 0.5% added, 0.5% removed.
func dailyPlan(b testing.TB, dir string, n int) load.Input {
	base := diff.Input{BaselineUsers: filepath.Join(dir, "base-users.parquet"), BaselineLocations: filepath.Join(dir, "base-locations.parquet")}
	if _, err := parquetio.Write(base.BaselineUsers, func(emit func(schemas.User) error) error {
		for i := range n {
			u := benchUser(i)
			u.SCIMID, u.Granted = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), schemas.JoinIDs(benchLocations)
			if err := emit(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(base.BaselineLocations, benchLocs(true)); err != nil {
		b.Fatal(err)
	}
	base.Users, base.Locations = writeDesired(b, dir, n+n/200, func(i int) (schemas.User, bool) {
		u := benchUser(i)
		if i%100 == 1 {
			u.Title = "Senior " + u.Title
			u.RowHash = u.Hash()
		}
		return u, i >= n || i%200 != 0
	})
	return plan(b, dir, base)
}

// BenchmarkLoadInitial is issue 13's initial synchronization: 1,000,000
// users (BENCH_USERS) over six locations against an in-process server
// with /Bulk that answers at once, and 100,000 users against one that
// takes 20 ms an answer, with and without /Bulk; scim.concurrency 16.
// Reported: wall time, peak resident memory of the load (the process's
// high-water mark, reset once the inputs are written; start-MB is what the
// process held then, the benchmark's own), the journal's size and the
// requests the server answered.
func BenchmarkLoadInitial(b *testing.B) {
	big := bench.Users(1_000_000)
	for _, c := range []struct {
		users   int
		latency time.Duration
		bulk    bool
	}{
		{big, 0, true},
		{min(big, 100_000), 20 * time.Millisecond, true},
		{min(big, 100_000), 20 * time.Millisecond, false},
	} {
		name := fmt.Sprintf("users=%d/latency=%s/bulk=%t", c.users, c.latency, c.bulk)
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			in := initialPlan(b, dir, c.users)
			timeLoad(b, in, dir, c.latency, c.bulk)
		})
	}
}

// BenchmarkLoadDaily is issue 13's daily change: 1% of 1,000,000 users
// (BENCH_USERS) changed, 0.5% added, 0.5% removed, against an in-process
// server with /Bulk that answers at once. Reported as BenchmarkLoadInitial.
func BenchmarkLoadDaily(b *testing.B) {
	dir := b.TempDir()
	in := dailyPlan(b, dir, bench.Users(1_000_000))
	timeLoad(b, in, dir, 0, true)
}

// timeLoad loads in into fresh directories of dir, b.N times.
func timeLoad(b *testing.B, in load.Input, dir string, latency time.Duration, bulk bool) {
	for i := 0; b.Loop(); i++ {
		srv := loadtest.NewTimingServer(latency, bulk)
		client, _ := scim.New(srv.URL+"/scim/v2", "t", time.Minute)
		in.Client = client
		out := filepath.Join(dir, fmt.Sprint("load-", i))
		os.MkdirAll(out, 0o700)
		debug.FreeOSMemory()
		bench.ResetPeakRSS()
		base := bench.RSSMB()
		start := time.Now()
		res, err := load.Run(context.Background(), in, out)
		sec := time.Since(start).Seconds()
		peak := bench.PeakRSSMB()
		srv.Close()
		if err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(out, load.JournalFile))
		b.ReportMetric(sec, "s")
		b.ReportMetric(peak, "peak-MB")
		b.ReportMetric(base, "start-MB")
		b.ReportMetric(float64(st.Size())/1e6, "journal-MB")
		b.ReportMetric(float64(srv.Requests()), "requests")
		if ph, ok := res.Details["phases"].(map[string]map[string]float64); ok {
			for name, p := range ph {
				b.ReportMetric(p["seconds"], name+"-s")
			}
		}
		os.RemoveAll(out)
	}
}

// BenchmarkLoad10kCreates loads 10,000 creates with scim.concurrency 16
// against a server that takes 20 ms an answer: 16 / 20 ms allows 800
// requests/s. Reported: creates/s in the creates phase, one request each
// (or, with /Bulk, up to 100 creates a request), and without /Bulk that
// rate as a share of the bound.
func BenchmarkLoad10kCreates(b *testing.B) {
	const latency = 20 * time.Millisecond
	for _, bulk := range []bool{false, true} {
		b.Run(map[bool]string{false: "requests", true: "bulk"}[bulk], func(b *testing.B) {
			srv := loadtest.NewTimingServer(latency, bulk)
			defer srv.Close()
			dir := b.TempDir()
			in := initialPlan(b, dir, 10000)
			client, _ := scim.New(srv.URL+"/scim/v2", "t", 10*time.Second)
			in.Client = client
			var creates, seconds float64
			for i := 0; b.Loop(); i++ {
				out := filepath.Join(dir, fmt.Sprint("load-", i))
				os.MkdirAll(out, 0o700)
				res, err := load.Run(context.Background(), in, out)
				if err != nil {
					b.Fatal(err)
				}
				p := res.Details["phases"].(map[string]map[string]float64)["creates"]
				creates += p["operations"]
				seconds += p["seconds"]
				os.RemoveAll(out)
			}
			b.ReportMetric(creates/seconds, "creates/s")
			if !bulk {
				b.ReportMetric(creates/seconds/(16/latency.Seconds()), "of-bound")
			}
		})
	}
}
