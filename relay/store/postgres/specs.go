package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// SetSpec stores the spec of the function with ID id, replacing the one it
// had; an empty spec removes it. Specs are not secret and are stored as
// they are.
func (s *Store) SetSpec(ctx context.Context, id string, spec []byte) error {
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
			return err
		}
		if len(spec) == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM function_specs WHERE function_id = $1`, id); err != nil {
				return fmt.Errorf("function %q: spec: %w", id, err)
			}
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO function_specs (function_id, spec, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (function_id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
			id, string(spec), unixtime.Nanos(unixtime.Now()))
		if err != nil {
			return fmt.Errorf("function %q: spec: %w", id, err)
		}
		return nil
	})
}

// Spec returns the spec of the function with ID id, or nil when it has
// none. A function that does not exist is store.ErrNotFound.
func (s *Store) Spec(ctx context.Context, id string) ([]byte, error) {
	var spec []byte
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
			return err
		}
		var text string
		err := tx.QueryRow(ctx, `SELECT spec FROM function_specs WHERE function_id = $1`, id).Scan(&text)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("function %q: spec: %w", id, err)
		}
		spec = []byte(text)
		return nil
	})
	return spec, err
}
