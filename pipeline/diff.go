package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/diff"
)

// Diff (re)runs diff on run. A rerun compares against the baseline the
// first attempt used, recorded in its manifest, even if later runs moved
// state/baseline.json since.
func Diff(env Env, run *Run) error {
	inputs, err := verifiedInputs(env, run, StageReads[StageDiff]...)
	if err != nil {
		return err
	}
	cfg := env.Config
	base, err := diffBaseline(cfg, run)
	if err != nil {
		return err
	}
	in := diff.Input{
		Users: filepath.Join(run.Dir, inputs[0].Path), Locations: filepath.Join(run.Dir, inputs[1].Path),
		Deprovision:            cfg.Users.Deprovision,
		GrantNewLocations:      cfg.Access.GrantNewLocationsToExistingUsers,
		DeleteRemovedLocations: cfg.Locations.DeleteRemoved,
		Profile:                cfg.SCIM.Profile,
		SCIM11:                 cfg.SCIM.SCIM11(),
		Invitations:            cfg.Users.Invitations,
		ScopeOnExit:            cfg.Scope.OnExit,
		Rate:                   cfg.SCIM.Rate(),
		Guard: diff.Guard{MaxDeletes: cfg.Guards.MaxDeletes, MaxFraction: cfg.Guards.MaxDeleteFraction,
			MaxCreates: cfg.Guards.MaxCreates, MaxCreateFraction: cfg.Guards.MaxCreateFraction},
		Only: run.Manifest.Provision,
	}
	baseRun := ""
	lost := []string(nil)
	if base == nil {
		if lost = loadedRuns(cfg, run.ID); len(lost) > 0 {
			env.Log.Warn().Str("run", run.ID).Strs("loaded_runs", lost).Msg(
				"state/baseline.json is missing, yet earlier runs were loaded: this diff plans every user and location as a create. " +
					"The load looks each one up by externalId before it creates it, so nobody is duplicated, but nobody missing from the export is deleted either. " +
					"To diff against what was applied, restore state/baseline.json from a backup and rerun this diff")
		}
	}
	if base != nil {
		if err := base.check(cfg); err != nil {
			return err
		}
		in.BaselineUsers = filepath.Join(cfg.Data, base.Users.Path)
		in.BaselineLocations = filepath.Join(cfg.Data, base.Locations.Path)
		baseRun = base.RunID
		in.RulesChanged = rulesChanged(cfg, run, base.RunID)
		// The initial synchronization creates everyone, as does the first
		// daily run after provisions only: the guard on creates is for the
		// days after.
		in.Guard.Creates = !base.ProvisionsOnly
	}
	return runStage(env, run, StageDiff, inputs, func(dir string) (stages.Result, error) {
		res, err := diff.Run(in, dir, run.ID, baseRun)
		if res.Details != nil {
			res.Details[madeUnder] = shapeOf(cfg, StageDiff)
			res.Details["baseline"] = base // null on the initial synchronization
			if len(lost) > 0 {
				res.Details["baseline_missing_after_runs"] = lost
			}
		}
		return res, err
	})
}

// rulesChanged names the rules of transform (mapping, scope.users) that
// run's transform was made under otherwise than the baseline run's: the
// plan then says how many users they touch. A manifest from before the
// record was kept compares as unchanged.
func rulesChanged(cfg *config.Config, run *Run, baseRun string) []string {
	now, err := ReadManifest(run.Dir, StageTransform)
	if err != nil {
		return nil
	}
	prev, err := OpenRun(cfg, baseRun)
	if err != nil {
		return nil
	}
	was, err := ReadManifest(prev.Dir, StageTransform)
	if err != nil {
		return nil
	}
	a, _ := now.Details[madeUnder].(map[string]any)
	b, _ := was.Details[madeUnder].(map[string]any)
	var out []string
	for _, key := range []string{"mapping", "scope.users"} {
		if a[key] != nil && b[key] != nil && fmt.Sprint(a[key]) != fmt.Sprint(b[key]) {
			out = append(out, key)
		}
	}
	return out
}

