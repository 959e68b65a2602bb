package relay_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

// An internal output is never dialed by the relay: with no agent
// connected its deliveries wait, and fail once their agent window ends,
// while the bucket's other outputs are delivered as usual.
func TestInternalOutputIsNeverDialed(t *testing.T) {
	h := newHarness(t)
	internal := newRecorder(t, nil)
	normal := newRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "github"})
	agent := h.Output(&relay.Output{BucketID: b.ID, Name: "agent", Destination: internal.srv.URL, Internal: true,
		AgentWindow: 200 * time.Millisecond})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: normal.srv.URL})

	if resp, _ := h.Webhook(in.ID, "payload", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	failed := h.WaitDeliveries(relay.DeliveryFilter{OutputID: agent.ID}, relay.DeliveryFailed, 1)
	if got := failed[0].LastError; !strings.Contains(got, "no agent connected within the agent window (200ms)") {
		t.Errorf("internal output's delivery error = %q", got)
	}
	if failed[0].Attempts != 1 {
		t.Errorf("attempts = %d, want 1: waiting for an agent spends none", failed[0].Attempts)
	}
	h.WaitDeliveries(relay.DeliveryFilter{BucketID: b.ID}, relay.DeliverySucceeded, 1)
	if n := len(internal.received()); n != 0 {
		t.Errorf("internal destination received %d requests, want none", n)
	}
	if n := len(normal.received()); n != 1 {
		t.Errorf("normal destination received %d requests, want 1", n)
	}
}
