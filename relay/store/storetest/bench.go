package storetest

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

// BenchWebhookLifecycle benchmarks the relay's write pattern for one
// webhook with one output whose destination answers at once: SaveWebhook,
// then RecordAttempt of a successful first attempt, each goroutine doing
// both in turn (as a sender and then a delivery worker would), 16
// goroutines per CPU. With leased, the delivery is stored under a lease
// (as a node that delivers at once stores it) and the attempt recorded
// under it. It reports webhooks/s.
func BenchWebhookLifecycle(b *testing.B, st relay.Store, leased bool) {
	body := []byte(`{"action":"opened","number":42,"repository":{"full_name":"mona/demo"},"sender":{"login":"mona"}}`)
	fx := NewFixture(b, st, "bench", false)
	ctx := context.Background()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := &relay.Webhook{
				BucketID: fx.Bucket.ID,
				InputID:  fx.Input.ID,
				Request: relay.HTTPRequest{
					Method: http.MethodPost, Path: "/hooks",
					Header: http.Header{"Content-Type": {"application/json"}, "X-Relayed": {"1"}},
					Body:   body,
				},
				Status: 200,
			}
			d := &relay.Delivery{OutputID: fx.Out1.ID}
			if leased {
				d.LeaseOwner, d.LeaseID, d.LeaseUntil = "bench", relay.NewRecordID(), time.Now().Add(time.Minute)
			}
			if err := st.SaveWebhook(ctx, w, []*relay.Delivery{d}); err != nil {
				b.Error(err)
				return
			}
			d.State, d.Attempts, d.LastStatus = relay.DeliverySucceeded, 1, 200
			if err := st.RecordAttempt(ctx, d, &relay.Attempt{N: 1, Status: 200, DurationMS: 0.3}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
}

// BenchSaveWebhook benchmarks save (st's SaveWebhook, or a variant of it)
// of webhooks with a 2 KB body and one delivery, from 16 goroutines per
// CPU, as an HTTP server's callers. With leased, the delivery is stored
// under a lease (the relay's hot path); without, unclaimed. It reports
// webhooks/s.
func BenchSaveWebhook(b *testing.B, st relay.Store, save func(context.Context, *relay.Webhook, []*relay.Delivery) error, leased bool) {
	body := bytes.Repeat([]byte("x"), 2048)
	fx := NewFixture(b, st, "bench", false)
	ctx := context.Background()
	b.SetParallelism(16)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := &relay.Webhook{
				BucketID: fx.Bucket.ID,
				InputID:  fx.Input.ID,
				Request: relay.HTTPRequest{
					Method: http.MethodPost, Path: "/", RawQuery: "a=1",
					Header: http.Header{"Content-Type": {"application/json"}, "X-Signature": {"sha256=0123456789abcdef"}},
					Body:   body,
				},
				Status: 200,
			}
			d := &relay.Delivery{OutputID: fx.Out1.ID}
			if leased {
				d.LeaseOwner, d.LeaseID, d.LeaseUntil = "bench", "lease", time.Now().Add(time.Minute)
			}
			if err := save(ctx, w, []*relay.Delivery{d}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
}
