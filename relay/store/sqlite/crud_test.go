package sqlite

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn     string
		name    string
		sync    string
		busy    int
		query   string
		wantErr string
	}{
		{dsn: "relay.db", name: "relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "/var/lib/relayfn/relay.db", name: "/var/lib/relayfn/relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "sqlite://relay.db", name: "relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "sqlite:///abs/relay.db", name: "/abs/relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "sqlite://my%20relay.db", name: "my relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "relay.db?synchronous=full", name: "relay.db", sync: "FULL", busy: defaultBusyTimeout},
		{dsn: "sqlite://relay.db?synchronous=Extra&busy_timeout=250", name: "relay.db", sync: "EXTRA", busy: 250},
		{dsn: "file:relay.db?cache=private&synchronous=full", name: "file:relay.db", sync: "FULL", busy: defaultBusyTimeout, query: "cache=private"},
		{dsn: "file:///abs/relay.db", name: "file:///abs/relay.db", sync: "NORMAL", busy: defaultBusyTimeout},
		{dsn: "relay.db?synchronous=sometimes", wantErr: "synchronous"},
		{dsn: "relay.db?busy_timeout=soon", wantErr: "busy_timeout"},
		{dsn: "", wantErr: "database file is required"},
		{dsn: ":memory:", wantErr: "in-memory"},
		{dsn: "sqlite://", wantErr: "database file is required"},
		{dsn: "file::memory:", wantErr: "in-memory"},
		{dsn: "file:x?mode=memory", wantErr: "in-memory"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			cfg, err := parseDSN(tt.dsn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.name != tt.name || cfg.synchronous != tt.sync || cfg.busyTimeout != tt.busy || cfg.query.Encode() != tt.query {
				t.Errorf("got name %q sync %q busy %d query %q; want %q %q %d %q",
					cfg.name, cfg.synchronous, cfg.busyTimeout, cfg.query.Encode(), tt.name, tt.sync, tt.busy, tt.query)
			}
		})
	}
}

func TestOpenSettings(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dsn  string
		sync int
	}{
		{dir + "/a.db", 1},
		{"sqlite://" + dir + "/b.db?synchronous=full", 2},
		{"file:" + dir + "/c.db?synchronous=extra", 3},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			st := openAt(t, tt.dsn, storetest.Sealer(t, 1))
			ctx := context.Background()
			conn, err := st.wdb.Conn(ctx)
			must(t, err)
			defer conn.Close()
			var mode string
			var sync, fk, busy int
			must(t, conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
			must(t, conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
			must(t, conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
			must(t, conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
			if mode != "wal" || sync != tt.sync || fk != 1 || busy != defaultBusyTimeout {
				t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal %d 1 %d",
					mode, sync, fk, busy, tt.sync, defaultBusyTimeout)
			}
			if _, err := st.DB().Exec(`DELETE FROM buckets`); err == nil {
				t.Error("the read pool accepted a write")
			}
		})
	}
}

func TestOpenRequiresSealer(t *testing.T) {
	if _, err := Open(context.Background(), t.TempDir()+"/x.db", nil); err == nil {
		t.Fatal("Open without a Sealer succeeded")
	}
}

func TestMigrations(t *testing.T) {
	st, path := newStore(t)
	var v int
	must(t, st.DB().QueryRow(`SELECT version FROM schema_version`).Scan(&v))
	if v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	must(t, st.Close())

	// Reopening applies nothing and keeps the version.
	st = openAt(t, path, storetest.Sealer(t, 1))
	must(t, st.DB().QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&v))
	if v != 1 {
		t.Fatalf("schema_version has %d rows, want 1", v)
	}
	_, err := st.wdb.Exec(`UPDATE schema_version SET version = version + 1`)
	must(t, err)
	must(t, st.Close())

	// A newer schema is refused.
	_, err = Open(context.Background(), path, storetest.Sealer(t, 1))
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: err = %v, want a version error", err)
	}
}

