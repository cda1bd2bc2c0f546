package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"

	"github.com/condeco-sync/condeco-sync/internal/sandbox"
	"github.com/spf13/cobra"
)

// sandboxCommand serves the embedded SCIM sandbox until SIGINT or SIGTERM.
// It takes from the config what the loader uses, so that the two agree:
// the token (scim.token_env or scim.token_file), the extension URN, and by
// default the address of scim.url; its data goes to <data>/sandbox.
func (a *app) sandboxCommand() *cobra.Command {
	var addr, kind, version string
	var maxRPM float64
	cmd := &cobra.Command{
		Use: "sandbox",
		Example: `  condeco-sync sandbox                           # on the host and path of scim.url
  condeco-sync sandbox --profile visitor-generic --scim 1.1 --max-rpm 500
  condeco-sync sandbox --addr 127.0.0.1:8080`,
		Short: "The embedded SCIM sandbox (a visitor-profile server)",
		Long: `sandbox serves a SCIM 2.0 server that behaves like Eptura Visitor, for demos and tests:
/Users with the visitor extension, /Locations, no /Groups; userName must equal the primary
work email, userNames are unique, phone numbers are E.164. It answers only requests with
the token of the config (scim.token_env or scim.token_file), under the path of scim.url
(/scim/v2, /scim/v1 …). Its data is kept in
<data>/sandbox/store.json (with store.log, the changes since, replayed on the next
start if it was killed), and every invitation it would email is a line of
<data>/sandbox/invitations.jsonl.

With --profile visitor-generic it is Eptura Visitor's public Generic SCIM API instead: /Users
only (404 for anything else), no extension (400), the SCIM 1.0 core URN accepted. --max-rpm
answers 429 with Retry-After past that many requests a minute (Eptura publishes 500).
--scim 1.1 (with visitor-generic) makes it speak SCIM 1.1 strictly, as the public API's
base URL (/scim/v1) suggests: only /ServiceProviderConfigs, application/json, 1.1 error
bodies ({"Errors":[{"description","code"}]}), PATCH as a 1.1 partial resource that merges
multi-valued attributes, and a 2.0 PatchOp refused.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(); err != nil {
				return err
			}
			token, err := a.cfg.Token(a.getenv)
			if err != nil {
				return err
			}
			// Served under the path of scim.url (/scim/v2, /scim/v1 …), on
			// its host unless --addr says otherwise.
			u, err := url.Parse(a.cfg.SCIM.URL)
			if err != nil {
				return usageErr("scim.url %q: %v", a.cfg.SCIM.URL, err)
			}
			base := strings.TrimSuffix(u.Path, "/")
			if addr == "" {
				if u.Host == "" {
					return usageErr("--addr is needed: scim.url %q names no host", a.cfg.SCIM.URL)
				}
				addr = u.Host
			}
			dir := filepath.Join(a.cfg.Data, "sandbox")
			if kind == "" {
				kind = profile.Visitor
				if a.cfg.SCIM.Profile == profile.VisitorGeneric {
					kind = profile.VisitorGeneric
				}
			}
			if kind != profile.Visitor && kind != profile.VisitorGeneric {
				return usageErr("--profile: %q is not %s or %s", kind, profile.Visitor, profile.VisitorGeneric)
			}
			if version != "1.1" && version != "2.0" {
				return usageErr("--scim: %q is not 1.1 or 2.0", version)
			}
			if version == "1.1" && kind != profile.VisitorGeneric {
				return usageErr("--scim 1.1 is the wire of the public Generic SCIM API: use it with --profile visitor-generic")
			}
			if maxRPM < 0 {
				return usageErr("--max-rpm must not be negative")
			}
			sb, err := sandbox.NewWith(dir, token, a.cfg.SCIM.Extension,
				sandbox.Options{Generic: kind == profile.VisitorGeneric, MaxRPM: maxRPM, SCIM11: version == "1.1", Base: base})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				sb.Close()
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			a.log.Info().Str("url", fmt.Sprintf("http://%s%s", ln.Addr(), base)).Str("data", dir).Str("profile", kind).Str("scim", version).Msg("sandbox listening")
			err = srv.Serve(ln)
			if cerr := sb.Close(); cerr != nil {
				return cerr
			}
			if errors.Is(err, http.ErrServerClosed) {
				a.log.Info().Msg("sandbox stopped; its data is saved")
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "HOST:PORT to listen on (default: the host of scim.url)")
	cmd.Flags().StringVar(&kind, "profile", "", "visitor or visitor-generic (default: visitor-generic when scim.profile is, else visitor)")
	cmd.Flags().Float64Var(&maxRPM, "max-rpm", 0, "answer 429 past this many requests a minute (0: no limit)")
	cmd.Flags().StringVar(&version, "scim", "2.0", "the SCIM version it speaks: 2.0, or 1.1 (visitor-generic only)")
	return cmd
}
