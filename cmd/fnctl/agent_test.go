package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

// Input IDs of the agent tests' relay.
const (
	agentInputID  = "6b0e7d2a-3c4f-4e5a-9b8c-1d2e3f4a5b6c"
	tunnelInputID = "7c1f8e3b-4d5a-4f6b-8c9d-2e3f4a5b6c7d"
	otherInputID  = "8d2a9f4c-5e6b-4a7c-9d0e-3f4a5b6c7d8e"
)

// agentConfig is the relay.yaml of the agent tests: bucket ops has an
// input, a tunnel input (destination mode) and one internal output svc
// (destination, max_in_flight, extra output lines); bucket other has an
// internal output of its own.
const agentConfig = `server:
  store: "sqlite://relay.db"
  encryption_key_file: "relay.key"
  admin:
    token_file: "admin.token"
%[4]s
functions:
  - name: tag
    source: |
      if cfg:GetValue("SIGNING_KEY") ~= "" then
        r:SetRequestHeader("X-Relay-Test", "tagged")
      end
    config: {SIGNING_KEY: "k"}
buckets:
  - name: ops
    inputs:
      - name: in
        id: ` + agentInputID + `
        function: tag
      - name: tunnel
        id: ` + tunnelInputID + `
        response: {mode: destination, timeout: 5s}
    outputs:
      - name: svc
        destination: "%[1]s"
        internal: true
        max_in_flight: %[2]d
        timeout: 5s
        retries: {max_attempts: 50, initial_interval: 50ms, max_interval: 200ms}
%[3]s
  - name: other
    inputs:
      - name: in
        id: ` + otherInputID + `
    outputs:
      - name: svc
        destination: "%[1]s"
        internal: true
        retries: {max_attempts: 1}
`

// agentRelay is a running relay of the agent tests with its admin token.
type agentRelay struct {
	*relayProcess
	dir, admin, url string
}

// startAgentRelay writes the agent tests' relay.yaml in a new folder and
// starts the relay on listen.
func startAgentRelay(t *testing.T, bin, dest string, maxInFlight int, extra, server, listen string) *agentRelay {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(agentConfig, dest, maxInFlight, extra, server)
	if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &agentRelay{dir: dir}
	r.restart(t, bin, listen)
	return r
}

func (r *agentRelay) restart(t *testing.T, bin, listen string) {
	t.Helper()
	r.relayProcess = startRelayOn(t, bin, r.dir, listen)
	r.url = "http://" + r.addr
	// The token file is written once the relay listens.
	waitUntil(t, "the admin token file", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(r.dir, "admin.token"))
		r.admin = strings.TrimSpace(string(b))
		return err == nil && r.admin != ""
	})
}

