// Package app is the relay's one startup path: from a parsed relay.yaml it
// builds the encryption key, the store, the egress client, the function
// engine (with the modules of builtins' registry), the relay, the admin API
// and the metrics, serves them, shuts them down gracefully and closes them
// in reverse order. fnctl serve is a thin command over it, and the tests
// that need a relay (internal/relaytest) start theirs with the very same
// New, overriding only what a test must: a listener, egress allow ranges
// for loopback destinations, a seal key, the log sink.
//
// # Order of startup
//
// New checks everything it can before it writes anything: the file's
// server section (already validated by config), the store URL, the node
// name, where the key comes from, the key file (a SQLite database without
// its key file is refused: the data in it was sealed with that key) and
// the listeners, which it binds first, so that a taken port leaves no new
// database or key file behind. Only then does it make the key (first
// start), open the store, and, for SQLite, take the store's lock (see
// sqlite.Lock) that offline maintenance respects. Start serves and only
// then shows the first admin token: printed once to Options.Stderr, or,
// with server.admin.token_file, written to that file (mode 0600) and not
// printed.
//
// # Stores, keys and nodes
//
// server.store names a SQLite file (one relay process on it: the lock
// refuses a second) or a PostgreSQL database (postgres:// or
// postgresql://), which any number of processes, nodes, share: each names
// itself with server.node (by default the host name), and the store
// refuses a second live node of the same name. Every node must seal with
// the same key: it is read from the environment variable RELAYFN_KEY (64
// hex digits) when set, else from server.encryption_key_file, made when
// missing (and, with PostgreSQL, removed again when the database turns
// out to hold another key's data). With SQLite the key file defaults to
// relayfn.key; with PostgreSQL one of the two must be given. A key that
// does not open the database is refused, saying where it came from; no
// message or log shows a key or the store URL's password. Nodes started
// together apply the file (Options.Apply) one after the other and make
// one first admin token between them (relay.Exclusive). /metrics
// carries relayfn_node_info{node, store} = 1, so that each node's scrape
// says which node it is.
//
// # Surfaces
//
// With server.admin.listen empty, one listener (server.listen) serves the
// webhooks (/v1/webhooks/), /healthz, the admin API (/v1/admin/),
// /metrics and the web console (/ui/). With server.admin.listen set,
// server.listen serves only the webhooks and /healthz, and the admin
// listener serves the admin API, /metrics, the web console and /healthz:
// put the first on the internet and keep the second private.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/functions/spec"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/console"
	"github.com/relayfn/relayfn/relay/netlimit"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// Options are what the caller of New decides beyond the relay.yaml. The
// zero value is fnctl serve's: listeners from the file, the key file from
// the file, logs as JSON to Stderr.
type Options struct {
	// Logger receives the logs of every part; nil means JSON to Stderr.
	Logger *slog.Logger
	// Stderr is where the first admin token (or where it was written) is
	// shown, outside the structured log; nil means os.Stderr.
	Stderr io.Writer
	// Getenv reads the environment: the key (RELAYFN_KEY, see
	// config.EnvKey) and the egress client's HTTP_PROXY and the like; nil
	// means os.Getenv.
	Getenv func(string) string

	// Listener, when set, is used instead of binding server.listen (a
	// test's 127.0.0.1:0). AdminListener likewise replaces
	// server.admin.listen, and is used only when that is set.
	Listener      net.Listener
	AdminListener net.Listener
	// AllowRanges are added to server.egress.allow_ranges: tests let
	// loopback destinations through with them.
	AllowRanges []string
	// Key, when set, is the seal key to use instead of RELAYFN_KEY and
	// server.encryption_key_file (which is then neither read nor made).
	Key []byte

	// Apply applies the file's functions and buckets to the store before
	// the relay starts (fnctl serve --config does).
	Apply bool
	// QuietToken leaves the admin token made at the first start to the
	// caller (App.AdminToken): Start neither prints nor writes it.
	QuietToken bool

	// Registerer receives the metrics; nil means a new registry with the
	// Go and process collectors. /metrics serves Gatherer, or Registerer
	// when it is a Gatherer.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	// AgentPing is how often the relay pings its agents; 0 means
	// relay.DefaultAgentPing (tests shorten it).
	AgentPing time.Duration
}

