package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
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
	return s.inTx(ctx, s.onSQL(fn))
}

// BenchmarkSaveWebhook saves webhooks with a 2 KB body and one delivery
// from parallel goroutines, with group commit and with one transaction per
// webhook, under both synchronous settings.
func BenchmarkSaveWebhook(b *testing.B) {
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
				storetest.BenchSaveWebhook(b, st, func(ctx context.Context, w *relay.Webhook, ds []*relay.Delivery) error {
					return m.save(st, ctx, w, ds)
				}, false)
			})
		}
	}
}

// BenchmarkWebhookLifecycle is storetest.BenchWebhookLifecycle, with
// group commit.
func BenchmarkWebhookLifecycle(b *testing.B) {
	storetest.BenchWebhookLifecycle(b, openAt(b, filepath.Join(b.TempDir(), "bench.db"), storetest.Sealer(b, 1)), false)
}

// BenchmarkGetWebhook reads stored webhooks (2 KB bodies, sealed) by ID
// from parallel goroutines, as the delivery engine reloads requests: with
// the statement prepared at Open (GetWebhook), and, as the baseline, with
// the same query prepared for every call.
func BenchmarkGetWebhook(b *testing.B) {
	st := openAt(b, filepath.Join(b.TempDir(), "bench.db"), storetest.Sealer(b, 1))
	ctx := context.Background()
	fx := storetest.NewFixture(b, st, "get", false)
	body := make([]byte, 2048)
	ids := make([]string, 1000)
	for i := range ids {
		w := fx.Webhook("bench")
		w.Request.Body = body
		if err := st.SaveWebhook(ctx, w, []*relay.Delivery{{OutputID: fx.Out1.ID}}); err != nil {
			b.Fatal(err)
		}
		ids[i] = w.ID
	}
	modes := []struct {
		name string
		get  func(id string) (*relay.Webhook, error)
	}{
		{"prepared", func(id string) (*relay.Webhook, error) { return st.GetWebhook(ctx, id) }},
		{"unprepared", func(id string) (*relay.Webhook, error) {
			return st.scanWebhook(st.rdb.QueryRowContext(ctx, qGetWebhook, id), id)
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[int(next.Add(1))%len(ids)]
					if w, err := m.get(id); err != nil || w.ID != id || len(w.Request.Body) != len(body) {
						b.Errorf("get %s: %v", id, err)
						return
					}
				}
			})
		})
	}
}
