// Package stages holds what every stage reports back to the pipeline. Each
// stage lives in its own package below this one and knows nothing of the run
// directory or of the other stages: it reads the files it is given and writes
// into the directory it is given.
package stages

import "github.com/condeco-sync/condeco-sync/internal/artifact"

// Output is a file a stage wrote, relative to its directory, with the number
// of rows it holds (0 for files that are not tables). A stage that hashed
// what it wrote gives the sha256 and size, and the file is not read again
// to describe it.
type Output struct {
	Path   string
	Rows   int64
	SHA256 string
	Bytes  int64
}

// Result is what a stage reports: its outputs, counts for people, and any
// details worth keeping in the manifest.
type Result struct {
	// Inputs are files a stage found for itself, described as it read
	// them (extract's export files); the pipeline lists the others.
	Inputs  []artifact.File
	Outputs []Output
	Counts  map[string]int64
	Details map[string]any
	// Mode names an attempt that did not do the stage's work for real
	// (ModeDryRun); its status then reads so.
	Mode string
}

// ModeDryRun is a load that recorded the requests it would send, and sent
// nothing.
const ModeDryRun = "dry-run"

// HaltError is a stage that did its work but stops the run until a person
// approves it (the mass-deletion guard): its outputs stand, its status is
// halted, and the run exits 3.
type HaltError struct{ Msg string }

func (e *HaltError) Error() string { return e.Msg }
