package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/condeco-sync/condeco-sync/internal/notify"
	"github.com/condeco-sync/condeco-sync/internal/test/faultproxy"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// hookServer is a webhook endpoint that keeps every body it is sent.
type hookServer struct {
	URL    string
	mu     sync.Mutex
	bodies [][]byte
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "a JSON POST only", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/hooks/T0001/B0001/s3cr3t-webhook-path"
	return h
}

func (h *hookServer) notices(t *testing.T) []notify.Notice {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []notify.Notice
	for _, b := range h.bodies {
		var n notify.Notice
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("webhook body is not a notice: %v\n%s", err, b)
		}
		out = append(out, n)
	}
	return out
}

// mailServer is an SMTP server (go-smtp) that takes mail from one user
// with one password and keeps every message.
type mailServer struct {
	Addr string
	mu   sync.Mutex
	msgs []mailMsg
}

type mailMsg struct {
	From string
	To   []string
	Data string
}

type mailSession struct {
	s    *mailServer
	msg  mailMsg
	auth bool
}

func (m *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (m *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "sync" || pass != "smtp-pass-1b2c" {
			return errors.New("bad credentials")
		}
		m.auth = true
		return nil
	}), nil
}
func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !m.auth {
		return errors.New("authenticate first")
	}
	m.msg = mailMsg{From: from}
	return nil
}
func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	m.msg.To = append(m.msg.To, to)
	return nil
}
func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	m.msg.Data = string(b)
	m.s.mu.Lock()
	m.s.msgs = append(m.s.msgs, m.msg)
	m.s.mu.Unlock()
	return err
}
func (m *mailSession) Reset()        {}
func (m *mailSession) Logout() error { return nil }

func newMailServer(t *testing.T) *mailServer {
	ms := &mailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &mailSession{s: ms}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	ms.Addr = l.Addr().String()
	return ms
}

func (ms *mailServer) messages() []mailMsg {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]mailMsg(nil), ms.msgs...)
}

