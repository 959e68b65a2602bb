package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

// The deliveries of an internal output with no agent connected to the
// node are not held by it (not in memory, not leased: another node may
// have the agent), and reach the agent that connects later, each once.
func TestAgentlessDeliveriesAreNotHeld(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	r := relaytest.New(t, relaytest.Options{Registerer: reg})
	b := r.Bucket(&relay.Bucket{Name: "ops"})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	out := r.Output(&relay.Output{BucketID: b.ID, Name: "svc", Destination: "http://svc.lan/hooks", Internal: true,
		AgentWindow: time.Hour})
	cred := agentCredential(t, r.Store, &relay.AgentToken{BucketIDs: []string{b.ID}})
	const n = 3
	for i := range n {
		if resp, _ := r.Webhook(in.ID, fmt.Sprint(i), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	relaytest.WaitFor(t, "the deliveries waiting in the store, unleased, none in memory", func() bool {
		ds, err := r.Store.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: out.ID, State: relay.DeliveryPending})
		if err != nil || len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.LeaseOwner != "" || d.Attempts != 0 {
				return false
			}
		}
		return metricValue(t, reg, "relayfn_delivery_queue_depth") == 0
	})

	c := dialAgent(t, r, cred)
	rctx, cancel := context.WithTimeout(ctx, relaytest.Timeout)
	defer cancel()
	seen := map[string]bool{}
	for len(seen) < n {
		_, msg, err := c.Read(rctx)
		var d api.AgentMessage
		if err != nil || json.Unmarshal(msg, &d) != nil || d.Type != api.AgentDelivery {
			t.Fatalf("delivery %s: %v", msg, err)
		}
		if seen[d.ID] {
			t.Fatalf("delivery %s sent twice", d.ID)
		}
		seen[d.ID] = true
		res, _ := json.Marshal(api.AgentMessage{Type: api.AgentResult, ID: d.ID, Status: http.StatusOK})
		if err := c.Write(rctx, websocket.MessageText, res); err != nil {
			t.Fatal(err)
		}
	}
	ds := r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliverySucceeded, n)
	for _, d := range ds {
		if d.Attempts != 1 {
			t.Errorf("delivery %s: %d attempts, want 1", d.ID, d.Attempts)
		}
	}
}
