package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"
)

// clockRuns drives a Daily on a fake clock and records the fake time of
// each run of the job.
type clockRuns struct {
	t        *testing.T
	clock    *timerClock
	d        *Daily
	runs     chan time.Time
	returned chan struct{} // a run's function returned
	ran      bool          // a run happened
}

func startClock(t *testing.T, cfg *config.Config, at time.Time, job func(ctx context.Context)) *clockRuns {
	t.Helper()
	c := &clockRuns{t: t, clock: newTimerClock(at), runs: make(chan time.Time, 100), returned: make(chan struct{}, 100)}
	if job == nil {
		job = func(context.Context) {
			defer func() { c.returned <- struct{}{} }()
			c.runs <- c.clock.Now()
		}
	}
	d, err := StartDaily(cfg, c.clock, zerolog.Nop(), job, "")
	if err != nil {
		t.Fatal(err)
	}
	c.d = d
	t.Cleanup(func() { d.Stop() })
	return c
}

// timerClock is a fake clock that knows for when each timer was set. The
// scheduler names its next run (NextRun) before it sets the timer, and
// reads the clock for the timer's duration just before: a test that
// moved the clock on the strength of NextRun alone could move it in
// between and leave the timer a day ahead (it happened about one run in
// five). Moving the clock only once the run's timer is set, with timers
// set and the clock moved under one lock, leaves no such window.
type timerClock struct {
	*clockwork.FakeClock
	mu  sync.Mutex
	set map[int64]bool // the deadlines of the timers set, in Unix ns
}

func newTimerClock(at time.Time) *timerClock {
	return &timerClock{FakeClock: clockwork.NewFakeClockAt(at), set: map[int64]bool{}}
}

func (c *timerClock) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set[c.FakeClock.Now().Add(d).UnixNano()] = true
	return c.FakeClock.AfterFunc(d, f) // f runs on a goroutine of its own
}

// advanceTo moves the clock to when, once a timer is set for it.
func (c *timerClock) advanceTo(t *testing.T, when time.Time) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		if c.set[when.UnixNano()] {
			c.FakeClock.Advance(when.Sub(c.FakeClock.Now()))
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no timer was set for %s", when)
		}
	}
}

// advance moves the clock to the daily job's next run, once the
// scheduler has planned it and set its timer.
func advance(t *testing.T, clock *timerClock, d *Daily) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		next, err := d.NextRun()
		if err == nil && next.After(clock.Now()) {
			clock.advanceTo(t, next)
			return next
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduler planned no run after %s (%v)", clock.Now(), err)
		}
		time.Sleep(time.Millisecond)
	}
}

// next advances the clock to the daily job's next run and returns the
// time the job ran at.
//
// The job is a singleton that skips a run due while the last one still
// runs (LimitModeReschedule). gocron frees the job's slot a moment after
// the job function returns, and the test hears of a run from inside it:
// moving the clock at once could make the next run due while the slot is
// still held, and skip it (seen under the full suite's load). next waits
// until the last run's function returned, and a little more.
func (c *clockRuns) next() time.Time {
	c.t.Helper()
	if c.ran {
		select {
		case <-c.returned:
		case <-time.After(30 * time.Second):
			c.t.Fatal("the last run did not return")
		}
		time.Sleep(slotFreed)
	}
	next := advance(c.t, c.clock, c.d)
	select {
	case r := <-c.runs:
		c.ran = true
		return r
	case <-time.After(30 * time.Second):
		c.t.Fatalf("no run at %s", next)
		return time.Time{}
	}
}

// slotFreed is how long gocron is given, after the job function returned,
// to free the job's slot: microseconds normally, a scheduling delay under
// load.
const slotFreed = 100 * time.Millisecond

func scheduleConfig(t *testing.T, at string, catchUp bool) *config.Config {
	cfg := newFixture(t).env.Config
	cfg.Schedule.At, cfg.Schedule.Timezone, cfg.Schedule.CatchUp = at, "Europe/London", catchUp
	return cfg
}

