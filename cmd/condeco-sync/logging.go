package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/rs/zerolog"
)

// LogFile is the JSON log of every command, under the data directory.
const LogFile = "condeco-sync.log"

// redacted stands for a secret in logs and messages.
const redacted = "[REDACTED]"

// bearer matches a bearer credential however it is written: an
// Authorization header, a header dump, an error quoting a request. What
// follows the word must look like a credential (see credential), so that
// prose such as "a valid bearer token is required" stays readable.
var bearer = regexp.MustCompile(`(?i)(bearer)(\s+|%20)([^\s"'\\,;]+)`)

// credential reports whether s looks like a token rather than a word: 8
// characters or more with a digit or a token character (-._~+/=), or 20
// and more of any.
func credential(s []byte) bool {
	return len(s) >= 20 || (len(s) >= 8 && bytes.ContainsAny(s, "0123456789-._~+/="))
}

// redactor writes through to w with the SCIM token and any bearer
// credential replaced by [REDACTED]: a secret that reaches a log line or
// a message by any path (an error from the HTTP client, a URL, a dump)
// stops here.
type redactor struct {
	w       io.Writer
	secrets [][]byte
}

func (r *redactor) redact(p []byte) []byte {
	q := bearer.ReplaceAllFunc(p, func(m []byte) []byte {
		sub := bearer.FindSubmatch(m)
		if !credential(sub[3]) {
			return m
		}
		return append(append(sub[1], ' '), redacted...)
	})
	for _, s := range r.secrets {
		q = bytes.ReplaceAll(q, s, []byte(redacted))
	}
	return q
}

func (r *redactor) Write(p []byte) (int, error) {
	if _, err := r.w.Write(r.redact(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// atLeast passes on the lines of level min and above.
type atLeast struct {
	w   io.Writer
	min zerolog.Level
}

func (a atLeast) Write(p []byte) (int, error) { return a.w.Write(p) }
func (a atLeast) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < a.min {
		return len(p), nil
	}
	return a.w.Write(p)
}

// logTo builds the logger: readable lines (or JSON, --log-format json) on
// the console at --log-level, and JSON lines at info and above (or the
// console's level when lower) to file when it is not nil. Both redact
// a.secrets.
func (a *app) logTo(level zerolog.Level, file io.Writer) zerolog.Logger {
	var console io.Writer = a.stderr
	if a.logFormat == "console" {
		console = zerolog.ConsoleWriter{Out: &terminalSafe{w: a.stderr}, TimeFormat: time.RFC3339, NoColor: true}
	}
	writers := []io.Writer{atLeast{&redactor{w: console, secrets: a.secrets}, level}}
	lowest := level
	if file != nil {
		lowest = min(level, zerolog.InfoLevel)
		file = &logFile{w: file, console: a.stderr}
		writers = append(writers, atLeast{&redactor{w: file, secrets: a.secrets}, lowest})
	}
	return zerolog.New(zerolog.MultiLevelWriter(writers...)).Level(lowest).With().Timestamp().Logger()
}

// openLogFile opens <data>/condeco-sync.log for appending (0600, in a
// 0700 directory: it names people).
func openLogFile(data string) (*os.File, error) {
	if err := artifact.MkdirAll(data); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(data, LogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}

// logFile is the log file, which may fail (a full disk): the first failure
// is said once on the console, and later lines go to the console only,
// instead of one "could not write event" per line.
type logFile struct {
	w       io.Writer
	console io.Writer
	mu      sync.Mutex
	failed  bool
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed {
		return len(p), nil
	}
	if _, err := l.w.Write(p); err != nil {
		l.failed = true
		fmt.Fprintf(l.console, "condeco-sync: the log file cannot be written (%v): logging to the console only\n", err)
	}
	return len(p), nil
}
