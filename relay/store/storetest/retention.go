package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

// PurgeAll runs batches of p until none is left and returns the count of
// webhooks purged.
func PurgeAll(t testing.TB, st relay.RetentionStore, p relay.Purge) int {
	t.Helper()
	total := 0
	for {
		res, err := st.Purge(context.Background(), p)
		Must(t, err)
		total += res.Webhooks
		if !res.More {
			return total
		}
		p.After = res.Next
	}
}

// SweepDeleted runs a sweep of relay.PurgeDeleted in batches of limit to
// its end and returns the webhooks and deliveries it removed.
func SweepDeleted(t testing.TB, st relay.RetentionStore, limit int) (webhooks, deliveries int) {
	t.Helper()
	p := relay.Purge{Kind: relay.PurgeDeleted, Limit: limit}
	for range 1_000_000 {
		res, err := st.Purge(context.Background(), p)
		Must(t, err)
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

func (s *suite) TestRetentionPolicy(t *testing.T) {
	st, fx := s.openFixture(t, "kept", false)
	ctx := context.Background()
	other := NewFixture(t, st, "other", false)
	r := relay.Retention{Payload: 72 * time.Hour, Metadata: 30 * 24 * time.Hour}
	Must(t, st.SetRetention(ctx, fx.Bucket.ID, r))
	Must(t, st.SetRetention(ctx, other.Bucket.ID, relay.Retention{Payload: time.Hour}))
	got, err := st.Retentions(ctx)
	Must(t, err)
	if len(got) != 2 || got[fx.Bucket.ID] != r || got[other.Bucket.ID].Payload != time.Hour {
		t.Fatalf("Retentions = %v", got)
	}
	Must(t, st.SetRetention(ctx, other.Bucket.ID, relay.Retention{}))
	Must(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	got, err = st.Retentions(ctx)
	Must(t, err)
	if len(got) != 0 {
		t.Fatalf("Retentions after clearing and deleting = %v, want none", got)
	}
	WantNotFound(t, st.SetRetention(ctx, "no-such-bucket", r))
}

func (s *suite) TestPurge(t *testing.T) {
	st, fx := s.openFixture(t, "log", false)
	ctx := context.Background()
	other := NewFixture(t, st, "other", false)
	old := time.Now().Add(-2 * time.Hour)

	save := func(f *Fixture, at time.Time, body string, finish bool) *relay.Webhook {
		w := f.Webhook(body)
		w.ID, w.ReceivedAt = IDAt(t, at), at.UTC()
		w.Logs = []string{"log line " + body}
		ds := f.Deliveries()
		Must(t, st.SaveWebhook(ctx, w, ds))
		if finish {
			for _, d := range ds {
				d.State, d.Attempts = relay.DeliverySucceeded, 1
				Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200,
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
	n := PurgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: before, Limit: 1})
	if n != 1 {
		t.Fatalf("payload purge = %d webhooks, want 1", n)
	}
	if n := PurgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: before}); n != 0 {
		t.Fatalf("second payload purge = %d webhooks, want 0", n)
	}
	w, err := st.GetWebhook(ctx, gone.ID)
	Must(t, err)
	if w.Request.Body != nil || w.Request.Header != nil || w.Request.Path != "" || w.Request.RawQuery != "" || w.Logs != nil || w.Status != 200 {
		t.Fatalf("purged webhook = %+v, want its metadata only", w)
	}
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: gone.ID})
	Must(t, err)
	if len(ds) != 2 {
		t.Fatalf("deliveries of the purged webhook = %d, want 2", len(ds))
	}
	goneDeliveries := ds
	for _, d := range ds {
		d, as, err := st.GetDelivery(ctx, d.ID)
		Must(t, err)
		if d.State != relay.DeliverySucceeded || len(as) != 1 || as[0].ResponseBody != nil || as[0].ResponseHeader != nil || as[0].Status != 200 {
			t.Fatalf("purged delivery = %+v %+v, want the status without the answer", d, as)
		}
	}
	for _, k := range []*relay.Webhook{pending, fresh, otherOld} {
		w, err := st.GetWebhook(ctx, k.ID)
		Must(t, err)
		if !bytes.Equal(w.Request.Body, k.Request.Body) {
			t.Fatalf("webhook %q lost its body", k.Request.Body)
		}
	}

	// Metadata.
	if n := PurgeAll(t, st, relay.Purge{Kind: relay.PurgeMetadata, BucketID: fx.Bucket.ID, Before: before, Limit: 1}); n != 1 {
		t.Fatalf("metadata purge = %d webhooks, want 1", n)
	}
	_, err = st.GetWebhook(ctx, gone.ID)
	WantNotFound(t, err)
	if c := countDeliveries(t, st, relay.DeliveryFilter{WebhookID: gone.ID}); c != 0 {
		t.Fatalf("%d deliveries left of a purged webhook", c)
	}
	for _, d := range goneDeliveries {
		_, _, err := st.GetDelivery(ctx, d.ID)
		WantNotFound(t, err)
	}
	for _, k := range []*relay.Webhook{pending, fresh, otherOld} {
		_, err := st.GetWebhook(ctx, k.ID)
		Must(t, err)
	}
	// Once its deliveries end, the pending one goes too.
	ds, err = st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: pending.ID})
	Must(t, err)
	for _, d := range ds {
		d.State, d.Attempts = relay.DeliveryFailed, 1
		Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500}))
	}
	if n := PurgeAll(t, st, relay.Purge{Kind: relay.PurgeMetadata, BucketID: fx.Bucket.ID, Before: before}); n != 1 {
		t.Fatalf("metadata purge after the deliveries ended = %d, want 1", n)
	}
}

