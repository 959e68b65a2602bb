package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
)

// saveDue stores n webhooks of fx, each with a delivery to each output
// due at due, and returns the deliveries by output.
func saveDue(t *testing.T, st *Store, fx *fixture, n int, due time.Time) map[string][]*relay.Delivery {
	t.Helper()
	ctx := context.Background()
	byOut := map[string][]*relay.Delivery{}
	for range n {
		ds := fx.deliveries()
		for _, d := range ds {
			d.NextAttemptAt = due
		}
		must(t, st.SaveWebhook(ctx, fx.webhook("x"), ds))
		for _, d := range ds {
			byOut[d.OutputID] = append(byOut[d.OutputID], d)
		}
	}
	return byOut
}

func claimIDs(t *testing.T, st *Store, c relay.Claim) []string {
	t.Helper()
	ds, err := st.ClaimDue(context.Background(), c)
	must(t, err)
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
func TestClaimDueLeases(t *testing.T) {
	st, _ := newStore(t)
	fx := newFixture(t, st, "claims", false)
	t0 := time.Unix(1000, 0).UTC()
	byOut := saveDue(t, st, fx, 5, t0)
	lease := time.Minute
	quota := map[string]int{fx.out1.ID: 3}

	first := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0, Lease: lease, Quota: quota})
	if want := ids(byOut[fx.out1.ID][:3]); !reflect.DeepEqual(first, want) {
		t.Fatalf("first claim = %v, want the three oldest of output one %v", first, want)
	}
	second := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0.Add(time.Second), Lease: lease, Quota: map[string]int{fx.out1.ID: 10}})
	if want := ids(byOut[fx.out1.ID][3:]); !reflect.DeepEqual(second, want) {
		t.Fatalf("second claim = %v, want only the two unclaimed %v", second, want)
	}
	if again := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0.Add(lease - time.Second), Lease: lease, Quota: map[string]int{fx.out1.ID: 10}}); len(again) != 0 {
		t.Fatalf("claimed %v again while their leases hold", again)
	}
	// The store shows the lease.
	d, _, err := st.GetDelivery(context.Background(), first[0])
	must(t, err)
	if d.LeaseOwner != "a" || !d.LeaseUntil.Equal(t0.Add(lease)) || !d.NextAttemptAt.Equal(t0) {
		t.Errorf("claimed delivery = %+v", d)
	}

	// "a" dies: its leases end, and "c" claims its three, and only those.
	expired := claimIDs(t, st, relay.Claim{Owner: "c", Now: t0.Add(lease), Lease: lease, Quota: map[string]int{fx.out1.ID: 10}})
	if !reflect.DeepEqual(expired, first) {
		t.Fatalf("after a's leases ended, claimed %v, want %v", expired, first)
	}
	// Output two was never asked for: untouched.
	if n := count(t, st, "deliveries", "output_id = $1 AND lease_owner IS NOT NULL", fx.out2.ID); n != 0 {
		t.Errorf("%d deliveries of output two claimed", n)
	}
}

// TestClaimDueQuotaPerOutput: each output's quota bounds its claim, so
// one output's backlog does not take another's turn.
func TestClaimDueQuotaPerOutput(t *testing.T) {
	st, _ := newStore(t)
	fx := newFixture(t, st, "quota", false)
	t0 := time.Unix(1000, 0).UTC()
	// Output one has a large backlog due long ago; output two, newer work.
	for range 50 {
		d := &relay.Delivery{OutputID: fx.out1.ID, NextAttemptAt: t0.Add(-time.Hour)}
		must(t, st.SaveWebhook(context.Background(), fx.webhook("old"), []*relay.Delivery{d}))
	}
	saveDue(t, st, fx, 2, t0)
	got, err := st.ClaimDue(context.Background(), relay.Claim{Owner: "a", Now: t0, Lease: time.Minute,
		Quota: map[string]int{fx.out1.ID: 4, fx.out2.ID: 4}})
	must(t, err)
	per := map[string]int{}
	for _, d := range got {
		per[d.OutputID]++
	}
	if per[fx.out1.ID] != 4 || per[fx.out2.ID] != 2 {
		t.Fatalf("claimed per output %v, want 4 of one and 2 of two", per)
	}
	if !slices.IsSortedFunc(got, func(a, b *relay.Delivery) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) }) {
		t.Errorf("claims not in due order: %v", ids(got))
	}
}

