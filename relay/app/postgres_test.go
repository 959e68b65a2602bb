package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
)

// dsnPassword is put in the PostgreSQL URLs of these tests (the test
// server trusts its clients, so any password does): no error and no log
// line may show it.
const dsnPassword = "Pg-Secret-7f3a9c"

// withPassword returns dsn with the user postgres and dsnPassword.
func withPassword(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := u.User.Username()
	if user == "" {
		user = "postgres"
	}
	u.User = url.UserPassword(user, dsnPassword)
	return u.String()
}

// inputID is the input of pgFile's bucket.
const inputID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"

// pgFile returns a relay.yaml on the PostgreSQL store dsn, named node,
// with a bucket whose input delivers to dest (when set), the public
// listener on a free loopback port.
func pgFile(t *testing.T, dsn, node, dest string) *config.File {
	t.Helper()
	doc := "server:\n  listen: \"127.0.0.1:0\"\n  health: {degraded_status: 503}\n"
	if dest != "" {
		doc += fmt.Sprintf(`buckets:
  - name: ci
    inputs:
      - name: github
        id: %s
    outputs:
      - name: dest
        destination: %s
        retries: {max_attempts: 3, initial_interval: 10ms}
`, inputID, dest)
	}
	f, err := config.Parse([]byte(doc), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Server.Store = dsn
	f.Server.Node = node
	return f
}

// pgOptions are the options of an app on PostgreSQL: loopback
// destinations allowed, the key from env (RELAYFN_KEY) when set, the log
// into log.
func pgOptions(key string, log io.Writer) app.Options {
	return app.Options{
		Logger:      slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stderr:      log,
		Getenv:      env(key),
		AllowRanges: []string{"127.0.0.0/8", "::1/128"},
	}
}

// receiver is a destination that counts what it receives.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) has(body string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		if b == body {
			return true
		}
	}
	return false
}

// post posts body to the input of pgFile's bucket on a and returns the
// status.
func post(t *testing.T, a *app.App, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+a.Addr().String()+"/v1/webhooks/"+inputID, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// health returns /healthz's status and body.
func health(a *app.App) (int, string, error) {
	resp, err := http.Get("http://" + a.Addr().String() + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkNoSecret fails the test if text shows the DSN's password or key.
func checkNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, dsnPassword) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s shows a secret (%.6s…)", what, s)
		}
	}
}

