package relay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/sqlite"
)

// leaseRelay is a relay.Server over a real SQLite store, named node "a",
// with a short lease, for the tests of leases: a second claimer is the
// test itself, calling the store's ClaimDue as node "b".
type leaseRelay struct {
	st    *sqlite.Store
	url   string
	reg   *prometheus.Registry
	input string
	out   string
}

// testLease is short, so that the tests are quick, and long enough that
// the renewals (every third of it) survive a stall of the shared machine.
const testLease = time.Second

// newLeaseRelay starts the relay with one input and one output to dest
// (max_in_flight 1, a single attempt). now, when set, is the relay's
// clock; stopRenewals stops its lease renewals.
func newLeaseRelay(t *testing.T, dest string, now func() time.Time, stopRenewals bool) *leaseRelay {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	b, in := bucketWithInput(t, st, "leases")
	out := createOutput(t, st, &relay.Output{BucketID: b.ID, Name: "slow", Destination: dest, MaxInFlight: 1,
		Timeout: time.Minute, Retries: relay.RetryPolicy{MaxAttempts: 1}})
	reg := prometheus.NewRegistry()
	srv, url := newServer(t, relay.Options{Store: st, Registerer: reg, Lease: testLease, Node: "a", Now: now})
	if stopRenewals {
		relay.StopLeaseRenewals(srv)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &leaseRelay{st: st, url: url, reg: reg, input: in.ID, out: out.ID}
}

// send posts a webhook; the relay answers 200 once it is stored.
func (r *leaseRelay) send(t *testing.T, body string) {
	t.Helper()
	if st := postWebhook(t, r.url, r.input, body); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
}

// claimAsB claims the output's due deliveries as another node would.
func (r *leaseRelay) claimAsB(t *testing.T) []*relay.Delivery {
	t.Helper()
	ds, err := r.st.ClaimDue(context.Background(), relay.Claim{Owner: "b", Now: time.Now(), Lease: time.Minute,
		Quota: map[string]int{r.out: 10}})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// slowDest is a destination that holds each request until released (or
// until hold passes, when hold is set).
type slowDest struct {
	srv     *httptest.Server
	got     chan string
	release chan struct{}
	n       atomic.Int64 // requests received
}

func newSlowDest(t *testing.T, hold time.Duration) *slowDest {
	d := &slowDest{got: make(chan string, 16), release: make(chan struct{})}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.n.Add(1)
		d.got <- r.URL.Path
		var timeout <-chan time.Time
		if hold > 0 {
			timeout = time.After(hold)
		}
		select {
		case <-d.release:
		case <-timeout:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *slowDest) waitRequest(t *testing.T) {
	t.Helper()
	select {
	case <-d.got:
	case <-time.After(relaytest.Timeout):
		t.Fatal("the destination got no request")
	}
}

// TestLeaseRenewalKeepsLongAttempt: an attempt that lasts five leases,
// and a delivery queued behind it, stay this node's: the leases are
// renewed, and another node's claims get neither, all along.
func TestLeaseRenewalKeepsLongAttempt(t *testing.T) {
	const hold = 5 * testLease
	dest := newSlowDest(t, hold)
	r := newLeaseRelay(t, dest.srv.URL, nil, false)
	r.send(t, "one")
	r.send(t, "two") // queued: max_in_flight is 1
	dest.waitRequest(t)
	start := time.Now()
	claims := 0
	for time.Since(start) < hold-testLease/2 {
		if ds := r.claimAsB(t); len(ds) != 0 {
			t.Fatalf("after %s, another node claimed %d deliveries this node holds (lease %s)", time.Since(start), len(ds), testLease)
		}
		claims++
		time.Sleep(testLease / 6)
	}
	t.Logf("%d claims by another node during an attempt of %s (lease %s): none got a delivery", claims, hold, testLease)
	ctx := context.Background()
	relaytest.WaitFor(t, "both deliveries succeeded", func() bool {
		ds, err := r.st.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: r.out, State: relay.DeliverySucceeded})
		return err == nil && len(ds) == 2
	})
	if n := dest.n.Load(); n != 2 {
		t.Errorf("the destination got %d requests, want 2 (none twice)", n)
	}
	if n := metricValue(t, r.reg, "relayfn_delivery_lease_lost_total"); n != 0 {
		t.Errorf("%v leases lost, want none", n)
	}
}

// TestLeaseLostAttemptIsNotRecorded: with its lease run out (renewals
// stopped) and the delivery claimed by another node during the attempt,
// the first node's record is refused by the store: nothing is recorded,
// the loss is counted, the engine forgets the delivery, and the other
// node's claim stands.
func TestLeaseLostAttemptIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	dest := newSlowDest(t, 0)
	// The relay's clock is stopped: its own claims never find its lease
	// run out, only the other node's (on the real clock) do.
	t0 := time.Now()
	r := newLeaseRelay(t, dest.srv.URL, func() time.Time { return t0 }, true)
	r.send(t, "one")
	dest.waitRequest(t)
	time.Sleep(time.Until(t0.Add(testLease + 50*time.Millisecond)))
	ds := r.claimAsB(t)
	if len(ds) != 1 {
		t.Fatalf("another node claimed %d deliveries after the lease ran out, want 1", len(ds))
	}
	close(dest.release)
	relaytest.WaitFor(t, "the lost lease counted", func() bool {
		return metricValue(t, r.reg, "relayfn_delivery_lease_lost_total") == 1
	})
	relaytest.WaitFor(t, "the engine holding nothing", func() bool {
		return metricValue(t, r.reg, "relayfn_delivery_queue_depth") == 0
	})
	d, attempts, err := r.st.GetDelivery(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 0 || d.State != relay.DeliveryPending || d.Attempts != 0 || d.LeaseOwner != "b" || d.LeaseID != ds[0].LeaseID {
		t.Fatalf("delivery %+v with %d attempts; want pending, none recorded, still claimed by b", d, len(attempts))
	}
	// The other node's claim records.
	now := time.Now().UTC()
	ds[0].State, ds[0].Attempts, ds[0].LastStatus, ds[0].UpdatedAt = relay.DeliverySucceeded, 1, 200, now
	if err := r.st.RecordAttempt(ctx, ds[0], &relay.Attempt{DeliveryID: ds[0].ID, N: 1, StartedAt: now, Status: 200}); err != nil {
		t.Fatalf("the claiming node's record: %v", err)
	}
	if n := dest.n.Load(); n != 1 {
		t.Errorf("the destination got %d requests, want 1", n)
	}
}

// TestLeaseLostAtRenewal: a renewal that finds the leases lost (another
// node claimed the deliveries once they ran out) drops the queued
// delivery at once, unattempted, and keeps the one in flight from
// recording.
func TestLeaseLostAtRenewal(t *testing.T) {
	ctx := context.Background()
	dest := newSlowDest(t, 0)
	// With the relay's clock stopped, its renewals extend no lease past
	// t0+lease.
	t0 := time.Now()
	r := newLeaseRelay(t, dest.srv.URL, func() time.Time { return t0 }, false)
	r.send(t, "one")
	r.send(t, "two")
	dest.waitRequest(t)
	time.Sleep(time.Until(t0.Add(testLease + 50*time.Millisecond)))
	ds := r.claimAsB(t)
	if len(ds) != 2 {
		t.Fatalf("another node claimed %d deliveries after the leases ran out, want 2", len(ds))
	}
	relaytest.WaitFor(t, "the queued delivery dropped", func() bool {
		return metricValue(t, r.reg, "relayfn_delivery_queue_depth") == 1
	})
	close(dest.release)
	relaytest.WaitFor(t, "both lost leases counted", func() bool {
		return metricValue(t, r.reg, "relayfn_delivery_lease_lost_total") == 2
	})
	relaytest.WaitFor(t, "the engine holding nothing", func() bool {
		return metricValue(t, r.reg, "relayfn_delivery_queue_depth") == 0
	})
	for _, c := range ds {
		d, attempts, err := r.st.GetDelivery(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(attempts) != 0 || d.State != relay.DeliveryPending || d.LeaseOwner != "b" {
			t.Errorf("delivery %+v with %d attempts; want pending, none recorded, still claimed by b", d, len(attempts))
		}
	}
	if n := dest.n.Load(); n != 1 {
		t.Errorf("the destination got %d requests, want 1: the dropped delivery is not attempted", n)
	}
	// A record under the lost claim is refused.
	stale := *ds[0]
	stale.LeaseID = "not-the-claim"
	stale.State, stale.Attempts = relay.DeliveryFailed, 1
	err := r.st.RecordAttempt(ctx, &stale, &relay.Attempt{DeliveryID: stale.ID, N: 1, StartedAt: time.Now()})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a record under another claim: %v, want ErrLeaseLost", err)
	}
}
