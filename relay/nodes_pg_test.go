package relay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/agent"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/postgres"
)

// pgNode is one relay process (node) of a test cluster: a relay.Server
// over a postgres.Store handle of its own, serving its ingress on
// loopback.
type pgNode struct {
	st  *postgres.Store
	srv *relay.Server
	url string
}

// openPG opens a store handle on dsn as node (no node lock when empty),
// closed at the test's end.
func openPG(t *testing.T, dsn string, sl *seal.Sealer, node string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, sl, postgres.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startPGNode starts a node named name on its own store handle; opts
// tunes the server (Store, Engine, Sender and Node are set here). It is
// shut down at the test's end (an error fails the test), before its
// store closes.
func startPGNode(t *testing.T, dsn string, sl *seal.Sealer, name string, opts relay.Options) *pgNode {
	t.Helper()
	st := openPG(t, dsn, sl, name)
	opts.Store, opts.Node = st, name
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	srv, url := newServer(t, opts)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &pgNode{st: st, srv: srv, url: url}
}

// arrivals is a destination that reports each request's body.
func arrivals(t *testing.T) (*httptest.Server, chan string) {
	got := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// awaitBody waits for a request with body want.
func awaitBody(t *testing.T, got <-chan string, want string) {
	t.Helper()
	deadline := time.After(relaytest.Timeout)
	for {
		select {
		case b := <-got:
			if b == want {
				return
			}
		case <-deadline:
			t.Fatalf("the destination did not get %q within %s", want, relaytest.Timeout)
		}
	}
}

// An admin change made on node A (stored through A's store, A's routes
// reloaded as the admin API does) takes effect on node B through the
// store's change notifications: B reloads no routes otherwise.
func TestNodesSeeEachOthersChanges(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	setup := openPG(t, dsn, sl, "")
	bk, in := bucketWithInput(t, setup, "shared")
	a := startPGNode(t, dsn, sl, "a", relay.Options{})
	b := startPGNode(t, dsn, sl, "b", relay.Options{UnknownInputStatus: http.StatusNotFound})
	dest, got := arrivals(t)

	// Once B routes an input A created, B's watch is live.
	warm := &relay.Input{BucketID: bk.ID, Name: "warm-up"}
	if err := a.st.CreateInput(ctx, warm); err != nil {
		t.Fatal(err)
	}
	if err := a.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, "node B routing the input node A created", func() bool {
		return postWebhook(t, b.url, warm.ID, "warm-up") == http.StatusOK
	})

	// Each change: an output created through A's store and A's routes
	// reloaded; B routes to it once B has reloaded too.
	var took []time.Duration
	probes := 0
	for i := range 5 {
		out := &relay.Output{BucketID: bk.ID, Name: fmt.Sprint("dest-", i), Destination: dest.URL}
		start := time.Now()
		if err := a.st.CreateOutput(ctx, out); err != nil {
			t.Fatal(err)
		}
		if err := a.srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			probes++
			body := fmt.Sprint("probe ", probes)
			if st := postWebhook(t, b.url, in.ID, body); st != http.StatusOK {
				t.Fatalf("node B answered %d", st)
			}
			ds, err := b.st.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: out.ID, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) > 0 {
				took = append(took, time.Since(start))
				awaitBody(t, got, body)
				break
			}
			if time.Since(start) > relaytest.Timeout {
				t.Fatalf("node B does not route to the output node A created, after %s", relaytest.Timeout)
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Logf("outputs created on node A routed by node B after %v (each: the write, A's reload, B's reload, a probe webhook; %d probes)", took, probes)
}

// Deliveries another node stores unclaimed (its engine was full, or it
// only ingests) are claimed by a running node at once: the store's
// notification wakes its claimer, which would otherwise poll only every
// few seconds.
func TestNodeClaimsWorkStoredElsewhere(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	a := openPG(t, dsn, sl, "a") // a node that stores, and claims nothing
	dest, got := arrivals(t)
	bk, in := bucketWithInput(t, a, "work")
	out := createOutput(t, a, &relay.Output{BucketID: bk.ID, Name: "dest", Destination: dest.URL})
	b := startPGNode(t, dsn, sl, "b", relay.Options{})

	// The first is claimed once B's watch is live; then B's poll is made
	// an hour long, so that only the notification can wake its claimer
	// within the wait; the next ones are measured.
	var took []time.Duration
	for i := range 6 {
		if i == 1 {
			relay.SetClaimPoll(b.srv, time.Hour)
		}
		now := time.Now().UTC()
		wh := &relay.Webhook{ID: relay.NewRecordID(), BucketID: bk.ID, InputID: in.ID, ReceivedAt: now, Status: http.StatusOK,
			Request: relay.HTTPRequest{Method: http.MethodPost, Path: "/", Body: []byte(fmt.Sprint("stored by a ", i))}}
		d := &relay.Delivery{ID: relay.NewRecordID(), WebhookID: wh.ID, BucketID: bk.ID, OutputID: out.ID,
			State: relay.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		start := time.Now()
		if err := a.SaveWebhook(ctx, wh, []*relay.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		awaitBody(t, got, fmt.Sprint("stored by a ", i))
		if i > 0 {
			took = append(took, time.Since(start))
		}
		var last *relay.Delivery
		relaytest.WaitFor(t, "the delivery recorded", func() bool {
			last, _, _ = a.GetDelivery(ctx, d.ID)
			return last != nil && last.State == relay.DeliverySucceeded
		})
		if last.Attempts != 1 {
			t.Errorf("delivery %s: %d attempts, want 1", d.ID, last.Attempts)
		}
	}
	t.Logf("deliveries stored unclaimed by node A reached node B's destination after %v (B's claim poll: an hour)", took)
}

// An internal output's delivery accepted by node A reaches the agent
// connected to node B: A neither holds it nor queues it behind its own
// busy workers (its only worker hangs on another output here), but hands
// it back to the store, where B claims it.
func TestAgentOnAnotherNode(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	setup := openPG(t, dsn, sl, "")
	dest, got := arrivals(t)
	hung := make(chan struct{})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)

	ops, opsIn := bucketWithInput(t, setup, "ops")
	slow, slowIn := bucketWithInput(t, setup, "slow")
	internal := createOutput(t, setup, &relay.Output{BucketID: ops.ID, Name: "svc", Destination: dest.URL + "/svc", Internal: true})
	createOutput(t, setup, &relay.Output{BucketID: slow.ID, Name: "hangs", Destination: hang.URL, Timeout: time.Minute,
		Retries: relay.RetryPolicy{MaxAttempts: 1}})
	cred := agentCredential(t, setup, &relay.AgentToken{Name: "svc", BucketIDs: []string{ops.ID}})

	a := startPGNode(t, dsn, sl, "a", relay.Options{Workers: 1})
	b := startPGNode(t, dsn, sl, "b", relay.Options{})
	t.Cleanup(func() { close(release) }) // before the nodes shut down

	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Options{Server: b.url, Token: cred, Name: "on-b",
			Client: &http.Client{Transport: &http.Transport{Proxy: nil}}})
	}()
	t.Cleanup(func() { stop(); <-done })
	relaytest.WaitFor(t, "the agent connected to node B", func() bool { return len(b.srv.Agents()) == 1 })
	if n := len(a.srv.Agents()); n != 0 {
		t.Fatalf("node A has %d agents, want none", n)
	}

	// Node A's only worker hangs.
	if st := postWebhook(t, a.url, slowIn.ID, "hang"); st != http.StatusOK {
		t.Fatalf("node A answered %d", st)
	}
	select {
	case <-hung:
	case <-time.After(relaytest.Timeout):
		t.Fatal("the hanging destination got nothing")
	}

	start := time.Now()
	if st := postWebhook(t, a.url, opsIn.ID, "for the agent"); st != http.StatusOK {
		t.Fatalf("node A answered %d", st)
	}
	awaitBody(t, got, "for the agent")
	t.Logf("a webhook sent to node A reached the agent on node B after %s", time.Since(start))
	var d *relay.Delivery
	relaytest.WaitFor(t, "the delivery recorded", func() bool {
		ds, err := setup.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: internal.ID})
		if err != nil || len(ds) != 1 || ds[0].State != relay.DeliverySucceeded {
			return false
		}
		d = ds[0]
		return true
	})
	if d.Attempts != 1 {
		t.Errorf("delivery: %d attempts, want 1", d.Attempts)
	}
	if ag := b.srv.Agents(); len(ag) != 1 || ag[0].Delivered != 1 {
		t.Errorf("node B's agents: %+v, want one that delivered one", ag)
	}
}