// ShutdownGrace is how long Shutdown waits for in-flight webhooks and
// deliveries when its context has no earlier deadline (fnctl serve's
// grace).
const ShutdownGrace = 30 * time.Second

// App is a relay built from a relay.yaml: its parts, exported for the
// tests and tools that need them, and its listeners.
type App struct {
	File  *config.File
	Log   *slog.Logger
	Store Store
	// Node is this process's name among the nodes that share the store
	// (server.node, or the host name).
	Node   string
	Egress *egress.Client
	Engine *runtime.Engine
	Server *relay.Server
	// Purger runs the request log's retention (server.retention and the
	// buckets' policies); started by Start, stopped by Shutdown.
	Purger *relay.Purger
	// Admin is the admin API handler (mounted under admin.Prefix).
	Admin http.Handler
	// Metrics serves /metrics.
	Metrics http.Handler
	// Console is the web console (mounted under console.Prefix).
	Console http.Handler
	// AdminToken is the admin credential made at this start (the store
	// had none), or "" when the store already had an admin token.
	AdminToken string

	opts         Options
	stderr       io.Writer
	getenv       func(string) string
	ln           *netlimit.Listener
	adminLn      net.Listener
	limits       netlimit.Config
	hs, adminHS  *http.Server
	tlsCert      *tls.Certificate
	served       chan error
	closers      []func() error
	startOnce    sync.Once
	shutdownOnce sync.Once
	closeOnce    sync.Once
	shutdownErr  error
	closeErr     error
	started      bool
}

