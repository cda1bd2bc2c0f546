package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// NotifyConfig is where a run that needs a person is announced
// (docs/configuration.md): a webhook, email, or both. With neither,
// nothing is sent; the log and status still say it all.
type NotifyConfig struct {
	Webhook *WebhookConfig `yaml:"webhook"`
	Email   *EmailConfig   `yaml:"email"`
	// StaleAfter: a due run that finds nothing new, this long after the
	// last export set was taken, is announced (a Condeco export that
	// stopped coming). 0 never.
	StaleAfter time.Duration `yaml:"stale_after"`
}

// WebhookConfig is an HTTP endpoint that takes a JSON POST.
type WebhookConfig struct {
	// URL, or the environment variable that holds it: a Slack or Teams
	// webhook's address is its secret.
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	// Format is the body's shape: json (condeco-sync's own), slack, or
	// teams (an Adaptive Card, as a Teams workflow's webhook takes it).
	Format string `yaml:"format"`
}

// EmailConfig is an SMTP server that relays the notices.
type EmailConfig struct {
	Server string   `yaml:"server"` // host:port
	From   string   `yaml:"from"`
	To     []string `yaml:"to"`
	// TLS is starttls (the default: refused by a server that does not
	// offer it), tls (implicit, as on port 465), or none (only to this
	// machine's own relay).
	TLS         string `yaml:"tls"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
}

// Enabled reports whether any channel is configured.
func (n NotifyConfig) Enabled() bool { return n.Webhook != nil || n.Email != nil }

// WebhookURL is the webhook's address, from url or url_env.
func (w *WebhookConfig) WebhookURL(getenv func(string) string) (string, error) {
	if w.URLEnv != "" {
		if u := strings.TrimSpace(getenv(w.URLEnv)); u != "" {
			return u, nil
		}
		return "", fmt.Errorf("notify.webhook: the environment variable %s (url_env) is not set", w.URLEnv)
	}
	return w.URL, nil
}

func (n NotifyConfig) errors() []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if n.StaleAfter < 0 {
		bad("notify.stale_after: must not be negative")
	}
	if n.StaleAfter > 0 && !n.Enabled() {
		bad("notify.stale_after: set notify.webhook or notify.email, where it is announced")
	}
	if w := n.Webhook; w != nil {
		switch {
		case (w.URL == "") == (w.URLEnv == ""):
			bad("notify.webhook: set url or url_env (one of them)")
		case w.URL != "":
			if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("notify.webhook.url: not an http(s) URL") // not repeated: it may hold a secret
			}
		}
		if w.Format == "" {
			w.Format = "json"
		}
		switch w.Format {
		case "json", "slack", "teams":
		default:
			bad("notify.webhook.format: %q is not json, slack or teams", w.Format)
		}
	}
	if e := n.Email; e != nil {
		host, port, err := net.SplitHostPort(e.Server)
		if err != nil || host == "" || port == "" {
			bad("notify.email.server: %q is not host:port", e.Server)
		}
		if _, err := mail.ParseAddress(e.From); err != nil {
			bad("notify.email.from: %q is not an email address", e.From)
		}
		if len(e.To) == 0 {
			bad("notify.email.to: name at least one address")
		}
		for _, to := range e.To {
			if _, err := mail.ParseAddress(to); err != nil {
				bad("notify.email.to: %q is not an email address", to)
			}
		}
		if e.TLS == "" {
			e.TLS = "starttls"
		}
		switch e.TLS {
		case "starttls", "tls":
		case "none":
			if !loopback(host) {
				bad("notify.email.tls: none sends the password and the notices readable across the network: only to a relay on this machine (localhost)")
			}
		default:
			bad("notify.email.tls: %q is not starttls, tls or none", e.TLS)
		}
		if (e.Username == "") != (e.PasswordEnv == "") {
			bad("notify.email: set username and password_env together")
		}
	}
	return errs
}