// A relay on PostgreSQL serves a webhook end to end: the file's bucket is
// applied, the webhook stored and delivered; the key file is made on the
// first start; /healthz, /metrics and the log say what they should, and
// nothing shows the URL's password.
func TestPostgresServesWebhook(t *testing.T) {
	dsn := withPassword(t, pgtest.DSN(t))
	dest := newReceiver(t)
	dir := t.TempDir()
	f := pgFile(t, dsn, "relay-a", dest.URL)
	f.Server.EncryptionKeyFile = filepath.Join(dir, "relayfn.key")
	var log relaytest.LogBuffer
	opts := pgOptions("", &log)
	opts.Apply = true
	a := start(t, f, opts)

	key, err := seal.LoadKey(f.Server.EncryptionKeyFile)
	if err != nil {
		t.Fatalf("the key file was not made: %v", err)
	}
	if st := post(t, a, "hello over postgres"); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
	relaytest.WaitFor(t, "the delivery", func() bool { return dest.has("hello over postgres") })

	if st, body, err := health(a); err != nil || st != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %q %v", st, body, err)
	}
	metrics := getBody(t, "http://"+a.Addr().String()+"/metrics")
	if want := `relayfn_node_info{node="relay-a",store="postgres"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if !strings.Contains(log.String(), `"msg":"relayfn listening"`) || !strings.Contains(log.String(), "postgres:xxxxx@") {
		t.Errorf("the log does not show the listening line with the store redacted:\n%s", log.String())
	}
	checkNoSecret(t, "the log", log.String(), fmt.Sprintf("%x", key))
}

// Two nodes on one schema both serve, each its own webhooks, through the
// same routes; a third with a live node's name is refused.
func TestPostgresTwoNodes(t *testing.T) {
	dsn := withPassword(t, pgtest.DSN(t))
	dest := newReceiver(t)
	key := hexKey(t)
	var log relaytest.LogBuffer

	optsA := pgOptions(key, &log)
	optsA.Apply = true
	a := start(t, pgFile(t, dsn, "node-a", dest.URL), optsA)
	b := start(t, pgFile(t, dsn, "node-b", dest.URL), pgOptions(key, &log))
	if a.Node != "node-a" || b.Node != "node-b" {
		t.Fatalf("nodes %q and %q", a.Node, b.Node)
	}
	for i := range 5 {
		for _, n := range []*app.App{a, b} {
			body := fmt.Sprintf("to %s #%d", n.Node, i)
			if st := post(t, n, body); st != http.StatusOK {
				t.Fatalf("%s answered %d", n.Node, st)
			}
			relaytest.WaitFor(t, body, func() bool { return dest.has(body) })
		}
	}
	for _, n := range []*app.App{a, b} {
		m := getBody(t, "http://"+n.Addr().String()+"/metrics")
		if want := fmt.Sprintf(`relayfn_node_info{node=%q,store="postgres"} 1`, n.Node); !strings.Contains(m, want) {
			t.Errorf("/metrics of %s lacks %s", n.Node, want)
		}
	}

	// The same name again, while node-a lives.
	f := pgFile(t, dsn, "node-a", "")
	dup, err := app.New(context.Background(), f, pgOptions(key, &log))
	if err == nil {
		dup.Close()
		t.Fatal("a second node-a started")
	}
	t.Logf("second node-a: %v", err)
	if !strings.Contains(err.Error(), `"node-a"`) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q does not say the node name is taken", err)
	}
	checkNoSecret(t, "the error", err.Error(), key)
	checkNoSecret(t, "the log", log.String(), key)
}

// The key of a PostgreSQL store: RELAYFN_KEY wins over the key file; the
// same key opens the database again; another key is refused, saying where
// it came from; a missing key file is made and, when the database holds
// another key's data, removed again.
func TestPostgresKeys(t *testing.T) {
	dsn := withPassword(t, pgtest.DSN(t))
	dir := t.TempDir()
	key := hexKey(t)
	var log relaytest.LogBuffer
	open := func(envKey, keyFile string) (*app.App, error) {
		f := pgFile(t, dsn, "keys", "")
		f.Server.EncryptionKeyFile = keyFile
		opts := pgOptions(envKey, &log)
		opts.QuietToken = true
		return app.New(context.Background(), f, opts)
	}
	// First start: the key from the environment; the key file named too is
	// neither read nor made.
	keyFile := filepath.Join(dir, "relayfn.key")
	a, err := open(key, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Error("the key file was made although RELAYFN_KEY is set")
	}
	// The same key, from a file this time.
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err = open("", keyFile)
	if err != nil {
		t.Fatalf("the same key from the key file: %v", err)
	}
	a.Close()

	other := hexKey(t)
	cases := []struct {
		name, env, file, want string
	}{
		{"another key in RELAYFN_KEY", other, keyFile, "the key in RELAYFN_KEY is not the one"},
		{"another key file", "", writeKey(t, dir, "other.key", other), "other.key is not the one"},
		{"a missing key file", "", filepath.Join(dir, "new.key"), "did not exist, so a new key was made (and removed again)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := open(c.env, c.file)
			if err == nil {
				a.Close()
				t.Fatal("started with the wrong key")
			}
			t.Logf("%v", err)
			if !errors.Is(err, seal.ErrOpen) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "server.store") {
				t.Errorf("error %q, want seal.ErrOpen and %q", err, c.want)
			}
			checkNoSecret(t, "the error", err.Error(), key, other)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new.key")); err == nil {
		t.Error("the key file made for a database with another key was left behind")
	}
	checkNoSecret(t, "the log", log.String(), key, other)
}

// writeKey writes key (hex) to dir/name and returns its path.
func writeKey(t *testing.T, dir, name, key string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// An unreachable server fails the start with an error that names the
// store without its password.
func TestPostgresUnreachableAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	dsn := "postgres://relay:" + dsnPassword + "@" + addr + "/relayfn?connect_timeout=5&password=" + dsnPassword
	var log relaytest.LogBuffer
	a, err := app.New(context.Background(), pgFile(t, dsn, "n1", ""), pgOptions(hexKey(t), &log))
	if err == nil {
		a.Close()
		t.Fatal("started on an unreachable server")
	}
	t.Logf("%v", err)
	if !strings.Contains(err.Error(), "server.store postgres://relay:xxxxx@"+addr) {
		t.Errorf("error %q does not name the store, redacted", err)
	}
	checkNoSecret(t, "the error", err.Error())
	checkNoSecret(t, "the log", log.String())
}

// /healthz follows the store: degraded ("unreachable", 503) while
// PostgreSQL cannot be reached, and ok again when it can. The outage is a
// real one between the relay and a real server: the relay reaches
// PostgreSQL through a TCP proxy on loopback, which the test shuts (its
// listener closed, every connection cut) and opens again on the same port.
func TestPostgresHealthFollowsOutage(t *testing.T) {
	base := pgtest.DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	dsn := withPassword(t, u.String())
	dest := newReceiver(t)
	var log relaytest.LogBuffer
	opts := pgOptions(hexKey(t), &log)
	opts.Apply = true
	a := start(t, pgFile(t, dsn, "outage", dest.URL), opts)

	if st, body, _ := health(a); st != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("/healthz before the outage: %d %s, want 200 ok", st, body)
	}
	p.down()
	downAt := time.Now()
	var st int
	var body string
	relaytest.WaitFor(t, "/healthz degraded", func() bool {
		st, body, _ = health(a)
		return st == http.StatusServiceUnavailable
	})
	t.Logf("during the outage, %v after it began: %d %s", time.Since(downAt).Round(time.Millisecond), st, strings.TrimSpace(body))
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"store":"unreachable"`) {
		t.Errorf("/healthz during the outage = %q, want degraded, unreachable", body)
	}
	if st := post(t, a, "during the outage"); st != http.StatusServiceUnavailable {
		t.Errorf("a webhook during the outage was answered %d, want 503", st)
	}

	p.up()
	upAt := time.Now()
	relaytest.WaitFor(t, "/healthz ok again", func() bool {
		st, body, _ = health(a)
		return st == http.StatusOK
	})
	t.Logf("after the outage, %v after it ended: %d %s", time.Since(upAt).Round(time.Millisecond), st, strings.TrimSpace(body))
	if got := strings.TrimSpace(body); got != `{"status":"ok"}` {
		t.Errorf("/healthz after the outage = %q, want ok", got)
	}
	if st := post(t, a, "after the outage"); st != http.StatusOK {
		t.Errorf("a webhook after the outage was answered %d", st)
	}
	relaytest.WaitFor(t, "its delivery", func() bool { return dest.has("after the outage") })
	if !strings.Contains(log.String(), "health: the store is unreachable") {
		t.Errorf("the log does not report the outage")
	}
	checkNoSecret(t, "the log", log.String())
}

