package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/relayfn/relayfn/relay/seal"
)

// openPostgres opens the PostgreSQL store at dsn as the node named node.
func openPostgres(ctx context.Context, dsn string, s *seal.Sealer, node string, log *slog.Logger) (Store, error) {
	return nil, errors.New("PostgreSQL is not supported by this build; use sqlite://PATH")
}
