package app

import (
	"context"
	"log/slog"

	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/postgres"
)

// openPostgres opens the PostgreSQL store at dsn as the node named node:
// the store refuses a node name another live process holds, and a key
// other than the database's.
func openPostgres(ctx context.Context, dsn string, s *seal.Sealer, node string, log *slog.Logger) (Store, error) {
	st, err := postgres.Open(ctx, dsn, s, postgres.Options{Node: node, Log: log})
	if err != nil {
		return nil, err
	}
	return st, nil
}
