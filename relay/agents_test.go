package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

// dialAgent connects to the relay as an agent of cred speaking the
// protocol by hand, and reads the welcome.
func dialAgent(t *testing.T, r *relaytest.Relay, cred string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.URL, "http")+api.AgentPath, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + cred}},
		Subprotocols: []string{api.AgentProtocol},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 24)
	t.Cleanup(func() { c.CloseNow() })
	var m api.AgentMessage
	if _, b, err := c.Read(ctx); err != nil || json.Unmarshal(b, &m) != nil || m.Type != api.AgentWelcome {
		t.Fatalf("welcome: %s %v", b, err)
	}
	return c
}

// An agent that stops answering (a dead peer: its connection stays open)
// is dropped within two ping intervals, and the delivery it held goes to
// the next agent, once: the attempt is the live agent's report.
func TestDeadAgentIsDroppedAndItsDeliveryResent(t *testing.T) {
	ctx := context.Background()
	r := relaytest.New(t, relaytest.Options{AgentPing: 200 * time.Millisecond})
	b := r.Bucket(&relay.Bucket{Name: "ops"})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	out := r.Output(&relay.Output{BucketID: b.ID, Name: "svc", Destination: "http://svc.lan/hooks", Internal: true})
	cred := agentCredential(t, r.Store, &relay.AgentToken{BucketIDs: []string{b.ID}})

	dead := dialAgent(t, r, cred)
	if resp, _ := r.Webhook(in.ID, "payload", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	// The dead agent gets the delivery, then never reads again: its
	// pongs never go out.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, msg, err := dead.Read(rctx)
	cancel()
	var d api.AgentMessage
	if err != nil || json.Unmarshal(msg, &d) != nil || d.Type != api.AgentDelivery || string(d.Body) != "payload" ||
		d.URL != "http://svc.lan/hooks" || d.Bucket != "ops" || d.Output != "svc" {
		t.Fatalf("delivery %s: %v", msg, err)
	}
	start := time.Now()
	relaytest.WaitFor(t, "the dead agent dropped", func() bool { return len(r.Server.Agents()) == 0 })
	t.Logf("dead agent dropped after %s (ping interval 200ms)", time.Since(start))
	if ds, _ := r.Store.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: out.ID, State: relay.DeliveryPending}); len(ds) != 1 || ds[0].Attempts != 0 {
		t.Fatalf("after the drop, pending deliveries = %+v; want the one, no attempt spent", ds)
	}

	live := dialAgent(t, r, cred)
	rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, msg, err = live.Read(rctx)
	var again api.AgentMessage
	if err != nil || json.Unmarshal(msg, &again) != nil || again.ID != d.ID {
		t.Fatalf("resent delivery %s: %v; want %s", msg, err, d.ID)
	}
	res, _ := json.Marshal(api.AgentMessage{Type: api.AgentResult, ID: again.ID, Status: http.StatusAccepted, Body: []byte("ok")})
	if err := live.Write(rctx, websocket.MessageText, res); err != nil {
		t.Fatal(err)
	}
	ds := r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliverySucceeded, 1)
	if ds[0].Attempts != 1 || ds[0].LastStatus != http.StatusAccepted {
		t.Errorf("delivery = %+v; want one attempt, 202", ds[0])
	}
	agents := r.Server.Agents()
	if len(agents) != 1 || agents[0].Delivered != 1 || agents[0].InFlight != 0 {
		t.Errorf("agents = %+v", agents)
	}
}