// TestPurgePayloadFields: a payload purge empties everything that was sent
// and answered (request, logs, function error and outcome, the caller's
// answer headers, the destinations' answers and attempt logs) and keeps
// the metadata: ids, times, method, statuses, errors of attempts.
func (s *suite) TestPurgePayloadFields(t *testing.T) {
	st, fx := s.openFixture(t, "fields", false)
	ctx := context.Background()
	at := time.Now().Add(-2 * time.Hour).UTC()
	w := fx.Webhook(`{"rewritten":true}`)
	w.ID, w.ReceivedAt = IDAt(t, at), at
	w.Request.Path, w.Request.RawPath = "/a/b%2Fc", "/a/b%2Fc"
	received := w.Request
	received.Body = []byte(`{"original":true}`)
	w.Received = &received
	w.Logs = []string{"log"}
	w.FunctionError = "boom"
	w.Function = &relay.FunctionOutcome{Response: &relay.FunctionResponse{Status: 202, Header: http.Header{"X-A": {"b"}}, Body: []byte("ok")}, DurationMS: 1.5}
	w.Status, w.Answer = 202, relay.Answer{Header: http.Header{"X-A": {"b"}}, BodySize: 2}
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(ctx, w, ds))
	for _, d := range ds {
		for n := 1; n <= 2; n++ {
			d.Attempts, d.LastStatus, d.LastError = n, 500, "500 Internal Server Error"
			if n == 2 {
				d.State = relay.DeliveryFailed
			}
			Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: n, Status: 500, Error: "500 Internal Server Error",
				Logs: []string{"tried"}, ResponseHeader: http.Header{"X-Answer": {"no"}}, ResponseBody: []byte("answer")}))
		}
	}

	if n := PurgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: time.Now().Add(-time.Hour)}); n != 1 {
		t.Fatalf("payload purge = %d webhooks, want 1", n)
	}
	got, err := st.GetWebhook(ctx, w.ID)
	Must(t, err)
	want := &relay.Webhook{ID: w.ID, BucketID: w.BucketID, InputID: w.InputID, ReceivedAt: w.ReceivedAt,
		Request: relay.HTTPRequest{Method: http.MethodPost}, Status: 202, Answer: relay.Answer{BodySize: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("purged webhook =\n%+v\nwant\n%+v", got, want)
	}
	for _, d := range ds {
		gd, as, err := st.GetDelivery(ctx, d.ID)
		Must(t, err)
		if gd.State != relay.DeliveryFailed || gd.Attempts != 2 || gd.LastStatus != 500 || gd.LastError != d.LastError {
			t.Errorf("purged delivery = %+v, want its state kept", gd)
		}
		if len(as) != 2 {
			t.Fatalf("purged delivery has %d attempts, want 2", len(as))
		}
		for _, a := range as {
			if a.Logs != nil || a.ResponseHeader != nil || a.ResponseBody != nil || a.Status != 500 || a.Error != "500 Internal Server Error" {
				t.Errorf("purged attempt %d = %+v, want its status and error only", a.N, a)
			}
		}
	}
	sums, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: fx.Bucket.ID})
	Must(t, err)
	if len(sums) != 1 || sums[0].Path != "" || sums[0].FunctionError != "" || sums[0].Status != 202 || sums[0].Deliveries[relay.DeliveryFailed] != 2 {
		t.Errorf("purged webhook listed as %+v", sums)
	}
}

