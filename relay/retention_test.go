package relay_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

func TestParseAge(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"72h", 72 * time.Hour, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"1m30s", 90 * time.Second, false},
		{"1h", time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"-1h", 0, true},
		{"3x", 0, true},
		{"d", 0, true},
		{"-2d", 0, true},
	} {
		got, err := relay.ParseAge(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
		if err == nil {
			if back, _ := relay.ParseAge(relay.FormatAge(got)); back != got {
				t.Errorf("FormatAge(%v) = %q does not parse back", got, relay.FormatAge(got))
			}
		}
	}
}

func TestRetentionPolicyRules(t *testing.T) {
	def := relay.Retention{Payload: 72 * time.Hour, Metadata: 30 * 24 * time.Hour}
	for _, c := range []struct {
		own, want relay.Retention
	}{
		{relay.Retention{}, def},
		{relay.Retention{Payload: time.Hour}, relay.Retention{Payload: time.Hour, Metadata: def.Metadata}},
		// A metadata age shorter than the default payload age cuts it.
		{relay.Retention{Metadata: 24 * time.Hour}, relay.Retention{Payload: 24 * time.Hour, Metadata: 24 * time.Hour}},
	} {
		if got := c.own.Or(def).Effective(); got != c.want {
			t.Errorf("%+v: effective %+v, want %+v", c.own, got, c.want)
		}
	}
	err := relay.Retention{Payload: 48 * time.Hour, Metadata: 24 * time.Hour}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "payload: ") {
		t.Errorf("Validate of a payload outliving its metadata = %v", err)
	}
}

// TestPurger runs the purge over a real store with the clock moved
// forward: payloads go at their age, rows at theirs, and the counts and
// the metric say so.
func TestPurger(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	if err := st.CreateBucket(ctx, &relay.Bucket{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	short, in := bucketWithInput(t, st, "short")
	if err := st.SetRetention(ctx, short.ID, relay.Retention{Payload: time.Hour, Metadata: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		w := &relay.Webhook{BucketID: short.ID, InputID: in.ID, Status: 200, Request: relay.HTTPRequest{
			Method: "POST", Header: http.Header{"X-Secret": {"s"}}, Body: []byte("payload")}}
		if err := st.SaveWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	var offset atomic.Int64
	reg := prometheus.NewRegistry()
	p, err := relay.NewPurger(relay.PurgerOptions{
		Store: st, Retention: st, Registerer: reg, Batch: 2,
		// The server's default keeps "kept" forever.
		Default: relay.Retention{},
		Now:     func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func() relay.RetentionStatus {
		t.Helper()
		if err := p.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return p.Status()
	}
	if s := run(); s.Purged[relay.PurgePayload] != 0 || s.Purged[relay.PurgeMetadata] != 0 {
		t.Fatalf("fresh webhooks purged: %+v", s.Purged)
	}
	offset.Store(int64(90 * time.Minute))
	s := run()
	if s.Purged[relay.PurgePayload] != 5 || s.Purged[relay.PurgeMetadata] != 0 || s.LastRun.IsZero() || s.LastError != "" {
		t.Fatalf("after 90 minutes: %+v", s)
	}
	for _, id := range ids {
		w, err := st.GetWebhook(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if w.Request.Body != nil || w.Request.Header != nil {
			t.Fatalf("webhook %s kept its payload: %+v", id, w.Request)
		}
	}
	offset.Store(int64(3 * time.Hour))
	s = run()
	if s.Purged[relay.PurgeMetadata] != 5 {
		t.Fatalf("after 3 hours: %+v", s.Purged)
	}
	for _, id := range ids {
		if _, err := st.GetWebhook(ctx, id); err == nil {
			t.Fatalf("webhook %s still there after its metadata age", id)
		}
	}
	got := map[string]relay.BucketRetention{}
	for _, b := range s.Buckets {
		got[b.Bucket] = b
	}
	if got["short"].Purged[relay.PurgeMetadata] != 5 || !got["kept"].Effective.IsZero() {
		t.Fatalf("buckets = %+v", s.Buckets)
	}
	metric := metricSeries(t, reg, "relayfn_retention_purged_total")
	if metric["payload"] != 5 || metric["metadata"] != 5 {
		t.Fatalf("relayfn_retention_purged_total = %v, want 5 of each kind", metric)
	}

	// A deleted bucket's webhooks go at the next run, in batches, and
	// count as deleted.
	doomed, din := bucketWithInput(t, st, "doomed")
	for range 5 {
		w := &relay.Webhook{BucketID: doomed.ID, InputID: din.ID, Status: 200, Request: relay.HTTPRequest{Method: "POST"}}
		if err := st.SaveWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	if err := st.DeleteBucket(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	s = run()
	if s.Purged[relay.PurgeDeleted] != 5 || s.LastPurged[relay.PurgeDeleted] != 5 || s.LastPurged[relay.PurgeMetadata] != 0 {
		t.Fatalf("after deleting a bucket of 5 webhooks: purged %v, last run %v", s.Purged, s.LastPurged)
	}
	var left int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM webhooks`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d webhooks left, %v", left, err)
	}
	if s = run(); s.LastPurged[relay.PurgeDeleted] != 0 {
		t.Fatalf("a run with nothing deleted purged %v", s.LastPurged)
	}

	// Start and Stop: the loop runs at once, and stops.
	before := p.Status().LastRun
	p.Start(ctx)
	relaytest.WaitFor(t, "the started purge's first run", func() bool { return p.Status().LastRun.After(before) })
	p.Stop()
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", time.Hour: "1h", 90 * time.Minute: "1h30m", 48 * time.Hour: "2d", 25 * time.Hour: "25h",
		90 * time.Second: "1m30s", 2 * time.Minute: "2m", 1500 * time.Millisecond: "1.5s",
	} {
		if got := relay.FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
	}
}
