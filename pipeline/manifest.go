package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/stages"
)

// Version is the program version written into every manifest.
var Version = "0.1.0-dev"

// Stage statuses.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
	StatusHalted = "halted"
	// StatusStopped is a load that sent scim.max_requests_per_run
	// requests and stopped, as asked: not a failure; the next run goes on.
	StatusStopped = "stopped"
	StatusRunning = "running"
	StatusStale   = "stale"
	StatusPending = "pending"
	// StatusInterrupted is a stage that a killed process left running, as
	// the next process to take the data directory's lock finds it.
	StatusInterrupted = "interrupted"
	// StatusDryRun is a load attempt that sent nothing (load --dry-run).
	StatusDryRun = stages.ModeDryRun
)

// Manifest is a stage's manifest.json (docs/artifacts.md). Paths are relative to the
// run directory.
type Manifest struct {
	Stage         Stage            `json:"stage"`
	RunID         string           `json:"run_id"`
	Attempt       int              `json:"attempt"`
	Status        string           `json:"status"`
	Mode          string           `json:"mode,omitempty"` // stages.ModeDryRun, or "" for the real thing
	Started       time.Time        `json:"started"`
	Ended         time.Time        `json:"ended"`
	Inputs        []artifact.File  `json:"inputs"`
	Outputs       []artifact.File  `json:"outputs"`
	Counts        map[string]int64 `json:"counts"`
	Details       map[string]any   `json:"details,omitempty"`
	Error         string           `json:"error,omitempty"`
	ConfigSHA256  string           `json:"config_sha256"`
	Version       string           `json:"version"`
	SchemaVersion int              `json:"schema_version"`
}

// Output returns the output whose path is rel, or false.
func (m *Manifest) Output(rel string) (artifact.File, bool) {
	for _, f := range m.Outputs {
		if f.Path == rel {
			return f, true
		}
	}
	return artifact.File{}, false
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return artifact.WriteBytes(path, append(b, '\n'))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadManifest reads the manifest of stage in runDir.
func ReadManifest(runDir string, stage Stage) (*Manifest, error) {
	var m Manifest
	if err := readJSON(filepath.Join(runDir, string(stage), "manifest.json"), &m); err != nil {
		return nil, err
	}
	return &m, nil
}
