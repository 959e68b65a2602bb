package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

// adminRelay is a real relay in the test process: a SQLite store in a
// temporary folder, the engine, an egress client that lets loopback
// through, the ingress and the admin API on an httptest server, and an
// admin token.
type adminRelay struct {
	t     *testing.T
	url   string
	token string
	store relay.Store
	// env is the environment fnctl sees, besides FNCTL_SERVER and
	// FNCTL_TOKEN.
	env map[string]string
}

func newAdminRelay(t *testing.T) *adminRelay {
	t.Helper()
	r := relaytest.New(t, relaytest.Options{})
	return &adminRelay{t: t, url: r.URL, token: r.AdminToken, store: r.Store, env: map[string]string{}}
}

// run runs fnctl in-process against the relay (through FNCTL_SERVER and
// FNCTL_TOKEN) and returns what it wrote and its exit status.
func (r *adminRelay) run(args ...string) (stdout, stderr string, code int) {
	return r.runStdin("", args...)
}

func (r *adminRelay) runStdin(stdin string, args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	env := map[string]string{"FNCTL_SERVER": r.url, "FNCTL_TOKEN": r.token}
	for k, v := range r.env {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

// ok runs fnctl and fails the test unless it exits 0.
func (r *adminRelay) ok(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("fnctl %s: exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// okJSON runs fnctl with -o json and decodes its output into v.
func (r *adminRelay) okJSON(v any, args ...string) {
	r.t.Helper()
	out := r.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.t.Fatalf("fnctl %s -o json: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// contains fails the test unless s holds every one of wants.
func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// lacks fails the test when s holds any of secrets.
func lacks(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, w := range secrets {
		if strings.Contains(s, w) {
			t.Errorf("%s shows %q:\n%s", what, w, s)
		}
	}
}

// hookSink is a destination that records the requests it receives.
type hookSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []sunkRequest
}

type sunkRequest struct {
	path   string
	header http.Header
	body   string
}

func newHookSink(t *testing.T) *hookSink {
	k := &hookSink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		k.mu.Lock()
		k.reqs = append(k.reqs, sunkRequest{path: r.URL.Path, header: r.Header.Clone(), body: b.String()})
		k.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *hookSink) received() []sunkRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sunkRequest(nil), k.reqs...)
}

// waitFor polls cond until it holds, failing the test after
// relaytest.Timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	relaytest.WaitFor(t, what, cond)
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestRemoteErrors(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("bucket", "create", "ci")
	unreachable := closedURL(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"wrong token", []string{"function", "ls", "--token", "nope.nope"}, 1, []string{"fnctl: unauthorized: check --token / FNCTL_TOKEN"}},
		{"malformed token", []string{"bucket", "ls", "--token", "garbage"}, 1, []string{"unauthorized"}},
		{"unreachable", []string{"bucket", "ls", "--server", unreachable}, 1, []string{"fnctl: cannot reach the relay at " + unreachable + ": ", "connection refused"}},
		{"function 404", []string{"function", "get", "nope"}, 1, []string{`fnctl: function "nope": not found`}},
		{"bucket 404", []string{"bucket", "get", "nope"}, 1, []string{`bucket "nope": not found`}},
		{"input 404", []string{"input", "get", "6a4c1d2e-0000-4000-8000-000000000000"}, 1, []string{"not found"}},
		{"delivery 404", []string{"deliveries", "show", "6a4c1d2e-0000-4000-8000-000000000000"}, 1, []string{"not found"}},
		{"conflict", []string{"bucket", "create", "ci"}, 1, []string{"fnctl: ", "already exists"}},
		{"server refuses", []string{"input", "create", "ci", "x", "--function", "nope"}, 1, []string{`function: no function "nope"`}},
		{"last admin token", []string{"token", "rm", strings.SplitN(r.token, ".", 2)[0]}, 1, []string{"last admin token"}},

		{"missing subcommand", []string{"function"}, 2, []string{"missing a subcommand"}},
		{"unknown subcommand", []string{"bucket", "nope"}, 2, []string{`unknown command "nope"`}},
		{"missing NAME", []string{"function", "create"}, 2, []string{"missing NAME"}},
		{"missing -f", []string{"function", "create", "x"}, 2, []string{"missing -f FILE.lua"}},
		{"missing file", []string{"function", "push", "x", "-f", "testdata/nope.lua"}, 2, []string{"does not exist"}},
		{"bad K=V", []string{"function", "config", "set", "x", "=leaked"}, 2, []string{"invalid KEY=VALUE argument #1"}},
		{"bad --config", []string{"function", "create", "x", "-f", "testdata/echo.lua", "--config", "novalue"}, 2, []string{"invalid --config #1"}},
		{"config rm with value", []string{"function", "config", "rm", "x", "K=leaked"}, 2, []string{"invalid KEY #1"}},
		{"bad -o", []string{"bucket", "ls", "-o", "yaml"}, 2, []string{`invalid -o "yaml"`}},
		{"bad --server", []string{"bucket", "ls", "--server", "relay.example.com"}, 2, []string{"invalid --server"}},
		{"bad --auth", []string{"bucket", "create", "b", "--auth", "magic"}, 2, []string{`invalid --auth "magic"`}},
		{"basic without password", []string{"bucket", "create", "b", "--auth", "basic", "--username", "u"}, 2, []string{"--password-env"}},
		{"unset password env", []string{"bucket", "create", "b", "--auth", "basic", "--username", "u", "--password-env", "UNSET_VAR"}, 2, []string{"UNSET_VAR is not set"}},
		{"status without static", []string{"input", "create", "ci", "x", "--status", "202"}, 2, []string{"--status is only used with --response static"}},
		{"bad response", []string{"input", "create", "ci", "x", "--response", "later"}, 2, []string{`invalid --response "later"`}},
		{"missing destination", []string{"output", "create", "ci", "x"}, 2, []string{"missing --destination"}},
		{"bad destination", []string{"output", "create", "ci", "x", "--destination", "ftp://h/secret-path"}, 2, []string{"invalid --destination"}},
		{"attach without target", []string{"attach", "fn"}, 2, []string{"give --input ID or --output-id ID"}},
		{"attach both", []string{"attach", "fn", "--input", "a", "--output-id", "b"}, 2, []string{"not both"}},
		{"response on input", []string{"detach", "--input", "a", "--response"}, 2, []string{"--response is only used with --output-id"}},
		{"bad state", []string{"deliveries", "ls", "--state", "lost"}, 2, []string{`invalid --state "lost"`}},
		{"bad limit", []string{"deliveries", "ls", "--limit", "0"}, 2, []string{"invalid --limit 0"}},
		{"apply without -f", []string{"apply"}, 2, []string{"missing -f relay.yaml"}},
		{"unknown flag", []string{"token", "ls", "--nope"}, 2, []string{"unknown flag: --nope"}},
		{"extra argument", []string{"token", "ls", "extra"}, 2, []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := r.run(tc.args...)
			wantCode(t, code, tc.code, out, errOut)
			contains(t, "stderr", errOut, tc.stderr...)
			lacks(t, "output", out+errOut, "leaked", "secret-path", r.token)
		})
	}
}

func TestRemoteNoToken(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.token = ""
	out, errOut, code := r.run("bucket", "ls")
	wantCode(t, code, 1, out, errOut)
	contains(t, "stderr", errOut, "unauthorized: no admin token given: set --token or FNCTL_TOKEN")
}

func TestRemoteServerFlagAndEnv(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("bucket", "create", "ci")
	// --server and --token override the environment; a trailing slash is
	// fine.
	bad := closedURL(t)
	var out, errOut bytes.Buffer
	env := map[string]string{"FNCTL_SERVER": bad, "FNCTL_TOKEN": "wrong.token"}
	code := execute(context.Background(), []string{"bucket", "ls", "--server", r.url + "/", "--token", r.token}, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	wantCode(t, code, 0, out.String(), errOut.String())
	contains(t, "stdout", out.String(), "ci")
	// --format is -o's other name.
	var bs []api.Bucket
	r.okJSON(&bs, "bucket", "ls")
	out2 := r.ok("bucket", "ls", "--format", "json")
	if !strings.HasPrefix(strings.TrimSpace(out2), "[") || len(bs) != 1 {
		t.Errorf("--format json: %s", out2)
	}
}