// The retention purge runs on one node at a time: while another node
// purges (holds the store's "retention" work), a node's round is skipped
// and purges nothing; the next round, alone, purges.
func TestPurgeRunsOnOneNode(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	a := openPG(t, dsn, sl, "a")
	b := openPG(t, dsn, sl, "b")
	bk, in := bucketWithInput(t, a, "old")
	now := time.Now().UTC()
	wh := &relay.Webhook{ID: relay.NewRecordID(), BucketID: bk.ID, InputID: in.ID, ReceivedAt: now, Status: http.StatusOK,
		Request: relay.HTTPRequest{Method: http.MethodPost, Path: "/", Body: []byte("old")}}
	if err := a.SaveWebhook(ctx, wh, nil); err != nil {
		t.Fatal(err)
	}
	p, err := relay.NewPurger(relay.PurgerOptions{Store: a, Retention: a, Default: relay.Retention{Metadata: time.Hour},
		Now: func() time.Time { return now.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}

	entered, leave := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		ran, err := b.Exclusively(ctx, "retention", func(context.Context) error {
			close(entered)
			<-leave
			return nil
		})
		if err == nil && !ran {
			err = fmt.Errorf("node b's purge did not run")
		}
		held <- err
	}()
	<-entered
	if err := p.Run(ctx); err != nil {
		t.Fatalf("a round while another node purges: %v", err)
	}
	if _, err := a.GetWebhook(ctx, wh.ID); err != nil {
		t.Fatalf("a round while another node purges purged: %v", err)
	}
	if st := p.Status(); !st.LastRun.IsZero() {
		t.Fatalf("a round another node ran: LastRun = %v, want none (this node ran nothing)", st.LastRun)
	}
	close(leave)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetWebhook(ctx, wh.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a round alone, the old webhook: %v; want it purged", err)
	}
}

// A node that stops renewing its leases (as a dead or stalled one does)
// loses its deliveries to another node once they run out: the other
// node delivers, and the first node's late answer is not recorded.
func TestNodeTakesOverExpiredLeases(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	setup := openPG(t, dsn, sl, "")
	var calls atomic.Int64
	firstIn := make(chan struct{})
	release := make(chan struct{})
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(firstIn)
			select { // node A's attempt hangs
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(dest.Close)
	bk, in := bucketWithInput(t, setup, "takeover")
	out := createOutput(t, setup, &relay.Output{BucketID: bk.ID, Name: "dest", Destination: dest.URL, Timeout: time.Minute,
		Retries: relay.RetryPolicy{MaxAttempts: 1}})
	const lease = 300 * time.Millisecond
	reg := prometheus.NewRegistry()
	a := startPGNode(t, dsn, sl, "a", relay.Options{Lease: lease, Registerer: reg})
	relay.StopLeaseRenewals(a.srv)
	startPGNode(t, dsn, sl, "b", relay.Options{Lease: lease})
	t.Cleanup(func() { close(release) })

	if st := postWebhook(t, a.url, in.ID, "x"); st != http.StatusOK {
		t.Fatalf("node A answered %d", st)
	}
	<-firstIn
	start := time.Now()
	var d *relay.Delivery
	relaytest.WaitFor(t, "node B delivering", func() bool {
		ds, err := setup.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: out.ID})
		if err != nil || len(ds) != 1 || ds[0].State != relay.DeliverySucceeded {
			return false
		}
		d = ds[0]
		return true
	})
	t.Logf("node B delivered %s after node A's attempt began (lease %s, B's claim poll 5s)", time.Since(start), lease)
	release <- struct{}{} // node A's attempt ends
	relaytest.WaitFor(t, "node A's lost lease counted", func() bool {
		return metricValue(t, reg, "relayfn_delivery_lease_lost_total") >= 1
	})
	_, attempts, err := setup.GetDelivery(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 || attempts[0].Status != http.StatusOK || d.Attempts != 1 {
		t.Errorf("delivery %+v, attempts %+v; want node B's one attempt only", d, attempts)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the destination got %d requests, want 2 (node A's, node B's)", n)
	}
}

// Webhooks to made-up input IDs on a shared store cost the database a
// bounded number of lookups: each is answered as unknown, and past the
// lookup rate without a lookup (internal/multinode tests the lookup that
// finds an input another node made).
func TestUnknownInputLookupsBounded(t *testing.T) {
	dsn := pgtest.DSN(t)
	sl := newSealer(t)
	reg := prometheus.NewRegistry()
	n := startPGNode(t, dsn, sl, "a", relay.Options{Registerer: reg})

	const senders, each = 20, 15
	start := time.Now()
	errs := make(chan error, senders)
	for range senders {
		go func() {
			for range each {
				resp, err := http.Post(n.url+"/v1/webhooks/"+uuid.NewString(), "text/plain", strings.NewReader("x"))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d, want 200 (an unknown input answers as an open one)", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	got := metricSeries(t, reg, "relayfn_unknown_input_lookups_total")
	if got["absent"]+got["skipped"] != senders*each || got["found"] != 0 || got["error"] != 0 {
		t.Fatalf("lookups of %d made-up IDs: %v", senders*each, got)
	}
	// The limiter allows its burst, then its rate over the time taken.
	if most := 50 + int(50*elapsed.Seconds()) + 1; got["absent"] > float64(most) {
		t.Fatalf("%v store lookups in %v, want at most %d", got["absent"], elapsed, most)
	}
	t.Logf("%d webhooks to made-up IDs in %v: %v", senders*each, elapsed.Round(time.Millisecond), got)
}
