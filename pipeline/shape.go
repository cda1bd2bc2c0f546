package pipeline

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/condeco-sync/condeco-sync/internal/config"
)

// A plan knows what it was made under (Terraform refuses a saved plan
// once the configuration changed): transform and diff record in their
// manifests the config keys their output depends on, and load refuses a
// plan made under any other value of them (exit 2), naming the key and
// the stage to rerun.

// madeUnder is the key of a manifest's details that records them.
const madeUnder = "made_under"

// shapeOf is what the output of stage depends on in cfg, by config key.
func shapeOf(cfg *config.Config, stage Stage) map[string]string {
	switch stage {
	case StageTransform:
		return map[string]string{
			"access.default_location":    cfg.Access.DefaultLocation,
			"access.admin_access_levels": strings.Join(cfg.Access.AdminAccessLevels, ", "),
			"access.home_admin_levels":   strings.Join(cfg.Access.HomeAdminLevels, ", "),
			"users.invitations":          cfg.Users.Invitations,
			"scim.profile":               cfg.SCIM.Profile, // a profile may send a user's city
			"scope.users":                scopeText(cfg.Scope.Users),
			"mapping":                    mappingText(cfg.Mapping),
		}
	case StageDiff:
		return map[string]string{
			"scim.profile":      cfg.SCIM.Profile,
			"scim.url":          cfg.SCIM.URL,
			"scim.core_schema":  cfg.SCIM.Traits().Core(cfg.SCIM.CoreSchema),
			"scim.extension":    cfg.SCIM.Extension,
			"users.deprovision": cfg.Users.Deprovision,
			"access.grant_new_locations_to_existing_users": fmt.Sprint(cfg.Access.GrantNewLocationsToExistingUsers),
			"locations.delete_removed":                     fmt.Sprint(cfg.Locations.DeleteRemoved),
			"scope.on_exit":                                cfg.Scope.OnExit,
		}
	}
	return nil
}

// scopeText is scope.users as one value: its include and exclude lists.
func scopeText(s config.ScopeRules) string {
	return fmt.Sprintf("include %q, exclude %q", s.Include, s.Exclude)
}

// mappingText is mapping as one value: each attribute's expression, and
// the tables.
func mappingText(m config.MappingConfig) string {
	b, _ := json.Marshal(m) // maps marshal in order of key
	return string(b)
}

// madeUnderNow checks that the outputs of transform and diff in run were
// made under the config of env: the first key whose recorded value
// differs is an error that names it and the stage to rerun. A manifest
// from before the record was kept is taken as it is.
func madeUnderNow(env Env, run *Run) error {
	for _, stage := range []Stage{StageTransform, StageDiff} {
		m, err := ReadManifest(run.Dir, stage)
		if err != nil {
			return err
		}
		was, _ := m.Details[madeUnder].(map[string]any)
		now := shapeOf(env.Config, stage)
		keys := make([]string, 0, len(now))
		for k := range now {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, recorded := was[k]
			if !recorded || fmt.Sprint(v) == now[k] {
				continue
			}
			rerun := env.command("diff --run %s", run.ID)
			if stage == StageTransform {
				rerun = env.command("transform --run %s", run.ID) + ", then " + rerun
			}
			return &config.Error{Msg: fmt.Sprintf("run %s: its %s was made with %s %q, and the config now says %q: a plan is loaded only under the config it was made under. Rerun under this config: %s; read the new plan, then load it",
				run.ID, stage, k, v, now[k], rerun)}
		}
	}
	return nil
}
