package pipeline

import (
	"context"
	"testing"
	"time"
)

// Sync takes each new export set through every stage and, after a load
// with no failure, lets retention remove the runs beyond keep_runs; with
// nothing new it says so and makes no run.
func TestSyncAndRetention(t *testing.T) {
	_, proxy := lyingProxy(t)
	f := loadFixture(t, proxy.URL)
	f.env.Config.Retention.KeepRuns = 1
	f.env.Getenv = getenv
	ctx := context.Background()

	copySample(t, f, "day1")
	day1, err := Sync(ctx, f.env, SyncOptions{})
	if err != nil || day1.Outcome != Done || day1.Run == nil || len(day1.Pruned) != 0 {
		t.Fatalf("day 1: %+v, %v", day1, err)
	}
	f.now = f.now.Add(24 * time.Hour)
	copySample(t, f, "day2")
	day2, err := Sync(ctx, f.env, SyncOptions{})
	if err != nil || day2.Outcome != Done || len(day2.Pruned) != 1 || day2.Pruned[0] != day1.Run.ID {
		t.Fatalf("day 2: %+v, %v; want day 1's run pruned", day2, err)
	}
	again, err := Sync(ctx, f.env, SyncOptions{})
	if err != nil || again.Outcome != NothingNew || again.Run != nil {
		t.Errorf("a third sync: %+v, %v; want nothing new", again, err)
	}
	if ids, _ := RunIDs(f.env.Config); len(ids) != 1 || ids[0] != day2.Run.ID {
		t.Errorf("runs %v, want only day 2's", ids)
	}
}