// adminURL is the admin API's URL: the admin listener's when the relay
// has one (read from its log), else the public one.
func (r *agentRelay) adminURL() string {
	for _, line := range strings.Split(r.log.String(), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			AdminAddr string `json:"admin_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "relayfn listening" && rec.AdminAddr != "" {
			return "http://" + rec.AdminAddr
		}
	}
	return r.url
}

// fnctl runs an admin command of fnctl in-process against the relay.
func (r *agentRelay) fnctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return fnctl(t, "", append(args, "--server", r.adminURL(), "--token", r.admin)...)
}

// agentToken makes an agent token for buckets and returns its credential.
func (r *agentRelay) agentToken(t *testing.T, buckets ...string) string {
	t.Helper()
	out, stderr, code := r.fnctl(t, append([]string{"agent", "token", "create", "--name", "test", "-o", "json"}, buckets...)...)
	if code != 0 {
		t.Fatalf("agent token create: exit %d: %s\n%s", code, stderr, r.log)
	}
	var nt api.NewAgentToken
	if err := json.Unmarshal([]byte(out), &nt); err != nil || !strings.HasPrefix(nt.Credential, nt.Token.ID+".") {
		t.Fatalf("agent token create -o json = %q (%v)", out, err)
	}
	return nt.Credential
}

func (r *agentRelay) client() *client.Client { return client.New(r.adminURL(), r.admin, nil) }

// agents lists the connected agents.
func (r *agentRelay) agents(t *testing.T) []*api.Agent {
	t.Helper()
	out, stderr, code := r.fnctl(t, "agent", "ls", "-o", "json")
	if code != 0 {
		t.Fatalf("agent ls: exit %d: %s", code, stderr)
	}
	var as []*api.Agent
	if err := json.Unmarshal([]byte(out), &as); err != nil {
		t.Fatalf("agent ls -o json = %q: %v", out, err)
	}
	return as
}

// agentProcess is a running `fnctl agent`.
type agentProcess struct {
	*process
	log       *lockedBuffer
	connected chan struct{}
}

type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  string
	found chan struct{}
	once  sync.Once
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if strings.Contains(b.buf.String(), b.seen) {
		b.once.Do(func() { close(b.found) })
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startAgent starts `fnctl agent` with args (an arg
// FNCTL_AGENT_TOKEN=… goes to its environment instead); wait says whether
// to wait until it is connected.
func startAgent(t *testing.T, bin string, wait bool, args ...string) *agentProcess {
	t.Helper()
	p := &agentProcess{log: &lockedBuffer{seen: " connected to ", found: make(chan struct{})}}
	p.connected = p.log.found
	var env []string
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		if strings.HasPrefix(a, "FNCTL_AGENT_TOKEN=") {
			env = append(env, a)
			return true
		}
		return false
	})
	cmd := exec.Command(bin, append([]string{"agent", "--ping", "1s"}, args...)...)
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	p.process = startProcess(t, cmd, env, "FNCTL_AGENT_TOKEN")
	if wait {
		select {
		case <-p.connected:
		case <-p.exited:
			t.Fatalf("the agent exited before connecting: %v\n%s", p.err, p.log)
		case <-time.After(20 * time.Second):
			t.Fatalf("the agent did not connect in time\n%s", p.log)
		}
	}
	return p
}

// stop sends sig and waits for the agent to exit (a failure guard).
func (p *agentProcess) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not exit after %v\n%s", sig, p.log)
	}
}

// waitExit waits for the agent to exit on its own and returns its status.
func (p *agentProcess) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not exit\n%s", p.log)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitUntil polls cond until it holds (a failure guard of limit).
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends one webhook and returns the answer.
func post(t *testing.T, url, body string, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// recorded is a request a test destination received.
type recorded struct {
	method, path, query string
	header              http.Header
	body                string
}

// recorder is a destination inside the "private network" that records
// requests; on /hooks/tunnel it answers 201 with a body of its own.
func recorder(t *testing.T) (*httptest.Server, func() []recorded) {
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		mu.Unlock()
		if r.URL.Path == "/hooks/tunnel" {
			w.Header().Set("X-Inside", "yes")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "inside answered %s", b)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// The relay never dials an internal output: the agent does, keeping the
// method, path, query, headers and body; --forward-to replaces the host;
// tunnel mode answers the caller with the internal service's answer;
// refused tokens and buckets exit 1 with the relay's reason; --allow
// refuses destinations outside it.
func TestAgentDelivers(t *testing.T) {
	bin := fnctlBinary(t)
	srv, got := recorder(t)
	// The configured destination does not resolve from the relay: only
	// the agent's --forward-to reaches the service.
	r := startAgentRelay(t, bin, "http://svc.internal.invalid/hooks", 4, "", "", "127.0.0.1:0")
	cred := r.agentToken(t, "ops")
	otherCred := r.agentToken(t, "other")

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct{ name, token, bucket, want string }{
			{"wrong secret", cred[:strings.IndexByte(cred, '.')] + ".wrong", "ops", "invalid agent token"},
			{"another bucket's token", otherCred, "ops", `does not grant bucket "ops"`},
			{"admin token", r.admin, "ops", "invalid agent token"},
		} {
			a := startAgent(t, bin, false, "--server", r.url, "--token", tc.token, "--bucket", tc.bucket)
			if code := a.waitExit(t); code != 1 || !strings.Contains(a.log.String(), tc.want) {
				t.Errorf("%s: exit %d, log %q; want 1 and %q", tc.name, code, a.log, tc.want)
			}
		}
	})

	a := startAgent(t, bin, true, "--server", r.url, "--bucket", "ops", "--name", "office",
		"--forward-to", srv.URL, "FNCTL_AGENT_TOKEN="+cred)

	t.Run("intact", func(t *testing.T) {
		body := "{\"seq\":1,\"bytes\":\"\u00e9\\u0000\"}"
		st, _, _ := post(t, r.url+"/v1/webhooks/"+agentInputID+"/a%2Fb/c?x=1&y=%20z&x=2", body,
			http.Header{"Content-Type": {"application/json"}, "X-Custom": {"one", "two"}})
		if st != http.StatusOK {
			t.Fatalf("webhook answered %d", st)
		}
		waitUntil(t, "delivery through the agent", 20*time.Second, func() bool { return len(got()) > 0 })
		rq := got()[0]
		if rq.method != http.MethodPost || rq.path != "/hooks/a%2Fb/c" || rq.query != "x=1&y=%20z&x=2" || rq.body != body ||
			!slices.Equal(rq.header["X-Custom"], []string{"one", "two"}) || rq.header.Get("Content-Type") != "application/json" ||
			rq.header.Get("X-Relay-Test") != "tagged" {
			t.Errorf("the destination got %+v", rq)
		}
		waitUntil(t, "the attempt recorded", 10*time.Second, func() bool {
			ds, err := r.client().ListDeliveries(context.Background(), client.DeliveryQuery{Bucket: "ops", State: "succeeded"})
			return err == nil && len(ds) == 1
		})
		if !strings.Contains(a.log.String(), "ops/svc POST ") || !strings.Contains(a.log.String(), "/hooks/a%2Fb/c 200") ||
			strings.Contains(a.log.String(), "y=%20z") {
			t.Errorf("the agent's log lacks the delivery's line:\n%s", a.log)
		}
	})

	t.Run("tunnel", func(t *testing.T) {
		st, body, h := post(t, r.url+"/v1/webhooks/"+tunnelInputID+"/tunnel", "ping", nil)
		if st != http.StatusCreated || body != "inside answered ping" || h.Get("X-Inside") != "yes" {
			t.Errorf("tunnel answered %d %q %v; want 201 and the internal service's body", st, body, h)
		}
	})

	t.Run("visible", func(t *testing.T) {
		as := r.agents(t)
		if len(as) != 1 || as[0].Name != "office" || !slices.Equal(as[0].Buckets, []string{"ops"}) || as[0].Delivered < 2 ||
			!strings.HasPrefix(as[0].Remote, "127.0.0.1:") || as[0].Since.IsZero() {
			t.Errorf("agent ls = %+v", as)
		}
		out, _, code := r.fnctl(t, "agent", "ls")
		if code != 0 || !strings.Contains(out, "office") || !strings.Contains(out, "DELIVERED") {
			t.Errorf("agent ls: %d %q", code, out)
		}
		resp, err := http.Get(r.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"relayfn_agents_connected 1", `relayfn_deliveries_by_transport_total{transport="agent"}`} {
			if !strings.Contains(string(m), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})

	t.Run("allow", func(t *testing.T) {
		b := startAgent(t, bin, true, "--server", r.url, "--token", otherCred, "--allow", "svc.internal.example:443")
		if st, _, _ := post(t, r.url+"/v1/webhooks/"+otherInputID, "secret", nil); st != http.StatusOK {
			t.Fatalf("webhook answered %d", st)
		}
		var ds []*api.Delivery
		waitUntil(t, "the refused delivery", 20*time.Second, func() bool {
			var err error
			ds, err = r.client().ListDeliveries(context.Background(), client.DeliveryQuery{Bucket: "other", State: "failed"})
			return err == nil && len(ds) == 1
		})
		if !strings.Contains(ds[0].LastError, "not in this agent's --allow list") {
			t.Errorf("refused delivery's error = %q", ds[0].LastError)
		}
		for _, rq := range got() {
			if rq.body == "secret" {
				t.Errorf("a refused delivery reached the destination")
			}
		}
		b.stop(t, syscall.SIGTERM)
		if code := b.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("agent exit %d after SIGTERM, want 0", code)
		}
	})

	t.Run("token rm", func(t *testing.T) {
		out, _, _ := r.fnctl(t, "agent", "token", "ls", "-o", "json")
		var toks []*api.AgentToken
		if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks) != 2 {
			t.Fatalf("agent token ls = %q", out)
		}
		// An agent of a deleted token is disconnected, and refused when it
		// connects again.
		c := startAgent(t, bin, true, "--server", r.url, "--token", otherCred)
		if _, stderr, code := r.fnctl(t, "token", "rm", toks[1].ID); code != 0 {
			t.Fatalf("token rm: %d %s", code, stderr)
		}
		if code := c.waitExit(t); code != 1 || !strings.Contains(c.log.String(), "invalid agent token") {
			t.Errorf("deleted token: exit %d\n%s", code, c.log)
		}
	})
	checkLogs(t, r.relayProcess, cred, otherCred)
}

// freePort returns a loopback address no one listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Every acknowledged webhook reaches the destination through the agent
// although the agent is killed (SIGKILL) mid-stream and restarted:
// deliveries it had in flight are sent again (the duplicates, counted),
// none is lost.
func TestAgentSurvivesSIGKILL(t *testing.T) {
	bin := fnctlBinary(t)
	dest := newDestination(t, nil)
	r := startAgentRelay(t, bin, dest.srv.URL+"/hooks", 8, "", "", "127.0.0.1:0")
	cred := r.agentToken(t, "ops")
	args := []string{"--server", r.url, "--token", cred, "--bucket", "ops"}
	a := startAgent(t, bin, true, args...)

	tr := sendTraffic(t, r.url+"/v1/webhooks/"+agentInputID, "kill", 300, 8)
	<-tr.half
	a.stop(t, syscall.SIGKILL)
	time.Sleep(300 * time.Millisecond)
	startAgent(t, bin, true, args...)
	acked := tr.finish()
	waitDelivered(t, dest, r.dir, acked, r.relayProcess)
	rs, bad := dest.snapshot()
	if len(bad) > 0 {
		t.Errorf("requests not as sent: %q", bad)
	}
	dups := 0
	for _, n := range accepted(rs) {
		dups += n - 1
	}
	t.Logf("%d webhooks acknowledged, all delivered; %d duplicates (in flight at the kill)", len(acked), dups)
}

// With no agent connected, deliveries wait: with the default window they
// all arrive, in order, once an agent connects (after a restart of the
// relay meanwhile); with agent_window 2s they fail with the window's
// error.
func TestAgentOffline(t *testing.T) {
	bin := fnctlBinary(t)
	for _, tc := range []struct {
		name, extra string
		arrive      bool
	}{
		{"default window", "", true},
		{"window 2s", "        agent_window: 2s", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := newDestination(t, nil)
			// max_in_flight 1: one at a time, in order.
			listen := freePort(t)
			r := startAgentRelay(t, bin, dest.srv.URL+"/hooks", 1, tc.extra, "", listen)
			cred := r.agentToken(t, "ops")
			args := []string{"--server", r.url, "--token", cred, "--bucket", "ops"}
			a := startAgent(t, bin, true, args...)
			a.stop(t, syscall.SIGTERM)
			if code := a.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("agent exit %d after SIGTERM\n%s", code, a.log)
			}
			const n = 20
			start := time.Now()
			for i := range n {
				if st, _, _ := post(t, r.url+"/v1/webhooks/"+agentInputID, fmt.Sprintf(`{"seq":%d}`, i), nil); st != http.StatusOK {
					t.Fatalf("webhook %d answered %d", i, st)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if tc.arrive {
				// Waiting survives a restart of the relay: it is in the
				// store.
				r.signal(t, syscall.SIGTERM, 20*time.Second)
				r.restart(t, bin, listen)
			}
			time.Sleep(5*time.Second - time.Since(start))
			startAgent(t, bin, true, args...)
			if tc.arrive {
				waitUntil(t, "the missed webhooks", 30*time.Second, func() bool { rs, _ := dest.snapshot(); return len(rs) >= n })
				rs, _ := dest.snapshot()
				for i, rc := range rs {
					if rc.seq != i {
						t.Fatalf("arrival order %v, want 0..%d", rs, n-1)
					}
				}
				t.Logf("%d webhooks sent while no agent was connected (5s) arrived in order after it connected, across a relay restart", n)
				return
			}
			var ds []*api.Delivery
			waitUntil(t, "the window's failures", 20*time.Second, func() bool {
				var err error
				ds, err = r.client().ListDeliveries(context.Background(), client.DeliveryQuery{Bucket: "ops", State: "failed"})
				return err == nil && len(ds) == n
			})
			for _, d := range ds {
				if !strings.Contains(d.LastError, "no agent connected within the agent window (2s)") {
					t.Errorf("delivery %s: error %q", d.ID, d.LastError)
				}
			}
			time.Sleep(500 * time.Millisecond)
			if rs, _ := dest.snapshot(); len(rs) != 0 {
				t.Errorf("the destination received %d webhooks past their window", len(rs))
			}
		})
	}
}

// Two agents of one bucket share its deliveries: each arrives once, and
// both take part.
func TestAgentCompetingConsumers(t *testing.T) {
	bin := fnctlBinary(t)
	dest := newDestination(t, nil)
	r := startAgentRelay(t, bin, dest.srv.URL+"/hooks", 8, "", "", "127.0.0.1:0")
	cred := r.agentToken(t, "ops")
	startAgent(t, bin, true, "--server", r.url, "--token", cred, "--name", "a")
	startAgent(t, bin, true, "--server", r.url, "--token", cred, "--name", "b")
	tr := sendTraffic(t, r.url+"/v1/webhooks/"+agentInputID, "two", 200, 8)
	<-tr.done
	acked := tr.finish()
	waitDelivered(t, dest, r.dir, acked, r.relayProcess)
	rs, _ := dest.snapshot()
	for seq, n := range accepted(rs) {
		if n != 1 {
			t.Errorf("webhook %d arrived %d times", seq, n)
		}
	}
	as := r.agents(t)
	if len(as) != 2 || as[0].Delivered == 0 || as[1].Delivered == 0 || as[0].Delivered+as[1].Delivered != int64(len(acked)) {
		t.Errorf("agents = %+v; want both to take part in %d deliveries", as, len(acked))
	}
	for _, a := range as {
		t.Logf("agent %s delivered %d", a.Name, a.Delivered)
	}
}

// The relay killed (SIGKILL) while an agent is connected: after the
// relay restarts, the agent reconnects and every acknowledged webhook
// arrives.
func TestAgentRelaySIGKILL(t *testing.T) {
	bin := fnctlBinary(t)
	dest := newDestination(t, nil)
	listen := freePort(t)
	r := startAgentRelay(t, bin, dest.srv.URL+"/hooks", 8, "", "", listen)
	cred := r.agentToken(t, "ops")
	a := startAgent(t, bin, true, "--server", r.url, "--token", cred)
	tr := sendTraffic(t, r.url+"/v1/webhooks/"+agentInputID, "relaykill", 300, 8)
	<-tr.half
	r.signal(t, syscall.SIGKILL, 10*time.Second)
	acked := tr.finish()
	r.restart(t, bin, listen)
	waitUntil(t, "the agent reconnected", 20*time.Second, func() bool {
		return strings.Count(a.log.String(), " connected to ") >= 2
	})
	waitDelivered(t, dest, r.dir, acked, r.relayProcess)
	rs, _ := dest.snapshot()
	dups := 0
	for _, n := range accepted(rs) {
		dups += n - 1
	}
	t.Logf("%d webhooks acknowledged before the relay's SIGKILL, all delivered after its restart; %d duplicates", len(acked), dups)
}

// An agent reaches a relay served over TLS (wss) with a test CA.
func TestAgentTLS(t *testing.T) {
	bin := fnctlBinary(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	srv, got := recorder(t)
	// Short request timeouts: an agent's connection outlives them.
	server := fmt.Sprintf("  listen: \"127.0.0.1:0\"\n  tls: {cert_file: %q, key_file: %q}\n  admin: {listen: \"127.0.0.1:0\", token_file: \"admin.token\"}\n"+
		"  limits: {read_timeout: 1s, read_header_timeout: 1s, idle_timeout: 1s}", certFile, keyFile)
	// The admin section is given in full by server; drop the template's.
	r := startAgentRelayTLS(t, bin, srv.URL+"/hooks", server)
	cred := r.agentToken(t, "ops")
	wss := "https://" + r.addr
	// Without the CA the relay's certificate is not trusted.
	a := startAgent(t, bin, false, "--server", wss, "--token", cred)
	time.Sleep(time.Second)
	if strings.Contains(a.log.String(), " connected to ") || !strings.Contains(a.log.String(), "certificate") {
		t.Errorf("an agent without the CA: %s", a.log)
	}
	a.stop(t, syscall.SIGTERM)
	live := startAgent(t, bin, true, "--server", wss, "--token", cred, "--ca-file", caFile)
	time.Sleep(2500 * time.Millisecond)
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsConfig(pool)}}
	resp, err := hc.Post(wss+"/v1/webhooks/"+agentInputID, "application/json", strings.NewReader(`{"seq":7}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil(t, "delivery over wss", 20*time.Second, func() bool { return len(got()) == 1 })
	if rq := got()[0]; rq.body != `{"seq":7}` {
		t.Errorf("got %+v", rq)
	}
	if n := strings.Count(live.log.String(), " connected to "); n != 1 {
		t.Errorf("the agent connected %d times; want once, its connection outliving the request timeouts\n%s", n, live.log)
	}
}

// startAgentRelayTLS starts the agent tests' relay with a server section
// of its own (TLS and an admin listener).
func startAgentRelayTLS(t *testing.T, bin, dest, server string) *agentRelay {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(agentConfig, dest, 4, "", "")
	cfg = strings.Replace(cfg, "  admin:\n    token_file: \"admin.token\"\n", server+"\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &agentRelay{dir: dir}
	r.restart(t, bin, "127.0.0.1:0")
	return r
}

// writeTestPKI writes a test CA and a certificate for 127.0.0.1 signed by
// it, and returns their files.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relayfn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }

// SIGTERM stops the agent after the deliveries it has in flight: they
// are reported (one attempt each), and it exits 0.
func TestAgentSIGTERMFinishesInFlight(t *testing.T) {
	bin := fnctlBinary(t)
	arrived := make(chan struct{}, 8)
	var mu sync.Mutex
	answered := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		time.Sleep(time.Second)
		mu.Lock()
		answered++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r := startAgentRelay(t, bin, srv.URL+"/hooks", 4, "", "", "127.0.0.1:0")
	cred := r.agentToken(t, "ops")
	a := startAgent(t, bin, true, "--server", r.url, "--token", cred)
	for i := range 3 {
		if st, _, _ := post(t, r.url+"/v1/webhooks/"+agentInputID, fmt.Sprintf(`{"seq":%d}`, i), nil); st != http.StatusOK {
			t.Fatalf("webhook answered %d", st)
		}
	}
	for range 3 {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("the deliveries did not reach the destination\n%s", a.log)
		}
	}
	a.stop(t, syscall.SIGTERM)
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, a.log)
	}
	// The reports were sent before the agent exited; the relay records
	// them as they come.
	var ds []*api.Delivery
	waitUntil(t, "the reports recorded", 10*time.Second, func() bool {
		var err error
		ds, err = r.client().ListDeliveries(context.Background(), client.DeliveryQuery{Bucket: "ops", State: "succeeded"})
		return err == nil && len(ds) == 3
	})
	for _, d := range ds {
		if d.State != "succeeded" || d.Attempts != 1 {
			t.Errorf("delivery %s: %s after %d attempts; want succeeded at the first", d.ID, d.State, d.Attempts)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ds) != 3 || answered != 3 {
		t.Errorf("%d deliveries, %d answered; want 3 and 3", len(ds), answered)
	}
}
