package app

import (
	"context"
	"log/slog"

	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/postgres"
)

// openPostgres opens the PostgreSQL store at dsn as the node named node.
func openPostgres(ctx context.Context, dsn string, s *seal.Sealer, node string, log *slog.Logger) (Store, error) {
	return postgres.Open(ctx, dsn, s, postgres.Options{Node: node, Log: log})
}
