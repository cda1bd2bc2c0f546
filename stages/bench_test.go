package stages_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/test/bench"
	"github.com/condeco-sync/condeco-sync/internal/test/exportgen"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/condeco-sync/condeco-sync/stages/transform"
)

// BenchmarkExtractTransform1M runs extract then transform on a generated
// export of 1,000,000 users (BENCH_USERS overrides the number) and reports
// the peak resident memory of the two stages as peak-MB. Issue #2's
// target: at most 5 s and 800 MB on a 2-core machine.
func BenchmarkExtractTransform1M(b *testing.B) {
	n := bench.Users(1_000_000)
	inbox := b.TempDir()
	f, _ := os.Create(filepath.Join(inbox, "users_1.csv"))
	if err := exportgen.WriteUsers(f, 1, n); err != nil {
		b.Fatal(err)
	}
	f.Close()
	g, _ := os.Create(filepath.Join(inbox, "locations_1.csv"))
	exportgen.WriteLocations(g, exportgen.Locations)
	g.Close()
	sets, _ := extract.FindSets(inbox, "users_*.csv", "locations_*.csv")

	var peak, xPeak, tPeak, xSec, tSec float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		out := b.TempDir()
		bench.ResetPeakRSS()
		b.StartTimer()
		xdir := filepath.Join(out, "extract")
		t0 := time.Now()
		if _, err := extract.Run(extract.Input{Set: sets[0], MinUsers: 1}, xdir); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		xSec += time.Since(t0).Seconds()
		xPeak = max(xPeak, bench.PeakRSSMB())
		bench.ResetPeakRSS()
		b.StartTimer()
		t0 = time.Now()
		res, err := transform.Run(transform.Input{
			RawUsers: filepath.Join(xdir, extract.UsersFile), RawLocations: filepath.Join(xdir, extract.LocationsFile),
			Holds:           filepath.Join(xdir, extract.HoldsFile),
			DefaultLocation: "LON", AdminAccessLevels: []string{"Global Admin"}, Invitations: "send",
		}, filepath.Join(out, "transform"))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tSec += time.Since(t0).Seconds()
		tPeak = max(tPeak, bench.PeakRSSMB())
		if res.Counts["users"] < int64(n)*9/10 {
			b.Fatalf("only %d users out", res.Counts["users"])
		}
		peak = max(xPeak, tPeak)
		b.StartTimer()
	}
	// The stages run one after the other, so the peak of the pair is the
	// larger of the two.
	b.ReportMetric(peak, "peak-MB")
	b.ReportMetric(xPeak, "extract-peak-MB")
	b.ReportMetric(tPeak, "transform-peak-MB")
	b.ReportMetric(xSec/float64(b.N), "extract-s")
	b.ReportMetric(tSec/float64(b.N), "transform-s")
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "users/s")
}
