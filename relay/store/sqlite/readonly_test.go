package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
)

// TestOpenReadOnly: a database that cannot be written is refused at open,
// and the error says "read-only". (Tests may run as root, which file
// modes do not stop, so the database is opened with mode=ro, which SQLite
// treats like a file it cannot write.)
func TestOpenReadOnly(t *testing.T) {
	s, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "relay.db")
	st, err := sqlite.Open(context.Background(), "sqlite://"+p, s)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = sqlite.Open(context.Background(), "file:"+p+"?mode=ro", s)
	if !errors.Is(err, sqlite.ErrReadOnly) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("err = %v, want ErrReadOnly", err)
	}
	t.Logf("%v", err)
	// A new database in a read-only open is refused the same way.
	_, err = sqlite.Open(context.Background(), "file:"+filepath.Join(t.TempDir(), "new.db")+"?mode=ro", s)
	if err == nil {
		t.Fatal("opened a missing database read-only")
	}
	t.Logf("%v", err)
}
