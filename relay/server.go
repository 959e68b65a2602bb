package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/runtime"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxBodyBytes        = 3 << 20
	DefaultWorkers             = 64
	DefaultOutputTimeout       = 10 * time.Second
	DefaultMaxAttempts         = 8
	DefaultInitialInterval     = time.Second
	DefaultMaxInterval         = 5 * time.Minute
	DefaultDestinationWait     = 10 * time.Second
	DefaultMaxResponseBodySize = 1 << 20
	// DefaultMaxInFlight is an output's max_in_flight when it sets none.
	DefaultMaxInFlight = 16
	// DefaultMaxReady caps the deliveries held in memory.
	DefaultMaxReady = 10000
	// DefaultMaxReadyBytes caps the request bytes held in memory.
	DefaultMaxReadyBytes = 64 << 20
	// DefaultLease is how long a claimed delivery stays this process's
	// without a renewal. The engine renews the leases of the deliveries it
	// holds every third of it, so an attempt may last longer; a node that
	// dies leaves its deliveries due on the others within about a lease.
	DefaultLease = 30 * time.Second
	// DefaultAgentWindow is how long a delivery to an internal output
	// waits for an agent when the output sets no agent_window.
	DefaultAgentWindow = 10 * time.Minute
)

// Options configure a Server.
type Options struct {
	Store  Store
	Engine *runtime.Engine
	// Sender sends deliveries: the egress client in production.
	Sender egress.Doer
	Logger *slog.Logger
	// Registerer receives the relay's Prometheus metrics; nil means none.
	Registerer prometheus.Registerer
	// MaxBodyBytes caps webhook bodies; larger ones are answered 413.
	MaxBodyBytes int64
	// UnknownInputStatus is the answer to a webhook for an input that does
	// not exist; 0 means 200, the same as a known input's default answer.
	UnknownInputStatus int
	// Workers is the number of concurrent delivery attempts, over all
	// outputs; each output is also held to its max_in_flight.
	Workers int
	// DegradedStatus is /healthz's status when the store refuses writes:
	// 0 means 200 (the body says "degraded"); 503 lets a load balancer take
	// the relay out of rotation.
	DegradedStatus int
	// MaxReady caps the deliveries held in memory, waiting for a worker
	// or in flight; MaxReadyBytes caps their request bytes. Past either, a
	// fresh delivery waits in the store, due, and is claimed when room
	// frees up. An ephemeral bucket's deliveries are held whatever the
	// caps: their requests live nowhere else.
	MaxReady      int
	MaxReadyBytes int64
	// Lease is how long a delivery claimed from the store stays this
	// process's before another may claim it (see Store.ClaimDue), unless
	// renewed: the engine renews the leases of the deliveries it holds
	// every Lease/3 (see Store.RenewClaims). 0 means DefaultLease.
	Lease time.Duration
	// Node names this process as the owner of the deliveries it claims;
	// the default is the host name. Start takes back the claims of a
	// previous process of the same name (a restart after a crash),
	// without waiting for their leases to end: so every process sharing
	// a store (several nodes on one PostgreSQL database) needs a name of
	// its own, and two processes on one host must be given distinct
	// names. (The PostgreSQL store refuses to open for a second live
	// process of the same name.)
	Node string
	// Now returns the current time (tests may stop the clock).
	Now func() time.Time
	// AgentPing is how often the relay pings each connected agent; 0
	// means DefaultAgentPing. An agent that does not answer within the
	// interval is dropped.
	AgentPing time.Duration
}

// Server is the relay. Mount Handler on an HTTP server, call Start to
// resume pending deliveries, and Shutdown to finish in-flight work.
type Server struct {
	opts    Options
	store   Store
	engine  *runtime.Engine
	sender  egress.Doer
	log     *slog.Logger
	routes  atomic.Pointer[routes]
	verify  *Verifier
	metrics *metrics
	sched   *engine
	agents  *agentHub
	health  health
	// events is the live event stream (Subscribe).
	events eventHub

	// lookups and lookupRate bound the store lookups of unknown inputs
	// (newInput).
	lookups    singleflight.Group
	lookupRate *rate.Limiter

	reloadMu sync.Mutex
	waitMu   sync.Mutex
	waiters  map[string]chan destAnswer // delivery ID → caller waiting in destination mode

	workers sync.WaitGroup
	// background waits for the store watch (watch.go), which runs until
	// the shutdown.
	background sync.WaitGroup
	stop       context.CancelFunc
	started    atomic.Bool
}

// New returns a relay over opts.Store. It reads the routing tables once;
// call Reload after every change to buckets, inputs, outputs, functions or
// tokens.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil || opts.Engine == nil || opts.Sender == nil {
		return nil, errors.New("relay: Store, Engine and Sender are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.UnknownInputStatus == 0 {
		opts.UnknownInputStatus = http.StatusOK
	}
	if opts.DegradedStatus == 0 {
		opts.DegradedStatus = http.StatusOK
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxReady <= 0 {
		opts.MaxReady = DefaultMaxReady
	}
	if opts.MaxReadyBytes <= 0 {
		opts.MaxReadyBytes = DefaultMaxReadyBytes
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Node == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "relay"
		}
		opts.Node = host
	}
	s := &Server{
		opts:    opts,
		store:   opts.Store,
		engine:  opts.Engine,
		sender:  opts.Sender,
		log:     opts.Logger,
		verify:  NewVerifier(),
		waiters: map[string]chan destAnswer{},

		lookupRate: rate.NewLimiter(unknownLookupRate, unknownLookupRate),
	}
	s.sched = newEngine(s)
	s.agents = newAgentHub(s)
	m, err := newMetrics(opts.Registerer, s.sched.depth, s.agents.count)
	if err != nil {
		return nil, fmt.Errorf("relay: metrics: %w", err)
	}
	s.metrics = m
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload rebuilds the routing snapshot from the store.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	rt, err := loadRoutes(ctx, s.store, s.engine, s.log)
	if err != nil {
		return fmt.Errorf("relay: reload: %w", err)
	}
	s.routes.Store(rt)
	if s.sched != nil {
		s.sched.reload()
	}
	return nil
}

