package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/agent"
	"github.com/relayfn/relayfn/relay/api"
)

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		url   string
		want  bool
	}{
		{nil, "http://anything:1/x", true},
		{[]string{"svc.internal"}, "http://svc.internal:8080/x", true},
		{[]string{"SVC.internal"}, "https://svc.internal/x", true},
		{[]string{"svc.internal:443"}, "https://svc.internal/x", true},
		{[]string{"svc.internal:443"}, "http://svc.internal/x", false},
		{[]string{"svc.internal:8080"}, "http://svc.internal:8081/x", false},
		{[]string{"svc.internal"}, "http://other.internal/x", false},
		{[]string{"[::1]:3000"}, "http://[::1]:3000/", true},
		{[]string{"localhost", "10.0.0.7:80"}, "http://10.0.0.7/", true},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := agent.Allowed(tc.allow, u); got != tc.want {
			t.Errorf("Allowed(%q, %s) = %v, want %v", tc.allow, tc.url, got, tc.want)
		}
	}
}

// A token the relay does not know ends Run with the relay's reason, and
// no reconnection.
func TestRunRejected(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := agent.Run(ctx, agent.Options{Server: r.URL, Token: "nope.nope"})
	var rej *agent.RejectedError
	if !errors.As(err, &rej) || rej.Status != http.StatusUnauthorized || rej.Reason != "invalid agent token" {
		t.Errorf("Run = %v, want the relay's refusal", err)
	}
}

// counter is a destination that counts requests by path.
type counter struct {
	direct, agent atomic.Int64
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if strings.HasPrefix(r.URL.Path, "/agent") {
		c.agent.Add(1)
	} else {
		c.direct.Add(1)
	}
}

// BenchmarkAgentRatio compares the webhooks per second delivered through
// one agent with those the relay delivers directly to the same
// destination, in the same run: the two take turns in rounds of 500
// webhooks (a shared machine's load drifts over seconds). It reports the
// agent's throughput as a percentage of direct delivery's (agent-%, the
// median of the rounds' ratios; the target is 70):
//
//	go test ./relay/agent -run XXX -bench AgentRatio -benchtime 5000x
func BenchmarkAgentRatio(b *testing.B) {
	ctx := context.Background()
	r := relaytest.New(b, relaytest.Options{})
	dest := &counter{}
	srv := httptest.NewServer(dest)
	b.Cleanup(srv.Close)
	direct := r.Bucket(&relay.Bucket{Name: "direct"})
	dIn := r.Input(&relay.Input{BucketID: direct.ID, Name: "in"})
	r.Output(&relay.Output{BucketID: direct.ID, Name: "out", Destination: srv.URL + "/direct"})
	viaAgent := r.Bucket(&relay.Bucket{Name: "agent"})
	aIn := r.Input(&relay.Input{BucketID: viaAgent.ID, Name: "in"})
	r.Output(&relay.Output{BucketID: viaAgent.ID, Name: "out", Destination: srv.URL + "/agent", Internal: true})
	secret, hash, err := relay.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	tok := &relay.AgentToken{Name: "bench", BucketIDs: []string{viaAgent.ID}, SecretHash: hash}
	if err := r.Store.CreateAgentToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Options{Server: r.URL, Token: relay.FormatToken(tok.ID, secret)})
	}()
	defer func() { stop(); <-done }()
	relaytest.WaitFor(b, "the agent connected", func() bool { return len(r.Server.Agents()) == 1 })

	c := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	body := []byte(`{"event":"push","ref":"refs/heads/main","commits":[{"id":"0b7a3c52","message":"fix"}]}`)
	// send posts n webhooks to input from 32 senders and returns once the
	// destination has counted them all.
	send := func(inputID string, got *atomic.Int64, n int) time.Duration {
		start := time.Now()
		want := got.Load() + int64(n)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					resp, err := c.Post(r.URL+"/v1/webhooks/"+inputID, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(time.Minute)
		for got.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d webhooks delivered", got.Load()-(want-int64(n)), n)
			}
			time.Sleep(100 * time.Microsecond)
		}
		return time.Since(start)
	}
	send(dIn.ID, &dest.direct, 100) // warm both
	send(aIn.ID, &dest.agent, 100)
	b.ResetTimer()
	const round = 500
	var ratios []float64
	var td, ta time.Duration
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		d := send(dIn.ID, &dest.direct, n)
		a := send(aIn.ID, &dest.agent, n)
		td, ta = td+d, ta+a
		ratios = append(ratios, float64(d)/float64(a))
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(100*ratios[len(ratios)/2], "agent-%")
	b.ReportMetric(float64(b.N)/td.Seconds(), "direct-webhooks/s")
	b.ReportMetric(float64(b.N)/ta.Seconds(), "agent-webhooks/s")
}

// An agent whose relay stops answering pings (a dead peer: the connection
// stays open, nothing is read) drops the connection and connects again.
func TestPingDropsDeadRelay(t *testing.T) {
	var conns atomic.Int64
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{api.AgentProtocol}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		n := conns.Add(1)
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		welcome, _ := json.Marshal(api.AgentMessage{Type: api.AgentWelcome, ID: "dead"})
		c.Write(r.Context(), websocket.MessageText, welcome)
		if n == 1 {
			<-r.Context().Done() // never reads: pings go unanswered
			return
		}
		for { // a live relay: reads, so pings are answered
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Options{Server: srv.URL, Token: "a.b", Ping: 200 * time.Millisecond,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	}()
	relaytest.WaitFor(t, "a second connection after the dead one", func() bool { return conns.Load() >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after its context ended, want nil", err)
	}
	mu.Lock()
	t.Logf("dead relay dropped and reconnected after %s (ping interval 200ms)", at[1].Sub(at[0]))
	mu.Unlock()
}
