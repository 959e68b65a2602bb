package relay_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// sendMany posts n webhooks to the input from 16 concurrent senders.
func sendMany(t *testing.T, h *relaytest.Relay, inputID string, n int) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer c.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				resp, err := c.Post(h.URL+"/v1/webhooks/"+inputID, "text/plain", bytes.NewReader([]byte(fmt.Sprint(i))))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("webhook %d: status %d", i, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
}

// countState counts an output's deliveries in a state.
func countState(t *testing.T, h *relaytest.Relay, outputID string, state relay.DeliveryState) int {
	t.Helper()
	ds, err := h.Store.ListDeliveries(context.Background(), relay.DeliveryFilter{OutputID: outputID, State: state, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// waitState waits until n of an output's deliveries are in state (a
// failure guard, not a timing assertion).
func waitState(t *testing.T, h *relaytest.Relay, outputID string, state relay.DeliveryState, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * relaytest.Timeout)
	for countState(t, h, outputID, state) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of output %s's deliveries are %s, want %d", countState(t, h, outputID, state), outputID, state, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gauge tracks how many requests a destination is handling.
type gauge struct {
	mu        sync.Mutex
	now, peak int
	total     int
}

func (g *gauge) enter() {
	g.mu.Lock()
	g.now++
	g.total++
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
}

func (g *gauge) leave() {
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
}

func (g *gauge) read() (now, peak, total int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now, g.peak, g.total
}

// TestFairnessAcrossOutputs: an output whose destination never answers
// (until the attempt's timeout) holds only its own max_in_flight workers;
// another bucket's output still delivers 1,000 webhooks, all before the
// first of the hanging attempts times out.
func TestFairnessAcrossOutputs(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var hung gauge
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.enter()
		defer hung.leave()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	var fastGot atomic.Int64
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fastGot.Add(1)
	}))
	t.Cleanup(fast.Close)
	defer close(release) // before the servers close

	// The hanging attempts time out long after the healthy output is done
	// on any machine; the test ends them itself.
	const hangTimeout = time.Minute
	slowB := h.Bucket(&relay.Bucket{Name: "slow"})
	slowIn := h.Input(&relay.Input{BucketID: slowB.ID, Name: "in"})
	slowOut := h.Output(&relay.Output{BucketID: slowB.ID, Name: "hangs", Destination: hang.URL, Timeout: hangTimeout, Retries: relay.RetryPolicy{MaxAttempts: 1}})
	fastB := h.Bucket(&relay.Bucket{Name: "fast"})
	fastIn := h.Input(&relay.Input{BucketID: fastB.ID, Name: "in"})
	fastOut := h.Output(&relay.Output{BucketID: fastB.ID, Name: "ok", Destination: fast.URL})

	const n = 1000
	timed := func() time.Duration {
		start := time.Now()
		want := countState(t, h, fastOut.ID, relay.DeliverySucceeded) + n
		sendMany(t, h, fastIn.ID, n)
		waitState(t, h, fastOut.ID, relay.DeliverySucceeded, want)
		return time.Since(start)
	}
	alone := timed()

	// 200 webhooks for the hanging destination: more than all the relay's
	// workers.
	sendMany(t, h, slowIn.ID, 200)
	deadline := time.Now().Add(relaytest.Timeout)
	for {
		if now, _, _ := hung.read(); now == relay.DefaultMaxInFlight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hanging destination has %v requests, want %d", fmt.Sprint(hung.read()), relay.DefaultMaxInFlight)
		}
		time.Sleep(5 * time.Millisecond)
	}
	beside := timed()

	if got := fastGot.Load(); got != 2*n {
		t.Errorf("the healthy destination got %d requests, want %d", got, 2*n)
	}
	now, peak, total := hung.read()
	if peak != relay.DefaultMaxInFlight || total != relay.DefaultMaxInFlight || now != relay.DefaultMaxInFlight {
		t.Errorf("the hanging destination: %d requests now, at most %d at once, %d in all; want %d each (its max_in_flight)",
			now, peak, total, relay.DefaultMaxInFlight)
	}
	if done := countState(t, h, slowOut.ID, relay.DeliveryFailed); done != 0 {
		t.Errorf("%d hanging attempts ended before the healthy output was done: it waited for them", done)
	}
	if pending := countState(t, h, slowOut.ID, relay.DeliveryPending); pending != 200 {
		t.Errorf("%d of the hanging output's deliveries pending, want 200", pending)
	}
	t.Logf("1,000 webhooks delivered to a healthy output: %v alone, %v beside an output whose destination hangs (%.2fx)",
		alone, beside, float64(beside)/float64(alone))
}

