package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// openAt opens the store at dsn and closes it when the test ends.
func openAt(t testing.TB, dsn string, sl *seal.Sealer) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsn, sl)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newStore opens a store in a new file and returns it with the file's path.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.db")
	return openAt(t, path, storetest.Sealer(t, 1)), path
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
	must(t, st.DB().QueryRow(q, args...).Scan(&n))
	return n
}

// ids are the IDs of ds.
func ids(ds []*relay.Delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.ID)
	}
	return s
}
