package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// TestMigrateFromVersion1 opens a database written by the first schema:
// its deliveries keep their attempts, their order and their sealed
// errors, and go on taking attempts.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	sl := storetest.Sealer(t, 1)
	db, err := sql.Open("sqlite", path)
	must(t, err)
	must(t, applyMigrations(ctx, db, migrations[:1]))
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO buckets (id, name, created_at) VALUES ('b1', 'old', 1)`)
	exec(`INSERT INTO outputs (id, bucket_id, name, created_at) VALUES ('o1', 'b1', 'out', 1)`)
	exec(`INSERT INTO webhooks (id, bucket_id, input_id, received_at, method) VALUES ('w1', 'b1', 'i1', 1, 'POST')`)
	exec(`INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, attempts, last_status, created_at, updated_at)
		VALUES ('d1', 'w1', 'b1', 'o1', 'succeeded', 2, 200, 1, 3), ('d2', 'w1', 'b1', 'o1', 'pending', 0, 0, 2, 2)`)
	exec(`INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error) VALUES
		('d1', 1, 10, 1.5, 503, ?), ('d1', 2, 20, 2.5, 200, NULL)`, sl.Seal([]byte("503 Service Unavailable"), attemptAAD("d1", 1, "error")))
	must(t, db.Close())

	st := openAt(t, path, sl)
	var version int
	must(t, st.DB().QueryRow(`SELECT version FROM schema_version`).Scan(&version))
	if version != len(migrations) {
		t.Fatalf("schema version %d, want %d", version, len(migrations))
	}
	// The last attempt moved into the delivery's row.
	if n := count(t, st, "attempts", "delivery_id = 'd1'"); n != 1 {
		t.Errorf("%d of d1's attempts in the attempts table, want 1", n)
	}
	if n := count(t, st, "deliveries", "id = 'd1' AND attempt_n = 2 AND attempt_status = 200"); n != 1 {
		t.Error("d1's last attempt is not in its row")
	}
	d1, as, err := st.GetDelivery(ctx, "d1")
	must(t, err)
	want := []*relay.Attempt{
		{DeliveryID: "d1", N: 1, StartedAt: unixtime.Time(10), DurationMS: 1.5, Status: 503, Error: "503 Service Unavailable"},
		{DeliveryID: "d1", N: 2, StartedAt: unixtime.Time(20), DurationMS: 2.5, Status: 200},
	}
	if !reflect.DeepEqual(as, want) {
		t.Errorf("attempts of d1 = %+v, want %+v", as, want)
	}
	if d1.State != relay.DeliverySucceeded || d1.Attempts != 2 || d1.WebhookID != "w1" {
		t.Errorf("d1 = %+v", d1)
	}

	pending, err := storetest.PendingDeliveries(ctx, st)
	must(t, err)
	if len(pending) != 1 || pending[0].ID != "d2" {
		t.Fatalf("pending = %v, want d2", ids(pending))
	}
	// Attempts go on: d2 takes its first, d1 a third (moving its second).
	d2 := pending[0]
	d2.State, d2.Attempts, d2.LastStatus = relay.DeliverySucceeded, 1, 200
	must(t, st.RecordAttempt(ctx, d2, &relay.Attempt{N: 1, Status: 200, StartedAt: time.Unix(30, 0).UTC()}))
	d1.Attempts = 3
	must(t, st.RecordAttempt(ctx, d1, &relay.Attempt{N: 3, Status: 200, StartedAt: time.Unix(40, 0).UTC()}))
	_, as, err = st.GetDelivery(ctx, "d1")
	must(t, err)
	if len(as) != 3 || as[0].Error != "503 Service Unavailable" || as[1].N != 2 || as[2].N != 3 {
		t.Errorf("attempts of d1 after a third = %+v", as)
	}
	listed, err := st.ListDeliveries(ctx, relay.DeliveryFilter{BucketID: "b1"})
	must(t, err)
	if len(listed) != 2 {
		t.Errorf("ListDeliveries = %v, want d1 and d2", ids(listed))
	}

	// Deleting the bucket, then purging what it left, takes everything
	// with it.
	must(t, st.DeleteBucket(ctx, "b1"))
	storetest.SweepDeleted(t, st, 2)
	for _, table := range []string{"webhooks", "deliveries", "attempts"} {
		if n := count(t, st, table, ""); n != 0 {
			t.Errorf("%d %s rows remain", n, table)
		}
	}
}

// TestMigrateFromVersion2: pending deliveries written before leases are
// due at their next attempt time, unclaimed, and outputs get the default
// max_in_flight.
func TestMigrateFromVersion2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	must(t, err)
	must(t, applyMigrations(ctx, db, migrations[:2]))
	for _, q := range []string{
		`INSERT INTO buckets (id, name, created_at) VALUES ('b1', 'old', 1)`,
		`INSERT INTO outputs (id, bucket_id, name, created_at) VALUES ('o1', 'b1', 'out', 1)`,
		`INSERT INTO webhooks (id, bucket_id, input_id, received_at, method) VALUES ('w1', 'b1', 'i1', 1, 'POST')`,
		`INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, next_attempt_at, created_at, updated_at)
			VALUES ('d1', 'w1', 'b1', 'o1', 'pending', 5000, 1, 1), ('d2', 'w1', 'b1', 'o1', 'succeeded', 0, 2, 2),
			('d3', 'w1', 'b1', 'o1', 'pending', 9000, 3, 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	must(t, db.Close())
	st := openAt(t, path, storetest.Sealer(t, 1))
	out, err := st.GetOutput(ctx, "o1")
	must(t, err)
	if out.MaxInFlight != 0 {
		t.Errorf("migrated output's max_in_flight = %d, want 0 (the default)", out.MaxInFlight)
	}
	next, ok, err := st.NextDue(ctx, []string{"o1"})
	must(t, err)
	if !ok || !next.Equal(unixtime.Time(5000)) {
		t.Errorf("NextDue = %v, %v; want d1's next attempt time", next, ok)
	}
	claimed, err := st.ClaimDue(ctx, relay.Claim{Owner: "a", Now: unixtime.Time(5000), Lease: time.Minute, Quota: map[string]int{"o1": 10}})
	must(t, err)
	if got := ids(claimed); !reflect.DeepEqual(got, []string{"d1"}) {
		t.Fatalf("claimed %v, want d1 (d2 is finished, d3 not due)", got)
	}
}

// TestSchemaDeletesDoNotCascade: since migration 10, webhooks and
// deliveries reference no bucket or output (a deletion leaves them to the
// purge), attempts still go with their delivery, and the indexes the
// engine and the request log read are there.
func TestSchemaDeletesDoNotCascade(t *testing.T) {
	st, _ := newStore(t)
	for _, table := range []string{"webhooks", "deliveries"} {
		if n := count(t, st, "pragma_foreign_key_list('"+table+"')", ""); n != 0 {
			t.Errorf("%s has %d foreign keys, want none", table, n)
		}
	}
	if n := count(t, st, "pragma_foreign_key_list('attempts')", `"table" = 'deliveries' AND on_delete = 'CASCADE'`); n != 1 {
		t.Errorf("attempts: %d cascading foreign keys on deliveries, want 1", n)
	}
	for _, index := range []string{"deliveries_due", "deliveries_webhook"} {
		if n := count(t, st, "sqlite_master", "type = 'index' AND name = ?", index); n != 1 {
			t.Errorf("index %s missing", index)
		}
	}
}
