package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// SetSpec stores the spec of the function with ID id, replacing the one it
// had; an empty spec removes it. Specs are not secret (config values are
// not part of them on the relay) and are stored as they are.
func (s *Store) SetSpec(ctx context.Context, id string, spec []byte) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
			return err
		}
		if len(spec) == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM function_specs WHERE function_id = ?`, id)
			if err != nil {
				return fmt.Errorf("function %q: spec: %w", id, err)
			}
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO function_specs (function_id, spec, updated_at) VALUES (?, ?, ?)
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
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("function %q: spec: %w", id, err)
	}
	defer tx.Rollback()
	if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
		return nil, err
	}
	var spec string
	err = tx.QueryRowContext(ctx, `SELECT spec FROM function_specs WHERE function_id = ?`, id).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("function %q: spec: %w", id, err)
	}
	return []byte(spec), nil
}