// TestClaimDueRetryWakesAtItsTime: a recorded retry ends the lease; the
// delivery is due at its next attempt time, not before, and NextDue says
// when.
func TestClaimDueRetryWakesAtItsTime(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "retry", false)
	t0 := time.Unix(1000, 0).UTC()
	saveDue(t, st, fx, 1, t0)
	quota := map[string]int{fx.out1.ID: 10, fx.out2.ID: 10}
	ds, err := st.ClaimDue(ctx, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota})
	must(t, err)
	if len(ds) != 2 {
		t.Fatalf("claimed %d, want 2", len(ds))
	}
	next, ok, err := st.NextDue(ctx, []string{fx.out1.ID, fx.out2.ID})
	must(t, err)
	if !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextDue while leased = %v, %v; want the lease's end %v", next, ok, t0.Add(time.Minute))
	}

	// One succeeds, the other is retried in 10 seconds.
	retryAt := t0.Add(10 * time.Second)
	done, retried := ds[0], ds[1]
	done.State, done.Attempts = relay.DeliverySucceeded, 1
	must(t, st.RecordAttempt(ctx, done, &relay.Attempt{N: 1, Status: 200}))
	retried.Attempts, retried.NextAttemptAt = 1, retryAt
	must(t, st.RecordAttempt(ctx, retried, &relay.Attempt{N: 1, Status: 503}))
	if retried.LeaseOwner != "" || !retried.LeaseUntil.IsZero() {
		t.Errorf("RecordAttempt left the lease in %+v", retried)
	}
	next, ok, err = st.NextDue(ctx, []string{fx.out1.ID, fx.out2.ID})
	must(t, err)
	if !ok || !next.Equal(retryAt) {
		t.Errorf("NextDue = %v, %v; want the retry's time %v", next, ok, retryAt)
	}
	_, ok, err = st.NextDue(ctx, []string{done.OutputID})
	must(t, err)
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
func TestSaveWebhookLeased(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "fresh", false)
	t0 := time.Unix(1000, 0).UTC()
	ds := fx.deliveries()
	for _, d := range ds {
		d.NextAttemptAt, d.LeaseOwner, d.LeaseUntil = t0, "a", t0.Add(time.Minute)
	}
	must(t, st.SaveWebhook(ctx, fx.webhook("x"), ds))
	quota := map[string]int{fx.out1.ID: 10, fx.out2.ID: 10}
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v, stored leased to another", got)
	}
	must(t, st.ReleaseClaims(ctx, "b", []string{ds[0].ID}))
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); len(got) != 0 {
		t.Fatalf("claimed %v after another owner released them", got)
	}
	must(t, st.ReleaseClaims(ctx, "a", []string{ds[0].ID}))
	if got := claimIDs(t, st, relay.Claim{Owner: "b", Now: t0, Lease: time.Minute, Quota: quota}); !reflect.DeepEqual(got, []string{ds[0].ID}) {
		t.Fatalf("after release claimed %v, want %s", got, ds[0].ID)
	}
	// A restart under the same name takes back all of its leases.
	must(t, st.ReleaseClaims(ctx, "a", nil))
	if got := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota}); !reflect.DeepEqual(got, []string{ds[1].ID}) {
		t.Fatalf("after releasing all of a's, claimed %v, want %s", got, ds[1].ID)
	}
}

// TestMigrateFromVersion2: pending deliveries written before leases are
// due at their next attempt time, unclaimed, and outputs get the default

