package pipeline

import (
	"github.com/condeco-sync/condeco-sync/stages/diff"
	"github.com/condeco-sync/condeco-sync/stages/extract"
	"github.com/condeco-sync/condeco-sync/stages/load"
	"github.com/condeco-sync/condeco-sync/stages/transform"
)

// Stage is one stage of a run.
type Stage string

// The stages, in the order a run goes through them.
const (
	StageExtract   Stage = "extract"
	StageTransform Stage = "transform"
	StageDiff      Stage = "diff"
	StageLoad      Stage = "load"
)

// Stages in the order a run goes through them.
var Stages = []Stage{StageExtract, StageTransform, StageDiff, StageLoad}

// Artifact is a file a stage writes into its directory of the run.
type Artifact struct {
	Stage Stage
	File  string // relative to the stage's directory
}

// Path is the artifact's path relative to the run directory, as its
// stage's manifest lists it.
func (a Artifact) Path() string { return string(a.Stage) + "/" + a.File }

// The artifacts a stage reads from an earlier one, or that people read.
var (
	ExtractUsers       = Artifact{StageExtract, extract.UsersFile}
	ExtractLocations   = Artifact{StageExtract, extract.LocationsFile}
	ExtractHolds       = Artifact{StageExtract, extract.HoldsFile}
	ExtractRejects     = Artifact{StageExtract, extract.RejectsFile}
	TransformUsers     = Artifact{StageTransform, transform.UsersFile}
	TransformLocations = Artifact{StageTransform, transform.LocationsFile}
	TransformWarnings  = Artifact{StageTransform, transform.WarningsFile}
	DiffChanges        = Artifact{StageDiff, diff.ChangesFile}
	DiffChangesCSV     = Artifact{StageDiff, diff.ChangesCSVFile}
	DiffSummary        = Artifact{StageDiff, diff.SummaryFile}
	DiffTodo           = Artifact{StageDiff, diff.TodoFile}
	LoadJournal        = Artifact{StageLoad, load.JournalFile}
	LoadResults        = Artifact{StageLoad, load.ResultsFile}
	LoadUsersState     = Artifact{StageLoad, load.UsersStateFile}
	LoadLocationsState = Artifact{StageLoad, load.LocationsStateFile}
	LoadRequests       = Artifact{StageLoad, load.RequestsFile}
)

// StageReads is what each stage reads of the stages before it (extract
// reads the inbox; load also reads the baseline's applied state).
var StageReads = map[Stage][]Artifact{
	StageTransform: {ExtractUsers, ExtractLocations, ExtractHolds},
	StageDiff:      {TransformUsers, TransformLocations},
	StageLoad:      {DiffChanges}, // the plan is whole: load opens nothing under transform/
}

// ShownNames are the names `show` takes, in the order a run writes them
// for people: the plan first.
var ShownNames = []string{"summary", "todo", "changes", "rejects", "warnings", "results"}

// Shown are the artifacts meant for people, by the name `show` takes.
var Shown = map[string]Artifact{
	"summary":  DiffSummary,
	"todo":     DiffTodo,
	"changes":  DiffChangesCSV,
	"rejects":  ExtractRejects,
	"warnings": TransformWarnings,
	"results":  LoadResults,
}
