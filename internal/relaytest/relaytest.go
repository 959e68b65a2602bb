// Package relaytest starts a real relay inside a test process, for the
// tests of the relay, its admin API, its API client and fnctl.
//
// New starts what fnctl serve starts, through the same function
// (relay/app's New), over a fresh SQLite store in a temporary folder with
// a random seal key: the runtime engine with every module serve offers,
// an egress client that lets loopback through (so that httptest servers
// can be destinations), the relay, and the ingress, admin API and metrics
// on one loopback listener, with an admin token. The tests
// of several packages need that same relay; writing it once keeps them
// alike and keeps each test about what it checks.
//
// The package is for tests only. It imports relay and relay/admin, so
// their tests may use it only from external test packages (relay_test,
// admin_test).
package relaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// Timeout bounds every wait of the package: a failure guard, generous so
// that a slow machine does not fail a test, never a timing assertion.
const Timeout = 20 * time.Second

// shutdownGrace is the grace period of the relay's shutdown at Stop.
const shutdownGrace = 10 * time.Second

// Options tunes the relay New starts. The zero value is a relay with the
// defaults of package relay and no logging.
type Options struct {
	// Logger receives the logs of the relay, the admin API and the egress
	// client; nil discards them.
	Logger *slog.Logger
	// Registerer receives the relay's metrics; nil means a registry of
	// the app's own, served on /metrics.
	Registerer prometheus.Registerer
	// MaxBodyBytes caps webhook bodies; 0 is the relay's default.
	MaxBodyBytes int64
	// UnknownInputStatus answers webhooks for unknown inputs; 0 is the
	// relay's default.
	UnknownInputStatus int
	// AgentPing is how often the relay pings its agents; 0 is the
	// relay's default.
	AgentPing time.Duration
}

// Relay is a running relay and what it is made of. The test's cleanup
// stops it.
type Relay struct {
	t testing.TB

	// Store is the relay's SQLite store, at DBPath in the folder Dir.
	Store  *sqlite.Store
	Dir    string
	DBPath string
	// Engine runs the functions; Egress sends the deliveries and the
	// functions' HTTP calls.
	Engine *runtime.Engine
	Egress *egress.Client
	// Server is the relay, whose ingress and admin API (under
	// admin.Prefix) answer at URL.
	Server *relay.Server
	// App is the whole: what fnctl serve runs.
	App *app.App
	URL string
	// AdminToken is an admin credential, as fnctl and the API take it.
	AdminToken string

	stop func()
}

