package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// TestAttemptBatchIsolation: attempts recorded at once share
// transactions, yet one's conflict or lost lease is its own.
func TestAttemptBatchIsolation(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "attempts", false)
	const n = 90
	ds := make([]*relay.Delivery, n)
	for i := range ds {
		d := &relay.Delivery{OutputID: fx.Out1.ID, LeaseOwner: "a", LeaseID: "lease", LeaseUntil: time.Now().Add(time.Hour)}
		must(t, st.SaveWebhook(ctx, fx.Webhook("x"), []*relay.Delivery{d}))
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
