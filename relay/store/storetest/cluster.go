package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
)

// changeWait bounds the wait for a change a Watcher must report: a
// deadline for a test that would otherwise hang, not a measure.
const changeWait = 30 * time.Second

// watchers returns the two handles of s.pair as relay.Watchers, or skips
// t when the store is not one.
func (s *suite) watchers(t *testing.T) (Store, Store, relay.Watcher) {
	a, b := s.pair(t)
	w, ok := b.(relay.Watcher)
	if !ok {
		t.Skip("the store is not a relay.Watcher (it serves one process)")
	}
	return a, b, w
}

// watch runs w.Watch until t ends, passing the changes to the returned
// channel (dropping them when it is full, as fn must not block), and
// checks that Watch then returns the context's error.
func watch(t *testing.T, w relay.Watcher) <-chan relay.StoreChange {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan relay.StoreChange, 64)
	done := make(chan error, 1)
	go func() {
		done <- w.Watch(ctx, func(c relay.StoreChange) {
			select {
			case ch <- c:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v after its context ended, want context.Canceled", err)
		}
	})
	return ch
}

// drain empties ch.
func drain(ch <-chan relay.StoreChange) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitChange waits for a change of kind on ch, and reports how long it
// took.
func waitChange(t *testing.T, ch <-chan relay.StoreChange, kind relay.StoreChange, what string) {
	t.Helper()
	start := time.Now()
	timer := time.NewTimer(changeWait)
	defer timer.Stop()
	for {
		select {
		case c := <-ch:
			if c == kind {
				t.Logf("%s: reported after %v", what, time.Since(start).Round(time.Microsecond))
				return
			}
		case <-timer.C:
			t.Fatalf("%s: no change %d reported in %v", what, kind, changeWait)
		}
	}
}

// TestWatchReportsChanges: a store shared by processes reports each
// change of the routes, and each delivery made due unclaimed, to the
// watchers of every handle on the database, its own included.
func (s *suite) TestWatchReportsChanges(t *testing.T) {
	a, b, w := s.watchers(t)
	ctx := context.Background()
	ch := watch(t, w)

	// The watch starts listening at some point after Watch is called:
	// make changes until one is reported.
	deadline := time.Now().Add(changeWait)
	for i := 0; ; i++ {
		Must(t, a.CreateBucket(ctx, &relay.Bucket{Name: fmt.Sprintf("warmup-%d", i)}))
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("no change reported in %v", changeWait)
			}
			continue
		}
		break
	}

	fx := NewFixture(t, a, "watched", false)
	f := &functions.Function{Name: "f", Source: "return"}
	tok := &relay.Token{BucketID: fx.Bucket.ID, SecretHash: "h"}
	agent := &relay.AgentToken{BucketIDs: []string{fx.Bucket.ID}, SecretHash: "sha256:x"}
	in := &relay.Input{BucketID: fx.Bucket.ID, Name: "extra"}
	out := &relay.Output{BucketID: fx.Bucket.ID, Name: "extra"}
	t0 := time.Unix(1000, 0).UTC()
	var w1 *relay.Webhook
	var claimed []*relay.Delivery
	routes := []struct {
		what   string
		change func(st Store) error
	}{
		{"CreateBucket", func(st Store) error { return st.CreateBucket(ctx, &relay.Bucket{Name: "new"}) }},
		{"UpdateBucket", func(st Store) error { fx.Bucket.Description = "changed"; return st.UpdateBucket(ctx, fx.Bucket) }},
		{"CreateInput", func(st Store) error { return st.CreateInput(ctx, in) }},
		{"UpdateInput", func(st Store) error { in.Description = "changed"; return st.UpdateInput(ctx, in) }},
		{"DeleteInput", func(st Store) error { return st.DeleteInput(ctx, in.ID) }},
		{"CreateOutput", func(st Store) error { return st.CreateOutput(ctx, out) }},
		{"UpdateOutput", func(st Store) error { out.Disabled = true; return st.UpdateOutput(ctx, out) }},
		{"DeleteOutput", func(st Store) error { return st.DeleteOutput(ctx, out.ID) }},
		{"CreateToken", func(st Store) error { return st.CreateToken(ctx, tok) }},
		{"DeleteToken", func(st Store) error { return st.DeleteToken(ctx, tok.ID) }},
		{"CreateFunction", func(st Store) error { return st.CreateFunction(ctx, f) }},
		{"AddVersion", func(st Store) error { return errOf(st.AddVersion(ctx, f.ID, "return 2", "")) }},
		{"UpdateFunction", func(st Store) error { f.Timeout = time.Second; return st.UpdateFunction(ctx, f) }},
		{"SetConfig", func(st Store) error { return st.SetConfig(ctx, f.ID, "K", "v") }},
		{"DeleteConfig", func(st Store) error { return st.DeleteConfig(ctx, f.ID, "K") }},
		{"SetSpec", func(st Store) error { return st.SetSpec(ctx, f.ID, []byte("cases: []\n")) }},
		{"DeleteFunction", func(st Store) error { return st.DeleteFunction(ctx, f.ID) }},
		{"CreateAgentToken", func(st Store) error { return st.CreateAgentToken(ctx, agent) }},
		{"DeleteAgentToken", func(st Store) error { return st.DeleteAgentToken(ctx, agent.ID) }},
		{"SetRetention", func(st Store) error {
			return st.SetRetention(ctx, fx.Bucket.ID, relay.Retention{Payload: time.Hour})
		}},
	}
	work := []struct {
		what   string
		change func(st Store) error
	}{
		{"SaveWebhook of unclaimed deliveries", func(st Store) error {
			w1 = fx.Webhook("x")
			ds := fx.Deliveries()
			for _, d := range ds {
				d.NextAttemptAt = t0
			}
			return st.SaveWebhook(ctx, w1, ds)
		}},
		{"AddDeliveries", func(st Store) error {
			return st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: w1.ID, OutputID: fx.Out1.ID, NextAttemptAt: t0}})
		}},
		{"ReleaseClaims", func(st Store) error {
			var err error
			claimed, err = st.ClaimDue(ctx, relay.Claim{Owner: "node", Now: t0, Lease: time.Hour,
				Quota: map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}})
			if err != nil {
				return err
			}
			if len(claimed) != 3 {
				return fmt.Errorf("claimed %d deliveries, want 3", len(claimed))
			}
			return st.ReleaseClaims(ctx, "node", nil)
		}},
	}
	for i, c := range routes {
		st := []Store{a, b}[i%2] // another handle's changes and its own
		drain(ch)
		Must(t, c.change(st))
		waitChange(t, ch, relay.ChangeRoutes, c.what)
	}
	for i, c := range work {
		st := []Store{a, b}[i%2]
		drain(ch)
		Must(t, c.change(st))
		waitChange(t, ch, relay.ChangeWork, c.what)
	}
	drain(ch)
	Must(t, a.DeleteBucket(ctx, fx.Bucket.ID))
	waitChange(t, ch, relay.ChangeRoutes, "DeleteBucket")
}

