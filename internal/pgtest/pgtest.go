// Package pgtest gives tests a PostgreSQL database of their own.
//
// Tests that need PostgreSQL read its address from RELAYFN_TEST_POSTGRES
// (for example postgres://postgres@127.0.0.1:5432/test). Without it they
// skip, saying how to run them; under CI=true they fail instead, so that a
// CI run never passes without them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable that holds the test server's address.
const EnvDSN = "RELAYFN_TEST_POSTGRES"

// ServerDSN returns the address of the test server, or skips t (fails it
// under CI=true) when none is set or it does not answer.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		missing(t, EnvDSN+" is not set; run PostgreSQL and set it, e.g. "+EnvDSN+"=postgres://postgres@127.0.0.1:5432/test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		missing(t, "PostgreSQL at "+EnvDSN+" does not answer: "+err.Error())
	}
	conn.Close(ctx)
	return dsn
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// DSN returns the address of a new, empty schema on the test server,
// dropped when t ends: the address selects it with search_path, so
// everything a store makes there stays apart from other tests.
func DSN(t testing.TB) string {
	t.Helper()
	base := ServerDSN(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "relayfn_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, base, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL, got %q", EnvDSN, dsn)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
