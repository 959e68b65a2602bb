package sqlite

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// pauseRows is the size of TestPurgePause and TestDeletePaged: small
// enough by default for CI; the README's numbers are of
// -pause-rows=100000.
var (
	pauseRows = flag.Int("pause-rows", 20_000, "webhooks per phase of TestPurgePause and TestDeletePaged")
	pauseIdle = flag.Duration("pause-idle", 10*time.Second, "how long TestPurgePause measures ingest alone first")
)

// TestPurgePause measures how long ingest waits while the retention
// purge empties the payloads of -pause-rows webhooks, deletes as many at
// their age, and removes what a deleted bucket of as many left, and how
// long DeleteBucket takes (storetest.RetentionPause).
func TestPurgePause(t *testing.T) {
	if testing.Short() {
		t.Skip("many rows")
	}
	storetest.RetentionPause(t, func(t *testing.T) storetest.Store {
		st, _ := newStore(t)
		return st
	}, storetest.PauseOptions{Rows: *pauseRows, Fill: func(ctx context.Context, ps storetest.Store, f *storetest.PauseFixture, n int, at time.Time) error {
		fillRows(t, ps.(*Store), f.Bucket.ID, f.Input.ID, f.Output.ID, n, at)
		return nil
	}, Idle: *pauseIdle})
}

// purgeBatch is the relay's default batch size.
var purgeBatch = relay.DefaultPurgeBatch

// fill stores rows finished webhooks of fx received at old, directly:
// 1 KiB bodies, 200-byte headers, one delivery each with a 512-byte answer.
func fill(t *testing.T, st *Store, fx *storetest.Fixture, rows int, old time.Time) {
	fillRows(t, st, fx.Bucket.ID, fx.Input.ID, fx.Out1.ID, rows, old)
}