// diffBaseline is the baseline a diff of run uses: the one its earlier
// attempt recorded, else the current one.
func diffBaseline(cfg *config.Config, run *Run) (*Baseline, error) {
	m, err := ReadManifest(run.Dir, StageDiff)
	if err == nil {
		raw, _ := json.Marshal(m.Details["baseline"])
		var b *Baseline
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("run %s: diff/manifest.json: baseline: %w", run.ID, err)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return ReadBaseline(cfg)
}

// Approval is a person's word that a halted run may be loaded.
type Approval struct {
	Stage   Stage     `json:"stage"`
	Attempt int       `json:"attempt"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Approve records by's approval of run's halted diff.
func Approve(env Env, run *Run, by, reason string) error {
	m, err := ReadManifest(run.Dir, StageDiff)
	if err != nil {
		return fmt.Errorf("run %s has no diff to approve", run.ID)
	}
	if err := discarded(run); err != nil {
		return err
	}
	if m.Status != StatusHalted {
		return fmt.Errorf("run %s: diff ended %s, not halted: there is nothing to approve", run.ID, m.Status)
	}
	if by := supersededBy(env.Config, run); by != "" {
		return fmt.Errorf("run %s is superseded: run %s, of a later export, has been applied since, so its plan is never loaded; there is nothing to approve", run.ID, by)
	}
	if reason == "" {
		return errors.New("approve: --reason must say why the deletions or creates are right")
	}
	run.Manifest.Approvals = append(run.Manifest.Approvals, Approval{Stage: StageDiff, Attempt: m.Attempt, By: by, At: env.Now().UTC(), Reason: reason})
	return run.Save()
}

// waitsForApproval reports whether run's diff is halted by a guard and
// waits for a person: not approved, not discarded, and not superseded by
// a later applied run (whose plan load would refuse).
func waitsForApproval(cfg *config.Config, run *Run) bool {
	if run.Stage(StageDiff).Status != StatusHalted || run.Manifest.Discarded != nil {
		return false
	}
	if ok, _ := Approved(run); ok {
		return false
	}
	return supersededBy(cfg, run) == ""
}

// guardOf names the guard that halted run's diff, as its error says:
// the mass-creation guard, or (for one halted before it existed) the
// mass-deletion guard.
func guardOf(run *Run) string {
	if m, err := ReadManifest(run.Dir, StageDiff); err == nil && strings.HasPrefix(m.Error, "the mass-creation guard") {
		return "the mass-creation guard"
	}
	return "the mass-deletion guard"
}

// Approved reports whether run's current diff attempt may be loaded: it
// ended ok, or it halted and was approved. Load asks before sending.
func Approved(run *Run) (bool, error) {
	m, err := ReadManifest(run.Dir, StageDiff)
	if err != nil {
		return false, err
	}
	switch m.Status {
	case StatusOK:
		return true, nil
	case StatusHalted:
		return approval(run, m) != nil, nil
	}
	return false, nil
}

// approval is the approval of the diff attempt whose manifest is m, or nil.
func approval(run *Run, m *Manifest) *Approval {
	for i, a := range run.Manifest.Approvals {
		if a.Stage == StageDiff && a.Attempt == m.Attempt {
			return &run.Manifest.Approvals[i]
		}
	}
	return nil
}

// loadedRuns lists the runs other than id whose load ran to its end: with
// no state/baseline.json, they mean the baseline was lost.
func loadedRuns(cfg *config.Config, id string) []string {
	ids, _ := RunIDs(cfg)
	var out []string
	for _, other := range ids {
		if other == id {
			continue
		}
		if m, err := ReadManifest(filepath.Join(runsDir(cfg.Data), other), StageLoad); err == nil {
			if _, ended := LoadEnded(m); ended {
				out = append(out, other)
			}
		}
	}
	return out
}