// Each kind of notice reaches a webhook and an SMTP server, as they
// happen to a real run against the sandbox: a failed transform, a load
// stopped at its budget, an interrupted load, a load with a failed
// operation, a halt at the guard, and no new export for stale_after. A run
// that went well sends nothing. No notice holds a person's data, the
// token, the webhook's address or the SMTP password.
func TestNotices(t *testing.T) {
	hook, mail := newHookServer(t), newMailServer(t)
	proxy, err := faultproxy.Start(startSandbox(t, t.TempDir()), faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	f := visitorFixture(t, proxy.URL)
	f.env.Getenv = func(k string) string {
		return map[string]string{"CONDECO_SYNC_SCIM_TOKEN": scimmytest.Token, "HOOK_URL": hook.URL, "SMTP_PASSWORD": "smtp-pass-1b2c"}[k]
	}
	cfg := f.env.Config
	cfg.Guards.MinUsers = 50
	cfg.Notify = config.NotifyConfig{
		Webhook:    &config.WebhookConfig{URLEnv: "HOOK_URL", Format: "json"},
		Email:      &config.EmailConfig{Server: mail.Addr, From: "condeco-sync@notices.test", To: []string{"ops@notices.test"}, TLS: "none", Username: "sync", PasswordEnv: "SMTP_PASSWORD"},
		StaleAfter: 48 * time.Hour,
	}
	sync := func(ctx context.Context) SyncResult {
		res, err := Sync(ctx, f.env, SyncOptions{})
		Announce(ctx, f.env, res, err)
		return res
	}
	type want struct{ event, run, next string }
	var wants []want
	expect := func(event, run, next string) { wants = append(wants, want{event, run, next}) }

	// A default location the export does not have: transform fails.
	cfg.Access.DefaultLocation = "NOWHERE"
	copySample(t, f, "day1")
	day1 := sync(context.Background())
	expect(notify.Failed, day1.Run.ID, "condeco-sync status")
	// Fixed, with a budget of 20 requests: the load stops at it.
	cfg.Access.DefaultLocation, cfg.SCIM.MaxRequestsPerRun = "LON", 20
	sync(context.Background())
	expect(notify.Stopped, day1.Run.ID, "condeco-sync run")
	// SIGTERM: the context is cancelled, yet the notice goes out.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if res := sync(cancelled); res.Outcome != Interrupted {
		t.Fatalf("a cancelled sync: %+v", res)
	}
	expect(notify.Interrupted, day1.Run.ID, "condeco-sync run")
	// No budget; the server refuses one user: one failed operation.
	cfg.SCIM.MaxRequestsPerRun = 0
	proxy.Refuse("dennis.shannon.219@example.com") // created last, after the budget
	if res := sync(context.Background()); res.Resumed == nil || res.Outcome != NothingNew {
		t.Fatalf("the resumed load: %+v", res)
	}
	expect(notify.FailedOps, day1.Run.ID, "condeco-sync show results --run "+day1.Run.ID)
	proxy.Refuse("")
	// Day 2 cut to 100 users halts at the guard on mass deletions.
	f.now = f.now.Add(24 * time.Hour)
	copySample(t, f, "day2")
	cut, _ := os.ReadFile(filepath.Join("..", "samples", "day2", "users_20261124.csv"))
	lines := strings.SplitAfter(string(cut), "\n")
	os.WriteFile(filepath.Join(cfg.Inbox, "users_20261124.csv"), []byte(strings.Join(lines[:101], "")), 0o600)
	old := f.now.Add(-time.Hour)
	os.Chtimes(filepath.Join(cfg.Inbox, "users_20261124.csv"), old, old)
	day2 := sync(context.Background())
	if day2.Outcome != Halted {
		m, _ := ReadManifest(day2.Run.Dir, day2.Stage)
		t.Fatalf("day 2 cut short: %+v: %+v", day2, m)
	}
	expect(notify.Halted, day2.Run.ID, "condeco-sync approve --load --run "+day2.Run.ID+" --reason TEXT")
	if err := DiscardRun(f.env, day2.Run, "ops", "cut short"); err != nil {
		t.Fatal(err)
	}
	// Nothing new the next day: not yet stale (24 h < 48 h), no notice.
	f.now = f.now.Add(24 * time.Hour)
	if res := sync(context.Background()); res.Outcome != NothingNew {
		t.Fatalf("the next day: %+v", res)
	}
	// A day later, 48 h after day 2's set was taken: stale.
	f.now = f.now.Add(24 * time.Hour)
	sync(context.Background())
	expect(notify.Stale, "", "condeco-sync status")

	got := hook.notices(t)
	msgs := mail.messages()
	if len(got) != len(wants) || len(msgs) != len(wants) {
		t.Fatalf("%d webhook notices and %d emails, want %d each: %+v", len(got), len(msgs), len(wants), got)
	}
	for i, w := range wants {
		n, m := got[i], msgs[i]
		if n.Event != w.event || n.Run != w.run || n.Next != w.next || n.Title == "" || n.Text == "" || n.Host == "" {
			t.Errorf("notice %d: %+v, want %+v", i, n, w)
		}
		if m.From != "condeco-sync@notices.test" || len(m.To) != 1 || m.To[0] != "ops@notices.test" {
			t.Errorf("email %d from %s to %v", i, m.From, m.To)
		}
		if !strings.Contains(m.Data, "Subject: "+n.Title+"\r\n") || !strings.Contains(m.Data, "Next: "+w.next+"\r\n") {
			t.Errorf("email %d does not say the notice's title and next command:\n%s", i, m.Data)
		}
	}
	if got[4].Counts["deletes"] != 116 || got[3].Counts["failed"] != 1 {
		t.Errorf("counts: halted %v, failed operations %v", got[4].Counts, got[3].Counts)
	}
	// Nothing personal, nothing secret.
	all := string(mustJSON(t, got))
	for _, m := range msgs {
		all += m.Data
	}
	for _, secret := range []string{scimmytest.Token, "s3cr3t-webhook-path", "smtp-pass-1b2c"} {
		if strings.Contains(all, secret) {
			t.Errorf("a notice holds the secret %q", secret)
		}
	}
	if email := regexp.MustCompile(`[\w.+-]+@example\.com`).FindString(all); email != "" {
		t.Errorf("a notice names a user of the export (%s)", email)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The daemon's run (Scheduled) announces as run does: a failed transform
// reaches the webhook, with the command to run next.
func TestScheduledAnnounces(t *testing.T) {
	hook := newHookServer(t)
	f := visitorFixture(t, startSandbox(t, t.TempDir()))
	f.env.Getenv = func(k string) string {
		return map[string]string{"CONDECO_SYNC_SCIM_TOKEN": scimmytest.Token}[k]
	}
	cfg := f.env.Config
	cfg.Notify = config.NotifyConfig{Webhook: &config.WebhookConfig{URL: hook.URL, Format: "json"}}
	cfg.Access.DefaultLocation = "NOWHERE"
	copySample(t, f, "day1")
	res := Scheduled(context.Background(), f.env)
	got := hook.notices(t)
	if res.Run == nil || len(got) != 1 || got[0].Event != notify.Failed || got[0].Run != res.Run.ID || got[0].Stage != "transform" || got[0].Next != "condeco-sync status" {
		t.Fatalf("the scheduled run's notices: %+v (run %+v)", got, res)
	}
}
