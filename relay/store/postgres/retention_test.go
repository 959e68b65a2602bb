package postgres

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
)

// sweepDeleted runs PurgeDeleted until it says there is no more, and
// returns what it removed.
func sweepDeleted(t testing.TB, st *Store, limit int) (webhooks, deliveries int) {
	t.Helper()
	p := relay.Purge{Kind: relay.PurgeDeleted, Limit: limit}
	for range 1000 {
		res, err := st.Purge(context.Background(), p)
		must(t, err)
		webhooks += res.Webhooks
		deliveries += res.Deliveries
		if !res.More {
			return webhooks, deliveries
		}
		p.After = res.Next
	}
	t.Fatal("PurgeDeleted does not end")
	return 0, 0
}

// TestDeleteLeavesOrphansToPurge: deleting a bucket or an output removes
// the catalog rows at once; what they left is hidden from every reader
// and never claimed, and PurgeDeleted removes it in batches.
func TestDeleteLeavesOrphansToPurge(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	kept := newFixture(t, st, "kept", false)
	gone := newFixture(t, st, "gone", false)
	t0 := time.Unix(1000, 0).UTC()
	keptByOut := saveDue(t, st, kept, 5, t0)
	goneByOut := saveDue(t, st, gone, 3, t0)
	failed := keptByOut[kept.out2.ID][0]
	failed.State, failed.Attempts = relay.DeliveryFailed, 1
	must(t, st.RecordAttempt(ctx, failed, &relay.Attempt{N: 1, Status: 500}))

	must(t, st.DeleteOutput(ctx, kept.out2.ID))
	must(t, st.DeleteBucket(ctx, gone.bucket.ID))
	for _, tt := range []struct{ table, where string }{
		{"buckets", "id = '" + gone.bucket.ID + "'"}, {"inputs", "id = '" + gone.input.ID + "'"},
		{"outputs", "bucket_id = '" + gone.bucket.ID + "'"}, {"outputs", "id = '" + kept.out2.ID + "'"},
	} {
		if n := count(t, st, tt.table, tt.where); n != 0 {
			t.Errorf("%s %s: %d rows left", tt.table, tt.where, n)
		}
	}
	if n := count(t, st, "webhooks", ""); n != 8 {
		t.Errorf("%d webhooks in the table, want all 8 until the purge", n)
	}

	// Hidden from readers.
	_, err := st.GetWebhook(ctx, goneByOut[gone.out1.ID][0].WebhookID)
	wantNotFound(t, err)
	_, _, err = st.GetDelivery(ctx, keptByOut[kept.out2.ID][1].ID)
	wantNotFound(t, err)
	ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{})
	must(t, err)
	if len(ws) != 5 {
		t.Errorf("ListWebhooks = %d webhooks, want the 5 of the kept bucket", len(ws))
	}
	for _, w := range ws {
		if len(w.Deliveries) != 1 || w.Deliveries[relay.DeliveryPending] != 1 {
			t.Errorf("webhook %s: delivery states %v, want only the live output's", w.ID, w.Deliveries)
		}
	}
	failedOnly, err := st.ListWebhooks(ctx, relay.WebhookFilter{Failed: true})
	must(t, err)
	if len(failedOnly) != 0 {
		t.Errorf("ListWebhooks(Failed) = %d, want none: the failed delivery's output is deleted", len(failedOnly))
	}
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{})
	must(t, err)
	if len(ds) != 5 {
		t.Errorf("ListDeliveries = %d deliveries, want 5", len(ds))
	}
	stats, err := st.OutputStats(ctx)
	must(t, err)
	if len(stats) != 1 {
		t.Errorf("OutputStats = %v, want only output one of the kept bucket", stats)
	}
	quota := map[string]int{kept.out1.ID: 100, kept.out2.ID: 100, gone.out1.ID: 100, gone.out2.ID: 100}
	claimed := claimIDs(t, st, relay.Claim{Owner: "a", Now: t0, Lease: time.Minute, Quota: quota})
	if len(claimed) != 5 {
		t.Errorf("claimed %d, want the 5 of the live output", len(claimed))
	}
	_, ok, err := st.NextDue(ctx, []string{kept.out2.ID, gone.out1.ID})
	must(t, err)
	if ok {
		t.Error("NextDue of deleted outputs says one is due")
	}

	// The sweep.
	w, d := sweepDeleted(t, st, 2)
	if w != 3 || d != 5 {
		t.Errorf("PurgeDeleted removed %d webhooks and %d deliveries, want 3 and 5", w, d)
	}
	if n := count(t, st, "webhooks", "bucket_id = $1", gone.bucket.ID); n != 0 {
		t.Errorf("%d webhooks of the deleted bucket left", n)
	}
	if n := count(t, st, "deliveries", "output_id = ANY($1)", []string{kept.out2.ID, gone.out1.ID, gone.out2.ID}); n != 0 {
		t.Errorf("%d deliveries of deleted outputs left", n)
	}
	if n := count(t, st, "attempts", ""); n != 0 {
		t.Errorf("%d attempts left", n)
	}
	if n := count(t, st, "deliveries", ""); n != 5 {
		t.Errorf("%d deliveries left, want the 5 live ones", n)
	}
	if w, d := sweepDeleted(t, st, 2); w+d != 0 {
		t.Errorf("a second sweep removed %d and %d", w, d)
	}
}