// TestPurgeBatches: a purge looks at the webhooks received before Before,
// in ID order from the cursor After, a batch of at most Limit at a time,
// saying when a full batch may leave more; a zero Before purges nothing,
// and an unknown kind is an error.
func (s *suite) TestPurgeBatches(t *testing.T) {
	st, fx := s.openFixture(t, "batches", false)
	ctx := context.Background()
	before := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var ws []*relay.Webhook
	for i, at := range []time.Time{
		before.Add(-5 * time.Minute), before.Add(-4 * time.Minute), before.Add(-3 * time.Minute),
		before.Add(-2 * time.Minute), before.Add(-time.Millisecond),
		before, before.Add(time.Minute), // not before Before
	} {
		w := fx.Webhook(fmt.Sprint("body ", i))
		w.ID, w.ReceivedAt = IDAt(t, at), at.UTC()
		Must(t, st.SaveWebhook(ctx, w, nil))
		ws = append(ws, w)
	}
	hasBody := func() []bool {
		t.Helper()
		var out []bool
		for _, w := range ws {
			got, err := st.GetWebhook(ctx, w.ID)
			Must(t, err)
			out = append(out, got.Request.Body != nil)
		}
		return out
	}

	if _, err := st.Purge(ctx, relay.Purge{Kind: "everything", BucketID: fx.Bucket.ID, Before: before}); err == nil {
		t.Error("Purge of an unknown kind succeeded")
	}
	res, err := st.Purge(ctx, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID})
	Must(t, err)
	if res.Webhooks != 0 || res.More {
		t.Errorf("Purge without Before = %+v, want nothing", res)
	}
	// From the cursor: the webhooks after the third.
	res, err = st.Purge(ctx, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: before, After: ws[2].ID, Limit: 10})
	Must(t, err)
	if res.Webhooks != 2 || res.More {
		t.Errorf("Purge after the third = %+v, want 2 webhooks and no more", res)
	}
	if got, want := hasBody(), []bool{true, true, true, false, false, true, true}; !reflect.DeepEqual(got, want) {
		t.Errorf("bodies kept after purging from the cursor = %v, want %v", got, want)
	}
	// In batches of two: full batches say there may be more.
	p := relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: before, Limit: 2}
	var batches []relay.PurgeResult
	for {
		res, err := st.Purge(ctx, p)
		Must(t, err)
		batches = append(batches, res)
		if !res.More || len(batches) > 10 {
			break
		}
		if res.Next == "" || res.Next <= p.After {
			t.Fatalf("batch %d: cursor %q does not move on from %q", len(batches), res.Next, p.After)
		}
		p.After = res.Next
	}
	total := 0
	for _, b := range batches {
		total += b.Webhooks
	}
	if total != 3 || batches[0].Webhooks != 2 || !batches[0].More {
		t.Errorf("batches %+v, want 3 webhooks, 2 in a first full batch", batches)
	}
	if got, want := hasBody(), []bool{false, false, false, false, false, true, true}; !reflect.DeepEqual(got, want) {
		t.Errorf("bodies kept after purging before %v = %v, want %v", before, got, want)
	}
}
