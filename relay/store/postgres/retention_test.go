package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// TestDeleteLeavesOrphansToPurge: deleting a bucket or an output removes
// the catalog rows at once, leaves their webhooks and deliveries in the
// tables, and PurgeDeleted removes those in batches.
func TestDeleteLeavesOrphansToPurge(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	kept := storetest.NewFixture(t, st, "kept", false)
	gone := storetest.NewFixture(t, st, "gone", false)
	t0 := time.Unix(1000, 0).UTC()
	keptByOut := storetest.SaveDue(t, st, kept, 5, t0)
	storetest.SaveDue(t, st, gone, 3, t0)
	failed := keptByOut[kept.Out2.ID][0]
	failed.State, failed.Attempts = relay.DeliveryFailed, 1
	must(t, st.RecordAttempt(ctx, failed, &relay.Attempt{N: 1, Status: 500}))

	must(t, st.DeleteOutput(ctx, kept.Out2.ID))
	must(t, st.DeleteBucket(ctx, gone.Bucket.ID))
	for _, tt := range []struct{ table, where string }{
		{"buckets", "id = '" + gone.Bucket.ID + "'"}, {"inputs", "id = '" + gone.Input.ID + "'"},
		{"outputs", "bucket_id = '" + gone.Bucket.ID + "'"}, {"outputs", "id = '" + kept.Out2.ID + "'"},
	} {
		if n := count(t, st, tt.table, tt.where); n != 0 {
			t.Errorf("%s %s: %d rows left", tt.table, tt.where, n)
		}
	}
	if n := count(t, st, "webhooks", ""); n != 8 {
		t.Errorf("%d webhooks in the table, want all 8 until the purge", n)
	}

	// What is hidden from readers meanwhile is storetest.TestDeletedHidden's.

	// The sweep.
	w, d := storetest.SweepDeleted(t, st, 2)
	if w != 3 || d != 5 {
		t.Errorf("PurgeDeleted removed %d webhooks and %d deliveries, want 3 and 5", w, d)
	}
	if n := count(t, st, "webhooks", "bucket_id = $1", gone.Bucket.ID); n != 0 {
		t.Errorf("%d webhooks of the deleted bucket left", n)
	}
	if n := count(t, st, "deliveries", "output_id = ANY($1)", []string{kept.Out2.ID, gone.Out1.ID, gone.Out2.ID}); n != 0 {
		t.Errorf("%d deliveries of deleted outputs left", n)
	}
	if n := count(t, st, "attempts", ""); n != 0 {
		t.Errorf("%d attempts left", n)
	}
	if n := count(t, st, "deliveries", ""); n != 5 {
		t.Errorf("%d deliveries left, want the 5 live ones", n)
	}
	if w, d := storetest.SweepDeleted(t, st, 2); w+d != 0 {
		t.Errorf("a second sweep removed %d and %d", w, d)
	}
}

// TestRecreateDeletedID: a bucket made with the ID of a deleted one does
// not inherit its webhooks.
func TestRecreateDeletedID(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "again", false)
	storetest.SaveDue(t, st, fx, 3, time.Unix(1000, 0))
	must(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	b := &relay.Bucket{ID: fx.Bucket.ID, Name: "again"}
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
