package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// The token and any bearer credential are redacted on the console and in
// the log file, in messages and in errors, whatever their path.
func TestLogRedaction(t *testing.T) {
	const token = "tok-3f9a-secret"
	for _, format := range []string{"console", "json"} {
		var console, file bytes.Buffer
		a := &app{stderr: &console, logFormat: format, secrets: [][]byte{[]byte(token)}}
		log := a.logTo(zerolog.WarnLevel, &file)
		log.Error().Err(errors.New(`Get "https://scim.example/Users?access_token=` + token + `": Authorization: Bearer other-credential`)).
			Msg("request failed")
		log.Info().Str("header", "bearer "+token).Msg("for the file only")
		for name, out := range map[string]string{"console": console.String(), "file": file.String()} {
			if strings.Contains(out, token) || strings.Contains(out, "other-credential") {
				t.Errorf("%s (%s): a secret got through:\n%s", name, format, out)
			}
			if !strings.Contains(out, "[REDACTED]") {
				t.Errorf("%s (%s): nothing redacted:\n%s", name, format, out)
			}
		}
		if strings.Contains(console.String(), "for the file only") || !strings.Contains(file.String(), "for the file only") {
			t.Errorf("levels: the console is at warn, the file at info:\nconsole %s\nfile %s", console.String(), file.String())
		}
	}
}

// noSecret fails when secret is in any file under the dirs or in any of
// the outputs: the test that greps what the integration tests produced.
func noSecret(t *testing.T, secret string, dirs []string, outputs ...string) {
	t.Helper()
	files := 0
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			files++
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
				t.Errorf("the token is in %s", p)
			}
			return nil
		})
	}
	for i, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("the token is in output %d", i)
		}
	}
	if files == 0 {
		t.Error("no file to check: the check proves nothing")
	}
}

// Redaction takes credentials, not the word after "bearer" in prose.
func TestRedactionKeepsProse(t *testing.T) {
	r := &redactor{secrets: [][]byte{[]byte("tok-3f9a-secret")}}
	for in, want := range map[string]string{
		"401: a valid bearer token is required":             "401: a valid bearer token is required",
		"Bearer authentication failed":                      "Bearer authentication failed",
		"Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig":     "Authorization: Bearer [REDACTED]",
		"bearer%20abcdefgh1234":                             "bearer [REDACTED]",
		"Bearer abcdefghijklmnopqrstuvwxyz":                 "Bearer [REDACTED]",
		"the token tok-3f9a-secret, not in a header":        "the token [REDACTED], not in a header",
		`{"detail":"Bearer 0123456789abcdef is not valid"}`: `{"detail":"Bearer [REDACTED] is not valid"}`,
	} {
		if got := string(r.redact([]byte(in))); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// A log file that cannot be written (a full disk) is said once on the
// console; the console goes on.
func TestLogFileFailure(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here:", err)
	}
	defer full.Close()
	var console bytes.Buffer
	a := &app{stderr: &console, logFormat: "json"}
	log := a.logTo(zerolog.InfoLevel, full)
	for i := range 50 {
		log.Info().Int("i", i).Msg("a line")
	}
	if n := strings.Count(console.String(), "cannot be written"); n != 1 {
		t.Errorf("the failure was said %d times:\n%s", n, console.String())
	}
	if strings.Count(console.String(), `"a line"`) != 50 || strings.Contains(console.String(), "could not write event") {
		t.Errorf("the console lost lines or was flooded:\n%s", console.String())
	}
}