// New starts a relay for the test and stops it in the test's cleanup. It
// fails the test if any part does not start.
//
// The relay is built by relay/app's New, the startup path of fnctl serve,
// from a relay.yaml with defaults, overriding only what a test must: a
// listener on 127.0.0.1:0, egress allow ranges for loopback (so that
// httptest servers can be destinations), a random seal key instead of a
// key file, the store in a temporary folder, and the log sink.
func New(t testing.TB, opts Options) *Relay {
	t.Helper()
	ctx := context.Background()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "relay.db")
	f, err := config.Parse([]byte("{}"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Server.Store = dbPath
	f.Server.EncryptionKeyFile = filepath.Join(dir, "unused.key")
	if opts.MaxBodyBytes > 0 {
		f.Server.MaxBodyBytes = opts.MaxBodyBytes
	}
	if opts.UnknownInputStatus != 0 {
		f.Server.UnknownInputStatus = opts.UnknownInputStatus
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, f, app.Options{
		Logger:      log,
		Listener:    ln,
		AllowRanges: []string{"127.0.0.0/8", "::1/128"},
		Key:         key,
		Registerer:  opts.Registerer,
		QuietToken:  true,
		AgentPing:   opts.AgentPing,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	st, ok := a.Store.(*sqlite.Store)
	if !ok {
		a.Close()
		t.Fatalf("the relay's store is a %T, want SQLite's", a.Store)
	}
	r := &Relay{t: t, App: a, Store: st, Dir: dir, DBPath: dbPath, Engine: a.Engine, Egress: a.Egress, Server: a.Server}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(ctx, shutdownGrace)
			defer cancel()
			if err := a.Shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := a.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	if a.AdminToken == "" {
		t.Fatal("the new store got no admin token")
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.URL, r.AdminToken = "http://"+a.Addr().String(), a.AdminToken
	return r
}

// Stop stops the relay before the test ends: it shuts the app down (the
// HTTP server, then the relay) with a 10-second grace period, and closes
// the engine, the egress client and the store. An error of the shutdown
// or of the close fails the test. Only the first call does anything;
// the test's cleanup makes one.
func (r *Relay) Stop() { r.stop() }

// Restart starts a second relay.Server over the store, engine and egress
// client, as the next start of a relay whose Server was shut down, and
// shuts it down in the test's cleanup (before Stop). It serves no HTTP:
// it only resumes the pending deliveries.
func (r *Relay) Restart() *relay.Server {
	r.t.Helper()
	ctx := context.Background()
	srv, err := relay.New(ctx, relay.Options{Store: r.Store, Engine: r.Engine, Sender: r.Egress})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, shutdownGrace)
		defer cancel()
		srv.Shutdown(sctx)
	})
	return srv
}

// Function stores a Lua function.
func (r *Relay) Function(name, src string) *functions.Function {
	r.t.Helper()
	f := &functions.Function{Name: name, Driver: "lua", Source: src}
	if err := r.Store.CreateFunction(context.Background(), f); err != nil {
		r.t.Fatal(err)
	}
	return f
}

// Bucket stores b.
func (r *Relay) Bucket(b *relay.Bucket) *relay.Bucket {
	r.t.Helper()
	if err := r.Store.CreateBucket(context.Background(), b); err != nil {
		r.t.Fatal(err)
	}
	return b
}

// Input stores in and reloads the relay.
func (r *Relay) Input(in *relay.Input) *relay.Input {
	r.t.Helper()
	if err := r.Store.CreateInput(context.Background(), in); err != nil {
		r.t.Fatal(err)
	}
	r.Reload()
	return in
}

// Output stores o and reloads the relay. An output without an initial
// retry interval gets 10ms, so that retries do not slow the tests.
func (r *Relay) Output(o *relay.Output) *relay.Output {
	r.t.Helper()
	if o.Retries.InitialInterval == 0 {
		o.Retries.InitialInterval = 10 * time.Millisecond
	}
	if err := r.Store.CreateOutput(context.Background(), o); err != nil {
		r.t.Fatal(err)
	}
	r.Reload()
	return o
}

// Reload makes the relay read its configuration from the store again.
func (r *Relay) Reload() {
	r.t.Helper()
	if err := r.Server.Reload(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// Send sends a request to the relay: path (with its query) is below URL,
// header is added to the request's. It returns the answer and its body,
// and fails the test if the request cannot be made or its answer read.
func (r *Relay) Send(method, path, body string, header http.Header) (*http.Response, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return resp, string(b)
}

// Webhook posts body to the input inputID.
func (r *Relay) Webhook(inputID, body string, header http.Header) (*http.Response, string) {
	r.t.Helper()
	return r.Send(http.MethodPost, "/v1/webhooks/"+inputID, body, header)
}

// WaitDeliveries waits until the store lists at least n deliveries
// matching f in state (which it sets in f) and returns them. After
// Timeout it logs every delivery and fails the test.
func (r *Relay) WaitDeliveries(f relay.DeliveryFilter, state relay.DeliveryState, n int) []*relay.Delivery {
	r.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		f.State = state
		ds, err := r.Store.ListDeliveries(context.Background(), f)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			all, _ := r.Store.ListDeliveries(context.Background(), relay.DeliveryFilter{})
			for _, d := range all {
				r.t.Logf("delivery %s state=%s attempts=%d status=%d err=%s", d.ID, d.State, d.Attempts, d.LastStatus, d.LastError)
			}
			r.t.Fatalf("timed out waiting for %d %s deliveries", n, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitFor polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within Timeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// LogBuffer is a log sink safe for the relay's goroutines, for tests that
// read what was logged.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
