package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

// env is a relay with the admin API on loopback, over a real SQLite store,
// engine and egress client (loopback opened by an allow range), which
// logs to logs.
type env struct {
	t     *testing.T
	relay *relaytest.Relay
	store relay.Store
	srv   *relay.Server
	url   string
	token string
	logs  *relaytest.LogBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	logs := &relaytest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := relaytest.New(t, relaytest.Options{Logger: log})
	return &env{t: t, relay: r, store: r.Store, srv: r.Server, url: r.URL, token: r.AdminToken, logs: logs}
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
	var e api.ErrorResponse
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
	var text string
	switch b := body.(type) {
	case nil:
	case string:
		text = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		text = string(data)
	}
	var header http.Header
	if auth != "" {
		header = http.Header{"Authorization": {auth}}
	}
	res, data := e.relay.Send(method, path, text, header)
	return resp{status: res.StatusCode, header: res.Header, body: []byte(data)}
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
	res, data := e.relay.Webhook(inputID, body, header)
	return resp{status: res.StatusCode, header: res.Header, body: []byte(data)}
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
