package postgres_test

import (
	"bytes"
	"context"
	"testing"

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
