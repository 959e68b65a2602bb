package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

func TestMigrations(t *testing.T) {
	st, dsn := newStore(t)
	ctx := context.Background()
	var v int
	must(t, st.Pool().QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v))
	if v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	must(t, st.Close())

	// Reopening applies nothing and keeps the version.
	st = openAt(t, dsn, storetest.Sealer(t, 1), Options{})
	must(t, st.Pool().QueryRow(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&v))
	if v != 1 {
		t.Fatalf("schema_version has %d rows, want 1", v)
	}
	_, err := st.Pool().Exec(ctx, `UPDATE schema_version SET version = version + 1`)
	must(t, err)
	must(t, st.Close())

	// A newer schema is refused.
	_, err = Open(ctx, dsn, storetest.Sealer(t, 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: err = %v, want a version error", err)
	}
}

// TestTextWithNUL: a text field PostgreSQL cannot store is refused with
// an error saying why.
func TestTextWithNUL(t *testing.T) {
	st, _ := newStore(t)
	err := st.CreateBucket(context.Background(), &relay.Bucket{Name: "nul", Description: "a\x00b"})
	if err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("CreateBucket with a NUL in the description: %v", err)
	}
	t.Logf("%v", err)
}
