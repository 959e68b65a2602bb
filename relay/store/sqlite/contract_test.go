package sqlite

import (
	"testing"

	"github.com/relayfn/relayfn/relay/store/storetest"
)

// TestContract runs the stores' contract suite on SQLite: each test on a
// database file of its own. SQLite allows one process per database, so
// the concurrent claims go through one handle.
func TestContract(t *testing.T) {
	storetest.Run(t, openSQLite)
}

// openSQLite opens a store in a new file, closed when t ends.
func openSQLite(t *testing.T) storetest.Store {
	st, _ := newStore(t)
	return st
}
