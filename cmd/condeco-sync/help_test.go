package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every verb's help has an Examples section, and each example names that
// verb with flags it has: an example that no longer runs fails here.
func TestEveryVerbHasExamples(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv, now: time.Now}
	root := a.rootCommand()
	quoted := regexp.MustCompile(`"[^"]*"`)
	n := 0
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Examples", c.Name())
			continue
		}
		for _, line := range strings.Split(c.Example, "\n") {
			line, _, _ = strings.Cut(line, " #")
			line, _, _ = strings.Cut(line, "||")
			args := strings.Fields(quoted.ReplaceAllString(line, "TEXT"))
			if len(args) < 2 || args[0] != "condeco-sync" {
				t.Errorf("%s: example %q does not run condeco-sync", c.Name(), line)
				continue
			}
			found, rest, err := root.Find(args[1:])
			if err != nil || found != c && found.Parent() != c {
				t.Errorf("%s: example %q runs %v (%v)", c.Name(), line, found.Name(), err)
				continue
			}
			if err := found.ParseFlags(rest); err != nil {
				t.Errorf("%s: example %q: %v", c.Name(), line, err)
			}
		}
	}
	if n < 15 {
		t.Errorf("only %d verbs", n)
	}
}