// New builds the relay f describes, binding its listeners, without
// serving yet. On error, whatever it made is closed again. See the package
// documentation for the order of the checks.
func New(ctx context.Context, f *config.File, opts Options) (_ *App, err error) {
	a := &App{File: f, opts: opts, stderr: opts.Stderr, served: make(chan error, 2)}
	if a.stderr == nil {
		a.stderr = os.Stderr
	}
	a.Log = opts.Logger
	if a.Log == nil {
		a.Log = slog.New(slog.NewJSONHandler(a.stderr, nil))
	}
	a.getenv = opts.Getenv
	if a.getenv == nil {
		a.getenv = os.Getenv
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	s := f.Server

	// Checks that write nothing.
	if err := config.CheckStore(s.Store); err != nil {
		return nil, fmt.Errorf("server.store: %w", err)
	}
	a.Node = s.Node
	if a.Node == "" {
		if a.Node, err = os.Hostname(); err != nil || a.Node == "" {
			return nil, errors.New("server.node: not set, and the host name is unknown: set server.node (or fnctl serve --node)")
		}
	}
	if err := config.CheckNode(a.Node); err != nil {
		return nil, fmt.Errorf("server.node: %w (set server.node, or fnctl serve --node)", err)
	}
	ks, err := a.keySource(s)
	if err != nil {
		return nil, err
	}
	var dbPath string
	var dbExists bool
	if !config.IsPostgres(s.Store) {
		if dbPath, err = sqlite.Path(s.Store); err != nil {
			return nil, fmt.Errorf("server.store: %w", err)
		}
		if dbExists, err = exists(dbPath); err != nil {
			return nil, fmt.Errorf("server.store: %w", err)
		}
		if ks.file != "" {
			keyExists, err := exists(ks.file)
			if err != nil {
				return nil, fmt.Errorf("server.encryption_key_file: %w", err)
			}
			if dbExists && !keyExists {
				return nil, fmt.Errorf("server.encryption_key_file: %s does not exist, but the database %s does: "+
					"its data was sealed with that key, so the relay will not start without it (restore the key file, "+
					"or move the database away to start afresh)", ks.file, dbPath)
			}
		}
	}
	egCfg, err := f.EgressConfig()
	if err != nil {
		return nil, err
	}
	egCfg.AllowRanges = slices.Concat(egCfg.AllowRanges, opts.AllowRanges)
	egCfg.Getenv = a.getenv
	egCfg.Logger = a.Log

	// Listeners next: a taken port must leave nothing behind on disk.
	// The public listener carries server.limits: a connection cap (idle
	// keep-alive connections are closed first at the cap), a minimum
	// request body rate after a grace period, and shorter timeouts.
	a.limits = s.Limits.NetLimit().WithDefaults()
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.Listen); err != nil {
			return nil, fmt.Errorf("server.listen: %w", err)
		}
	}
	// TLS: the public listener serves https (and wss for agents).
	if t := s.TLS; t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		a.tlsCert = &cert
	}
	a.ln = netlimit.NewListener(ln, a.limits.MaxConnections)
	a.closers = append(a.closers, ignoreClosed(a.ln.Close))
	if s.Admin.Listen != "" {
		a.adminLn = opts.AdminListener
		if a.adminLn == nil {
			if a.adminLn, err = net.Listen("tcp", s.Admin.Listen); err != nil {
				return nil, fmt.Errorf("server.admin.listen: %w", err)
			}
		}
		a.closers = append(a.closers, ignoreClosed(a.adminLn.Close))
	}

	// The egress client writes nothing either: built before the key and
	// the store, so that its errors also leave nothing behind.
	eg, err := egress.New(egCfg)
	if err != nil {
		return nil, err
	}
	a.Egress = eg
	a.closers = append(a.closers, func() error { eg.Close(); return nil })

	// Now the parts that write, each closed in reverse order by Close.
	key, made, err := ks.load()
	if err != nil {
		return nil, err
	}
	if made {
		a.Log.Info("made a new encryption key", "file", ks.file)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ks.field(), err)
	}
	var st Store
	if config.IsPostgres(s.Store) {
		st, err = openPostgres(ctx, s.Store, sealer, a.Node, a.Log)
		if err != nil {
			if made && errors.Is(err, seal.ErrOpen) {
				// The database holds data sealed with another key: the
				// key just made was never used, and would only mislead.
				os.Remove(ks.file)
			}
			return nil, a.storeError(ks, made, err)
		}
		a.closers = append(a.closers, st.Close)
	} else {
		// The lock is taken before an existing database is opened, so
		// that a second relay does not even migrate it; a new one is
		// locked as soon as it exists.
		lock := func() error {
			unlock, err := sqlite.Lock(dbPath)
			if err != nil {
				return fmt.Errorf("server.store: %w (is another relay running on it?)", err)
			}
			a.closers = append(a.closers, unlock)
			return nil
		}
		if dbExists {
			if err := lock(); err != nil {
				return nil, err
			}
		}
		sq, err := sqlite.Open(ctx, s.Store, sealer)
		if err != nil {
			return nil, a.storeError(ks, made, err)
		}
		st = sq
		a.closers = append(a.closers, st.Close)
		if !dbExists {
			if err := lock(); err != nil {
				return nil, err
			}
		}
	}
	a.Store = st

	// http, bigquery and mailgun go through eg; email through eg to the
	// SMTP server of server.modules.smtp, when one is configured.
	e, err := runtime.New(runtime.Options{Modules: builtins.Modules(ModuleDeps(f, eg))})
	if err != nil {
		return nil, err
	}
	a.Engine = e
	a.closers = append(a.closers, func() error { e.Close(); return nil })

	if opts.Apply {
		// Nodes started together apply one after the other: the later
		// ones find the file's objects made and change nothing.
		var report *config.Report
		err := exclusively(ctx, st, "relayfn.apply", func(ctx context.Context) (err error) {
			report, err = config.Apply(ctx, st, e, f)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("apply %s: %w", f.Name, err)
		}
		for _, c := range report.Changes {
			a.Log.Info("applied", "kind", c.Kind, "name", c.Name, "action", c.Action)
		}
	}

	reg, gat := opts.Registerer, opts.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gat = r, r
	} else if gat == nil {
		gat, _ = reg.(prometheus.Gatherer)
	}
	if gat == nil {
		gat = prometheus.NewRegistry()
	}
	a.Metrics = promhttp.HandlerFor(gat, promhttp.HandlerOpts{})
	if err := registerNodeInfo(reg, a.Node, s.Store); err != nil {
		return nil, err
	}

	srv, err := relay.New(ctx, relay.Options{
		Store:              st,
		Engine:             e,
		Sender:             eg,
		Logger:             a.Log,
		Registerer:         reg,
		MaxBodyBytes:       s.MaxBodyBytes,
		AgentPing:          opts.AgentPing,
		UnknownInputStatus: s.UnknownInputStatus,
		DegradedStatus:     s.Health.DegradedStatus,
		Node:               a.Node,
	})
	if err != nil {
		return nil, err
	}
	a.Server = srv
	if a.Purger, err = relay.NewPurger(relay.PurgerOptions{
		Store: st, Retention: st, Default: s.Retention.Policy(),
		Interval: time.Duration(s.Retention.Interval), Logger: a.Log, Registerer: reg,
	}); err != nil {
		return nil, err
	}

	// The request log: runs against stored webhooks without network
	// access use an engine whose http module refuses every call.
	offline, err := runtime.New(runtime.Options{Modules: append(builtins.PureModules(),
		builtins.HTTP(refuseNetwork{}, builtins.HTTPOptions{}))})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { offline.Close(); return nil })

	adminOpts := admin.Options{Store: st, Server: srv, Engine: e, Logger: a.Log, Specs: spec.Check, OfflineEngine: offline,
		Retention: a.Purger}
	if a.Admin, err = admin.New(adminOpts); err != nil {
		return nil, err
	}

	// Web console (/ui/ on the admin listener): its session cookies are
	// signed with a key derived from the seal key, so sessions survive a
	// restart and end when the key changes.
	// With a separate admin listener, the inputs' public URLs name the
	// public listener: its address, or, when it listens on every
	// interface, its port on the host the console was reached at.
	publicURL, publicPort := "", ""
	if a.adminLn != nil {
		if tcp, ok := a.ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
			publicPort = strconv.Itoa(tcp.Port)
		} else {
			publicURL = "http://" + a.ln.Addr().String()
		}
	}
	if a.Console, err = console.New(console.Options{
		Admin: adminOpts, Key: consoleKey(key),
		PublicURL: publicURL, PublicPort: publicPort, Logger: a.Log,
	}); err != nil {
		return nil, err
	}

	// Nodes started together on an empty database make one admin token:
	// the first; the others find it.
	err = exclusively(ctx, st, "relayfn.admin-bootstrap", func(ctx context.Context) error {
		cred, made, err := admin.Bootstrap(ctx, st)
		if made {
			a.AdminToken = cred
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return a, nil
}

// consoleKey derives the web console's cookie signing key from the seal
// key.
func consoleKey(sealKey []byte) []byte {
	m := hmac.New(sha256.New, sealKey)
	m.Write([]byte("relayfn web console sessions v1"))
	return m.Sum(nil)
}

// exists reports whether a file is at path.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ignoreClosed makes closing an already closed listener (http.Server's
// Shutdown closes it) not an error.
func ignoreClosed(close func() error) func() error {
	return func() error {
		if err := close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}

// Handler serves the public listener: the webhooks and /healthz, plus the
// admin API and /metrics when there is no separate admin listener.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.Server.Handler())
	if a.adminLn == nil {
		mux.Handle(admin.Prefix, a.Admin)
		mux.Handle("GET /metrics", a.Metrics)
		mux.Handle(console.Prefix, a.Console)
	}
	return mux
}

// AdminHandler serves the admin listener: the admin API, /metrics and
// /healthz. It is nil in one-port mode (server.admin.listen empty).
func (a *App) AdminHandler() http.Handler {
	if a.adminLn == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix, a.Admin)
	mux.Handle("GET /metrics", a.Metrics)
	mux.Handle("GET /healthz", a.Server.Handler())
	mux.Handle(console.Prefix, a.Console)
	return mux
}

// Addr is the public listener's address.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// AdminAddr is the admin listener's address, or nil in one-port mode.
func (a *App) AdminAddr() net.Addr {
	if a.adminLn == nil {
		return nil
	}
	return a.adminLn.Addr()
}

func (a *App) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
}

