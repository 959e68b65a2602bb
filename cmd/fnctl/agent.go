package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay/agent"
	"github.com/relayfn/relayfn/relay/api"
)

func newAgentCmd(a *app) *cobra.Command {
	var (
		server, token, name, forwardTo, caFile string
		buckets, allow                         []string
		ping                                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "agent --server URL --token ID.SECRET [--bucket B…] [--name N] [--forward-to URL] [--allow HOST[:PORT]…] [--ca-file F]",
		Short: "Deliver a relay's internal outputs inside this network",
		Long: `Run an agent: it opens one outbound WebSocket to the relay's public URL
--server (wss:// when the relay serves TLS; --ca-file adds a CA to trust),
authenticates with an agent token (--token, or FNCTL_AGENT_TOKEN; made with
'fnctl agent token create'), subscribes to the --bucket buckets (default:
every bucket of the token), and sends each delivery of their internal
outputs to its destination as seen from this network, then reports the
answer to the relay, which records it as the attempt.

--forward-to URL replaces the scheme, host and port of every destination,
keeping its path and query: 'fnctl agent --forward-to http://localhost:3000'
brings a bucket's webhooks to a local development server. --allow limits the
destinations the agent sends to (HOST for any port, or HOST:PORT; repeat
it); others are refused and reported, and the relay does not retry them.

The agent logs one line per delivery, reconnects with backoff when the
connection is lost, and pings the relay (a dead connection is found within
two --ping intervals). SIGTERM or SIGINT stop it: it takes no more
deliveries, finishes those in flight and exits 0. It exits 1 when the relay
refuses its token or a bucket (the relay's reason is printed), 2 on bad
usage.`,
		Example: `  fnctl agent --server https://relay.example.com --token "$AGENT_TOKEN" --bucket ci
  fnctl agent --server https://relay.example.com --bucket dev --forward-to http://localhost:3000`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = strings.TrimSpace(a.getenv("FNCTL_AGENT_TOKEN"))
			}
			if server == "" {
				return usage("missing --server URL: the relay's public URL")
			}
			if token == "" {
				return usage("missing --token ID.SECRET (or FNCTL_AGENT_TOKEN)")
			}
			o := agent.Options{Server: server, Token: token, Buckets: buckets, Name: name, Allow: allow, Ping: ping, Log: a.stderr}
			if forwardTo != "" {
				u, err := url.Parse(forwardTo)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
					return usage("invalid --forward-to %q: want scheme, host and port only, such as http://localhost:3000", forwardTo)
				}
				o.ForwardTo = u
			}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return usage("--ca-file: %v", err)
				}
				pool, err := x509.SystemCertPool()
				if err != nil {
					pool = x509.NewCertPool()
				}
				if !pool.AppendCertsFromPEM(pem) {
					return usage("--ca-file %s: no PEM certificate in it", caFile)
				}
				o.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := agent.Run(ctx, o)
			var rej *agent.RejectedError
			switch {
			case errors.As(err, &rej):
				return failed(err)
			case err != nil && strings.Contains(err.Error(), "want the relay's"):
				return usage("%v", err)
			case err != nil:
				return failed(err)
			}
			fmt.Fprintf(a.stderr, "%s agent stopped\n", time.Now().UTC().Format(time.RFC3339))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&server, "server", "", "the relay's public URL (http or https)")
	fs.StringVar(&token, "token", "", "agent token ID.SECRET (default $FNCTL_AGENT_TOKEN)")
	fs.StringArrayVar(&buckets, "bucket", nil, "bucket to subscribe to, by name or ID (repeat it; default: every bucket of the token)")
	fs.StringVar(&name, "name", "", "the agent's name in 'fnctl agent ls'")
	fs.StringVar(&forwardTo, "forward-to", "", "send every delivery to this scheme://host:port, keeping its path and query")
	fs.StringArrayVar(&allow, "allow", nil, "the only destinations to send to: HOST or HOST:PORT (repeat it)")
	fs.StringVar(&caFile, "ca-file", "", "PEM file of a CA to trust for the relay's TLS certificate")
	fs.DurationVar(&ping, "ping", agent.DefaultPing, "how often to ping the relay")

	r := newRemote(a)
	cmd.AddCommand(
		groupCmd(r, "token", "Manage agent tokens",
			`Make and list agent tokens: the credentials of 'fnctl agent', each scoped
to buckets. 'fnctl token rm ID' deletes one. A bucket's caller tokens are
not agent tokens, nor the reverse.`,
			newAgentTokenCreateCmd(r), newAgentTokenLsCmd(r)),
		newAgentLsCmd(newRemote(a)),
	)
	return cmd
}

func newAgentTokenCreateCmd(r *remote) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create BUCKET [BUCKET…] [--name N]",
		Short: "Make an agent token",
		Long: `Make an agent token for the BUCKETs (names or IDs). The credential is printed
on stdout this once (with -o json, in the "credential" field): only its hash
is kept, so store it now.
` + remoteHelp,
		Example: `  fnctl agent token create ci --name office`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usage("missing BUCKET: at least one bucket")
			}
			return nil
		},
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			nt, err := s.c.CreateAgentToken(ctx, name, args)
			if err != nil {
				return err
			}
			label := nt.Token.ID
			if nt.Token.Name != "" {
				label += " (" + nt.Token.Name + ")"
			}
			fmt.Fprintf(s.a.stderr, "Created agent token %s for %s.\nThe credential is shown once: keep it safe now, only its hash is stored.\n",
				label, strings.Join(nt.Token.Buckets, ", "))
			return s.print(nt, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, nt.Credential)
				return err
			})
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for the token, such as office or laptop")
	return cmd
}

func newAgentTokenLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the agent tokens",
		Long:  "List the agent tokens (never their secrets).\n" + remoteHelp,
		Args:  exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			toks, err := s.c.ListAgentTokens(ctx)
			if err != nil {
				return err
			}
			return s.print(toks, func(w io.Writer) error {
				t := newTextTable(w, "ID", "NAME", "BUCKETS", "CREATED")
				for _, tk := range toks {
					t.row(tk.ID, tk.Name, strings.Join(tk.Buckets, ","), timeText(tk.CreatedAt))
				}
				return t.flush()
			})
		}),
	}
}

func newAgentLsCmd(r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the connected agents",
		Long: `List the agents connected to the relay: name, buckets, remote address,
when it connected, and its deliveries in flight, delivered (a 2xx) and
failed since then.
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			as, err := s.c.ListAgents(ctx)
			if err != nil {
				return err
			}
			return s.print(as, func(w io.Writer) error { return agentTable(w, as) })
		}),
	}
	r.register(cmd.Flags())
	return cmd
}

func agentTable(w io.Writer, as []*api.Agent) error {
	t := newTextTable(w, "NAME", "BUCKETS", "REMOTE", "CONNECTED", "IN FLIGHT", "DELIVERED", "FAILED")
	for _, a := range as {
		name := a.Name
		if name == "" {
			name = a.ID
		}
		t.row(name, strings.Join(a.Buckets, ","), a.Remote, timeText(a.Since), a.InFlight, a.Delivered, a.Failed)
	}
	return t.flush()
}
