package sandbox

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/test/bench"
)

// BenchmarkSandboxCreates is issue 14's sandbox at tenant size: 100,000
// users (BENCH_USERS) created by 16 clients at once over loopback, the
// sandbox closed as SIGTERM closes it, then opened again. Reported: the
// overall rate, the slowest rate over any tenth of the creates (the
// rate "sustained to the end"), and the users found after the restart.
func BenchmarkSandboxCreates(b *testing.B) {
	n := bench.Users(100_000)
	for b.Loop() {
		dir := b.TempDir()
		sb, err := New(dir, "s3cret", ext)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(sb)
		c := client(b, srv.URL, "s3cret")
		var next atomic.Int64
		tenth := max(1, n/10)
		marks := make([]time.Time, 11)
		var mu sync.Mutex
		start := time.Now()
		marks[0] = start
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1))
					if i > n {
						return
					}
					name := fmt.Sprintf("user.%d@example.com", i)
					if _, err := c.Create(context.Background(), "Users", user(name, name, "+447911123456")); err != nil {
						b.Error(err)
						return
					}
					if i%tenth == 0 {
						mu.Lock()
						marks[i/tenth] = time.Now()
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		total := time.Since(start)
		srv.Close()
		if err := sb.Close(); err != nil {
			b.Fatal(err)
		}
		slowest := 0.0
		for i := 1; i < len(marks); i++ {
			if marks[i].IsZero() || marks[i-1].IsZero() {
				continue
			}
			if r := float64(tenth) / marks[i].Sub(marks[i-1]).Seconds(); slowest == 0 || r < slowest {
				slowest = r
			}
		}
		again, err := New(dir, "s3cret", ext)
		if err != nil {
			b.Fatal(err)
		}
		kept := len(again.store.all("Users"))
		again.Close()
		if kept != n {
			b.Errorf("%d users after the restart, want %d", kept, n)
		}
		b.ReportMetric(float64(n)/total.Seconds(), "creates/s")
		b.ReportMetric(slowest, "slowest-tenth-creates/s")
		b.ReportMetric(float64(kept), "users-after-restart")
	}
}
