package test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/condeco-sync/condeco-sync/"

// The module's floors, from the top: the programs (cmd, samples, build), then
// pipeline, then the stages, then internal/, then schemas. What a program
// needs goes down, never up: schemas imports nothing of ours, nothing
// under internal/ imports a stage, pipeline or cmd, no stage imports
// pipeline, and no program but the samples' generator needs a test
// helper (internal/test). Go refuses cycles itself. It reads what `go
// list -deps` says of every package.
func TestNoImportClimbs(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	floor := func(p string) int {
		switch {
		case strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "samples/") || strings.HasPrefix(p, "build/"):
			return 5
		case p == "pipeline":
			return 4
		case p == "stages" || strings.HasPrefix(p, "stages/"):
			return 3
		case strings.HasPrefix(p, "internal/"):
			return 2
		}
		return 1 // schemas
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		n++
		for _, d := range p.Deps {
			dep, ours := strings.CutPrefix(d, module)
			switch {
			case !ours:
			case floor(dep) > floor(name):
				t.Errorf("%s needs %s: an import climbs from floor %d to floor %d", name, dep, floor(name), floor(dep))
			case strings.HasPrefix(dep, "internal/test/") && !strings.HasPrefix(name, "internal/test/") && name != "samples/gen":
				t.Errorf("%s needs the test helper %s", name, dep)
			}
		}
	}
	if n < 20 {
		t.Fatalf("go list named %d packages of ours: the check proves nothing", n)
	}
}
