package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

// SaveDue stores n webhooks of fx, each with a delivery to each output
// due at due, and returns the deliveries by output.
func SaveDue(t testing.TB, st relay.Store, fx *Fixture, n int, due time.Time) map[string][]*relay.Delivery {
	t.Helper()
	ctx := context.Background()
	byOut := map[string][]*relay.Delivery{}
	for range n {
		ds := fx.Deliveries()
		for _, d := range ds {
			d.NextAttemptAt = due
		}
		Must(t, st.SaveWebhook(ctx, fx.Webhook("x"), ds))
		for _, d := range ds {
			byOut[d.OutputID] = append(byOut[d.OutputID], d)
		}
	}
	return byOut
}

func claimIDs(t *testing.T, st Store, c relay.Claim) []string {
	t.Helper()
	ds, err := st.ClaimDue(context.Background(), c)
	Must(t, err)
	for _, d := range ds {
		if d.LeaseOwner != c.Owner || !d.LeaseUntil.Equal(c.Now.Add(c.Lease).UTC()) || d.State != relay.DeliveryPending {
			t.Errorf("claimed %+v, want it leased to %s until %v", d, c.Owner, c.Now.Add(c.Lease))
		}
	}
	return ids(ds)
}

// TestClaimDueLeases: a claimed delivery is not claimed again while its
// lease holds, by its owner or another; when the lease ends (the owner
// died), it is due again.
func (s *suite) TestClaimDueLeases(t *testing.T) {
	st := s.open(t)
	fx := NewFixture(t, st, "claims", false)
	t0 := time.Unix(1000, 0).UTC()
	byOut := SaveDue(t, st, fx, 5, t0)
	lease := time.Minute
	quota := map[string]int{fx.Out1.ID: 3}

	first := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0, Lease: lease, Quota: quota})
	if want := ids(byOut[fx.Out1.ID][:3]); !reflect.DeepEqual(first, want) {
		t.Fatalf("first claim = %v, want the three oldest of output one %v", first, want)
	}
	second := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0.Add(time.Second), Lease: lease, Quota: map[string]int{fx.Out1.ID: 10}})
	if want := ids(byOut[fx.Out1.ID][3:]); !reflect.DeepEqual(second, want) {
		t.Fatalf("second claim = %v, want only the two unclaimed %v", second, want)
	}
	if again := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0.Add(lease - time.Second), Lease: lease, Quota: map[string]int{fx.Out1.ID: 10}}); len(again) != 0 {
		t.Fatalf("claimed %v again while their leases hold", again)
	}
	// The store shows the lease.
	d, _, err := st.GetDelivery(context.Background(), first[0])
	Must(t, err)
	if d.LeaseOwner != "a" || !d.LeaseUntil.Equal(t0.Add(lease)) || !d.NextAttemptAt.Equal(t0) {
		t.Errorf("claimed delivery = %+v", d)
	}

	// "a" dies: its leases end, and "c" claims its three, and only those.
	expired := claimIDs(t, st, relay.Claim{Owner: "c", Now: t0.Add(lease), Lease: lease, Quota: map[string]int{fx.Out1.ID: 10}})
	if !reflect.DeepEqual(expired, first) {
		t.Fatalf("after a's leases ended, claimed %v, want %v", expired, first)
	}
	// Output two was never asked for: untouched.
	twos, err := st.ListDeliveries(context.Background(), relay.DeliveryFilter{OutputID: fx.Out2.ID, Limit: everything})
	Must(t, err)
	if len(twos) != 5 {
		t.Fatalf("output two has %d deliveries, want 5", len(twos))
	}
	for _, d := range twos {
		if d.LeaseOwner != "" || d.LeaseID != "" || !d.LeaseUntil.IsZero() {
			t.Errorf("delivery %s of output two claimed: %+v", d.ID, d)
		}
	}
}

// TestClaimDueQuotaPerOutput: each output's quota bounds its claim, so
// one output's backlog does not take another's turn.
func (s *suite) TestClaimDueQuotaPerOutput(t *testing.T) {
	st := s.open(t)
	fx := NewFixture(t, st, "quota", false)
	t0 := time.Unix(1000, 0).UTC()
	// Output one has a large backlog due long ago; output two, newer work.
	for range 50 {
		d := &relay.Delivery{OutputID: fx.Out1.ID, NextAttemptAt: t0.Add(-time.Hour)}
		Must(t, st.SaveWebhook(context.Background(), fx.Webhook("old"), []*relay.Delivery{d}))
	}
	SaveDue(t, st, fx, 2, t0)
	got, err := st.ClaimDue(context.Background(), relay.Claim{Owner: "a", Now: t0, Lease: time.Minute,
		Quota: map[string]int{fx.Out1.ID: 4, fx.Out2.ID: 4}})
	Must(t, err)
	per := map[string]int{}
	for _, d := range got {
		per[d.OutputID]++
	}
	if per[fx.Out1.ID] != 4 || per[fx.Out2.ID] != 2 {
		t.Fatalf("claimed per output %v, want 4 of one and 2 of two", per)
	}
	if !slices.IsSortedFunc(got, func(a, b *relay.Delivery) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) }) {
		t.Errorf("claims not in due order: %v", ids(got))
	}
}