// TestDeleteBucketCascades: DeleteBucket takes the bucket's webhooks,
// deliveries and attempts with it, and nothing of another bucket.
func TestDeleteBucketCascades(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "doomed", false)
	keep := storetest.NewFixture(t, st, "kept", false)
	must(t, st.CreateToken(ctx, &relay.Token{BucketID: fx.Bucket.ID, SecretHash: "h"}))
	must(t, st.CreateToken(ctx, &relay.Token{SecretHash: "admin"}))
	for _, f := range []*storetest.Fixture{fx, keep} {
		ds := f.Deliveries()
		must(t, st.SaveWebhook(ctx, f.Webhook("x"), ds))
		// The first attempt moves to the attempts table when the second
		// is recorded.
		must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
		must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
	}

	doomed, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: fx.Bucket.ID})
	must(t, err)
	doomedDeliveries, err := st.ListDeliveries(ctx, relay.DeliveryFilter{BucketID: fx.Bucket.ID})
	must(t, err)
	if len(doomed) != 1 || len(doomedDeliveries) != 2 {
		t.Fatalf("before the deletion: %d webhooks, %d deliveries", len(doomed), len(doomedDeliveries))
	}

	must(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	wantNotFound(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	for _, table := range []string{"inputs", "outputs", "tokens", "bucket_retention"} {
		if n := count(t, st, table, "bucket_id = ?", fx.Bucket.ID); n != 0 {
			t.Errorf("%d %s rows of the deleted bucket remain", n, table)
		}
	}
	// The records stay until the purge, and no reader shows them.
	if n := count(t, st, "webhooks", "bucket_id = ?", fx.Bucket.ID); n != 1 {
		t.Errorf("%d webhooks of the deleted bucket before the purge, want 1 (hidden)", n)
	}
	wantHidden(t, st, fx, doomed[0].ID, ids(doomedDeliveries))
	// Its ID is not taken again until then: a bucket of that ID would
	// show the records as its own.
	again := &relay.Bucket{ID: fx.Bucket.ID, Name: "again"}
	if err := st.CreateBucket(ctx, again); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateBucket with a deleted bucket's ID before the purge: %v, want a conflict", err)
	}

	w, d := storetest.SweepDeleted(t, st, 2)
	if w != 1 || d != 0 {
		t.Errorf("PurgeDeleted removed %d webhooks and %d deliveries, want 1 and 0", w, d)
	}
	must(t, st.CreateBucket(ctx, again))
	if ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: again.ID}); err != nil || len(ws) != 0 {
		t.Fatalf("a new bucket of a deleted one's ID lists %d webhooks (%v), want none", len(ws), err)
	}
	for _, table := range []string{"inputs", "outputs", "tokens", "webhooks", "deliveries"} {
		if n := count(t, st, table, "bucket_id = ?", fx.Bucket.ID); n != 0 {
			t.Errorf("%d %s rows of the deleted bucket remain", n, table)
		}
		if n := count(t, st, table, "bucket_id = ?", keep.Bucket.ID); n == 0 && table != "tokens" {
			t.Errorf("the other bucket lost its %s", table)
		}
	}
	if n := count(t, st, "attempts", ""); n != 1 {
		t.Errorf("%d attempts remain, want the other bucket's 1", n)
	}
	if n := count(t, st, "tokens", "bucket_id IS NULL"); n != 1 {
		t.Errorf("%d admin tokens remain, want 1", n)
	}
	if n := count(t, st, "deleted_owners", ""); n != 0 {
		t.Errorf("%d deletions still recorded after the sweep", n)
	}
	if w, d := storetest.SweepDeleted(t, st, 2); w != 0 || d != 0 {
		t.Errorf("a second sweep removed %d webhooks and %d deliveries", w, d)
	}
}

// wantHidden checks that no reader shows the webhook webhookID, nor the
// deliveries ds, of fx's deleted bucket or outputs.
func wantHidden(t *testing.T, st *Store, fx *storetest.Fixture, webhookID string, ds []string) {
	t.Helper()
	ctx := context.Background()
	if webhookID != "" {
		_, err := st.GetWebhook(ctx, webhookID)
		wantNotFound(t, err)
		ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{Limit: 1000})
		must(t, err)
		for _, w := range ws {
			if w.ID == webhookID {
				t.Errorf("ListWebhooks shows webhook %s of a deleted bucket", w.ID)
			}
		}
	}
	for _, id := range ds {
		_, _, err := st.GetDelivery(ctx, id)
		wantNotFound(t, err)
	}
	listed, err := st.ListDeliveries(ctx, relay.DeliveryFilter{Limit: 1000})
	must(t, err)
	for _, d := range listed {
		if slices.Contains(ds, d.ID) {
			t.Errorf("ListDeliveries shows delivery %s of a deleted output", d.ID)
		}
	}
	stats, err := st.OutputStats(ctx)
	must(t, err)
	outs := []string{fx.Out1.ID}
	if webhookID != "" {
		outs = append(outs, fx.Out2.ID)
	}
	for _, o := range outs {
		if _, ok := stats[o]; ok {
			t.Errorf("OutputStats shows deleted output %s", o)
		}
	}
	_, ok, err := st.NextDue(ctx, outs)
	must(t, err)
	if ok {
		t.Error("NextDue finds a delivery of a deleted output")
	}
	quota := map[string]int{}
	for _, o := range outs {
		quota[o] = 100
	}
	claimed, err := st.ClaimDue(ctx, relay.Claim{Owner: "test", Now: time.Now().Add(time.Hour), Lease: time.Minute, Quota: quota})
	must(t, err)
	if len(claimed) != 0 {
		t.Errorf("ClaimDue claimed %d deliveries of deleted outputs", len(claimed))
	}
}

// TestDeleteOutputAndInput: DeleteOutput takes the output's deliveries
// with it.
func TestDeleteOutputAndInput(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "b", false)
	w := fx.Webhook("x")
	must(t, st.SaveWebhook(ctx, w, fx.Deliveries()))

	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{OutputID: fx.Out1.ID})
	must(t, err)
	must(t, st.DeleteOutput(ctx, fx.Out1.ID))
	wantNotFound(t, st.DeleteOutput(ctx, fx.Out1.ID))
	wantHidden(t, st, fx, "", ids(ds))
	// The webhook lists without the deleted output's delivery.
	ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: fx.Bucket.ID})
	must(t, err)
	if len(ws) != 1 || len(ws[0].Deliveries) != 1 || ws[0].Deliveries[relay.DeliveryPending] != 1 {
		t.Errorf("ListWebhooks after deleting an output = %+v", ws)
	}
	// Storing a delivery to the deleted output fails.
	wantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: w.ID, OutputID: fx.Out1.ID}}))
	if wh, d := storetest.SweepDeleted(t, st, 2); wh != 0 || d != 1 {
		t.Errorf("PurgeDeleted removed %d webhooks and %d deliveries, want 0 and 1", wh, d)
	}
	if n := count(t, st, "deliveries", "output_id = ?", fx.Out1.ID); n != 0 {
		t.Errorf("%d deliveries of the deleted output remain", n)
	}
	if n := count(t, st, "deliveries", "output_id = ?", fx.Out2.ID); n != 1 {
		t.Errorf("the other output has %d deliveries, want 1", n)
	}
}