// proxy forwards TCP connections from a loopback port to target, and can
// be shut (every connection cut, the port refusing) and opened again on
// the same port: a database outage as the relay sees it.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

// up listens on the proxy's port again.
func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
}

// down closes the listener and cuts every connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Nodes started together on an empty database with the same relay.yaml
// all start: they apply the file one after the other (the later ones
// change nothing), and one of them, only one, makes the admin token.
func TestPostgresNodesStartTogether(t *testing.T) {
	const nodes, rounds = 3, 2
	for round := range rounds {
		dsn := pgtest.DSN(t)
		key := hexKey(t)
		var log relaytest.LogBuffer
		var wg sync.WaitGroup
		apps := make([]*app.App, nodes)
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := pgOptions(key, &log)
				o.Apply, o.QuietToken = true, true
				apps[i], errs[i] = app.New(context.Background(), pgFile(t, dsn, fmt.Sprintf("node-%d", i), "http://127.0.0.1:9/x"), o)
			}()
		}
		wg.Wait()
		tokens := 0
		for i, a := range apps {
			if errs[i] != nil {
				t.Errorf("round %d, node-%d: %v", round, i, errs[i])
				continue
			}
			if a.AdminToken != "" {
				tokens++
			}
			a.Close()
		}
		if tokens != 1 {
			t.Errorf("round %d: %d admin tokens made, want 1", round, tokens)
		}
		if n := strings.Count(log.String(), `"action":"created"`); n == 0 {
			t.Errorf("round %d: nothing was applied", round)
		}
	}
}