// Start resumes the pending deliveries, serves the listeners and then
// shows the admin token made at this start (see the package
// documentation). Errors of the HTTP servers arrive on Done.
func (a *App) Start(ctx context.Context) error {
	err := errors.New("app: Start called twice")
	a.startOnce.Do(func() { err = a.start(ctx) })
	return err
}

func (a *App) start(ctx context.Context) error {
	if err := a.Server.Start(ctx); err != nil {
		return err
	}
	a.started = true
	a.Purger.Start(ctx)
	a.hs = a.limits.Server(a.Handler(), a.ln)
	a.hs.ErrorLog = slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)
	a.Log.Info("connection limits", "max_connections", a.limits.MaxConnections, "min_body_rate", a.limits.MinBodyRate,
		"min_body_rate_grace", a.limits.MinBodyRateGrace.String(), "idle_timeout", a.limits.IdleTimeout.String(),
		"read_header_timeout", a.limits.ReadHeaderTimeout.String(), "read_timeout", a.limits.ReadTimeout.String())
	if a.tlsCert != nil {
		a.hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*a.tlsCert}, MinVersion: tls.VersionTLS12}
		go func() { a.served <- a.hs.ServeTLS(a.ln, "", "") }()
	} else {
		go func() { a.served <- a.hs.Serve(a.ln) }()
	}
	if a.adminLn != nil {
		a.adminHS = a.newHTTPServer(a.AdminHandler())
		go func() { a.served <- a.adminHS.Serve(a.adminLn) }()
		a.Log.Info("relayfn listening", "addr", a.ln.Addr().String(), "admin_addr", a.adminLn.Addr().String(),
			"store", config.RedactStore(a.File.Server.Store), "node", a.Node)
	} else {
		a.Log.Info("relayfn listening", "addr", a.ln.Addr().String(),
			"store", config.RedactStore(a.File.Server.Store), "node", a.Node)
	}
	return a.showToken()
}

