package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/schemas"
)

func parse(t *testing.T, yml string) (*Config, error) {
	t.Helper()
	return Parse(filepath.Join("/etc/cs", "condeco-sync.yaml"), []byte(yml))
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := parse(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Inbox != "/etc/cs/inbox" || cfg.Data != "/etc/cs/data" {
		t.Errorf("paths not resolved against the config's folder: %q %q", cfg.Inbox, cfg.Data)
	}
	if cfg.Exports.Settle != 30*time.Second || cfg.Guards.MaxDeletes != 500 || cfg.SCIM.Profile != "visitor" ||
		cfg.Users.Deprovision != "delete" || cfg.Access.AdminAccessLevels[0] != "Global Admin" || cfg.Delimiter() != 0 {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	if len(cfg.SHA256) != 64 {
		t.Errorf("sha256 = %q", cfg.SHA256)
	}
}

func TestConfigOverrides(t *testing.T) {
	cfg, err := parse(t, `
inbox: /in
exports: {delimiter: ";", settle: 0s}
scim: {profile: scim2, concurrency: 16, timeout: 5s}
access: {default_location: PAR, admin_access_levels: [global admin, Location Admin]}
users: {deprovision: deactivate, invitations: suppress}
guards: {max_deletes: 10}
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Inbox != "/in" || cfg.Delimiter() != ';' || cfg.Exports.Settle != 0 || cfg.SCIM.Concurrency != 16 ||
		cfg.SCIM.Timeout != 5*time.Second || cfg.Access.DefaultLocation != "PAR" || cfg.Users.Invitations != "suppress" ||
		cfg.Guards.MaxDeletes != 10 || cfg.Guards.MaxDeleteFraction != 0.2 {
		t.Errorf("overrides not applied: %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"unknown top key", "inbox: x\nfrobnicate: 1\n", `condeco-sync.yaml: line 2: unknown key "frobnicate"`},
		{"unknown nested key", "scim:\n  url: x\n  tokn_env: Y\n", `line 3: unknown key "tokn_env"`},
		{"bad time zone", "schedule: {timezone: Mars/Olympus}\n", `schedule.timezone: "Mars/Olympus" is not a known time zone`},
		{"bad at", "schedule: {at: '25:00'}\n", `schedule.at: "25:00" is not a time of day`},
		{"bad profile", "scim: {profile: okta}\n", `scim.profile: "okta" is not one of visitor, visitor-generic, scim2`},
		{"bad delimiter", "exports: {delimiter: ':'}\n", `exports.delimiter: ":" is not one of`},
		{"bad admin level", "access: {admin_access_levels: [Boss]}\n", `"Boss" is not one of Global Admin`},
		{"bad home admin level", "access: {home_admin_levels: [Boss]}\n", `access.home_admin_levels: "Boss" is not one of Global Admin`},
		{"admin level in both lists", "access: {admin_access_levels: [Global Admin], home_admin_levels: [global admin]}\n",
			`access.home_admin_levels: "global admin" is also in access.admin_access_levels`},
		{"bad deprovision", "users: {deprovision: purge}\n", `users.deprovision: "purge"`},
		{"bad fraction", "guards: {max_delete_fraction: 1.5}\n", `max_delete_fraction: 1.5 is not between 0 and 1`},
		{"bad duration", "scim: {timeout: soon}\n", `condeco-sync.yaml`},
		{"not yaml", "scim: [\n", `condeco-sync.yaml`},
		{"column not of the layout", "exports:\n  columns:\n    UserID: Employee Id\n    Badge: Badge No\n",
			`condeco-sync.yaml: line 4: exports.columns: "Badge" is not a column of the users or locations layout`},
		{"column mapped twice", "exports:\n  columns:\n    Email: Mail\n    UserName: mail\n",
			`line 4: exports.columns: Email and UserName both name the users column "mail"`},
		{"column of the wrong file", "exports:\n  columns:\n    locations.UserID: Employee Id\n",
			`line 3: exports.columns: "locations.UserID" is not a column`},
		{"column named blank", "exports:\n  columns: {Email: ' '}\n", `line 2: exports.columns: Email names no column of the export`},
		{"scope not boolean", "scope:\n  users:\n    include:\n      - 'UserType == \"Vendor\"'\n      - Department\n",
			`line 5: scope.users.include: "Department": expected bool`},
		{"scope misspelt column", "scope: {users: {exclude: ['Locaton == \"LON\"']}}\n", `scope.users.exclude: "Locaton == \"LON\"": unknown name Locaton`},
		{"bad on_exit", "scope: {on_exit: forget}\n", `scope.on_exit: "forget" is not deprovision or keep`},
		{"webhook without url", "notify: {webhook: {format: slack}}\n", `notify.webhook: set url or url_env`},
		{"webhook url not http", "notify: {webhook: {url: 'ftp://hooks.example/T0/s3cret'}}\n", `notify.webhook.url: not an http(s) URL`},
		{"webhook format", "notify: {webhook: {url: 'https://hooks.example/x', format: discord}}\n", `notify.webhook.format: "discord" is not json, slack or teams`},
		{"email without to", "notify: {email: {server: 'smtp.example:587', from: a@b.example}}\n", `notify.email.to: name at least one address`},
		{"email clear text", "notify: {email: {server: 'smtp.example:25', from: a@b.example, to: [c@d.example], tls: none}}\n", `notify.email.tls: none sends the password and the notices readable`},
		{"email password alone", "notify: {email: {server: 'smtp.example:587', from: a@b.example, to: [c@d.example], password_env: P}}\n", `notify.email: set username and password_env together`},
		{"stale with nowhere to say it", "notify: {stale_after: 48h}\n", `notify.stale_after: set notify.webhook or notify.email`},
		{"mapped attribute unknown", "mapping:\n  users:\n    userName: Email\n", `line 3: mapping.users: "userName" is not an attribute a mapping makes`},
		{"mapped attribute not sent", "scim: {profile: visitor-generic}\nmapping:\n  users:\n    department: Department\n", `line 4: mapping.users: the visitor-generic profile sends no department`},
		{"mapping not text", "mapping:\n  users: {title: Active}\n", `mapping.users.title: "Active"`},
		{"mapping's table missing", "mapping:\n  users: {title: 'lookup(\"titles\", JobTitle)'}\n", `lookup: no table "titles" in mapping.tables`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.yml)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// exports.columns maps the layout's names to the customer's headers, in
// both files where a name is of both, or in the one it is qualified with
// (which wins over a plain key in that file).
func TestColumnsOf(t *testing.T) {
	cfg, err := parse(t, "exports:\n  columns: {UserID: ' Employee Id ', Active: Enabled, locations.Active: Open, Name: Site}\n")
	if err != nil {
		t.Fatal(err)
	}
	users, locs := cfg.Exports.ColumnsOf(schemas.UsersFile), cfg.Exports.ColumnsOf(schemas.LocationsFile)
	if want := map[string]string{"employee id": "userid", "enabled": "active"}; !maps.Equal(users, want) {
		t.Errorf("users: %v, want %v", users, want)
	}
	if want := map[string]string{"open": "active", "site": "name"}; !maps.Equal(locs, want) {
		t.Errorf("locations: %v, want %v", locs, want)
	}
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := parse(t, "")
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := cfg.Token(getenv); err == nil || !strings.Contains(err.Error(), "CONDECO_SYNC_SCIM_TOKEN") {
		t.Errorf("missing token: err = %v, want it to name the variable", err)
	}
	env["CONDECO_SYNC_SCIM_TOKEN"] = " s3cret \n"
	if tok, err := cfg.Token(getenv); tok != "s3cret" || err != nil {
		t.Errorf("Token = %q, %v", tok, err)
	}
	delete(env, "CONDECO_SYNC_SCIM_TOKEN")
	cfg.SCIM.TokenFile = filepath.Join(dir, "tok")
	os.WriteFile(cfg.SCIM.TokenFile, []byte("from-file\n"), 0o600)
	if tok, err := cfg.Token(getenv); tok != "from-file" || err != nil {
		t.Errorf("Token from file = %q, %v", tok, err)
	}
	os.WriteFile(cfg.SCIM.TokenFile, nil, 0o600)
	if _, err := cfg.Token(getenv); err == nil || strings.Contains(err.Error(), "from-file") {
		t.Errorf("empty token file: err = %v", err)
	}
}

// scim.max_rpm: unset, 500 a minute on the visitor profiles (Eptura's
// published throttle) and none on scim2; 0 lifts it; load keeps under
// the tighter of it and scim.max_rps.
func TestRequestsPerMinute(t *testing.T) {
	for _, tc := range []struct {
		yml  string
		rpm  int
		rate float64
	}{
		{"scim: {profile: visitor}\n", 500, 500.0 / 60},
		{"scim: {profile: visitor-generic}\n", 500, 500.0 / 60},
		{"scim: {profile: scim2}\n", 0, 0},
		{"scim: {profile: visitor, max_rpm: 0}\n", 0, 0},
		{"scim: {profile: scim2, max_rpm: 120}\n", 120, 2},
		{"scim: {profile: visitor, max_rps: 5}\n", 500, 5},
		{"scim: {profile: visitor, max_rps: 20}\n", 500, 500.0 / 60},
		{"scim: {profile: visitor, max_rpm: 0, max_rps: 20}\n", 0, 20},
	} {
		cfg, err := parse(t, tc.yml)
		if err != nil {
			t.Fatalf("%q: %v", tc.yml, err)
		}
		if got := cfg.SCIM.RequestsPerMinute(); got != tc.rpm {
			t.Errorf("%q: %d requests a minute, want %d", tc.yml, got, tc.rpm)
		}
		if got := cfg.SCIM.Rate(); got != tc.rate {
			t.Errorf("%q: rate %v a second, want %v", tc.yml, got, tc.rate)
		}
	}
	if _, err := parse(t, "scim: {max_rpm: -1}\n"); err == nil || !strings.Contains(err.Error(), "scim.max_rpm: must not be negative") {
		t.Errorf("a negative max_rpm: %v", err)
	}
}

// Keys the profile does not act on are warnings naming their line, not
// errors; a key left to its default is not named.
func TestIgnoredKeys(t *testing.T) {
	cfg, err := Parse("condeco-sync.yaml", []byte("scim:\n  profile: visitor-generic\n  extension: urn:x\nusers:\n  invitations: suppress\nlocations: {delete_removed: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"condeco-sync.yaml: line 3: scim.extension is not acted on under scim.profile visitor-generic: no user carries the visitor extension",
		"condeco-sync.yaml: line 5: users.invitations is not acted on under scim.profile visitor-generic: the tenant emails new users itself",
		"condeco-sync.yaml: line 6: locations.delete_removed is not acted on under scim.profile visitor-generic",
	}
	if len(cfg.Warnings) != len(want) {
		t.Fatalf("warnings %q", cfg.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(cfg.Warnings[i], w) {
			t.Errorf("warning %d: %q, want %q…", i, cfg.Warnings[i], w)
		}
	}
	for _, body := range []string{"scim: {profile: visitor-generic}\n", "scim: {profile: visitor}\nusers: {invitations: suppress}\n"} {
		if cfg, err := Parse("condeco-sync.yaml", []byte(body)); err != nil || len(cfg.Warnings) > 0 {
			t.Errorf("%q: %v %q, want no warning", body, err, cfg.Warnings)
		}
	}
}
