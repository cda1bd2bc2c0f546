// Command gen writes the sample export sets of samples/: two consecutive
// days of a generated company (internal/test/exportgen says what changes).
//
//	go run ./samples/gen [dir]
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/condeco-sync/condeco-sync/internal/test/exportgen"
)

func main() {
	dir := "samples"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	for day, stamp := range map[int]string{1: "20261123", 2: "20261124"} {
		var users, locs bytes.Buffer
		if err := exportgen.SampleDay(day, &users, &locs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sub := filepath.Join(dir, fmt.Sprintf("day%d", day))
		os.MkdirAll(sub, 0o755)
		for name, b := range map[string][]byte{"users_" + stamp + ".csv": users.Bytes(), "locations_" + stamp + ".csv": locs.Bytes()} {
			if err := os.WriteFile(filepath.Join(sub, name), b, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
}
