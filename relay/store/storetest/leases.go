package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
)

// claim claims for owner at now, checks what ClaimDue says of each lease,
// and returns the claimed deliveries.
func claim(t *testing.T, st Store, owner string, now time.Time, lease time.Duration, quota map[string]int) []*relay.Delivery {
	t.Helper()
	ds, err := st.ClaimDue(context.Background(), relay.Claim{Owner: owner, Now: now, Lease: lease, Quota: quota})
	Must(t, err)
	for _, d := range ds {
		if d.LeaseOwner != owner || !d.LeaseUntil.Equal(now.Add(lease)) || d.LeaseID == "" || d.State != relay.DeliveryPending {
			t.Errorf("claimed %+v, want it pending and leased to %s until %v with a lease ID", d, owner, now.Add(lease))
		}
	}
	return ds
}

// getDelivery returns the stored delivery id with its attempts.
func getDelivery(t *testing.T, st Store, id string) (*relay.Delivery, []*relay.Attempt) {
	t.Helper()
	d, as, err := st.GetDelivery(context.Background(), id)
	Must(t, err)
	return d, as
}

// sorted returns s sorted, nil for an empty s.
func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}

// TestClaimGivesNewLeaseIDs: each ClaimDue call gives what it claims a
// new lease ID, shown by GetDelivery, also when the same owner claims a
// delivery again after its lease ran out; a delivery stored leased keeps
// the lease ID it was given.
func (s *suite) TestClaimGivesNewLeaseIDs(t *testing.T) {
	st, fx := s.openFixture(t, "lease-ids", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	SaveDue(t, st, fx, 2, t0)
	one := map[string]int{fx.Out1.ID: 1, fx.Out2.ID: 1}
	all := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}

	seen := map[string]bool{} // lease IDs of earlier calls
	for i, c := range []struct {
		now   time.Time
		quota map[string]int
		want  int
	}{
		{t0, one, 2},
		{t0, one, 2},
		{t0.Add(time.Minute), all, 4}, // the leases ran out: the same owner claims them again
	} {
		ds := claim(t, st, "a", c.now, time.Minute, c.quota)
		if len(ds) != c.want {
			t.Fatalf("claim %d: %d deliveries, want %d", i, len(ds), c.want)
		}
		var these []string
		for _, d := range ds {
			if seen[d.LeaseID] {
				t.Errorf("claim %d: delivery %s has lease ID %q of an earlier claim", i, d.ID, d.LeaseID)
			}
			got, _ := getDelivery(t, st, d.ID)
			if got.LeaseID != d.LeaseID || got.LeaseOwner != "a" || !got.LeaseUntil.Equal(d.LeaseUntil) {
				t.Errorf("claim %d: stored %+v, want the lease %q of %+v", i, got, d.LeaseID, d)
			}
			these = append(these, d.LeaseID)
		}
		for _, id := range these {
			seen[id] = true
		}
	}

	// Stored leased: the given lease ID is kept, and is the claim's.
	ds := fx.Deliveries()
	for i, d := range ds {
		d.NextAttemptAt, d.LeaseOwner, d.LeaseUntil, d.LeaseID = t0, "b", t0.Add(time.Hour), fmt.Sprintf("given-%d", i)
	}
	Must(t, st.SaveWebhook(ctx, fx.Webhook("leased"), ds))
	for i, d := range ds {
		if d.LeaseID != fmt.Sprintf("given-%d", i) {
			t.Errorf("SaveWebhook changed the lease ID to %q", d.LeaseID)
		}
		got, _ := getDelivery(t, st, d.ID)
		if got.LeaseID != d.LeaseID || got.LeaseOwner != "b" || !got.LeaseUntil.Equal(t0.Add(time.Hour)) {
			t.Errorf("stored leased = %+v, want the lease given-%d of b until %v", got, i, t0.Add(time.Hour))
		}
	}
	lost, err := st.RenewClaims(ctx, t0.Add(2*time.Hour), []relay.LeaseRef{{ID: ds[0].ID, LeaseID: ds[0].LeaseID}})
	Must(t, err)
	if len(lost) != 0 {
		t.Errorf("renewing the given lease lost %v", lost)
	}
	ds[1].State, ds[1].Attempts = relay.DeliverySucceeded, 1
	Must(t, st.RecordAttempt(ctx, ds[1], &relay.Attempt{Status: 200}))
}