// TestRecreateDeletedID: a bucket made with the ID of a deleted one does
// not inherit its webhooks.
func TestRecreateDeletedID(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "again", false)
	saveDue(t, st, fx, 3, time.Unix(1000, 0))
	must(t, st.DeleteBucket(ctx, fx.bucket.ID))
	b := &relay.Bucket{ID: fx.bucket.ID, Name: "again"}
	must(t, st.CreateBucket(ctx, b))
	ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: b.ID})
	must(t, err)
	if len(ws) != 0 {
		t.Errorf("the new bucket lists %d webhooks of the deleted one", len(ws))
	}
	if n := count(t, st, "tombstones", ""); n != 0 {
		t.Errorf("%d tombstones left", n)
	}
}

// idAt is a time-ordered ID of a record made at t.
func idAt(t testing.TB, at time.Time) string {
	t.Helper()
	u := uuid.Must(uuid.NewV7())
	ms := uint64(at.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String()
}

// TestPurge: payloads of old webhooks are emptied, and old webhooks
// deleted with their deliveries and attempts, but not those with a
// pending delivery, nor another bucket's.
func TestPurge(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "log", false)
	other := newFixture(t, st, "other", false)
	old := time.Now().Add(-2 * time.Hour)
	save := func(f *fixture, at time.Time, body string, finish bool) *relay.Webhook {
		w := f.webhook(body)
		w.ID, w.ReceivedAt = idAt(t, at), at.UTC()
		w.Logs = []string{"log " + body}
		ds := f.deliveries()
		must(t, st.SaveWebhook(ctx, w, ds))
		if finish {
			for _, d := range ds {
				d.State, d.Attempts = relay.DeliverySucceeded, 1
				must(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: 1, Status: 200,
					ResponseHeader: http.Header{"X": {"y"}}, ResponseBody: []byte("answer")}))
			}
		}
		return w
	}
	var done []*relay.Webhook
	for i := range 5 {
		done = append(done, save(fx, old, fmt.Sprint("done ", i), true))
	}
	pending := save(fx, old, "pending", false)
	fresh := save(fx, time.Now(), "fresh", true)
	otherOld := save(other, old, "other", true)

	before := time.Now().Add(-time.Hour)
	p := relay.Purge{Kind: relay.PurgePayload, BucketID: fx.bucket.ID, Before: before, Limit: 2}
	total := 0
	for {
		res, err := st.Purge(ctx, p)
		must(t, err)
		total += res.Webhooks
		if !res.More {
			break
		}
		p.After = res.Next
	}
	if total != 5 {
		t.Errorf("payload purge: %d webhooks, want 5", total)
	}
	got, err := st.GetWebhook(ctx, done[0].ID)
	must(t, err)
	if got.Request.Body != nil || got.Request.Header != nil || got.Logs != nil || got.Request.Path != "" {
		t.Errorf("payload left after the purge: %+v", got.Request)
	}
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: done[0].ID})
	must(t, err)
	_, as, err := st.GetDelivery(ctx, ds[0].ID)
	must(t, err)
	if len(as) != 1 || as[0].ResponseBody != nil || as[0].ResponseHeader != nil || as[0].Status != 200 {
		t.Errorf("attempt after the payload purge: %+v", as)
	}
	for _, w := range []*relay.Webhook{pending, fresh, otherOld} {
		got, err := st.GetWebhook(ctx, w.ID)
		must(t, err)
		if got.Request.Body == nil {
			t.Errorf("webhook %q lost its payload", w.Request.Body)
		}
	}

	res, err := st.Purge(ctx, relay.Purge{Kind: relay.PurgeMetadata, BucketID: fx.bucket.ID, Before: before, Limit: 100})
	must(t, err)
	if res.Webhooks != 5 || res.More {
		t.Errorf("metadata purge: %+v, want 5 webhooks", res)
	}
	for _, w := range done {
		_, err := st.GetWebhook(ctx, w.ID)
		wantNotFound(t, err)
	}
	for _, w := range []*relay.Webhook{pending, fresh, otherOld} {
		_, err := st.GetWebhook(ctx, w.ID)
		must(t, err)
	}
	if n := count(t, st, "deliveries", "webhook_id = ANY($1)", []string{done[0].ID, done[1].ID}); n != 0 {
		t.Errorf("%d deliveries of purged webhooks left", n)
	}
}