// fillRows is fill, for a bucket, input and output given by ID.
func fillRows(t *testing.T, st *Store, bucketID, inputID, outputID string, rows int, old time.Time) {
	ctx := context.Background()
	_, err := st.wdb.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
		INSERT INTO webhooks (id, bucket_id, input_id, received_at, method, headers, body)
		SELECT printf('%08x-%04x-7000-8000-%012x', ? >> 16, ? & 65535, i), ?, ?, ?, 'POST', randomblob(200), randomblob(1024) FROM c`,
		rows, old.UnixMilli(), old.UnixMilli(), bucketID, inputID, unixtime.Nanos(old))
	must(t, err)
	_, err = st.wdb.ExecContext(ctx, `INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, attempts, created_at, updated_at,
			attempt_n, attempt_status, attempt_response_headers, attempt_response_body)
		SELECT 'd' || id, id, bucket_id, ?, 'succeeded', 1, received_at, received_at, 1, 200, randomblob(100), randomblob(512) FROM webhooks WHERE bucket_id = ?`,
		outputID, bucketID)
	must(t, err)
}

// measureWrites runs during while a writer stores webhooks of fx one
// after another, and reports the writer's waits.
func measureWrites(t *testing.T, st *Store, fx *storetest.Fixture, name string, during func()) {
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		waits []time.Duration
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if err := st.SaveWebhook(ctx, fx.Webhook("concurrent"), []*relay.Delivery{{OutputID: fx.Out2.ID}}); err != nil {
				t.Error(err)
				return
			}
			waits = append(waits, time.Since(start))
		}
	}()
	start := time.Now()
	during()
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	slices.Sort(waits)
	longest, over := time.Duration(0), 0
	for _, w := range waits {
		if w > 50*time.Millisecond {
			over++
		}
	}
	p99 := time.Duration(0)
	if len(waits) > 0 {
		longest, p99 = waits[len(waits)-1], waits[len(waits)*99/100]
	}
	t.Logf("%s: %v; concurrent writer: %d webhooks stored, wait p99 %v, longest %v, %d waits over 50ms",
		name, elapsed.Round(time.Millisecond), len(waits), p99.Round(100*time.Microsecond), longest.Round(100*time.Microsecond), over)
}

// TestDeletePaged deletes an output of -pause-rows deliveries while a
// writer stores webhooks of another bucket, then purges what it left, and
// reports the writer's waits. (TestPurgePause does the same for a
// bucket.)
func TestDeletePaged(t *testing.T) {
	if testing.Short() {
		t.Skip("many rows")
	}
	rows := *pauseRows
	st, _ := newStore(t)
	ctx := context.Background()
	out := storetest.NewFixture(t, st, "out", false)
	other := storetest.NewFixture(t, st, "other", false)
	fill(t, st, out, rows, time.Now().Add(-2*time.Hour))
	measureWrites(t, st, other, fmt.Sprintf("deleting an output of %d deliveries (the call)", rows), func() {
		must(t, st.DeleteOutput(ctx, out.Out1.ID))
	})
	_, err := st.GetOutput(ctx, out.Out1.ID)
	wantNotFound(t, err)
	if ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{BucketID: out.Bucket.ID}); err != nil || len(ds) != 0 {
		t.Fatalf("the deleted output's deliveries list: %d, %v", len(ds), err)
	}
	var deleted int
	measureWrites(t, st, other, "purging what the deleted output left", func() {
		_, deleted = storetest.SweepDeleted(t, st, purgeBatch)
	})
	if deleted != rows {
		t.Fatalf("PurgeDeleted removed %d deliveries, want %d", deleted, rows)
	}
	if c := count(t, st, "deliveries", "output_id = ?", out.Out1.ID); c != 0 {
		t.Fatalf("%d deliveries of the deleted output left", c)
	}
	if c := count(t, st, "webhooks", "bucket_id = ?", out.Bucket.ID); c != rows {
		t.Fatalf("the output's bucket has %d webhooks, want %d", c, rows)
	}
}

// TestPayloadGoneFromFiles: the relay's purge, with the clock moved past
// a bucket's payload age, leaves no trace of the payload in the database
// files (db, -wal, -shm, after a checkpoint): neither the path (stored in
// plaintext) nor the ciphertext of the body, headers, query, logs and
// the destination's answer, of several attempts. The metadata stays until
// its own age; then the webhook goes.
func TestPayloadGoneFromFiles(t *testing.T) {
	st, path := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "log", false)
	other := storetest.NewFixture(t, st, "other", false)
	must(t, st.SetRetention(ctx, fx.Bucket.ID, relay.Retention{Payload: time.Hour, Metadata: 2 * time.Hour}))
	marker := "payload-marker-" + uuid.NewString()

	save := func(f *storetest.Fixture) (*relay.Webhook, []*relay.Delivery) {
		w := f.Webhook(marker + "-body")
		w.Request.Path = "/" + marker + "/path"
		w.Request.RawQuery = "q=" + marker
		w.Request.Header.Set("X-Marker", marker)
		w.Logs = []string{"log " + marker}
		w.Answer = relay.Answer{Header: http.Header{"X-Answer": {marker}}, BodySize: 10}
		ds := f.Deliveries()
		must(t, st.SaveWebhook(ctx, w, ds))
		for _, d := range ds {
			for i := range 2 { // the first attempt moves to the attempts table
				d.Attempts = i + 1
				d.State = relay.DeliveryPending
				if i == 1 {
					d.State = relay.DeliverySucceeded
				}
				must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500 - 300*i, Logs: []string{"attempt " + marker},
					ResponseHeader: http.Header{"X-Dest": {marker}}, ResponseBody: []byte("answer " + marker)}))
			}
		}
		return w, ds
	}
	w, _ := save(fx)
	kept, _ := save(other)

	// The sealed values, as stored.
	var sealed [][]byte
	for _, q := range []string{
		`SELECT body FROM webhooks WHERE id = ?1`, `SELECT headers FROM webhooks WHERE id = ?1`,
		`SELECT raw_query FROM webhooks WHERE id = ?1`, `SELECT logs FROM webhooks WHERE id = ?1`,
		`SELECT answer_headers FROM webhooks WHERE id = ?1`,
		`SELECT attempt_response_body FROM deliveries WHERE webhook_id = ?1`,
		`SELECT attempt_response_headers FROM deliveries WHERE webhook_id = ?1`,
		`SELECT attempt_logs FROM deliveries WHERE webhook_id = ?1`,
		`SELECT a.response_body FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = ?1`,
		`SELECT a.logs FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = ?1`,
	} {
		rows, err := st.DB().Query(q, w.ID)
		must(t, err)
		for rows.Next() {
			var b []byte
			must(t, rows.Scan(&b))
			if len(b) < 16 {
				t.Fatalf("%s: sealed value %x", q, b)
			}
			sealed = append(sealed, b)
		}
		must(t, rows.Close())
	}
	if len(sealed) != 15 {
		t.Fatalf("%d sealed values, want 15", len(sealed))
	}
	files := func() map[string][]byte {
		t.Helper()
		_, err := st.cdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		must(t, err)
		m := map[string][]byte{}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			m[p] = b
		}
		return m
	}
	// Before the purge the path is there (the other bucket keeps it).
	if fs := files(); !bytes.Contains(fs[path], []byte(marker)) {
		t.Fatal("the marker is not in the database before the purge: the test looks in the wrong place")
	}

	var offset atomic.Int64
	p, err := relay.NewPurger(relay.PurgerOptions{Store: st, Retention: st,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	must(t, err)
	offset.Store(int64(90 * time.Minute))
	must(t, p.Run(ctx))
	if n := p.Status().LastPurged[relay.PurgePayload]; n != 1 {
		t.Fatalf("payload purge: %d webhooks, want 1", n)
	}
	// The other bucket keeps its webhook whole: its path holds the marker
	// too, so it goes first, to look for the purged one's.
	must(t, st.DeleteBucket(ctx, other.Bucket.ID))
	must(t, p.Run(ctx))
	if n := p.Status().LastPurged[relay.PurgeDeleted]; n != 1 {
		t.Fatalf("deleted purge: %d, want 1 (the other bucket's webhook)", n)
	}
	_, err = st.GetWebhook(ctx, kept.ID)
	wantNotFound(t, err)

	got, err := st.GetWebhook(ctx, w.ID)
	must(t, err)
	if got.Request.Body != nil || got.Request.Path != "" || got.Status != 200 || !got.ReceivedAt.Equal(w.ReceivedAt) {
		t.Fatalf("after the payload age: %+v, want the metadata only", got)
	}
	for name, b := range files() {
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s still holds the marker", name)
		}
		for i, s := range sealed {
			if bytes.Contains(b, s) {
				t.Errorf("%s still holds sealed value %d", name, i)
			}
		}
	}

	offset.Store(int64(3 * time.Hour))
	must(t, p.Run(ctx))
	if n := p.Status().LastPurged[relay.PurgeMetadata]; n != 1 {
		t.Fatalf("metadata purge: %d webhooks, want 1", n)
	}
	_, err = st.GetWebhook(ctx, w.ID)
	wantNotFound(t, err)
	for _, table := range []string{"webhooks", "deliveries", "attempts"} {
		if n := count(t, st, table, ""); n != 0 {
			t.Errorf("%d %s rows left", n, table)
		}
	}
}

// TestDeleteBucketWhileStoring deletes a bucket while webhooks of it are
// being stored: each store either succeeds before the deletion or fails
// with not found after it; none of them shows afterwards, and one sweep
// of PurgeDeleted leaves nothing of the bucket.
func TestDeleteBucketWhileStoring(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "doomed", false)
	var wg sync.WaitGroup
	var stored atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := st.SaveWebhook(ctx, fx.Webhook("x"), fx.Deliveries())
				if err != nil {
					if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("SaveWebhook after the deletion: %v, want not found", err)
					}
					return
				}
				stored.Add(1)
			}
		}()
	}
	for stored.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	must(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	wg.Wait()
	if ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{Limit: 1 << 20}); err != nil || len(ws) != 0 {
		t.Fatalf("ListWebhooks after the deletion: %d, %v", len(ws), err)
	}
	if ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{Limit: 1 << 20}); err != nil || len(ds) != 0 {
		t.Fatalf("ListDeliveries after the deletion: %d, %v", len(ds), err)
	}
	w, _ := storetest.SweepDeleted(t, st, 2)
	if int64(w) != stored.Load() {
		t.Errorf("PurgeDeleted removed %d webhooks, want the %d stored", w, stored.Load())
	}
	for _, table := range []string{"webhooks", "deliveries", "attempts", "deleted_owners"} {
		if n := count(t, st, table, ""); n != 0 {
			t.Errorf("%d %s rows left", n, table)
		}
	}
}

// TestPurgeErasesCiphertext: a purged payload's ciphertext is gone from
// the database file and its WAL, not only from the rows.
func TestPurgeErasesCiphertext(t *testing.T) {
	st, path := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "log", false)
	old := time.Now().Add(-2 * time.Hour)
	w := fx.Webhook("old-and-done-0123456789")
	w.ID, w.ReceivedAt = storetest.IDAt(t, old), old.UTC()
	must(t, st.SaveWebhook(ctx, w, nil))
	var sealed []byte
	must(t, st.DB().QueryRow(`SELECT body FROM webhooks WHERE id = ?`, w.ID).Scan(&sealed))
	if len(sealed) < 16 {
		t.Fatalf("sealed body = %x", sealed)
	}
	if n := storetest.PurgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: fx.Bucket.ID, Before: time.Now().Add(-time.Hour)}); n != 1 {
		t.Fatalf("payload purge = %d webhooks, want 1", n)
	}
	_, err := st.cdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	must(t, err)
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, sealed) {
			t.Errorf("%s still holds the purged body's ciphertext", p)
		}
	}
}

// A sweep of what deleted buckets left reads the live records between and
// after them a window at a time: it removes every webhook of the deleted
// buckets, however many live ones lie between, and no live one.
func TestSweepReadsInWindows(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	before := storetest.NewFixture(t, st, "before", false)
	live := storetest.NewFixture(t, st, "live", false)
	after := storetest.NewFixture(t, st, "after", false)
	const doomed, kept = 5, 2*scanWindow + 10
	fill(t, st, before, doomed, base)
	fill(t, st, live, kept, base.Add(time.Second))
	fill(t, st, after, doomed, base.Add(2*time.Second))
	must(t, st.DeleteBucket(ctx, before.Bucket.ID))
	must(t, st.DeleteBucket(ctx, after.Bucket.ID))

	calls, deleted := purgeAll(t, st, relay.Purge{Kind: relay.PurgeDeleted, Limit: purgeBatch})
	if deleted != 2*doomed {
		t.Fatalf("the sweep deleted %d webhooks, want %d", deleted, 2*doomed)
	}
	for _, fx := range []*storetest.Fixture{before, after} {
		if c := count(t, st, "webhooks", "bucket_id = ?", fx.Bucket.ID); c != 0 {
			t.Fatalf("%d webhooks of the deleted bucket %s left", c, fx.Bucket.Name)
		}
	}
	if c := count(t, st, "webhooks", "bucket_id = ?", live.Bucket.ID); c != kept {
		t.Fatalf("the live bucket has %d webhooks, want %d", c, kept)
	}
	// One call per window at least: 2*scanWindow+20 webhooks in all.
	if calls < 3 {
		t.Fatalf("the sweep took %d calls, want one per window of %d (at least 3)", calls, scanWindow)
	}
}

// A bucket's purge reads the other buckets' webhooks that lie in its age
// range a window at a time, and purges only its own.
func TestPurgeReadsInWindows(t *testing.T) {
	st, _ := newStore(t)
	base := time.Now().Add(-time.Hour)
	own := storetest.NewFixture(t, st, "own", false)
	other := storetest.NewFixture(t, st, "other", false)
	const mine, others = 5, 2*scanWindow + 10
	fill(t, st, own, mine, base)
	fill(t, st, other, others, base.Add(time.Second))
	for _, kind := range []relay.PurgeKind{relay.PurgePayload, relay.PurgeMetadata} {
		calls, purged := purgeAll(t, st, relay.Purge{Kind: kind, BucketID: own.Bucket.ID, Before: time.Now(), Limit: purgeBatch})
		if purged != mine || calls < 3 {
			t.Fatalf("%s: %d webhooks purged in %d calls, want %d in one call per window of %d (at least 3)", kind, purged, calls, mine, scanWindow)
		}
	}
	if c := count(t, st, "webhooks", "bucket_id = ?", own.Bucket.ID); c != 0 {
		t.Fatalf("%d webhooks of the purged bucket left", c)
	}
	if c := count(t, st, "webhooks", "bucket_id = ? AND body IS NOT NULL", other.Bucket.ID); c != others {
		t.Fatalf("the other bucket has %d webhooks with their payload, want %d", c, others)
	}
}

// purgeAll runs Purge batches from p until one says there is no more,
// and returns how many it ran and the webhooks they purged.
func purgeAll(t *testing.T, st *Store, p relay.Purge) (calls, webhooks int) {
	t.Helper()
	for {
		res, err := st.Purge(context.Background(), p)
		must(t, err)
		calls++
		webhooks += res.Webhooks
		if !res.More {
			return calls, webhooks
		}
		// A sweep's cursor names its phase first; a bucket's is an ID.
		if p.Kind != relay.PurgeDeleted && res.Next <= p.After {
			t.Fatalf("%s: the cursor %q does not move on from %q", p.Kind, res.Next, p.After)
		}
		p.After = res.Next
	}
}