// TestRecordAttemptLeaseLost: an attempt recorded under a claim that no
// longer holds the delivery (its lease ran out and another claimed it,
// RecordAttempt or ReleaseClaims ended it) is not recorded, and the error
// wraps store.ErrLeaseLost; under the current claim it is, and ends the
// lease; without a lease ID it is recorded whoever holds the delivery.
func (s *suite) TestRecordAttemptLeaseLost(t *testing.T) {
	st, fx := s.openFixture(t, "lease-lost", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	all := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	byOut := SaveDue(t, st, fx, 1, t0)
	d, e := byOut[fx.Out1.ID][0], byOut[fx.Out2.ID][0]
	// d has a first attempt (without a lease), so that the next one
	// follows it.
	d.Attempts, d.LastStatus, d.LastError = 1, 503, "503"
	first := &relay.Attempt{N: 1, Status: 503, Error: "503", StartedAt: t0.Add(-time.Second)}
	Must(t, st.RecordAttempt(ctx, d, first))

	// a claims both; its leases run out and b claims them.
	a := claim(t, st, "a", t0, time.Minute, all)
	b := claim(t, st, "b", t0.Add(time.Minute), time.Minute, all)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("a claimed %v, b %v; want both deliveries each", ids(a), ids(b))
	}
	byID := func(ds []*relay.Delivery, id string) *relay.Delivery {
		for _, d := range ds {
			if d.ID == id {
				return d
			}
		}
		t.Fatalf("delivery %s not claimed in %v", id, ids(ds))
		return nil
	}
	da, db := byID(a, d.ID), byID(b, d.ID)
	if da.LeaseID == db.LeaseID {
		t.Fatalf("a and b claimed under the same lease ID %q", da.LeaseID)
	}

	// a's attempt is refused: nothing of it is recorded.
	da.State, da.Attempts, da.LastStatus, da.LastError = relay.DeliverySucceeded, 2, 200, ""
	for _, n := range []int{0, 2} { // numbered by the store, and by the caller
		err := st.RecordAttempt(ctx, da, &relay.Attempt{N: n, Status: 200, ResponseBody: []byte("a's answer")})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("RecordAttempt %d under a lost lease: err = %v, want one wrapping store.ErrLeaseLost", n, err)
		}
	}
	got, as := getDelivery(t, st, d.ID)
	if got.State != relay.DeliveryPending || got.Attempts != 1 || got.LastStatus != 503 || got.LastError != "503" ||
		got.LeaseOwner != "b" || got.LeaseID != db.LeaseID || !got.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after a refused attempt, delivery = %+v, want it pending under b's lease %q with its first attempt", got, db.LeaseID)
	}
	if len(as) != 1 || !reflect.DeepEqual(as[0], first) {
		t.Errorf("after a refused attempt, attempts = %+v, want the first only %+v", as, first)
	}

	// b's is recorded, and ends the lease.
	lease := db.LeaseID
	db.State, db.Attempts, db.LastStatus, db.LastError = relay.DeliverySucceeded, 2, 200, ""
	Must(t, st.RecordAttempt(ctx, db, &relay.Attempt{Status: 200, ResponseBody: []byte("b's answer")}))
	if db.LeaseOwner != "" || db.LeaseID != "" || !db.LeaseUntil.IsZero() {
		t.Errorf("RecordAttempt left the lease in %+v", db)
	}
	got, as = getDelivery(t, st, d.ID)
	if got.State != relay.DeliverySucceeded || got.Attempts != 2 || got.LeaseOwner != "" || got.LeaseID != "" || !got.LeaseUntil.IsZero() {
		t.Errorf("after b's attempt, delivery = %+v, want it succeeded without a lease", got)
	}
	if len(as) != 2 || as[1].N != 2 || string(as[1].ResponseBody) != "b's answer" {
		t.Errorf("after b's attempt, attempts = %+v, want b's second", as)
	}
	// The lease ended: recording under it again is refused.
	again := *got
	again.LeaseID, again.Attempts = lease, 3
	err := st.RecordAttempt(ctx, &again, &relay.Attempt{Status: 200})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RecordAttempt under an ended lease: err = %v, want one wrapping store.ErrLeaseLost", err)
	}
	if _, as = getDelivery(t, st, d.ID); len(as) != 2 {
		t.Errorf("after an attempt under an ended lease, %d attempts, want 2", len(as))
	}

	// Without a lease ID, an attempt is recorded as it always was, and
	// ends whoever's lease: e, which b holds, is due at its retry.
	ea := byID(a, e.ID)
	retryAt := t0.Add(10 * time.Minute)
	ea.LeaseID, ea.Attempts, ea.NextAttemptAt, ea.LastStatus = "", 1, retryAt, 503
	Must(t, st.RecordAttempt(ctx, ea, &relay.Attempt{Status: 503}))
	got, as = getDelivery(t, st, e.ID)
	if got.State != relay.DeliveryPending || got.Attempts != 1 || got.LeaseOwner != "" || got.LeaseID != "" || len(as) != 1 {
		t.Errorf("after an attempt without a lease ID, delivery = %+v with %d attempts", got, len(as))
	}
	if ds := claim(t, st, "c", retryAt.Add(-time.Second), time.Minute, all); len(ds) != 0 {
		t.Errorf("claimed %v before the retry's time", ids(ds))
	}
	c := claim(t, st, "c", retryAt, time.Minute, all)
	if !reflect.DeepEqual(ids(c), []string{e.ID}) {
		t.Fatalf("at the retry's time claimed %v, want %s", ids(c), e.ID)
	}
	// A released claim is lost too.
	Must(t, st.ReleaseClaims(ctx, "c", nil))
	c[0].State, c[0].Attempts = relay.DeliveryFailed, 2
	if err := st.RecordAttempt(ctx, c[0], &relay.Attempt{Status: 500}); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RecordAttempt under a released lease: err = %v, want one wrapping store.ErrLeaseLost", err)
	}
	if got, as := getDelivery(t, st, e.ID); got.State != relay.DeliveryPending || len(as) != 1 {
		t.Errorf("after an attempt under a released lease, delivery = %+v with %d attempts", got, len(as))
	}
}

