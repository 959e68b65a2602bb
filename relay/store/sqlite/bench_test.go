package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// saveWebhookOneTx is the baseline SaveWebhook: the same write in a
// transaction of its own, without group commit.
func (s *Store) saveWebhookOneTx(ctx context.Context, w *relay.Webhook, ds []*relay.Delivery) error {
	fn, err := s.saveWebhookFunc(w, ds)
	if err != nil {
		return err
	}
	return s.inTx(ctx, fn)
}

// BenchmarkSaveWebhook saves webhooks with a 2 KB body and one delivery
// from parallel goroutines, with group commit and with one transaction per
// webhook, under both synchronous settings.
func BenchmarkSaveWebhook(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 2048)
	modes := []struct {
		name string
		save func(*Store, context.Context, *relay.Webhook, []*relay.Delivery) error
	}{
		{"group", (*Store).SaveWebhook},
		{"onetx", (*Store).saveWebhookOneTx},
	}
	for _, sync := range []string{"normal", "full"} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("sync=%s/%s", sync, m.name), func(b *testing.B) {
				dsn := filepath.Join(b.TempDir(), "bench.db") + "?synchronous=" + sync
				st := openAt(b, dsn, storetest.Sealer(b, 1))
				fx := storetest.NewFixture(b, st, "bench", false)
				ctx := context.Background()
				b.SetParallelism(16) // 16 × GOMAXPROCS concurrent callers, like an HTTP server's
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
						if err := m.save(st, ctx, w, []*relay.Delivery{{OutputID: fx.Out1.ID}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
			})
		}
	}
}

// BenchmarkWebhookLifecycle is storetest.BenchWebhookLifecycle, with
// group commit.
func BenchmarkWebhookLifecycle(b *testing.B) {
	storetest.BenchWebhookLifecycle(b, openAt(b, filepath.Join(b.TempDir(), "bench.db"), storetest.Sealer(b, 1)), false)
}