// Across the spring-forward day and the fall-back day in Europe/London, a
// schedule.at of 01:30 runs once a day: at 02:30 BST when 01:30 does not
// exist, and at the second of the two 01:30s when it occurs twice.
func TestDailyAcrossDST(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	for _, tc := range []struct {
		name  string
		start time.Time
		want  []string // local times of the runs, in order
	}{
		{"spring forward (28 March 2027)", time.Date(2027, 3, 26, 12, 0, 0, 0, london),
			[]string{"2027-03-27 01:30 GMT", "2027-03-28 02:30 BST", "2027-03-29 01:30 BST", "2027-03-30 01:30 BST"}},
		{"fall back (31 October 2027)", time.Date(2027, 10, 29, 12, 0, 0, 0, london),
			[]string{"2027-10-30 01:30 BST", "2027-10-31 01:30 GMT", "2027-11-01 01:30 GMT", "2027-11-02 01:30 GMT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startClock(t, scheduleConfig(t, "01:30", false), tc.start, nil)
			for i, want := range tc.want {
				if got := c.next().In(london).Format("2006-01-02 15:04 MST"); got != want {
					t.Errorf("run %d at %s, want %s", i+1, got, want)
				}
			}
			select {
			case r := <-c.runs:
				t.Errorf("an extra run at %s", r.In(london))
			default:
			}
		})
	}
}

// Started after today's time with no run since, the schedule runs now;
// with a run since that time, or before the time, it waits.
func TestCatchUp(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	at := time.Date(2027, 1, 12, 9, 15, 0, 0, london)

	c := startClock(t, scheduleConfig(t, "02:00", true), at, nil)
	select {
	case r := <-c.runs:
		if !r.Equal(at) {
			t.Errorf("catch-up ran at %s, want %s", r, at)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("started at 09:15 with the 02:00 run missed: no catch-up run")
	}

	// A run started at 02:05 today: nothing to catch up.
	cfg := scheduleConfig(t, "02:00", true)
	must(t, os.MkdirAll(filepath.Join(runsDir(cfg.Data), "20270112T020500Z"), 0o700))
	must(t, os.WriteFile(filepath.Join(runsDir(cfg.Data), "20270112T020500Z", "run.json"), []byte("{}"), 0o600))
	// Before today's time: nothing to catch up either.
	early := scheduleConfig(t, "10:00", true)
	for _, cc := range []*clockRuns{startClock(t, cfg, at, nil), startClock(t, early, at, nil)} {
		select {
		case r := <-cc.runs:
			t.Errorf("a catch-up run at %s that was not due", r)
		case <-time.After(300 * time.Millisecond):
		}
		if next, _ := cc.d.NextRun(); !next.After(at) {
			t.Errorf("next run %s", next)
		}
	}
}

// A run that lasts longer than a day does not overlap the next: the day
// it covers is skipped, and the runs after it go on.
func TestNoOverlap(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	var mu sync.Mutex
	running, most := 0, 0
	release := make(chan struct{})
	started := make(chan time.Time, 10)
	var clock *timerClock
	job := func(ctx context.Context) {
		mu.Lock()
		running++
		most = max(most, running)
		n := len(started)
		mu.Unlock()
		started <- clock.Now()
		if n == 0 {
			<-release // the first run is still going when the next is due
		}
		mu.Lock()
		running--
		mu.Unlock()
	}
	c := &clockRuns{t: t, clock: newTimerClock(time.Date(2027, 1, 10, 12, 0, 0, 0, london))}
	clock = c.clock
	d, err := StartDaily(scheduleConfig(t, "02:00", false), clock, zerolog.Nop(), job, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c.d = d
	advance(t, clock, d) // 11 Jan 02:00: starts, and blocks
	var first time.Time
	select {
	case first = <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no run on 11 January")
	}
	advance(t, clock, d) // 12 Jan 02:00: due while the first still runs
	time.Sleep(200 * time.Millisecond)
	close(release)
	time.Sleep(100 * time.Millisecond)
	// gocron's NextRun still names the skipped 12 January here, so the
	// clock goes to 13 January 02:00 by hand.
	clock.advanceTo(t, time.Date(2027, 1, 13, 2, 0, 0, 0, london))
	var third time.Time
	select {
	case third = <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no run on 13 January")
	}
	select {
	case s := <-started:
		t.Errorf("an extra run at %s", s)
	default:
	}
	if most != 1 {
		t.Errorf("%d runs at once", most)
	}
	if got := first.In(london).Format("01-02 15:04"); got != "01-11 02:00" {
		t.Errorf("first run %s", got)
	}
	if got := third.In(london).Format("01-02 15:04"); got != "01-13 02:00" {
		t.Errorf("the run after the long one at %s, want 01-13 02:00 (01-12 skipped)", got)
	}
}
