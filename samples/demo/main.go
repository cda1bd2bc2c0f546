// Command demo shows condeco-sync to a newcomer (go tool task demo): it
// starts the embedded sandbox on a free loopback port, drops the samples'
// day-1 export set into a fresh inbox and runs condeco-sync, then day 2,
// printing every command it runs and what support would read: each run's
// plan and load results, the runs, what the sandbox now holds and who it
// would have emailed. It leaves demo/ behind to look at.
//
//	go run ./samples/demo [-bin bin/condeco-sync] [-dir demo]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/condeco-sync/condeco-sync/schemas"
)

func main() {
	bin := flag.String("bin", "bin/condeco-sync", "the condeco-sync binary")
	dir := flag.String("dir", "demo", "the demo's folder (emptied first)")
	flag.Parse()
	if err := demo(*bin, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type driver struct {
	bin, config string
	env         []string
}

func demo(bin, dir string) error {
	start := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "inbox"), 0o700); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	token := randomToken()
	url := fmt.Sprintf("http://127.0.0.1:%d/scim/v2", port)
	d := &driver{bin: bin, config: filepath.Join(dir, "condeco-sync.yaml"),
		env: append(os.Environ(), "CONDECO_SYNC_SCIM_TOKEN="+token)}
	if err := writeConfig(d.config, url, "suppress"); err != nil {
		return err
	}
	fmt.Printf("== the config: %s (from samples/condeco-sync.yaml, pointed at the sandbox on %s)\n", d.config, url)
	fmt.Println("   the token is in $CONDECO_SYNC_SCIM_TOKEN (scim.token_env), never in the file")

	say("start the embedded SCIM sandbox (a stand-in for Eptura Visitor)")
	sandbox, err := d.start("sandbox")
	if err != nil {
		return err
	}
	defer d.stop(sandbox)
	client, err := scim.New(url, token, 10*time.Second)
	if err != nil {
		return err
	}
	if err := waitReady(client); err != nil {
		return err
	}

	say("day 1: the initial synchronization, with invitations suppressed (users.invitations: suppress)")
	if err := drop("samples/day1", filepath.Join(dir, "inbox")); err != nil {
		return err
	}
	if err := d.runDay(); err != nil {
		return err
	}

	say("day 2: new users are invited from now on (users.invitations: send)")
	if err := writeConfig(d.config, url, "send"); err != nil {
		return err
	}
	if err := drop("samples/day2", filepath.Join(dir, "inbox")); err != nil {
		return err
	}
	if err := d.runDay(); err != nil {
		return err
	}

	say("every run, and a recheck of every artifact against its manifest")
	d.cli("runs")
	d.cli("verify", "--all")

	say("what the sandbox holds now")
	if err := sandboxHoldings(client, filepath.Join(dir, "data", "sandbox")); err != nil {
		return err
	}
	d.stop(sandbox)
	sandbox = nil

	say(fmt.Sprintf("done in %.1f s; look around:", time.Since(start).Seconds()))
	fmt.Printf(`   %[1]s/data/runs/<run-id>/     each run: extract/ transform/ diff/ load/, each with its manifest.json
   %[1]s/data/runs/<run-id>/diff/summary.md   the plan, for support; changes.csv has one row per change
   %[1]s/data/runs/<run-id>/load/results.csv  what the SCIM server answered to each operation
   %[1]s/data/state/baseline.json            the applied state the next run diffs against
   %[1]s/data/sandbox/                       the sandbox's data (store.json) and outbox (invitations.jsonl)
   %[2]s --config %[3]s show summary|todo|changes|rejects|warnings|results [--run ID]
`, dir, bin, d.config)
	return nil
}

// runDay runs condeco-sync on what is in the inbox and shows what support
// would read. Exit 4 (some operations failed) is shown, not fatal.
func (d *driver) runDay() error {
	if err := d.cli("--log-level", "warn", "run"); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 4 {
			return err
		}
	}
	if err := d.show("summary", 30); err != nil {
		return err
	}
	return d.show("results", 20)
}

// show prints `condeco-sync show what`, cut to its first max lines: day
// 1 creates every user, and the whole list is in the file.
func (d *driver) show(what string, max int) error {
	args := []string{"--config", d.config, "show", what}
	fmt.Printf("\n$ condeco-sync %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.bin, args...)
	cmd.Env, cmd.Stderr = d.env, os.Stdout
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(out), "\n")
	if len(lines) > max+5 {
		fmt.Print(strings.Join(lines[:max], ""))
		fmt.Printf("… %d more lines: condeco-sync --config %s show %s\n", len(lines)-max, d.config, what)
		return nil
	}
	fmt.Print(string(out))
	return nil
}

