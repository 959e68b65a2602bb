package relay

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// testEngine is an engine over routes with the given outputs and their
// max_in_flight, without a store: for the scheduling alone.
func testEngine(maxReady int, limits map[string]int) *engine {
	s := &Server{opts: Options{MaxReady: maxReady, MaxReadyBytes: 1 << 20, Lease: time.Minute, Node: "test", Now: time.Now},
		log: slog.New(slog.DiscardHandler)}
	s.metrics, _ = newMetrics(nil, func() int { return 0 }, func() int { return 0 })
	rt := &routes{outputs: map[string]*outputRoute{}}
	for id, n := range limits {
		rt.outputs[id] = &outputRoute{output: &Output{ID: id, MaxInFlight: n}}
	}
	s.routes.Store(rt)
	return newEngine(s)
}

func fresh(e *engine, output string, i int) bool {
	if !e.admit(output, 10, false) {
		return false
	}
	e.push(&job{d: &Delivery{ID: fmt.Sprintf("%s-%d", output, i), OutputID: output}, req: &HTTPRequest{}, size: 10})
	return true
}

// TestEngineTakesOutputsInTurn: the workers take one job of each output
// with work in turn, whatever the order the jobs came in.
func TestEngineTakesOutputsInTurn(t *testing.T) {
	e := testEngine(100, map[string]int{"a": 10, "b": 10, "c": 10})
	for i := range 6 {
		fresh(e, "a", i)
	}
	for i := range 2 {
		fresh(e, "b", i)
	}
	fresh(e, "c", 0)
	var got []string
	for range 9 {
		j, ok := e.next()
		if !ok {
			t.Fatal("engine closed")
		}
		got = append(got, j.d.ID)
	}
	want := []string{"a-0", "b-0", "c-0", "a-1", "b-1", "a-2", "a-3", "a-4", "a-5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("taken in the order\n%v\nwant\n%v", got, want)
	}
}

// TestEngineMaxInFlight: an output's jobs wait while it has max_in_flight
// attempts running; the others' do not.
func TestEngineMaxInFlight(t *testing.T) {
	e := testEngine(100, map[string]int{"slow": 2, "ok": 2})
	for i := range 5 {
		fresh(e, "slow", i)
	}
	s0, _ := e.next()
	s1, _ := e.next()
	if s0.d.OutputID != "slow" || s1.d.OutputID != "slow" {
		t.Fatalf("took %s and %s", s0.d.ID, s1.d.ID)
	}
	// slow is at its limit: ok's job goes first, though it came later.
	fresh(e, "ok", 0)
	if j, _ := e.next(); j.d.ID != "ok-0" {
		t.Fatalf("took %s, want ok-0", j.d.ID)
	}
	taken := make(chan *job)
	go func() { j, _ := e.next(); taken <- j }()
	select {
	case j := <-taken:
		t.Fatalf("took %s while slow had 2 attempts running", j.d.ID)
	case <-time.After(20 * time.Millisecond):
	}
	e.sent(s0) // its request was answered
	if j := <-taken; j.d.ID != "slow-2" {
		t.Fatalf("took %s, want slow-2", j.d.ID)
	}
	e.done(s0)
	if e.depth() != 5 {
		t.Errorf("depth %d, want 5 (slow-1, slow-2, ok-0 in flight; slow-3, slow-4 ready)", e.depth())
	}
	e.close()
	if _, ok := e.next(); ok {
		t.Error("next after close")
	}
	if ids := e.unattempted(); fmt.Sprint(ids) != "[slow-3 slow-4]" {
		t.Errorf("unattempted = %v", ids)
	}
}

// TestEngineCaps: past the ready set's cap, or an output's half of it,
// fresh deliveries are not admitted (they wait in the store), except
// those forced (an ephemeral bucket's).
func TestEngineCaps(t *testing.T) {
	e := testEngine(200, map[string]int{"a": 1, "b": 1, "c": 1})
	admitted := func(output string, n int) int {
		got := 0
		for i := range n {
			if fresh(e, output, i) {
				got++
			}
		}
		return got
	}
	// An output's share: max(64×max_in_flight, half the set).
	if n := admitted("a", 150); n != 100 {
		t.Fatalf("admitted %d of output a, want 100", n)
	}
	if n := admitted("b", 150); n != 100 {
		t.Fatalf("admitted %d of output b, want 100", n)
	}
	if e.admit("c", 10, false) {
		t.Fatal("admitted past the ready set's cap")
	}
	if !e.admit("c", 10, true) {
		t.Fatal("a forced admission was refused")
	}
	e.unreserve("c", 10)
	for _, o := range []string{"a", "b", "c"} {
		if !e.lanes[o].backlog {
			t.Errorf("output %s, whose deliveries were not all admitted, is not marked for a claim", o)
		}
	}
	if e.heldSize != 2000 || e.heldN != 200 {
		t.Errorf("held %d deliveries, %d bytes; want 200, 2000", e.heldN, e.heldSize)
	}
}

