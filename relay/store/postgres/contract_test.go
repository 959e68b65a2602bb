package postgres_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/postgres"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// TestContract runs the stores' contract suite on PostgreSQL: each test
// in a schema of its own. The concurrent claims go through two stores
// opened on one schema, as two nodes would.
func TestContract(t *testing.T) {
	storetest.RunOptions(t, func(t *testing.T) storetest.Store {
		return openPG(t, pgtest.DSN(t))
	}, storetest.Options{
		Pair: func(t *testing.T) (storetest.Store, storetest.Store) {
			dsn := pgtest.DSN(t)
			return openPG(t, dsn), openPG(t, dsn)
		},
	})
}

// openPG opens a store on dsn, closed when t ends.
func openPG(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	sl, err := seal.New(bytes.Repeat([]byte{1}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), dsn, sl, postgres.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// pauseRows is the size of TestPurgePause: small enough by default for
// CI; the README's numbers are of -pause-rows=100000.
var (
	pauseRows = flag.Int("pause-rows", 20_000, "webhooks per phase of TestPurgePause")
	pauseIdle = flag.Duration("pause-idle", 10*time.Second, "how long TestPurgePause measures ingest alone first")
)

// TestPurgePause measures how long ingest waits on PostgreSQL while the
// retention purge empties the payloads of -pause-rows webhooks, deletes
// as many at their age, and removes what a deleted bucket of as many
// left (storetest.RetentionPause, as the SQLite store runs it).
func TestPurgePause(t *testing.T) {
	if testing.Short() {
		t.Skip("many rows")
	}
	dsn := pgtest.DSN(t)
	waits := sampleWaits(t, dsn)
	storetest.RetentionPause(t, func(t *testing.T) storetest.Store {
		return openPG(t, dsn)
	}, storetest.PauseOptions{Rows: *pauseRows, Fill: fillRows, Idle: *pauseIdle, Explain: waits.explain})
	if n := waits.lockWaits(); len(n) > 0 {
		t.Logf("backends seen waiting on a lock (samples 2 ms apart): %v", n)
	} else {
		t.Logf("no backend seen waiting on a lock")
	}
}

// fillRows stores n finished webhooks of f received at at, directly:
// 1 KiB bodies, 200-byte headers, one succeeded delivery each with a
// 512-byte answer, IDs time-ordered at at.
func fillRows(ctx context.Context, ps storetest.Store, f *storetest.PauseFixture, n int, at time.Time) error {
	pool := ps.(*postgres.Store).Pool()
	ms := at.UnixMilli()
	_, err := pool.Exec(ctx, `INSERT INTO webhooks (id, bucket_id, input_id, received_at, method, headers, body)
		SELECT lpad(to_hex($2::bigint >> 16), 8, '0') || '-' || lpad(to_hex($2::bigint & 65535), 4, '0') || '-7000-8000-' || lpad(to_hex(i), 12, '0'),
			$3, $4, $5, 'POST', decode(repeat('ab', 200), 'hex'), decode(repeat('cd', 1024), 'hex')
		FROM generate_series(0, $1::int - 1) i`, n, ms, f.Bucket.ID, f.Input.ID, at.UnixNano())
	if err != nil {
		return fmt.Errorf("fill webhooks: %w", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, attempts, created_at, updated_at,
			attempt_n, attempt_status, attempt_response_headers, attempt_response_body)
		SELECT 'd' || id, id, bucket_id, $1, 'succeeded', 1, received_at, received_at, 1, 200,
			decode(repeat('ef', 100), 'hex'), decode(repeat('01', 512), 'hex')
		FROM webhooks WHERE bucket_id = $2`, f.Output.ID, f.Bucket.ID)
	if err != nil {
		return fmt.Errorf("fill deliveries: %w", err)
	}
	return nil
}