// TestClaimDueRetryWakesAtItsTime: a recorded retry ends the lease; the
// delivery is due at its next attempt time, not before, and NextDue says
// when.
func (s *suite) TestClaimDueRetryWakesAtItsTime(t *testing.T) {
	st, fx := s.openFixture(t, "retry", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	SaveDue(t, st, fx, 1, t0)
	quota := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	ds, err := st.ClaimDue(ctx, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota})
	Must(t, err)
	if len(ds) != 2 {
		t.Fatalf("claimed %d, want 2", len(ds))
	}
	next, ok, err := st.NextDue(ctx, []string{fx.Out1.ID, fx.Out2.ID})
	Must(t, err)
	if !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextDue while leased = %v, %v; want the lease's end %v", next, ok, t0.Add(time.Minute))
	}

	// One succeeds, the other is retried in 10 seconds.
	retryAt := t0.Add(10 * time.Second)
	done, retried := ds[0], ds[1]
	done.State, done.Attempts = relay.DeliverySucceeded, 1
	Must(t, st.RecordAttempt(ctx, done, &relay.Attempt{N: 1, Status: 200}))
	retried.Attempts, retried.NextAttemptAt = 1, retryAt
	Must(t, st.RecordAttempt(ctx, retried, &relay.Attempt{N: 1, Status: 503}))
	if retried.LeaseOwner != "" || !retried.LeaseUntil.IsZero() {
		t.Errorf("RecordAttempt left the lease in %+v", retried)
	}
	next, ok, err = st.NextDue(ctx, []string{fx.Out1.ID, fx.Out2.ID})
	Must(t, err)
	if !ok || !next.Equal(retryAt) {
		t.Errorf("NextDue = %v, %v; want the retry's time %v", next, ok, retryAt)
	}
	_, ok, err = st.NextDue(ctx, []string{done.OutputID})
	Must(t, err)
	if ok {
		t.Error("NextDue of the output whose delivery succeeded says one is pending")
	}
	if got := claimIDs(t, st, relay.Claim{Owner: "a", Now: retryAt.Add(-time.Millisecond), Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v before the retry's time", got)
	}
	if got := claimIDs(t, st, relay.Claim{Owner: "a", Now: retryAt, Lease: time.Minute, Quota: quota}); !reflect.DeepEqual(got, []string{retried.ID}) {
		t.Fatalf("at the retry's time claimed %v, want %s", got, retried.ID)
	}
	if got := claimIDs(t, st, relay.Claim{Owner: "a", Now: retryAt.Add(time.Second), Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v twice", got)
	}
}

// TestSaveWebhookLeased: fresh deliveries stored leased are not due until
// the lease ends; ReleaseClaims makes them due at once, only for their
// owner.
func (s *suite) TestSaveWebhookLeased(t *testing.T) {
	st, fx := s.openFixture(t, "fresh", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	ds := fx.Deliveries()
	for _, d := range ds {
		d.NextAttemptAt, d.LeaseOwner, d.LeaseUntil = t0, "a", t0.Add(time.Minute)
	}
	Must(t, st.SaveWebhook(ctx, fx.Webhook("x"), ds))
	quota := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v, stored leased to another", got)
	}
	Must(t, st.ReleaseClaims(ctx, "b", []string{ds[0].ID}))
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v after another owner released them", got)
	}
	Must(t, st.ReleaseClaims(ctx, "a", []string{ds[0].ID}))
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); !reflect.DeepEqual(got, []string{ds[0].ID}) {
		t.Fatalf("after release claimed %v, want %s", got, ds[0].ID)
	}
	// A restart under the same name takes back all of its leases.
	Must(t, st.ReleaseClaims(ctx, "a", nil))
	if got := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota}); !reflect.DeepEqual(got, []string{ds[1].ID}) {
		t.Fatalf("after releasing all of a's, claimed %v, want %s", got, ds[1].ID)
	}
}
