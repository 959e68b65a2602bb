package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// shutdownGrace bounds how long a stopping relay waits for in-flight
// webhooks and deliveries.
const shutdownGrace = 30 * time.Second

func newServeCmd(a *app) *cobra.Command {
	var configPath, storeURL, listen string
	cmd := &cobra.Command{
		Use:   "serve [--config relay.yaml] [--store URL] [--listen ADDR]",
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
metrics under /metrics. SIGINT or SIGTERM stops the relay gracefully: it
finishes the webhooks and deliveries in flight; deliveries not yet
attempted stay pending and resume on the next start.`,
		Example: `  fnctl serve
  fnctl serve --config relay.yaml
  fnctl serve --store sqlite:///var/lib/relayfn/relay.db --listen 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
				return usage("%v", err)
			}
			if storeURL != "" {
				f.Server.Store = storeURL
			}
			if listen != "" {
				f.Server.Listen = listen
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
	fs.StringVar(&storeURL, "store", "", "store URL (sqlite://PATH), overriding server.store")
	fs.StringVar(&listen, "listen", "", "address to listen on, overriding server.listen")
	return cmd
}

// serve runs the relay until ctx ends.
func serve(ctx context.Context, a *app, f *config.File, apply bool) error {
	log := slog.New(slog.NewJSONHandler(a.stderr, nil))
	s := f.Server

	// The store, the key and the token file are relative to the working
	// folder, like the process's other state; function files and the ACL
	// are relative to the relay.yaml that names them.
	keyPath := s.EncryptionKeyFile
	key, created, err := seal.LoadOrCreateKey(keyPath)
	if err != nil {
		return fmt.Errorf("server.encryption_key_file: %w", err)
	}
	if created {
		log.Info("made a new encryption key", "file", keyPath)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return fmt.Errorf("server.encryption_key_file: %w", err)
	}
	if strings.HasPrefix(s.Store, "postgres://") || strings.HasPrefix(s.Store, "postgresql://") {
		return errors.New("server.store: PostgreSQL is not supported by this build; use sqlite://PATH")
	}
	st, err := sqlite.Open(ctx, s.Store, sealer)
	if err != nil {
		return fmt.Errorf("server.store: %w", err)
	}
	defer st.Close()

	eg, err := newEgress(f, log, a.getenv)
	if err != nil {
		return err
	}
	defer eg.Close()

	// http, bigquery and mailgun go through eg; email through eg to the
	// SMTP server of server.modules.smtp, when one is configured.
	e, err := runtime.New(runtime.Options{Modules: functions.Modules(f.ModuleDeps(eg))})
	if err != nil {
		return err
	}
	defer e.Close()

	if apply {
		report, err := config.Apply(ctx, st, e, f)
		if err != nil {
			return fmt.Errorf("apply %s: %w", f.Name, err)
		}
		for _, c := range report.Changes {
			log.Info("applied", "kind", c.Kind, "name", c.Name, "action", c.Action)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := relay.New(ctx, relay.Options{
		Store:              st,
		Engine:             e,
		Sender:             eg,
		Logger:             log,
		Registerer:         reg,
		MaxBodyBytes:       s.MaxBodyBytes,
		UnknownInputStatus: s.UnknownInputStatus,
		DegradedStatus:     s.Health.DegradedStatus,
	})
	if err != nil {
		return err
	}

	cred, made, err := admin.Bootstrap(ctx, st)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if made {
		if s.Admin.TokenFile != "" {
			path := s.Admin.TokenFile
			if err := os.WriteFile(path, []byte(cred+"\n"), 0o600); err != nil {
				return fmt.Errorf("server.admin.token_file: %w", err)
			}
			log.Info("wrote the admin token", "file", path)
		}
		// Printed once, outside the structured log: only its hash is kept.
		fmt.Fprintf(a.stderr, "\nAdmin token (shown once, keep it safe):\n\n    %s\n\nUse it with: export FNCTL_TOKEN=%s\n\n", cred, cred)
	}

	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.Handle(admin.Prefix, admin.New(admin.Options{Store: st, Server: srv, Engine: e, Logger: log}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	ln, hs, err := listenLimited(s, mux, log)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("relayfn listening", "addr", ln.Addr().String(), "store", s.Store)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight webhooks and deliveries")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "error", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("delivery shutdown", "error", err)
	}
	log.Info("stopped")
	return nil
}

// listenLimited opens the listener of server.listen and the http.Server
// for h with server.limits: a connection cap (closing idle keep-alive
// connections first at the cap), a minimum request body rate after a
// grace period, and the header, request and idle timeouts.
func listenLimited(s config.Server, h http.Handler, log *slog.Logger) (net.Listener, *http.Server, error) {
	lc := s.Limits.NetLimit().WithDefaults()
	ln, err := lc.Listen(s.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("server.listen: %w", err)
	}
	hs := lc.Server(h, ln)
	hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	log.Info("connection limits", "max_connections", lc.MaxConnections, "min_body_rate", lc.MinBodyRate,
		"min_body_rate_grace", lc.MinBodyRateGrace.String(), "idle_timeout", lc.IdleTimeout.String(),
		"read_header_timeout", lc.ReadHeaderTimeout.String(), "read_timeout", lc.ReadTimeout.String())
	return ln, hs, nil
}

// newEgress builds the outbound client from server.http and server.egress.
func newEgress(f *config.File, log *slog.Logger, getenv func(string) string) (*egress.Client, error) {
	cfg, err := f.EgressConfig()
	if err != nil {
		return nil, err
	}
	cfg.Getenv = getenv
	cfg.Logger = log
	return egress.New(cfg)
}
