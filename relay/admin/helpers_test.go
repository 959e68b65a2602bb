package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// env is a relay with the admin API on loopback, over a real SQLite store,
// engine and egress client (loopback opened by an allow range).
type env struct {
	t     *testing.T
	store relay.Store
	srv   *relay.Server
	url   string
	token string
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (the log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sl, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relay.db"), sl)
	if err != nil {
		t.Fatal(err)
	}
	e, err := runtime.New(runtime.Options{Modules: functions.Modules(functions.Deps{})})
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{AllowRanges: []string{"127.0.0.0/8", "::1/128"}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := relay.New(ctx, relay.Options{Store: st, Engine: e, Sender: eg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.Handle(admin.Prefix, admin.New(admin.Options{Store: st, Server: srv, Engine: e, Logger: log}))
	ts := httptest.NewServer(mux)
	cred, created, err := admin.Bootstrap(ctx, st)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	t.Cleanup(func() {
		ts.Close()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		st.Close()
		eg.Close()
		e.Close()
	})
	return &env{t: t, store: st, srv: srv, url: ts.URL, token: cred, logs: logs}
}

// resp is an answer of the API.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errMsg returns the error message of an error answer.
func (r resp) errMsg(t *testing.T) string {
	t.Helper()
	var e admin.ErrorResponse
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error answer without a message: %s", r.body)
	}
	return e.Error
}

// do calls the API with the env's admin token. body is JSON-encoded unless
// it is a string (sent as is).
func (e *env) do(method, path string, body any) resp {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+e.token)
}

func (e *env) doAuth(method, path string, body any, auth string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

// must calls the API and fails the test unless the answer has status want.
func (e *env) must(want int, method, path string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

// fails calls the API and checks the answer's status and that its error
// message contains want.
func (e *env) fails(status int, want, method, path string, body any) {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != status {
		e.t.Errorf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
		return
	}
	if msg := r.errMsg(e.t); !strings.Contains(msg, want) {
		e.t.Errorf("%s %s: error %q, want it to contain %q", method, path, msg, want)
	}
}

// webhook sends a webhook to the relay's ingress.
func (e *env) webhook(inputID, body string, header http.Header) resp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/webhooks/"+inputID, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

// destination is a loopback server that records the requests it gets.
type destination struct {
	*httptest.Server
	got chan *http.Request
}

func newDestination(t *testing.T) *destination {
	d := &destination{got: make(chan *http.Request, 16)}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.got <- r
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(d.Close)
	return d
}

// next returns the next request the destination got, failing after 10s.
func (d *destination) next(t *testing.T) (*http.Request, string) {
	t.Helper()
	select {
	case r := <-d.got:
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	case <-time.After(10 * time.Second):
		t.Fatal("the destination got nothing")
		return nil, ""
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