// TestEngineRetryIsClaimable: once a retry is recorded, a claim may
// return its delivery before the worker that recorded it is done: it is
// queued again (not skipped as held), and the first job's end does not
// forget the second.
func TestEngineRetryIsClaimable(t *testing.T) {
	e := testEngine(100, map[string]int{"a": 4})
	fresh(e, "a", 0)
	first, _ := e.next()
	e.sent(first)
	e.retry(first, time.Now())
	if e.held[first.d.ID] != nil {
		t.Fatal("a delivery whose retry is recorded is still held: a claim would skip it")
	}
	// What claimRound does with the claimed delivery.
	second := &job{d: first.d}
	e.mu.Lock()
	e.held[second.d.ID] = second
	e.heldN++
	l := e.laneLocked("a")
	l.queue = append(l.queue, second)
	e.wakeLaneLocked(l)
	e.mu.Unlock()
	e.done(first)
	if e.held[second.d.ID] != second {
		t.Fatal("the first job's end forgot the second")
	}
	if j, _ := e.next(); j != second {
		t.Fatalf("took %v, want the claimed retry", j.d.ID)
	}
}

// TestEngineRetryClaimedBeforeRetryCall: a claim round may run between the
// store's commit of a retry and the worker's call of retry, while the job
// is still held: the claimed delivery (leased to this process by the
// claim) is queued at retry, not dropped until its lease ends. A claim
// of the attempt's own, older state (its lease ran out mid-attempt) is
// not.
func TestEngineRetryClaimedBeforeRetryCall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		attempts  int // of the claimed delivery
		wantQueue bool
	}{
		{"claimed after the record", 1, true},
		{"claimed before the record", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEngine(100, map[string]int{"a": 4})
			fresh(e, "a", 0)
			first, _ := e.next()
			e.sent(first)
			// The worker recorded attempt 1, due again now; a claim round
			// returns the delivery before the worker calls retry.
			first.d.Attempts, first.d.State = 1, DeliveryPending
			claimed := *first.d
			claimed.Attempts = tc.attempts
			e.mu.Lock()
			e.claimedLocked(&claimed)
			e.mu.Unlock()
			e.retry(first, time.Now())
			e.done(first)
			l := e.lanes["a"]
			ready := 0
			if l != nil {
				ready = l.ready()
			}
			if tc.wantQueue {
				if ready != 1 || e.depth() != 1 {
					t.Fatalf("%d ready, %d held: the claimed retry was dropped", ready, e.depth())
				}
				j, _ := e.next()
				if j.d != &claimed {
					t.Fatalf("took %v, want the claimed retry", j.d)
				}
				return
			}
			if ready != 0 || e.depth() != 0 {
				t.Fatalf("%d ready, %d held: a stale claim was queued", ready, e.depth())
			}
			if e.wakeAt.IsZero() {
				t.Fatal("the claimer's timer is not set for the retry")
			}
		})
	}
}

// TestEngineLeaseLost: a lost lease drops a queued job at once (the
// others keep their turn and the counts stay right), marks a job being
// attempted so that it is not recorded, and a claim of this process that
// took the delivery again mid-attempt is queued when the attempt is
// forgotten.
func TestEngineLeaseLost(t *testing.T) {
	e := testEngine(100, map[string]int{"a": 1})
	for i := range 3 {
		fresh(e, "a", i)
	}
	taken, _ := e.next()
	e.mu.Lock()
	e.leaseLostLocked(e.held["a-1"])
	if e.heldN != 2 || e.heldSize != 20 || e.held["a-1"] != nil {
		t.Errorf("after dropping a queued job: held %d, %d bytes; want 2, 20", e.heldN, e.heldSize)
	}
	e.leaseLostLocked(taken)
	e.mu.Unlock()
	if !e.isLost(taken) {
		t.Fatal("the job being attempted is not marked lost")
	}
	e.sent(taken)
	if j, _ := e.next(); j.d.ID != "a-2" {
		t.Fatalf("took %s, want a-2", j.d.ID)
	}
	if r := e.forget(taken); r != nil {
		t.Fatalf("forget returned %+v, want nothing", r)
	}
	e.done(taken)
	if e.depth() != 1 {
		t.Errorf("depth %d, want 1 (a-2 in flight)", e.depth())
	}

	// A claim of this process took a-2 again while it was attempted (its
	// lease ran out): the attempt's record is refused, and the claim is
	// what remains.
	a2 := e.held["a-2"]
	again := &Delivery{ID: "a-2", OutputID: "a", LeaseID: "second"}
	e.mu.Lock()
	e.claimedLocked(again)
	e.mu.Unlock()
	e.sent(a2)
	r := e.forget(a2)
	if r != again {
		t.Fatalf("forget returned %+v, want the claim that took it again", r)
	}
	e.requeueReclaimed(a2, r) // its lease found held
	e.done(a2)
	j, _ := e.next()
	if j.d != again || j.leaseID != "second" || e.depth() != 1 {
		t.Fatalf("took %+v (lease %q), depth %d; want the claim that took it again", j.d, j.leaseID, e.depth())
	}
}