// TestMaxInFlight: an output's attempts never run more than its
// max_in_flight at once, and all are delivered.
func TestMaxInFlight(t *testing.T) {
	h := newHarness(t)
	var g gauge
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.enter()
		defer g.leave()
		time.Sleep(5 * time.Millisecond)
	}))
	t.Cleanup(dest.Close)
	b := h.Bucket(&relay.Bucket{Name: "capped"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	out := h.Output(&relay.Output{BucketID: b.ID, Name: "three", Destination: dest.URL, MaxInFlight: 3})
	sendMany(t, h, in.ID, 100)
	waitState(t, h, out.ID, relay.DeliverySucceeded, 100)
	_, peak, total := g.read()
	if peak > 3 || total != 100 {
		t.Fatalf("destination: at most %d at once, %d in all; want at most 3, 100", peak, total)
	}
	t.Logf("at most %d attempts at once (max_in_flight 3)", peak)
}

// seedDeliveries inserts n pending deliveries of webhook w to output o,
// due at due, straight into the store's file: what a relay that stopped
// with a long backlog leaves behind.
func seedDeliveries(t *testing.T, h *relaytest.Relay, w *relay.Webhook, o *relay.Output, n int, due time.Time, owner string) {
	t.Helper()
	db, err := sql.Open("sqlite", h.DBPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(`INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, next_attempt_at,
		created_at, updated_at, due_at, lease_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	var lease any
	if owner != "" {
		lease = owner
	}
	for i := range n {
		at := due.UnixNano()
		if _, err := stmt.Exec(relay.NewRecordID(), w.ID, w.BucketID, o.ID, relay.DeliveryPending, at, at+int64(i), at+int64(i), at, lease); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// storeWebhook stores a webhook of the input without deliveries.
func storeWebhook(t *testing.T, h *relaytest.Relay, in *relay.Input) *relay.Webhook {
	t.Helper()
	w := &relay.Webhook{BucketID: in.BucketID, InputID: in.ID, Status: 200,
		Request: relay.HTTPRequest{Method: "POST", Path: "/", Header: http.Header{"X-A": {"1"}}, Body: []byte("backlog")}}
	if err := h.Store.SaveWebhook(context.Background(), w, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRestartWithLargeBacklogIsBounded: 200,000 deliveries pending for a
// dead destination, and a restart: the relay resumes them in batches,
// its heap stays bounded, and attempts are recorded.
func TestRestartWithLargeBacklogIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 200,000 deliveries")
	}
	h := newHarness(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.URL
	dead.Close() // connections are refused
	b := h.Bucket(&relay.Bucket{Name: "backlog"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	// Retries come back long after the test: each delivery is attempted
	// at most once here.
	out := h.Output(&relay.Output{BucketID: b.ID, Name: "dead", Destination: addr, Retries: relay.RetryPolicy{InitialInterval: time.Hour}})
	// The relay that left the backlog is gone.
	sctx, cancel := context.WithTimeout(context.Background(), relaytest.Timeout)
	defer cancel()
	if err := h.Server.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	w := storeWebhook(t, h, in)
	start := time.Now()
	seedDeliveries(t, h, w, out, n, time.Now().Add(-time.Minute), "")
	t.Logf("seeded %d pending deliveries in %v", n, time.Since(start))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start = time.Now()
	h.Restart()
	// Attempts resume; watch the first seconds.
	deadline := time.Now().Add(relaytest.Timeout)
	var attempted int
	for {
		time.Sleep(100 * time.Millisecond)
		attempted = countAttempted(t, h, out.ID)
		if (attempted >= 1000 && time.Since(start) >= 3*time.Second) || time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	if attempted == 0 {
		t.Fatal("no pending delivery was attempted after the restart")
	}
	const limit = 150 << 20
	if peak > limit {
		t.Errorf("peak heap %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
	t.Logf("restart over %d pending deliveries: peak heap %.1f MiB (%.1f MiB before the start); %d attempts recorded in %v",
		n, float64(peak)/(1<<20), float64(base)/(1<<20), attempted, elapsed.Round(time.Millisecond))
}

// countAttempted counts an output's deliveries with an attempt recorded.
func countAttempted(t *testing.T, h *relaytest.Relay, outputID string) int {
	t.Helper()
	var n int
	if err := h.Store.DB().QueryRow(`SELECT count(*) FROM deliveries WHERE output_id = ? AND attempts > 0`, outputID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExpiredLeaseIsClaimedAgain: deliveries leased by a process that
// died are delivered by the next one once their lease ends; those whose
// lease holds are left to their owner.
func TestExpiredLeaseIsClaimedAgain(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "orphans"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	out := h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Timeout)
	defer cancel()
	if err := h.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	w := storeWebhook(t, h, in)
	// A dead process's claims: the lease ended a second ago.
	seedDeliveries(t, h, w, out, 3, time.Now().Add(-time.Second), "dead-node")
	// A live process's claims: the lease holds for an hour.
	seedDeliveries(t, h, w, out, 2, time.Now().Add(time.Hour), "live-node")
	h.Restart()
	waitState(t, h, out.ID, relay.DeliverySucceeded, 3)
	var leased int
	if err := h.Store.DB().QueryRow(`SELECT count(*) FROM deliveries WHERE state = ? AND lease_owner = 'live-node'`,
		relay.DeliveryPending).Scan(&leased); err != nil {
		t.Fatal(err)
	}
	if leased != 2 {
		t.Errorf("%d deliveries still leased to the live node, want 2", leased)
	}
	got := dest.received()
	if len(got) != 3 {
		t.Errorf("destination got %d requests, want 3", len(got))
	}
	for _, r := range got {
		if r.body != "backlog" || r.header.Get("X-A") != "1" {
			t.Errorf("destination got %q %v, want the stored webhook", r.body, r.header)
		}
	}
}

// TestShutdownReleasesUnattempted: deliveries claimed but not attempted
// when the relay stops are released, so the next start resumes them at
// once, and nothing is lost.
func TestShutdownReleasesUnattempted(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var g gauge
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.enter()
		defer g.leave()
		<-release
	}))
	t.Cleanup(dest.Close)
	b := h.Bucket(&relay.Bucket{Name: "stops"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	out := h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.URL, MaxInFlight: 2})
	sendMany(t, h, in.ID, 20)
	for deadline := time.Now().Add(relaytest.Timeout); ; {
		if now, _, _ := g.read(); now == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the destination did not get two requests")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), relaytest.Timeout)
		defer cancel()
		done <- h.Server.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond) // let Shutdown close the engine
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var leased, pending int
	if err := h.Store.DB().QueryRow(`SELECT count(*), count(lease_owner) FROM deliveries WHERE state = ?`,
		relay.DeliveryPending).Scan(&pending, &leased); err != nil {
		t.Fatal(err)
	}
	succeeded := countState(t, h, out.ID, relay.DeliverySucceeded)
	if pending+succeeded != 20 || leased != 0 {
		t.Fatalf("after shutdown: %d succeeded, %d pending with %d leased; want 20 in all, none leased", succeeded, pending, leased)
	}
	t.Logf("after shutdown: %d succeeded (in flight), %d pending and released", succeeded, pending)
	h.Restart()
	waitState(t, h, out.ID, relay.DeliverySucceeded, 20)
}

// TestEphemeralRetryLostAtRestart: an ephemeral bucket's delivery waiting
// for a retry keeps its request in memory only; after a restart it fails,
// saying why, without sending anything.
func TestEphemeralRetryLostAtRestart(t *testing.T) {
	h := newHarness(t)
	var hits atomic.Int32
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(dest.Close)
	b := h.Bucket(&relay.Bucket{Name: "private", Ephemeral: true})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	// The retry comes due 200ms after the first attempt, after the
	// restart.
	out := h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.URL,
		Retries: relay.RetryPolicy{MaxAttempts: 5, InitialInterval: 200 * time.Millisecond, MaxInterval: 200 * time.Millisecond}})
	h.Send("POST", "/v1/webhooks/"+in.ID, "secret body", nil)
	deadline := time.Now().Add(relaytest.Timeout)
	for countAttempted(t, h, out.ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no attempt recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Timeout)
	defer cancel()
	if err := h.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	h.Restart()
	waitState(t, h, out.ID, relay.DeliveryFailed, 1)
	ds, err := h.Store.ListDeliveries(context.Background(), relay.DeliveryFilter{OutputID: out.ID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %v, %v", ds, err)
	}
	if !strings.Contains(ds[0].LastError, "ephemeral") {
		t.Errorf("last error %q, want it to say the ephemeral request was lost", ds[0].LastError)
	}
	if hits.Load() != before {
		t.Errorf("the destination got %d requests after the restart, want none", hits.Load()-before)
	}
}
