package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay"
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
			st := openAt(t, tt.dsn, testSealer(t, 1))
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
	st = openAt(t, path, testSealer(t, 1))
	must(t, st.DB().QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&v))
	if v != 1 {
		t.Fatalf("schema_version has %d rows, want 1", v)
	}
	_, err := st.wdb.Exec(`UPDATE schema_version SET version = version + 1`)
	must(t, err)
	must(t, st.Close())

	// A newer schema is refused.
	_, err = Open(context.Background(), path, testSealer(t, 1))
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: err = %v, want a version error", err)
	}
}

// TestDeleteBucketCascades: DeleteBucket takes the bucket's webhooks,
// deliveries and attempts with it, and nothing of another bucket.
func TestDeleteBucketCascades(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "doomed", false)
	keep := newFixture(t, st, "kept", false)
	must(t, st.CreateToken(ctx, &relay.Token{BucketID: fx.bucket.ID, SecretHash: "h"}))
	must(t, st.CreateToken(ctx, &relay.Token{SecretHash: "admin"}))
	for _, f := range []*fixture{fx, keep} {
		ds := f.deliveries()
		must(t, st.SaveWebhook(ctx, f.webhook("x"), ds))
		// The first attempt moves to the attempts table when the second
		// is recorded.
		must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
		must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
	}

	must(t, st.DeleteBucket(ctx, fx.bucket.ID))
	for _, table := range []string{"inputs", "outputs", "tokens", "webhooks", "deliveries"} {
		if n := count(t, st, table, "bucket_id = ?", fx.bucket.ID); n != 0 {
			t.Errorf("%d %s rows of the deleted bucket remain", n, table)
		}
		if n := count(t, st, table, "bucket_id = ?", keep.bucket.ID); n == 0 && table != "tokens" {
			t.Errorf("the other bucket lost its %s", table)
		}
	}
	if n := count(t, st, "attempts", ""); n != 1 {
		t.Errorf("%d attempts remain, want the other bucket's 1", n)
	}
	if n := count(t, st, "tokens", "bucket_id IS NULL"); n != 1 {
		t.Errorf("%d admin tokens remain, want 1", n)
	}
}

// TestDeleteOutputAndInput: DeleteOutput takes the output's deliveries
// with it.
func TestDeleteOutputAndInput(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "b", false)
	w := fx.webhook("x")
	must(t, st.SaveWebhook(ctx, w, fx.deliveries()))

	must(t, st.DeleteOutput(ctx, fx.out1.ID))
	if n := count(t, st, "deliveries", "output_id = ?", fx.out1.ID); n != 0 {
		t.Errorf("%d deliveries of the deleted output remain", n)
	}
	if n := count(t, st, "deliveries", "output_id = ?", fx.out2.ID); n != 1 {
		t.Errorf("the other output has %d deliveries, want 1", n)
	}
}