// TestRenewClaims: RenewClaims extends the leases still held by the named
// claims, so that no one claims those deliveries until the new end, and
// returns as lost the deliveries whose claim changed or ended.
func (s *suite) TestRenewClaims(t *testing.T) {
	st, fx := s.openFixture(t, "renew", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	all := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	byOut := SaveDue(t, st, fx, 2, t0)
	d1, d2 := byOut[fx.Out1.ID][0].ID, byOut[fx.Out1.ID][1].ID
	e1, e2, e3 := byOut[fx.Out2.ID][0].ID, byOut[fx.Out2.ID][1].ID, "no-such-delivery"

	lost, err := st.RenewClaims(ctx, t0.Add(time.Hour), nil)
	if err != nil || len(lost) != 0 {
		t.Errorf("RenewClaims of nothing = %v, %v; want nothing", lost, err)
	}

	a := claim(t, st, "a", t0, time.Minute, all)
	if len(a) != 4 {
		t.Fatalf("claimed %v, want all four", ids(a))
	}
	leases := map[string]string{}
	for _, d := range a {
		leases[d.ID] = d.LeaseID
		if d.ID == e2 {
			// e2 is done: its lease ended.
			d.State, d.Attempts = relay.DeliverySucceeded, 1
			Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200}))
		}
	}
	renewed := t0.Add(5 * time.Minute)
	lost, err = st.RenewClaims(ctx, renewed, []relay.LeaseRef{
		{ID: d1, LeaseID: leases[d1]},
		{ID: d2, LeaseID: "not-" + leases[d2]},
		{ID: e1, LeaseID: leases[e1]},
		{ID: e2, LeaseID: leases[e2]},
		{ID: e3, LeaseID: leases[d1]},
	})
	Must(t, err)
	if want := sorted([]string{d2, e2, e3}); !reflect.DeepEqual(sorted(lost), want) {
		t.Errorf("RenewClaims lost %v, want %v (another lease, ended, missing)", sorted(lost), want)
	}
	for _, id := range []string{d1, e1} {
		got, _ := getDelivery(t, st, id)
		if got.LeaseOwner != "a" || got.LeaseID != leases[id] || !got.LeaseUntil.Equal(renewed) {
			t.Errorf("renewed delivery = %+v, want a's lease %q until %v", got, leases[id], renewed)
		}
	}

	// Past the old end, before the new one: only d2, whose lease was not
	// renewed, is claimed.
	b := claim(t, st, "b", t0.Add(2*time.Minute), time.Minute, all)
	if !reflect.DeepEqual(ids(b), []string{d2}) {
		t.Fatalf("between the old and new ends of the leases claimed %v, want only %s", ids(b), d2)
	}
	next, ok, err := st.NextDue(ctx, []string{fx.Out1.ID, fx.Out2.ID})
	Must(t, err)
	if !ok || !next.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("NextDue = %v, %v; want the end of b's lease %v", next, ok, t0.Add(3*time.Minute))
	}
	if ds := claim(t, st, "b", renewed.Add(-time.Nanosecond), time.Minute, map[string]int{fx.Out2.ID: 10}); len(ds) != 0 {
		t.Fatalf("claimed %v before the renewed lease's end", ids(ds))
	}
	// At the new end, they are due again: a's claim on them is lost.
	c := claim(t, st, "c", renewed, time.Minute, all)
	if want := sorted([]string{d1, d2, e1}); !reflect.DeepEqual(sorted(ids(c)), want) {
		t.Fatalf("at the renewed leases' end claimed %v, want %v", sorted(ids(c)), want)
	}
	lost, err = st.RenewClaims(ctx, renewed.Add(time.Hour), []relay.LeaseRef{{ID: d1, LeaseID: leases[d1]}, {ID: d2, LeaseID: b[0].LeaseID}})
	Must(t, err)
	if want := sorted([]string{d1, d2}); !reflect.DeepEqual(sorted(lost), want) {
		t.Errorf("renewing claims taken by another lost %v, want %v", sorted(lost), want)
	}
	// A released claim is lost.
	Must(t, st.ReleaseClaims(ctx, "c", []string{d1}))
	refs := make([]relay.LeaseRef, 0, len(c))
	for _, d := range c {
		refs = append(refs, relay.LeaseRef{ID: d.ID, LeaseID: d.LeaseID})
	}
	lost, err = st.RenewClaims(ctx, renewed.Add(time.Hour), refs)
	Must(t, err)
	if !reflect.DeepEqual(lost, []string{d1}) {
		t.Errorf("renewing c's claims after releasing one lost %v, want %s", lost, d1)
	}
}