// showToken shows the admin token made at this start, once.
func (a *App) showToken() error {
	cred := a.AdminToken
	if cred == "" || a.opts.QuietToken {
		return nil
	}
	if path := a.File.Server.Admin.TokenFile; path != "" {
		if err := writeTokenFile(path, cred); err != nil {
			return fmt.Errorf("server.admin.token_file: %w", err)
		}
		a.Log.Info("wrote the admin token", "file", path)
		fmt.Fprintf(a.stderr, "\nAdmin token written to %s (mode 0600); it is not printed.\n\n", path)
		return nil
	}
	// Printed once, outside the structured log: only its hash is kept.
	fmt.Fprintf(a.stderr, "\nAdmin token (shown once, keep it safe):\n\n    %s\n\nUse it with: export FNCTL_TOKEN=%s\n\n", cred, cred)
	return nil
}

// writeTokenFile writes the credential to a new file (mode 0600), or over
// an old one, readable by the owner only.
func writeTokenFile(path, cred string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(cred + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Done returns a channel that receives an HTTP server's error when one
// stops serving on its own (not by Shutdown).
func (a *App) Done() <-chan error { return a.served }

// Shutdown stops accepting webhooks and admin requests, waits for the ones
// in flight, then finishes the deliveries in flight; deliveries not yet
// attempted stay pending for the next start. A context without a deadline
// gets ShutdownGrace.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ShutdownGrace)
			defer cancel()
		}
		var errs []error
		// The request log: open event streams end, or they would hold
		// the HTTP servers' shutdown.
		if a.Server != nil {
			a.Server.CloseEvents()
		}
		for _, hs := range []*http.Server{a.hs, a.adminHS} {
			if hs != nil {
				if err := hs.Shutdown(ctx); err != nil {
					errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				}
			}
		}
		if a.Purger != nil && a.started {
			a.Purger.Stop()
		}
		if a.Server != nil && a.started {
			if err := a.Server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("delivery shutdown: %w", err))
			}
		}
		a.shutdownErr = errors.Join(errs...)
	})
	return a.shutdownErr
}

// Close releases every part in the reverse order of its making: the
// engine, the store (and its lock), the egress client, the listeners.
// Call Shutdown first for a graceful stop.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		for i := len(a.closers) - 1; i >= 0; i-- {
			if err := a.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// Run starts a, serves until ctx ends or a server fails, then shuts down
// gracefully and closes: fnctl serve's life.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	if err := a.Start(ctx); err != nil {
		// Whatever did start stops before the store closes.
		a.Shutdown(context.WithoutCancel(ctx))
		return err
	}
	var serveErr error
	select {
	case err := <-a.Done():
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: finishing in-flight webhooks and deliveries")
	if err := a.Shutdown(context.WithoutCancel(ctx)); err != nil {
		a.Log.Warn("shutdown", "error", err)
	}
	if err := a.Close(); err != nil {
		a.Log.Warn("close", "error", err)
	}
	a.Log.Info("stopped")
	return serveErr
}

// refuseNetwork is the egress of functions run without network access.
type refuseNetwork struct{}

func (refuseNetwork) Do(ctx context.Context, service string, req *http.Request) (*http.Response, error) {
	return nil, errors.New("network access is off for this run (allow it with --allow-network)")
}
