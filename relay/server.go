package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/egress"
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
	// Workers is the number of concurrent deliveries.
	Workers int
	// DegradedStatus is /healthz's status when the store refuses writes:
	// 0 means 200 (the body says "degraded"); 503 lets a load balancer take
	// the relay out of rotation.
	DegradedStatus int
	// Now returns the current time (tests may stop the clock).
	Now func() time.Time
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
	queue   *queue
	health  health

	reloadMu sync.Mutex
	waitMu   sync.Mutex
	waiters  map[string]chan destAnswer // delivery ID → caller waiting in destination mode

	workers sync.WaitGroup
	stop    context.CancelFunc
	started atomic.Bool
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
	s := &Server{
		opts:    opts,
		store:   opts.Store,
		engine:  opts.Engine,
		sender:  opts.Sender,
		log:     opts.Logger,
		verify:  NewVerifier(),
		waiters: map[string]chan destAnswer{},
		queue:   newQueue(),
	}
	m, err := newMetrics(opts.Registerer, s.queue)
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
	return nil
}

// Handler serves the ingress (/v1/webhooks/) and /healthz. The caller
// mounts /metrics and the admin API beside it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/webhooks/", s.serveWebhook)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	return mux
}

// Start resumes the deliveries left pending by a previous run and starts
// the delivery workers.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("relay: already started")
	}
	pending, err := s.store.PendingDeliveries(ctx)
	if err != nil {
		return fmt.Errorf("relay: resume deliveries: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	for i := 0; i < s.opts.Workers; i++ {
		s.workers.Add(1)
		go s.worker(wctx)
	}
	for _, d := range pending {
		s.queue.schedule(&job{d: d}, d.NextAttemptAt, s.opts.Now())
	}
	if len(pending) > 0 {
		s.log.Info("resuming pending deliveries", "count", len(pending))
	}
	return nil
}

// Shutdown stops taking deliveries from the queue and waits for the ones in
// flight to finish (or ctx to end). Deliveries not yet attempted stay
// pending in the store and resume on the next Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.queue.close()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if s.stop != nil {
			s.stop() // abandon in-flight sends; they stay pending
		}
		<-done
		return ctx.Err()
	}
	if s.stop != nil {
		s.stop()
	}
	return nil
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

// Enqueue schedules a stored pending delivery, such as a replay made
// through the admin API.
func (s *Server) Enqueue(d *Delivery) {
	rt := s.routes.Load()
	eph := false
	if b := rt.buckets[d.BucketID]; b != nil {
		eph = b.Ephemeral
	}
	s.queue.schedule(&job{d: d, ephemeral: eph}, d.NextAttemptAt, s.opts.Now())
}
