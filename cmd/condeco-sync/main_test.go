package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"condeco-sync": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, time.Now)) },
	})
}

// TestScripts runs the command line end to end, as cmd/go is tested: each
// testdata/script/*.txtar is a shell-like script with its files.
func TestScripts(t *testing.T) {
	samples, _ := filepath.Abs("../../samples")
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// age FILE…: the files were written a minute ago, as a finished
			// export is (exports.settle has a floor).
			"age": func(ts *testscript.TestScript, neg bool, args []string) {
				old := time.Now().Add(-time.Minute)
				for _, a := range args {
					ts.Check(os.Chtimes(ts.MkAbs(a), old, old))
				}
			},
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLES", samples)
			env.Setenv("CONDECO_SYNC_SCIM_TOKEN", "")
			return nil
		},
	})
}
