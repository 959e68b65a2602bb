package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	relayapp "github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
)

func newServeCmd(a *app) *cobra.Command {
	var configPath, storeURL, listen, node string
	cmd := &cobra.Command{
		Use:   "serve [--config relay.yaml] [--store URL] [--listen ADDR] [--node NAME]",
		Short: "Run the relay",
		Long: `Run the relay: receive webhooks on /v1/webhooks/{input_id}, run the attached
functions, answer the callers and deliver to the outputs.

With no flags it starts on the embedded default: a SQLite file relayfn.db
and an encryption key relayfn.key in the working folder (the key is made
on first start), listening on :8080. The first start prints an admin token
once: keep it, only its hash is stored.

With --config, the relay.yaml's server section configures the process and
its functions and buckets are applied (created or updated by name) before
the relay starts receiving.

The admin API is under /v1/admin/, health under /healthz, Prometheus
metrics under /metrics. With server.admin.listen set, the admin API and
metrics are served on that address only, and the public one serves the
webhooks and /healthz. SIGINT or SIGTERM stops the relay gracefully: it
finishes the webhooks and deliveries in flight; deliveries not yet
attempted stay pending and resume on the next start.

With --store postgres://… (or server.store), several relays, nodes, share
one PostgreSQL database behind a load balancer. Each needs its own name
(--node or server.node; the host name by default: the store refuses a
second live node of the same name), and all need the same encryption key:
set RELAYFN_KEY (64 hex digits) or server.encryption_key_file on every
node. The URL carries the connection pool's settings, such as
?pool_max_conns=8; its password is never printed.`,
		Example: `  fnctl serve
  fnctl serve --config relay.yaml
  fnctl serve --store sqlite:///var/lib/relayfn/relay.db --listen 127.0.0.1:9000
  RELAYFN_KEY=$(cat relayfn.key) fnctl serve --config relay.yaml \
      --store 'postgres://relay@db.internal/relayfn?sslmode=verify-full' --node relay-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadServerConfig(configPath, storeURL)
			if err != nil {
				return err
			}
			if listen != "" {
				f.Server.Listen = listen
			}
			if cmd.Flags().Changed("node") {
				if err := config.CheckNode(node); err != nil {
					return usage("--node: %v", err)
				}
				f.Server.Node = node
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := serve(ctx, a, f, configPath != ""); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&configPath, "config", "", "relay.yaml to run with and apply")
	fs.StringVar(&storeURL, "store", "", "store URL (sqlite://PATH or postgres://…), overriding server.store")
	fs.StringVar(&listen, "listen", "", "address to listen on, overriding server.listen")
	fs.StringVar(&node, "node", "", "this node's name among the nodes of one store, overriding server.node (default: the host name)")
	return cmd
}

// serve runs the relay until ctx ends: the one startup path of relay/app.
func serve(ctx context.Context, a *app, f *config.File, apply bool) error {
	ra, err := relayapp.New(ctx, f, relayapp.Options{
		Stderr: a.stderr,
		Getenv: a.getenv,
		Apply:  apply,
	})
	if err != nil {
		return err
	}
	return ra.Run(ctx)
}

// loadServerConfig reads the relay.yaml at configPath (the defaults when
// it is ""), with storeURL, when set, in place of server.store: what
// serve and admin-token reset start from.
func loadServerConfig(configPath, storeURL string) (*config.File, error) {
	var (
		f   *config.File
		err error
	)
	if configPath != "" {
		f, err = config.Load(configPath)
	} else {
		f, err = config.Parse([]byte("{}"), config.ParseOptions{})
	}
	if err != nil {
		return nil, usage("%v", err)
	}
	if storeURL != "" {
		if err := config.CheckStore(storeURL); err != nil {
			return nil, usage("--store: %v", err)
		}
		f.Server.Store = storeURL
	}
	return f, nil
}
