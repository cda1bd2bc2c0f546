package notify

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
)

var notice = Notice{Event: Halted, Title: "condeco-sync: run R halted", Text: "Nothing was sent.", Next: "condeco-sync approve --run R --reason TEXT", Run: "R", Host: "h", At: time.Unix(0, 0).UTC()}

// Slack's and Teams' webhooks get the shapes they take: Slack a "text",
// Teams a message holding an Adaptive Card, each with the title, the
// text and the command.
func TestBodies(t *testing.T) {
	for _, format := range []string{"json", "slack", "teams"} {
		var got []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = io.ReadAll(r.Body) }))
		s := Sender{Config: config.NotifyConfig{Webhook: &config.WebhookConfig{URL: srv.URL, Format: format}}}
		if errs := s.Send(context.Background(), notice); len(errs) > 0 {
			t.Fatalf("%s: %v", format, errs)
		}
		srv.Close()
		var texts []string
		switch format {
		case "json":
			var n Notice
			json.Unmarshal(got, &n)
			texts = []string{n.Title, n.Text, n.Next}
		case "slack":
			var m struct{ Text string }
			json.Unmarshal(got, &m)
			texts = []string{m.Text}
		case "teams":
			var m struct {
				Type        string
				Attachments []struct {
					ContentType string
					Content     struct {
						Type string
						Body []struct{ Type, Text string }
					}
				}
			}
			json.Unmarshal(got, &m)
			if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || m.Attachments[0].Content.Type != "AdaptiveCard" {
				t.Fatalf("teams: not a message with an Adaptive Card: %s", got)
			}
			for _, b := range m.Attachments[0].Content.Body {
				texts = append(texts, b.Text)
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{notice.Title, notice.Text, notice.Next} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: %q is not in %s", format, want, got)
			}
		}
	}
}

// A webhook that fails or cannot be reached is an error that names its
// host, never its address (a Slack or Teams webhook's path is its secret).
func TestWebhookErrorsKeepTheSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer srv.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	for url, want := range map[string]string{srv.URL + "/hook/secret-path-1": "answered 403 Forbidden", "http://" + closed + "/hook/secret-path-1": "connection refused"} {
		s := Sender{Config: config.NotifyConfig{Webhook: &config.WebhookConfig{URLEnv: "HOOK", Format: "json"}}, Getenv: func(string) string { return url }}
		errs := s.Send(context.Background(), notice)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), want) || strings.Contains(errs[0].Error(), "secret-path") {
			t.Errorf("%s: %v, want one error saying %q without the path", url, errs, want)
		}
	}
}

// starttls (the default) refuses a server that does not offer it, rather
// than send the notice, and a password, readable.
func TestEmailRequiresSTARTTLS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "220 localhost ESMTP\r\n")
		buf := make([]byte, 512)
		c.Read(buf) // EHLO
		io.WriteString(c, "250-localhost\r\n250 8BITMIME\r\n")
		c.Read(buf)
	}()
	s := Sender{Config: config.NotifyConfig{Email: &config.EmailConfig{Server: l.Addr().String(), From: "a@b.test", To: []string{"c@d.test"}, TLS: "starttls"}}, Timeout: 5 * time.Second}
	errs := s.Send(context.Background(), notice)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "STARTTLS") {
		t.Errorf("%v, want an error saying the server offers no STARTTLS", errs)
	}
}
