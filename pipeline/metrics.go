package pipeline

import (
	"fmt"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Each metric with its # TYPE line, so that a scraper reads them as gauges.
func init() { metrics.ExposeMetadata(true) }

// WriteMetrics writes what the artifacts say of the latest run, in the
// Prometheus text format: its status, each stage's duration, the plan's
// counts, the load's requests, throttled answers and failed operations,
// the baseline's size, whether a person is needed, and (next not zero)
// when the daemon runs next. The daemon serves it at /metrics; run
// --metrics-file writes it for node_exporter's textfile collector. Read
// from the files on each call, it says the same whoever made the run.
func WriteMetrics(w io.Writer, env Env, next time.Time) error {
	s := metrics.NewSet()
	set := func(name string, v float64) { s.GetOrCreateGauge(name, nil).Set(v) }
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

	needs := 0.0
	if len(NeedsPerson(env)) > 0 {
		needs = 1
	}
	set("condeco_sync_needs_person", needs)
	if !next.IsZero() {
		set("condeco_sync_next_run_timestamp_seconds", unix(next))
	}
	if b, err := ReadBaseline(env.Config); err == nil && b != nil {
		set("condeco_sync_baseline_users", float64(b.Users.Rows))
		set("condeco_sync_baseline_timestamp_seconds", unix(b.SetAt))
	}
	if taken := lastTaken(env.Config); taken != nil {
		set("condeco_sync_last_export_taken_timestamp_seconds", unix(taken.Manifest.Started))
	}
	run, err := latestRun(env.Config)
	if err != nil {
		return err
	}
	if run != nil {
		m := run.Manifest
		set("condeco_sync_last_run_start_timestamp_seconds", unix(m.Started))
		status := run.overall()
		for _, st := range []string{StatusOK, StatusHalted, StatusFailed, StatusStopped, StatusInterrupted, StatusRunning, StatusDiscarded, "incomplete"} {
			v := 0.0
			if status == st {
				v = 1
			}
			set(fmt.Sprintf(`condeco_sync_last_run_status{status=%q}`, st), v)
		}
		var ended time.Time
		for _, st := range m.Stages {
			if st.Ended.IsZero() {
				continue
			}
			ended = st.Ended
			set(fmt.Sprintf(`condeco_sync_last_run_stage_duration_seconds{stage=%q}`, st.Name), st.Ended.Sub(st.Started).Seconds())
		}
		if !ended.IsZero() {
			set("condeco_sync_last_run_end_timestamp_seconds", unix(ended))
		}
		r := Report(run)
		if p := r.Plan; p != nil {
			for change, n := range map[string]int64{"create": p.Add, "update": p.Change, "delete": p.Destroy, "held": p.Held} {
				set(fmt.Sprintf(`condeco_sync_last_run_plan_changes{change=%q}`, change), float64(n))
			}
		}
		if lm, err := ReadManifest(run.Dir, StageLoad); err == nil {
			for name, key := range map[string]string{"condeco_sync_last_run_requests": "requests", "condeco_sync_last_run_throttled_answers": "throttled", "condeco_sync_last_run_retries": "retried"} {
				if v, ok := lm.Details[key].(float64); ok {
					set(name, v)
				}
			}
			set("condeco_sync_last_run_failed_operations", float64(r.LoadFailed))
		}
	}
	s.WritePrometheus(w)
	return nil
}

// NeedsPerson is what status asks a person to do about the runs (its ACT
// lines of runs): nothing when the latest run needs nobody.
func NeedsPerson(env Env) []string {
	ids, err := RunIDs(env.Config)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range runChecks(env, ids) {
		if c.Level == Act {
			out = append(out, c.What)
		}
	}
	return out
}