// cli runs condeco-sync with args, echoing the command.
func (d *driver) cli(args ...string) error {
	args = append([]string{"--config", d.config}, args...)
	fmt.Printf("\n$ condeco-sync %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = d.env, os.Stdout, os.Stdout
	return cmd.Run()
}

// start starts condeco-sync with args in the background.
func (d *driver) start(args ...string) (*exec.Cmd, error) {
	args = append([]string{"--config", d.config, "--log-level", "warn"}, args...)
	fmt.Printf("\n$ condeco-sync %s &\n", strings.Join(args, " "))
	cmd := exec.Command(d.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = d.env, os.Stdout, os.Stderr
	return cmd, cmd.Start()
}

// stop ends a background condeco-sync with SIGTERM, as an operator would.
func (d *driver) stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
	}
}

func say(s string) { fmt.Printf("\n== %s\n", s) }

// writeConfig writes the samples' config with the sandbox's URL, paths
// relative to the demo folder, and the invitations setting.
func writeConfig(path, url, invitations string) error {
	b, err := os.ReadFile("samples/condeco-sync.yaml")
	if err != nil {
		return err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "inbox:"):
			line = "inbox: ./inbox"
		case strings.HasPrefix(line, "data:"):
			line = "data: ./data"
		case strings.HasPrefix(strings.TrimSpace(line), "url:"):
			line = "  url: " + url
		case strings.HasPrefix(line, "users:"):
			line = "users: {deprovision: delete, invitations: " + invitations + "}"
		}
		out = append(out, line)
	}
	head := "# Written by the demo (samples/demo) from samples/condeco-sync.yaml.\n"
	return os.WriteFile(path, []byte(head+strings.Join(out, "\n")), 0o600)
}

// drop copies an export set into the inbox, as Condeco would.
func drop(from, inbox string) error {
	files, err := filepath.Glob(filepath.Join(from, "*.csv"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no export set in %s", from)
	}
	fmt.Printf("\n$ cp %s/*.csv %s/\n", from, inbox)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		// Written a minute ago, as a finished export is: condeco-sync takes
		// no file changed within exports.settle.
		p := filepath.Join(inbox, filepath.Base(f))
		old := time.Now().Add(-time.Minute)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := os.Chtimes(p, old, old); err != nil {
			return err
		}
	}
	return nil
}

// sandboxHoldings prints what the sandbox has: its users, how many are
// active and admins, its locations, and its outbox of invitations.
func sandboxHoldings(c *scim.Client, dir string) error {
	ctx := context.Background()
	users, err := c.Filter(ctx, "Users", "", 200)
	if err != nil {
		return err
	}
	locations, err := c.Filter(ctx, "Locations", "", 200)
	if err != nil {
		return err
	}
	active, atDefault, atHome := 0, 0, 0
	for _, u := range users {
		if u["active"] == true {
			active++
		}
		ext, _ := u[schemas.DefaultExtension].(map[string]any) // the samples' config keeps the default scim.extension
		locs, _ := ext["locations"].([]any)
		for _, l := range locs {
			switch m := l.(map[string]any); {
			case m["role"] != "admin":
			case m["value"] == ext["defaultLocation"]:
				atDefault++
			default:
				atHome++
			}
		}
	}
	fmt.Printf("   %d users (%d active; admin rights: %d at the default location, %d at their home location), %d locations:",
		len(users), active, atDefault, atHome, len(locations))
	for _, l := range locations {
		fmt.Printf(" %v (%v)", l["displayName"], l["externalId"])
	}
	fmt.Println()
	f, err := os.Open(filepath.Join(dir, "invitations.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("   outbox: no invitations")
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	fmt.Printf("   outbox (%s): %d invitations, the day-2 joiners; day 1 sent none:\n", filepath.Join(dir, "invitations.jsonl"), len(lines))
	for _, l := range lines {
		fmt.Println("     " + l)
	}
	return nil
}

// waitReady waits for the sandbox to answer.
func waitReady(c *scim.Client) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.ServiceProviderConfig(context.Background())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sandbox did not answer within 15 s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