// TestExclusively: work of one name runs on one handle at a time; work of
// another name runs meanwhile; once the first ends, the name is free, and
// fn's error is returned.
func (s *suite) TestExclusively(t *testing.T) {
	if s.opts.Pair == nil {
		t.Skip("the store has one handle per database")
	}
	a, b := s.pair(t)
	ea, ok := a.(relay.Exclusive)
	if !ok {
		t.Skip("the store is not a relay.Exclusive")
	}
	eb := b.(relay.Exclusive)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	type result struct {
		ran bool
		err error
	}
	first := make(chan result, 1)
	go func() {
		ran, err := ea.Exclusively(ctx, "purge", func(ctx context.Context) error {
			close(started)
			<-release
			return nil
		})
		first <- result{ran, err}
	}()
	<-started
	for _, e := range []relay.Exclusive{eb, ea} {
		ran, err := e.Exclusively(ctx, "purge", func(ctx context.Context) error {
			t.Error("work ran while the same work runs")
			return nil
		})
		if ran || err != nil {
			t.Errorf("Exclusively while the same work runs = %v, %v; want false, nil", ran, err)
		}
	}
	ranOther := false
	ran, err := eb.Exclusively(ctx, "other", func(ctx context.Context) error { ranOther = true; return nil })
	if !ran || err != nil || !ranOther {
		t.Errorf("Exclusively of other work = %v, %v (ran %v); want it run", ran, err, ranOther)
	}
	close(release)
	if r := <-first; !r.ran || r.err != nil {
		t.Errorf("the first Exclusively = %v, %v; want true, nil", r.ran, r.err)
	}
	boom := errors.New("boom")
	ran, err = eb.Exclusively(ctx, "purge", func(ctx context.Context) error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Errorf("Exclusively once the work ended = %v, %v; want true and fn's error", ran, err)
	}
	ran, err = ea.Exclusively(ctx, "purge", func(ctx context.Context) error { return nil })
	if !ran || err != nil {
		t.Errorf("Exclusively after a failed run = %v, %v; want true, nil", ran, err)
	}
}