// TestConcurrentClaimsAreDisjoint: several stores on one database (as
// several nodes) claim at once from many goroutines; no delivery is
// claimed twice, and every one is claimed.
func TestConcurrentClaimsAreDisjoint(t *testing.T) {
	st, dsn := newStore(t)
	other := openAt(t, dsn, testSealer(t, 1), Options{})
	ctx := context.Background()
	fx := newFixture(t, st, "race", false)
	t0 := time.Unix(1000, 0).UTC()
	const webhooks = 300
	saveDue(t, st, fx, webhooks, t0)
	quota := map[string]int{fx.out1.ID: 7, fx.out2.ID: 5}

	var mu sync.Mutex
	claimedBy := map[string]string{}
	var wg sync.WaitGroup
	for g := range 16 {
		s := st
		if g%2 == 1 {
			s = other
		}
		owner := fmt.Sprintf("node-%d", g)
		wg.Go(func() {
			for {
				ds, err := s.ClaimDue(ctx, relay.Claim{Owner: owner, Now: t0, Lease: time.Hour, Quota: quota})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, ok := claimedBy[d.ID]; ok {
						t.Errorf("delivery %s claimed by %s and %s", d.ID, prev, owner)
					}
					claimedBy[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimedBy) != 2*webhooks {
		t.Errorf("%d deliveries claimed, want %d", len(claimedBy), 2*webhooks)
	}
	owners := map[string]int{}
	for _, o := range claimedBy {
		owners[o]++
	}
	t.Logf("claims per owner: %v", owners)
}

// TestLeaseLost: a result recorded under a claim that ended and was taken
// again is refused, and nothing of it is stored; RenewClaims extends the
// held claims and reports the lost ones.
func TestLeaseLost(t *testing.T) {
	st, dsn := newStore(t)
	other := openAt(t, dsn, testSealer(t, 1), Options{})
	ctx := context.Background()
	fx := newFixture(t, st, "lease", false)
	t0 := time.Unix(1000, 0).UTC()
	saveDue(t, st, fx, 2, t0)
	quota := map[string]int{fx.out1.ID: 10}
	mine, err := st.ClaimDue(ctx, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota})
	must(t, err)
	if len(mine) != 2 || mine[0].LeaseID == "" || mine[0].LeaseID != mine[1].LeaseID {
		t.Fatalf("claimed %+v, want two under one lease ID", mine)
	}
	// The lease of a ends; b claims them again.
	theirs, err := other.ClaimDue(ctx, relay.Claim{Owner: "b", Now: t0.Add(time.Minute), Lease: time.Minute, Quota: quota})
	must(t, err)
	if len(theirs) != 2 || theirs[0].LeaseID == mine[0].LeaseID {
		t.Fatalf("b claimed %+v, want both under a new lease ID", theirs)
	}

	lost, err := st.RenewClaims(ctx, t0.Add(time.Hour), []relay.LeaseRef{{ID: mine[0].ID, LeaseID: mine[0].LeaseID}})
	must(t, err)
	if !reflect.DeepEqual(lost, []string{mine[0].ID}) {
		t.Errorf("RenewClaims of a lost claim: lost = %v", lost)
	}
	renewUntil := t0.Add(time.Hour)
	lost, err = other.RenewClaims(ctx, renewUntil, []relay.LeaseRef{
		{ID: theirs[0].ID, LeaseID: theirs[0].LeaseID}, {ID: theirs[1].ID, LeaseID: "not-the-claim"}})
	must(t, err)
	if !reflect.DeepEqual(lost, []string{theirs[1].ID}) {
		t.Errorf("RenewClaims: lost = %v, want only %s", lost, theirs[1].ID)
	}
	d, _, err := st.GetDelivery(ctx, theirs[0].ID)
	must(t, err)
	if !d.LeaseUntil.Equal(renewUntil) || d.LeaseOwner != "b" {
		t.Errorf("after RenewClaims: %+v, want leased to b until %v", d, renewUntil)
	}

	stale := mine[0]
	stale.State, stale.Attempts, stale.LastStatus = relay.DeliverySucceeded, 1, 200
	err = st.RecordAttempt(ctx, stale, &relay.Attempt{N: 1, Status: 200})
	wantErr(t, err, store.ErrLeaseLost)
	t.Logf("stale RecordAttempt: %v", err)
	d, as, err := st.GetDelivery(ctx, stale.ID)
	must(t, err)
	if d.State != relay.DeliveryPending || len(as) != 0 {
		t.Errorf("a refused attempt was stored: %+v, %d attempts", d, len(as))
	}
	// The current claim's result is recorded; without a lease ID, any.
	cur := theirs[0]
	cur.State, cur.Attempts = relay.DeliverySucceeded, 1
	must(t, other.RecordAttempt(ctx, cur, &relay.Attempt{N: 1, Status: 200}))
	free := theirs[1]
	free.LeaseID, free.Attempts, free.NextAttemptAt = "", 1, t0.Add(2*time.Hour)
	must(t, st.RecordAttempt(ctx, free, &relay.Attempt{N: 1, Status: 503}))
	free.Attempts = 2
	must(t, st.RecordAttempt(ctx, free, &relay.Attempt{N: 2, Status: 503}))
	_, as, err = st.GetDelivery(ctx, free.ID)
	must(t, err)
	if len(as) != 2 || as[0].N != 1 || as[1].N != 2 {
		t.Errorf("attempts = %+v", as)
	}
}

// TestAttemptBatchIsolation: attempts recorded at once share
// transactions, yet one's conflict or lost lease is its own.
func TestAttemptBatchIsolation(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "attempts", false)
	const n = 90
	ds := make([]*relay.Delivery, n)
	for i := range ds {
		d := &relay.Delivery{OutputID: fx.out1.ID, LeaseOwner: "a", LeaseID: "lease", LeaseUntil: time.Now().Add(time.Hour)}
		must(t, st.SaveWebhook(ctx, fx.webhook("x"), []*relay.Delivery{d}))
		d.Attempts = 1
		must(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: 1, Status: 503}))
		ds[i] = d
		switch i % 3 {
		case 1: // attempt 1 is in the attempts table already: moving it conflicts
			_, err := st.Pool().Exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at) VALUES ($1, 1, 1)`, d.ID)
			must(t, err)
		case 2: // claimed by another since
			_, err := st.Pool().Exec(ctx, `UPDATE deliveries SET lease_owner = 'b', lease_id = 'other' WHERE id = $1`, d.ID)
			must(t, err)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range ds {
		d.State, d.Attempts, d.LeaseID = relay.DeliverySucceeded, 2, "" // no claim to check
		if i%3 == 2 {
			d.LeaseID = "lease"
		}
		wg.Go(func() {
			<-start
			errs[i] = st.RecordAttempt(ctx, d, &relay.Attempt{N: 2, Status: 200})
		})
	}
	close(start)
	wg.Wait()
	for i, d := range ds {
		got, _, err := st.GetDelivery(ctx, d.ID)
		must(t, err)
		switch i % 3 {
		case 0:
			must(t, errs[i])
			if got.State != relay.DeliverySucceeded {
				t.Errorf("delivery %d: %s, want succeeded", i, got.State)
			}
		case 1:
			wantErr(t, errs[i], store.ErrConflict)
		case 2:
			wantErr(t, errs[i], store.ErrLeaseLost)
		}
		if i%3 != 0 && got.State != relay.DeliveryPending {
			t.Errorf("delivery %d: a refused attempt changed its state to %s", i, got.State)
		}
	}
}
