package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDSNIsolatesSchemas(t *testing.T) {
	a, b := DSN(t), DSN(t)
	ctx := context.Background()
	for _, dsn := range []string{a, b} {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE probe (n int)`); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		conn.Close(ctx)
	}
}
