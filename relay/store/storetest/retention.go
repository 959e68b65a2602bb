package storetest

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

// purgeAll runs batches of p until none is left and returns the count.
func purgeAll(t testing.TB, st Store, p relay.Purge) int {
	t.Helper()
	total := 0
	for {
		res, err := st.Purge(context.Background(), p)
		must(t, err)
		total += res.Webhooks
		if !res.More {
			return total
		}
		p.After = res.Next
	}
}

func (s *suite) TestRetentionPolicy(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	fx := newFixture(t, st, "kept", false)
	other := newFixture(t, st, "other", false)
	r := relay.Retention{Payload: 72 * time.Hour, Metadata: 30 * 24 * time.Hour}
	must(t, st.SetRetention(ctx, fx.bucket.ID, r))
	must(t, st.SetRetention(ctx, other.bucket.ID, relay.Retention{Payload: time.Hour}))
	got, err := st.Retentions(ctx)
	must(t, err)
	if len(got) != 2 || got[fx.bucket.ID] != r || got[other.bucket.ID].Payload != time.Hour {
		t.Fatalf("Retentions = %v", got)
	}
	must(t, st.SetRetention(ctx, other.bucket.ID, relay.Retention{}))
	must(t, st.DeleteBucket(ctx, fx.bucket.ID))
	got, err = st.Retentions(ctx)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("Retentions after clearing and deleting = %v, want none", got)
	}
	wantNotFound(t, st.SetRetention(ctx, "no-such-bucket", r))
}

func (s *suite) TestPurge(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	fx := newFixture(t, st, "log", false)
	other := newFixture(t, st, "other", false)
	old := time.Now().Add(-2 * time.Hour)

	save := func(f *fixture, at time.Time, body string, finish bool) *relay.Webhook {
		w := f.webhook(body)
		w.ID, w.ReceivedAt = idAt(t, at), at.UTC()
		w.Logs = []string{"log line " + body}
		ds := f.deliveries()
		must(t, st.SaveWebhook(ctx, w, ds))
		if finish {
			for _, d := range ds {
				d.State, d.Attempts = relay.DeliverySucceeded, 1
				must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200,
					ResponseHeader: http.Header{"X-Answer": {"secret-answer"}}, ResponseBody: []byte("answer of " + body)}))
			}
		}
		return w
	}
	gone := save(fx, old, "old-and-done-0123456789", true)
	pending := save(fx, old, "old-but-pending", false)
	fresh := save(fx, time.Now(), "fresh", true)
	otherOld := save(other, old, "other-bucket", true)

	before := time.Now().Add(-time.Hour)
	n := purgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.bucket.ID, Before: before, Limit: 1})
	if n != 1 {
		t.Fatalf("payload purge = %d webhooks, want 1", n)
	}
	if n := purgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.bucket.ID, Before: before}); n != 0 {
		t.Fatalf("second payload purge = %d webhooks, want 0", n)
	}
	w, err := st.GetWebhook(ctx, gone.ID)
	must(t, err)
	if w.Request.Body != nil || w.Request.Header != nil || w.Request.RawQuery != "" || w.Logs != nil || w.Status != 200 {
		t.Fatalf("purged webhook = %+v, want its metadata only", w)
	}
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: gone.ID})
	must(t, err)
	if len(ds) != 2 {
		t.Fatalf("deliveries of the purged webhook = %d, want 2", len(ds))
	}
	goneDeliveries := ds
	for _, d := range ds {
		d, as, err := st.GetDelivery(ctx, d.ID)
		must(t, err)
		if d.State != relay.DeliverySucceeded || len(as) != 1 || as[0].ResponseBody != nil || as[0].ResponseHeader != nil || as[0].Status != 200 {
			t.Fatalf("purged delivery = %+v %+v, want the status without the answer", d, as)
		}
	}
	for _, k := range []*relay.Webhook{pending, fresh, otherOld} {
		w, err := st.GetWebhook(ctx, k.ID)
		must(t, err)
		if !bytes.Equal(w.Request.Body, k.Request.Body) {
			t.Fatalf("webhook %q lost its body", k.Request.Body)
		}
	}

	// Metadata.
	if n := purgeAll(t, st, relay.Purge{Kind: relay.PurgeMetadata, BucketID: fx.bucket.ID, Before: before, Limit: 1}); n != 1 {
		t.Fatalf("metadata purge = %d webhooks, want 1", n)
	}
	_, err = st.GetWebhook(ctx, gone.ID)
	wantNotFound(t, err)
	if c := countDeliveries(t, st, relay.DeliveryFilter{WebhookID: gone.ID}); c != 0 {
		t.Fatalf("%d deliveries left of a purged webhook", c)
	}
	for _, d := range goneDeliveries {
		_, _, err := st.GetDelivery(ctx, d.ID)
		wantNotFound(t, err)
	}
	for _, k := range []*relay.Webhook{pending, fresh, otherOld} {
		_, err := st.GetWebhook(ctx, k.ID)
		must(t, err)
	}
	// Once its deliveries end, the pending one goes too.
	ds, err = st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: pending.ID})
	must(t, err)
	for _, d := range ds {
		d.State, d.Attempts = relay.DeliveryFailed, 1
		must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500}))
	}
	if n := purgeAll(t, st, relay.Purge{Kind: relay.PurgeMetadata, BucketID: fx.bucket.ID, Before: before}); n != 1 {
		t.Fatalf("metadata purge after the deliveries ended = %d, want 1", n)
	}
}
