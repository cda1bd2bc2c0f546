package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/pipeline"
	"github.com/condeco-sync/condeco-sync/stages"
	"github.com/condeco-sync/condeco-sync/stages/load"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errors.New("boom"), exitFailed},
		{&config.Error{Msg: "bad"}, exitUsage},
		{fmt.Errorf("wrapped: %w", &config.Error{Msg: "bad"}), exitUsage},
		{usageErr("x"), exitUsage},
		{&pipeline.StageError{Run: "r", Stage: "diff", Err: &stages.HaltError{Msg: "guard"}}, exitHalted},
		{&pipeline.StageError{Run: "r", Stage: "extract", Err: errors.New("bad file")}, exitFailed},
		{errors.New(`unknown command "x" for "condeco-sync"`), exitUsage},
		{&pipeline.StageError{Run: "r", Stage: "load", Err: fmt.Errorf("stopped: %w", load.ErrBudget)}, exitBudget},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