// Handler serves the ingress (/v1/webhooks/), the agents' connections
// (api.AgentPath) and /healthz. The caller
// mounts /metrics and the admin API beside it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/webhooks/", s.serveWebhook)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET "+api.AgentPath, s.serveAgent)
	return mux
}

// Start starts the delivery engine: it takes back the leases a previous
// process of the same Node name left (see Options.Node), then claims the
// pending deliveries from the store in batches as they fall due, and
// renews the leases of those it holds. On a store several nodes share (a
// Watcher) it also follows the store's changes: the routes are reloaded
// when another node changes them, and due work is claimed at once.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("relay: already started")
	}
	if err := s.store.ReleaseClaims(ctx, s.opts.Node, nil); err != nil {
		return fmt.Errorf("relay: resume deliveries: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	for i := 0; i < s.opts.Workers; i++ {
		s.workers.Add(1)
		go s.worker(wctx)
	}
	s.sched.start(wctx)
	if w, ok := s.store.(Watcher); ok {
		s.background.Add(1)
		go s.watch(wctx, w)
	}
	return nil
}

// Shutdown stops taking deliveries and waits for the ones in flight to
// finish (or ctx to end, when they are abandoned: recorded pending, as
// they were). Deliveries not yet attempted stay pending in the store,
// their leases released, and resume on the next Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.sched.close()
	done := make(chan struct{})
	go func() { s.workers.Wait(); s.sched.claimerN.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		if s.stop != nil {
			s.stop() // abandon in-flight sends; they stay pending
		}
		<-done
		err = ctx.Err()
	}
	if s.stop != nil {
		s.stop()
	}
	s.sched.renewN.Wait()
	s.background.Wait()
	s.agents.closeAll()
	if ids := s.sched.unattempted(); len(ids) > 0 {
		if rerr := s.store.ReleaseClaims(context.WithoutCancel(ctx), s.opts.Node, ids); rerr != nil {
			s.log.Error("release unattempted deliveries", "count", len(ids), "error", rerr)
		}
	}
	return err
}

// Invoke runs the function with the given ID once on req, as the admin
// API's invoke does. Nothing is stored or forwarded.
func (s *Server) Invoke(ctx context.Context, functionID string, req HTTPRequest, md map[string]string) (*runtime.Result, error) {
	f, err := s.store.GetFunction(ctx, functionID)
	if err != nil {
		return nil, err
	}
	cfg, err := s.store.Config(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	fn, err := s.engine.Compile(f.Name+".lua", []byte(f.Source))
	if err != nil {
		return nil, err
	}
	return s.invoke(ctx, &boundFunction{meta: f, fn: fn, config: cfg}, req, md), nil
}

// invoke runs a bound function on req.
func (s *Server) invoke(ctx context.Context, bf *boundFunction, req HTTPRequest, md map[string]string) *runtime.Result {
	if bf.err != nil {
		s.metrics.invocation(bf.meta.Name, 0, bf.err)
		return &runtime.Result{Err: bf.err, Error: bf.err.Error()}
	}
	res := s.engine.Run(ctx, bf.fn, &runtime.Input{
		Request: runtime.Request{
			Method:   req.Method,
			Path:     req.Path,
			RawQuery: req.RawQuery,
			Header:   req.Header,
			Body:     req.Body,
		},
		Config:   bf.config,
		Metadata: md,
		Timeout:  bf.meta.Timeout,
	})
	s.metrics.invocation(bf.meta.Name, res.DurationMS, res.Err)
	if res.Err != nil {
		s.log.Warn("function failed", "function", bf.meta.Name, "error", res.Error)
	}
	return res
}

// applyResult returns req as the function left it.
func applyResult(req HTTPRequest, res *runtime.Result) HTTPRequest {
	if !res.Request.Modified {
		return req
	}
	out := HTTPRequest{
		Method:   res.Request.Method,
		Path:     res.Request.Path,
		RawQuery: res.Request.RawQuery,
		// The caller's encoding holds while the path is the caller's.
		RawPath: req.RawPath,
		Header:  res.Request.Headers,
		Body:    req.Body,
	}
	if out.Path != req.Path {
		out.RawPath = ""
	}
	if res.Request.BodyModified {
		out.Body = []byte(res.Request.Body)
	}
	return out
}

// Enqueue tells the delivery engine of a pending delivery added to the
// store, such as a replay made through the admin API: it is claimed when
// due.
func (s *Server) Enqueue(d *Delivery) {
	if d.NextAttemptAt.After(s.opts.Now()) {
		s.sched.wake(d.NextAttemptAt)
		return
	}
	s.sched.kick()
}
