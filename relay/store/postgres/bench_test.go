package postgres

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// benchPools are the pool sizes the benchmarks run with: pgxpool's
// default (the larger of 4 and the number of CPUs) and a larger one.
var benchPools = []int{0, 16}

// benchStore opens a store in a new schema with a pool of conns
// connections (0: the default).
func benchStore(b *testing.B, conns int) *Store {
	b.Helper()
	dsn := pgtest.DSN(b)
	if conns > 0 {
		dsn += fmt.Sprintf("&pool_max_conns=%d", conns)
	}
	return openAt(b, dsn, storetest.Sealer(b, 1), Options{})
}

// BenchmarkSaveWebhook saves webhooks with a 2 KB body and one delivery
// from 16 goroutines per CPU, as relay/store/sqlite's benchmark of the
// same name does: the delivery stored leased (the relay's hot path) or
// unclaimed (the relay is behind; the nodes are notified).
func BenchmarkSaveWebhook(b *testing.B) {
	for _, bench := range []struct {
		conns  int
		leased bool
	}{{0, true}, {16, true}, {0, false}, {16, false}} {
		name := fmt.Sprintf("conns=%d/leased", bench.conns)
		if !bench.leased {
			name = fmt.Sprintf("conns=%d/unclaimed", bench.conns)
		}
		conns, leased := bench.conns, bench.leased
		b.Run(name, func(b *testing.B) {
			st := benchStore(b, conns)
			storetest.BenchSaveWebhook(b, st, st.SaveWebhook, leased)
		})
	}
}

// BenchmarkRecordAttempt records the successful first attempt of stored
// deliveries, from 16 goroutines per CPU.
func BenchmarkRecordAttempt(b *testing.B) {
	for _, conns := range benchPools {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			st := benchStore(b, conns)
			fx := storetest.NewFixture(b, st, "bench", false)
			ctx := context.Background()
			ds := make(chan *relay.Delivery, b.N)
			for range b.N {
				d := &relay.Delivery{OutputID: fx.Out1.ID}
				if err := st.SaveWebhook(ctx, fx.Webhook("x"), []*relay.Delivery{d}); err != nil {
					b.Fatal(err)
				}
				ds <- d
			}
			close(ds)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := <-ds
					d.State, d.Attempts, d.LastStatus = relay.DeliverySucceeded, 1, 200
					if err := st.RecordAttempt(ctx, d, &relay.Attempt{N: 1, Status: 200, DurationMS: 0.3,
						ResponseHeader: http.Header{"Content-Type": {"text/plain"}}, ResponseBody: []byte("ok")}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "attempts/s")
		})
	}
}

// BenchmarkWebhookLifecycle is storetest.BenchWebhookLifecycle, the
// delivery stored under a lease, for each pool size (the same as
// relay/store/sqlite's benchmark of the same name).
func BenchmarkWebhookLifecycle(b *testing.B) {
	for _, conns := range benchPools {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			storetest.BenchWebhookLifecycle(b, benchStore(b, conns), true)
		})
	}
}
