// Package notify announces a run that needs a person: a JSON POST to a
// webhook (condeco-sync's own shape, or Slack's or a Teams workflow's) and
// an email through SMTP. A notice carries counts, the run id and the
// command to run next, never a person's data nor the token: whoever reads
// it goes to status and the run's files for the rest.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/config"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Events a notice is sent for.
const (
	Halted      = "halted"            // a guard halted the plan; nothing was sent
	Failed      = "failed"            // a stage could not do its work
	FailedOps   = "failed_operations" // the load ended with operations the server refused
	Stopped     = "stopped"           // the load spent scim.max_requests_per_run, as asked
	Interrupted = "interrupted"       // SIGINT or SIGTERM stopped the run
	Stale       = "stale"             // no new export set for notify.stale_after
)

// Notice is one announcement: its JSON is the webhook's json format.
type Notice struct {
	Event string `json:"event"`
	// Title is one line, Text a few sentences: what happened and what
	// it means. Next is the command that goes on from here.
	Title  string           `json:"title"`
	Text   string           `json:"text"`
	Next   string           `json:"next"`
	Run    string           `json:"run,omitempty"`
	Stage  string           `json:"stage,omitempty"`
	Counts map[string]int64 `json:"counts,omitempty"`
	Host   string           `json:"host"`
	At     time.Time        `json:"at"`
}

// Sender sends notices where the config says.
type Sender struct {
	Config config.NotifyConfig
	Getenv func(string) string
	// Timeout bounds each channel's delivery (10 s when zero): a notice
	// never holds up the daemon for long.
	Timeout time.Duration
}

// Send delivers n to every configured channel and returns what failed,
// one error per channel; the caller logs them. It never cancels on ctx's
// cancellation (an interrupted run is announced too), only on its
// deadline or the Timeout.
func (s Sender) Send(ctx context.Context, n Notice) []error {
	ctx = context.WithoutCancel(ctx)
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var errs []error
	if w := s.Config.Webhook; w != nil {
		c, cancel := context.WithTimeout(ctx, timeout)
		if err := s.webhook(c, w, n); err != nil {
			errs = append(errs, fmt.Errorf("notify.webhook: %w", err))
		}
		cancel()
	}
	if e := s.Config.Email; e != nil {
		if err := s.email(e, n, timeout); err != nil {
			errs = append(errs, fmt.Errorf("notify.email via %s: %w", e.Server, err))
		}
	}
	return errs
}

// Body is n as format shapes it: json, slack ({"text"}) or teams (an
// Adaptive Card in a message, as Teams workflows take it).
func Body(format string, n Notice) ([]byte, error) {
	switch format {
	case "slack":
		return json.Marshal(map[string]string{"text": fmt.Sprintf("*%s*\n%s\nNext: `%s`", n.Title, n.Text, n.Next)})
	case "teams":
		block := func(text string, extra map[string]any) map[string]any {
			b := map[string]any{"type": "TextBlock", "text": text, "wrap": true}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard",
			"version": "1.4",
			"body": []any{
				block(n.Title, map[string]any{"weight": "Bolder", "size": "Medium"}),
				block(n.Text, nil),
				block("Next: "+n.Next, map[string]any{"fontType": "Monospace"}),
			},
		}
		return json.Marshal(map[string]any{
			"type":        "message",
			"attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}},
		})
	}
	return json.Marshal(n)
}

func (s Sender) webhook(ctx context.Context, w *config.WebhookConfig, n Notice) error {
	addr, err := w.WebhookURL(s.Getenv)
	if err != nil {
		return err
	}
	body, err := Body(w.Format, n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, bytes.NewReader(body))
	if err != nil {
		return errors.New("the url cannot be used") // not repeated: it holds a secret
	}
	req.Header.Set("Content-Type", "application/json")
	host := req.URL.Host
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the url, and with it the secret
		}
		return fmt.Errorf("POST to %s: %w", host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST to %s: answered %s", host, resp.Status)
	}
	return nil
}

func (s Sender) email(e *config.EmailConfig, n Notice, timeout time.Duration) error {
	host, _, _ := net.SplitHostPort(e.Server)
	conn, err := net.DialTimeout("tcp", e.Server, timeout)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	var c *smtp.Client
	switch e.TLS {
	case "tls":
		c = smtp.NewClient(tls.Client(conn, &tls.Config{ServerName: host}))
	case "none":
		c = smtp.NewClient(conn)
	default:
		if c, err = smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host}); err != nil {
			conn.Close()
			return err
		}
	}
	defer c.Close()
	if e.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", e.Username, s.Getenv(e.PasswordEnv))); err != nil {
			return err
		}
	}
	if err := c.SendMail(e.From, e.To, strings.NewReader(message(e, n))); err != nil {
		return err
	}
	return c.Quit()
}

// message is n as a plain-text email.
func message(e *config.EmailConfig, n Notice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", e.From, strings.Join(e.To, ", "), mime.QEncoding.Encode("utf-8", n.Title), n.At.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := fmt.Sprintf("%s\n\nNext: %s\n", n.Text, n.Next)
	if n.Run != "" {
		body += fmt.Sprintf("\nRun: %s\n", n.Run)
	}
	for _, k := range slices.Sorted(maps.Keys(n.Counts)) {
		body += fmt.Sprintf("%s: %d\n", k, n.Counts[k])
	}
	body += fmt.Sprintf("Host: %s\n", n.Host)
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return b.String()
}
