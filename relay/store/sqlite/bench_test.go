package sqlite

import (
	"context"
	"fmt"
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
