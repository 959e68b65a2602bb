package postgres

import (
	"context"
	"testing"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// openAt opens the store at dsn and closes it when the test ends.
func openAt(t testing.TB, dsn string, sl *seal.Sealer, opts Options) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsn, sl, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newStore opens a store in a new schema and returns it with its DSN.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	return openAt(t, dsn, storetest.Sealer(t, 1), Options{}), dsn
}

// The assertions of the contract suite, under short names.
func must(t testing.TB, err error)            { t.Helper(); storetest.Must(t, err) }
func wantErr(t testing.TB, err, target error) { t.Helper(); storetest.WantErr(t, err, target) }
func wantNotFound(t testing.TB, err error)    { t.Helper(); storetest.WantNotFound(t, err) }
func errOf[T any](_ T, err error) error       { return err }

// count counts the rows of a table matching where.
func count(t testing.TB, st *Store, table, where string, args ...any) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	must(t, st.Pool().QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}