// TestReleaseClaims: an owner's released deliveries, some or all of them,
// are due again at once (or at their next attempt time); another owner's
// release and a finished delivery's are no-ops.
func (s *suite) TestReleaseClaims(t *testing.T) {
	st, fx := s.openFixture(t, "release", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	all := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	SaveDue(t, st, fx, 3, t0)
	a := claim(t, st, "a", t0, time.Hour, all)
	if len(a) != 6 {
		t.Fatalf("claimed %d, want 6", len(a))
	}
	// A finished delivery stays finished.
	done := a[5]
	done.State, done.Attempts = relay.DeliverySucceeded, 1
	Must(t, st.RecordAttempt(ctx, done, &relay.Attempt{Status: 200}))
	// One stored leased whose next attempt is later.
	later := &relay.Delivery{OutputID: fx.Out1.ID, NextAttemptAt: t0.Add(10 * time.Second), LeaseOwner: "a",
		LeaseUntil: t0.Add(time.Hour), LeaseID: "stored"}
	Must(t, st.SaveWebhook(ctx, fx.Webhook("later"), []*relay.Delivery{later}))

	steps := []struct {
		name    string
		release func() error
		want    []string
	}{
		{"another owner's release", func() error { return st.ReleaseClaims(ctx, "b", nil) }, nil},
		{"two of a's", func() error { return st.ReleaseClaims(ctx, "a", []string{a[0].ID, a[3].ID}) }, []string{a[0].ID, a[3].ID}},
		{"none of a's", func() error { return st.ReleaseClaims(ctx, "a", []string{}) }, nil},
		{"a missing one", func() error { return st.ReleaseClaims(ctx, "a", []string{"no-such-delivery"}) }, nil},
		{"all of a's", func() error { return st.ReleaseClaims(ctx, "a", nil) }, []string{a[1].ID, a[2].ID, a[4].ID}},
	}
	for _, step := range steps {
		Must(t, step.release())
		got := claim(t, st, "b", t0, time.Hour, all)
		if !reflect.DeepEqual(sorted(ids(got)), sorted(step.want)) {
			t.Errorf("after %s, claimed %v, want %v", step.name, sorted(ids(got)), sorted(step.want))
		}
	}
	if got, _ := getDelivery(t, st, done.ID); got.State != relay.DeliverySucceeded || got.LeaseOwner != "" {
		t.Errorf("released finished delivery = %+v", got)
	}
	// The released one stored leased is due at its next attempt time.
	next, ok, err := st.NextDue(ctx, []string{fx.Out1.ID})
	Must(t, err)
	if !ok || !next.Equal(later.NextAttemptAt) {
		t.Errorf("NextDue = %v, %v; want the released delivery's next attempt time %v", next, ok, later.NextAttemptAt)
	}
	if got := claim(t, st, "b", later.NextAttemptAt, time.Hour, all); !reflect.DeepEqual(ids(got), []string{later.ID}) {
		t.Errorf("at its next attempt time claimed %v, want %s", ids(got), later.ID)
	}
}

// TestClaimDueOrder: each output's claim takes its earliest due
// deliveries up to its quota, none due later than the claim's time; the
// claimed deliveries come earliest due first. A quota of zero or less,
// or of an unknown output, claims nothing.
func (s *suite) TestClaimDueOrder(t *testing.T) {
	st, fx := s.openFixture(t, "order", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	save := func(out *relay.Output, offsets ...time.Duration) []*relay.Delivery {
		var ds []*relay.Delivery
		for _, off := range offsets {
			d := &relay.Delivery{OutputID: out.ID, NextAttemptAt: t0.Add(off)}
			Must(t, st.SaveWebhook(ctx, fx.Webhook("x"), []*relay.Delivery{d}))
			ds = append(ds, d)
		}
		return ds
	}
	one := save(fx.Out1, -time.Second, -5*time.Second, -3*time.Second, time.Second)
	two := save(fx.Out2, 0, -2*time.Second)

	for _, tt := range []struct {
		name  string
		now   time.Time
		quota map[string]int
		want  []string
	}{
		{"no quota", t0, nil, nil},
		{"zero and negative quotas", t0, map[string]int{fx.Out1.ID: 0, fx.Out2.ID: -1}, nil},
		{"an unknown output", t0, map[string]int{"no-such-output": 5}, nil},
		{"earliest due first", t0, map[string]int{fx.Out1.ID: 2, fx.Out2.ID: 5}, []string{one[1].ID, one[2].ID, two[1].ID, two[0].ID}},
		{"the rest due", t0, map[string]int{fx.Out1.ID: 5, fx.Out2.ID: 5}, []string{one[0].ID}},
		{"not before due", t0.Add(time.Second - time.Nanosecond), map[string]int{fx.Out1.ID: 5}, nil},
		{"when due", t0.Add(time.Second), map[string]int{fx.Out1.ID: 5}, []string{one[3].ID}},
	} {
		got := claim(t, st, "a", tt.now, time.Hour, tt.quota)
		if !reflect.DeepEqual(ids(got), tt.want) {
			t.Errorf("%s: claimed %v, want %v", tt.name, ids(got), tt.want)
		}
	}

	for _, tt := range []struct {
		name    string
		outputs []string
	}{{"no outputs", nil}, {"an unknown output", []string{"no-such-output"}}} {
		if at, ok, err := st.NextDue(ctx, tt.outputs); err != nil || ok {
			t.Errorf("NextDue of %s = %v, %v, %v; want none", tt.name, at, ok, err)
		}
	}
	next, ok, err := st.NextDue(ctx, []string{"no-such-output", fx.Out2.ID})
	Must(t, err)
	if !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextDue = %v, %v; want the end of output two's leases %v", next, ok, t0.Add(time.Hour))
	}
}

// TestConcurrentClaims: processes claiming at once, through two handles
// on one database when the store has them, claim each delivery exactly
// once while the leases hold, and again exactly once when they have run
// out; attempts recorded under the first leases, racing those under the
// second, are refused, and the second's recorded.
func (s *suite) TestConcurrentClaims(t *testing.T) {
	h1, h2 := s.pair(t)
	handles := []Store{h1, h2}
	ctx := context.Background()
	fx := NewFixture(t, h1, "race", false)
	t0 := time.Unix(1000, 0).UTC()
	const webhooks, workers = 150, 8
	SaveDue(t, h1, fx, webhooks, t0)
	quota := map[string]int{fx.Out1.ID: 3, fx.Out2.ID: 3}

	// race runs workers that claim at now until nothing is left, and
	// returns each delivery's claim.
	race := func(name string, now time.Time) map[string]*relay.Delivery {
		t.Helper()
		var (
			mu      sync.Mutex
			claimed = map[string]*relay.Delivery{}
			per     [workers]int
			wg      sync.WaitGroup
		)
		for w := range workers {
			st := handles[w%len(handles)]
			owner := fmt.Sprintf("%s-%d", name, w)
			wg.Go(func() {
				for {
					ds, err := st.ClaimDue(ctx, relay.Claim{Owner: owner, Now: now, Lease: time.Minute, Quota: quota})
					if err != nil {
						t.Errorf("%s: ClaimDue: %v", owner, err)
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						if prev, ok := claimed[d.ID]; ok {
							t.Errorf("%s: delivery %s claimed by %s and %s", name, d.ID, prev.LeaseOwner, owner)
						}
						claimed[d.ID] = d
					}
					per[w] += len(ds)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != 2*webhooks {
			t.Errorf("%s: %d deliveries claimed, want %d", name, len(claimed), 2*webhooks)
		}
		t.Logf("%s: claims per worker (handles alternate) %v", name, per)
		return claimed
	}
	first := race("first", t0)
	if ds := claim(t, h2, "late", t0.Add(time.Minute-time.Nanosecond), time.Minute, quota); len(ds) != 0 {
		t.Errorf("claimed %v while the first leases hold", ids(ds))
	}
	second := race("second", t0.Add(time.Minute))

	// record runs RecordAttempt for each claim, spread over the handles
	// and workers, and returns the errors by delivery.
	record := func(claims map[string]*relay.Delivery) map[string]error {
		t.Helper()
		var (
			mu   sync.Mutex
			errs = map[string]error{}
			wg   sync.WaitGroup
			work = make(chan *relay.Delivery)
		)
		for w := range workers {
			st := handles[w%len(handles)]
			wg.Go(func() {
				for d := range work {
					d.State, d.Attempts, d.LastStatus = relay.DeliverySucceeded, 1, 200
					err := st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200})
					mu.Lock()
					errs[d.ID] = err
					mu.Unlock()
				}
			})
		}
		for _, id := range slices.Sorted(maps.Keys(claims)) {
			work <- claims[id]
		}
		close(work)
		wg.Wait()
		return errs
	}
	// The attempts under both leases race: those under the first are
	// refused, before or after the second's are recorded.
	var firstErrs, secondErrs map[string]error
	var wg sync.WaitGroup
	wg.Go(func() { firstErrs = record(first) })
	wg.Go(func() { secondErrs = record(second) })
	wg.Wait()
	for id, err := range firstErrs {
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("delivery %s: RecordAttempt under a lease claimed again: err = %v, want store.ErrLeaseLost", id, err)
		}
	}
	for id, err := range secondErrs {
		if err != nil {
			t.Errorf("delivery %s: RecordAttempt under the current lease: %v", id, err)
		}
	}
	for _, st := range handles {
		if n := countDeliveries(t, st, relay.DeliveryFilter{State: relay.DeliverySucceeded}); n != 2*webhooks {
			t.Errorf("%d deliveries succeeded, want %d", n, 2*webhooks)
		}
	}
	ds, err := h1.ListDeliveries(ctx, relay.DeliveryFilter{Limit: everything})
	Must(t, err)
	for _, d := range ds {
		if _, as := getDelivery(t, h2, d.ID); d.Attempts != 1 || len(as) != 1 {
			t.Errorf("delivery %s: %d attempts (%d listed), want 1", d.ID, d.Attempts, len(as))
		}
	}
}

// TestRenewRacesClaim: a process renewing its leases as they run out
// races another claiming them: each delivery ends up either renewed (and
// not claimed) or claimed (and reported lost), never both or neither.
func (s *suite) TestRenewRacesClaim(t *testing.T) {
	a, b := s.pair(t)
	ctx := context.Background()
	fx := NewFixture(t, a, "renew-race", false)
	t0 := time.Unix(1000, 0).UTC()
	const webhooks = 100
	SaveDue(t, a, fx, webhooks, t0)
	held := claim(t, a, "a", t0, time.Minute, map[string]int{fx.Out1.ID: 2 * webhooks, fx.Out2.ID: 2 * webhooks})
	if len(held) != 2*webhooks {
		t.Fatalf("claimed %d, want %d", len(held), 2*webhooks)
	}
	renewed := t0.Add(5 * time.Minute)
	var (
		wg         sync.WaitGroup
		lost       = map[string]bool{}
		claimedByB = map[string]bool{}
	)
	wg.Go(func() {
		for chunk := range slices.Chunk(held, 10) {
			refs := make([]relay.LeaseRef, len(chunk))
			for i, d := range chunk {
				refs[i] = relay.LeaseRef{ID: d.ID, LeaseID: d.LeaseID}
			}
			ids, err := a.RenewClaims(ctx, renewed, refs)
			if err != nil {
				t.Errorf("RenewClaims: %v", err)
				return
			}
			for _, id := range ids {
				lost[id] = true
			}
		}
	})
	wg.Go(func() {
		for {
			ds, err := b.ClaimDue(ctx, relay.Claim{Owner: "b", Now: t0.Add(time.Minute), Lease: time.Minute,
				Quota: map[string]int{fx.Out1.ID: 5, fx.Out2.ID: 5}})
			if err != nil {
				t.Errorf("ClaimDue: %v", err)
				return
			}
			if len(ds) == 0 {
				return
			}
			for _, d := range ds {
				claimedByB[d.ID] = true
			}
		}
	})
	wg.Wait()
	t.Logf("of %d leases, %d renewed, %d claimed by another", len(held), len(held)-len(lost), len(claimedByB))
	for _, d := range held {
		got, _ := getDelivery(t, b, d.ID)
		switch {
		case lost[d.ID] != claimedByB[d.ID]:
			t.Errorf("delivery %s: reported lost %v, claimed by another %v", d.ID, lost[d.ID], claimedByB[d.ID])
		case claimedByB[d.ID]:
			if got.LeaseOwner != "b" {
				t.Errorf("delivery %s claimed by b is stored leased to %q", d.ID, got.LeaseOwner)
			}
		default:
			if got.LeaseOwner != "a" || got.LeaseID != d.LeaseID || !got.LeaseUntil.Equal(renewed) {
				t.Errorf("renewed delivery %s is stored as %+v", d.ID, got)
			}
		}
	}
}

// TestClaimWhileSaving: deliveries stored while processes claim, through
// both handles, are each claimed exactly once.
func (s *suite) TestClaimWhileSaving(t *testing.T) {
	a, b := s.pair(t)
	handles := []Store{a, b}
	ctx := context.Background()
	fx := NewFixture(t, a, "claim-while-saving", false)
	t0 := time.Unix(1000, 0).UTC()
	const writers, perWriter, claimers = 4, 40, 4
	quota := map[string]int{fx.Out1.ID: 4, fx.Out2.ID: 4}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		saved   = map[string]bool{}
		writing sync.WaitGroup
		all     sync.WaitGroup
		stopped = make(chan struct{})
	)
	for w := range writers {
		st := handles[w%2]
		writing.Go(func() {
			for range perWriter {
				ds := fx.Deliveries()
				for _, d := range ds {
					d.NextAttemptAt = t0
				}
				if err := st.SaveWebhook(ctx, fx.Webhook("x"), ds); err != nil {
					t.Errorf("SaveWebhook: %v", err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					saved[d.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	go func() { writing.Wait(); close(stopped) }()
	for c := range claimers {
		st := handles[c%2]
		owner := fmt.Sprintf("claimer-%d", c)
		all.Go(func() {
			for {
				// Whether the writers were done before this claim, so
				// that an empty claim means nothing is left.
				var done bool
				select {
				case <-stopped:
					done = true
				default:
				}
				ds, err := st.ClaimDue(ctx, relay.Claim{Owner: owner, Now: t0, Lease: time.Hour, Quota: quota})
				if err != nil {
					t.Errorf("%s: ClaimDue: %v", owner, err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, ok := claimed[d.ID]; ok {
						t.Errorf("delivery %s claimed by %s and %s", d.ID, prev, owner)
					}
					claimed[d.ID] = owner
				}
				mu.Unlock()
				if len(ds) == 0 {
					if done {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	all.Wait()
	if len(saved) != 2*writers*perWriter || len(claimed) != len(saved) {
		t.Errorf("%d deliveries saved, %d claimed; want %d each", len(saved), len(claimed), 2*writers*perWriter)
	}
	for id := range saved {
		if claimed[id] == "" {
			t.Errorf("delivery %s saved but never claimed", id)
		}
	}
}

// TestClaimNeedsOwnerAndLease: a claim without an owner or a positive
// lease, and a release without an owner, are refused and change nothing.
func (s *suite) TestClaimNeedsOwnerAndLease(t *testing.T) {
	st, fx := s.openFixture(t, "bad-claims", false)
	ctx := context.Background()
	t0 := time.Unix(1000, 0).UTC()
	SaveDue(t, st, fx, 1, t0)
	quota := map[string]int{fx.Out1.ID: 10, fx.Out2.ID: 10}
	for _, c := range []relay.Claim{
		{Owner: "", Now: t0, Lease: time.Minute, Quota: quota},
		{Owner: "a", Now: t0, Lease: 0, Quota: quota},
		{Owner: "a", Now: t0, Lease: -time.Minute, Quota: quota},
	} {
		if ds, err := st.ClaimDue(ctx, c); err == nil {
			t.Errorf("ClaimDue(owner %q, lease %v) = %v, want an error", c.Owner, c.Lease, ids(ds))
		}
	}
	held := claim(t, st, "a", t0, time.Minute, quota)
	if len(held) != 2 {
		t.Fatalf("after refused claims, claimed %v, want both deliveries", ids(held))
	}
	if err := st.ReleaseClaims(ctx, "", nil); err == nil {
		t.Error("ReleaseClaims without an owner succeeded")
	}
	for _, d := range held {
		if got, _ := getDelivery(t, st, d.ID); got.LeaseOwner != "a" || got.LeaseID != d.LeaseID {
			t.Errorf("after a refused release, delivery = %+v, want a's lease", got)
		}
	}
}
