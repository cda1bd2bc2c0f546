// Package deploy holds the files that run condeco-sync as a service; its
// test checks them.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"go.yaml.in/yaml/v3"
)

// The systemd units pass systemd-analyze verify without a word (unknown
// keys and bad lines are warnings it prints), when it is installed.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the units are not verified")
	}
	dir := t.TempDir()
	// verify checks that ExecStart's program is an executable: this test's
	// own stands in for condeco-sync (no build of it needed).
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	units, _ := filepath.Glob("systemd/*")
	if len(units) != 3 {
		t.Fatalf("units %v", units)
	}
	var paths []string
	for _, u := range units {
		b, _ := os.ReadFile(u)
		if strings.HasSuffix(u, ".service") {
			for _, want := range []string{"User=condeco-sync", "ProtectSystem=strict", "ReadWritePaths=/var/lib/condeco-sync", "LoadCredential=scim-token:", "NoNewPrivileges=yes"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("%s lacks %s", u, want)
				}
			}
		}
		p := filepath.Join(dir, filepath.Base(u))
		os.WriteFile(p, bytes.ReplaceAll(b, []byte("/usr/local/bin/condeco-sync"), []byte(bin)), 0o644)
		paths = append(paths, p)
	}
	var out bytes.Buffer
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out.String())
	}
}

// The Kubernetes manifests parse; the CronJob never runs two at once,
// names the image, keeps the data on a claim and takes the token from a
// Secret; and the config it mounts is one condeco-sync reads.
func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open("kubernetes/condeco-sync.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		kinds[doc["kind"].(string)] = doc
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	cron := kinds["CronJob"]
	if cron == nil || kinds["PersistentVolumeClaim"] == nil || kinds["ConfigMap"] == nil {
		t.Fatalf("kinds %v", kinds)
	}
	pod := get(cron, "spec", "jobTemplate", "spec", "template", "spec")
	for _, c := range []struct {
		what string
		got  any
		want any
	}{
		{"concurrencyPolicy", get(cron, "spec", "concurrencyPolicy"), "Forbid"},
		{"image", get(pod, "containers", 0, "image"), "ghcr.io/condeco-sync/condeco-sync:v0.2.0"},
		{"the data volume's claim", get(pod, "volumes", 0, "persistentVolumeClaim", "claimName"), get(kinds["PersistentVolumeClaim"], "metadata", "name")},
		{"the token's Secret", get(pod, "containers", 0, "env", 0, "valueFrom", "secretKeyRef", "name"), "condeco-sync"},
		{"non-root", get(pod, "securityContext", "runAsNonRoot"), true},
		{"restartPolicy", get(pod, "restartPolicy"), "Never"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	cfg, err := config.Parse("condeco-sync.yaml", []byte(get(kinds["ConfigMap"], "data", "condeco-sync.yaml").(string)))
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if cfg.Inbox != "/inbox" || !strings.HasPrefix(cfg.Data, "/data/") || cfg.SCIM.TokenEnv != "CONDECO_SYNC_SCIM_TOKEN" {
		t.Errorf("the ConfigMap's config: inbox %s, data %s, token_env %s", cfg.Inbox, cfg.Data, cfg.SCIM.TokenEnv)
	}
}

// The Dockerfile makes a static binary FROM scratch, run as a user that
// is not root, with /data and /inbox as volumes; the binary has the time
// zone database and the CA roots in it. With docker or podman on the
// machine, the image is built and runs.
func TestContainerImage(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "\nFROM scratch\n", "\nUSER 65532:65532\n", `VOLUME ["/data", "/inbox"]`, `ENTRYPOINT ["/condeco-sync"]`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	deps, err := exec.Command("go", "list", "-deps", "../cmd/condeco-sync").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"time/tzdata", "golang.org/x/crypto/x509roots/fallback"} {
		if !bytes.Contains(deps, []byte("\n"+want+"\n")) {
			t.Errorf("the binary does not compile in %s", want)
		}
	}
	engine := ""
	for _, e := range []string{"podman", "docker"} {
		if p, err := exec.LookPath(e); err == nil && exec.Command(p, "info").Run() == nil {
			engine = p
			break
		}
	}
	if engine == "" {
		t.Skip("neither podman nor docker with a running engine is on this machine: the image is not built")
	}
	tag := "condeco-sync:deploy-test"
	if out, err := exec.Command(engine, "build", "--build-arg", "VERSION=v0.0.0-image-test", "-t", tag, "..").CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	defer exec.Command(engine, "rmi", tag).Run()
	out, err := exec.Command(engine, "run", "--rm", tag, "version").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("v0.0.0-image-test")) {
		t.Errorf("%s run %s version: %v\n%s", engine, tag, err, out)
	}
	user, _ := exec.Command(engine, "image", "inspect", "--format", "{{.Config.User}}", tag).Output()
	if strings.TrimSpace(string(user)) != "65532:65532" {
		t.Errorf("the image runs as %q", user)
	}
}
