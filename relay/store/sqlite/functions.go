package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// CreateFunction saves f with its first version (f.Source); it fills f.ID
// (when empty), Version, Hash (when empty: the hex SHA-256 of the source)
// and the times.
func (s *Store) CreateFunction(ctx context.Context, f *functions.Function) error {
	t := unixtime.Now()
	if err := records.Function(f, t); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO functions (id, name, driver, version, timeout_ns, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, f.ID, f.Name, f.Driver, f.Version, int64(f.Timeout), unixtime.Nanos(t), unixtime.Nanos(t))
		if err != nil {
			return mapWriteErr(err, "function", f.Name)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO function_versions (function_id, version, hash, source, created_at)
			VALUES (?, ?, ?, ?, ?)`, f.ID, f.Version, f.Hash, f.Source, unixtime.Nanos(t))
		return mapWriteErr(err, "function", f.Name)
	})
}

// AddVersion saves source as the next version of the function with ID id
// and makes it current. An empty hash is computed from source.
func (s *Store) AddVersion(ctx context.Context, id, source, hash string) (*functions.Function, error) {
	if hash == "" {
		hash = records.SourceHash(source)
	}
	var f *functions.Function
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		f, err = getFunction(ctx, tx, `f.id = ?1`, id)
		if err != nil {
			return err
		}
		t := unixtime.Now()
		f.Version++
		f.Hash, f.Source, f.UpdatedAt = hash, source, t
		if _, err := tx.ExecContext(ctx, `INSERT INTO function_versions (function_id, version, hash, source, created_at)
			VALUES (?, ?, ?, ?, ?)`, id, f.Version, hash, source, unixtime.Nanos(t)); err != nil {
			return mapWriteErr(err, "function", id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE functions SET version = ?, updated_at = ? WHERE id = ?`, f.Version, unixtime.Nanos(t), id)
		return mapWriteErr(err, "function", id)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// UpdateFunction saves f's name and timeout and sets f.UpdatedAt.
func (s *Store) UpdateFunction(ctx context.Context, f *functions.Function) error {
	if f.Name == "" {
		return errors.New("function: a name is required")
	}
	t := unixtime.Now()
	res, err := s.wdb.ExecContext(ctx, `UPDATE functions SET name = ?, timeout_ns = ?, updated_at = ? WHERE id = ?`,
		f.Name, int64(f.Timeout), unixtime.Nanos(t), f.ID)
	if err := checkUpdated(res, mapWriteErr(err, "function", f.Name), "function", f.ID); err != nil {
		return err
	}
	f.UpdatedAt = t
	return nil
}

const functionSelect = `SELECT f.id, f.name, f.driver, f.version, v.hash, v.source, f.timeout_ns, f.created_at, f.updated_at
	FROM functions f JOIN function_versions v ON v.function_id = f.id AND v.version = f.version`

// GetFunction finds a function by ID or, failing that, by name, with its
// current source.
func (s *Store) GetFunction(ctx context.Context, idOrName string) (*functions.Function, error) {
	return getFunction(ctx, s.rdb, `f.id = ?1 OR f.name = ?1 ORDER BY f.id = ?1 DESC LIMIT 1`, idOrName)
}

// getFunction finds the function matching where (with ?1 bound to key).
func getFunction(ctx context.Context, q querier, where, key string) (*functions.Function, error) {
	f, err := scanFunction(q.QueryRowContext(ctx, functionSelect+` WHERE `+where, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("function", key)
	}
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", key, err)
	}
	return f, nil
}

// ListFunctions lists every function by name, with its current source.
func (s *Store) ListFunctions(ctx context.Context) ([]*functions.Function, error) {
	rows, err := s.rdb.QueryContext(ctx, functionSelect+` ORDER BY f.name`)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	defer rows.Close()
	var fs []*functions.Function
	for rows.Next() {
		f, err := scanFunction(rows)
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return fs, nil
}

func scanFunction(sc scanner) (*functions.Function, error) {
	var f functions.Function
	var timeout, created, updated int64
	if err := sc.Scan(&f.ID, &f.Name, &f.Driver, &f.Version, &f.Hash, &f.Source, &timeout, &created, &updated); err != nil {
		return nil, err
	}
	f.Timeout = time.Duration(timeout)
	f.CreatedAt = unixtime.Time(created)
	f.UpdatedAt = unixtime.Time(updated)
	return &f, nil
}

// ListVersions lists a function's versions, oldest first, with their
// source.
func (s *Store) ListVersions(ctx context.Context, id string) ([]*functions.Version, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("function %q: versions: %w", id, err)
	}
	defer tx.Rollback()
	if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT function_id, version, hash, source, created_at
		FROM function_versions WHERE function_id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("function %q: versions: %w", id, err)
	}
	defer rows.Close()
	var vs []*functions.Version
	for rows.Next() {
		var v functions.Version
		var created int64
		if err := rows.Scan(&v.FunctionID, &v.Version, &v.Hash, &v.Source, &created); err != nil {
			return nil, fmt.Errorf("function %q: versions: %w", id, err)
		}
		v.CreatedAt = unixtime.Time(created)
		vs = append(vs, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("function %q: versions: %w", id, err)
	}
	return vs, nil
}

// DeleteFunction deletes a function with its versions and configuration.
// A function attached to an input or an output is not deleted: the error
// wraps store.ErrConflict.
func (s *Store) DeleteFunction(ctx context.Context, id string) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var kind, user string
		err := tx.QueryRowContext(ctx, `SELECT 'input', id FROM inputs WHERE function_id = ?1
			UNION ALL SELECT 'output', id FROM outputs WHERE function_id = ?1 OR response_function_id = ?1
			LIMIT 1`, id).Scan(&kind, &user)
		switch {
		case err == nil:
			return fmt.Errorf("function %q: attached to %s %s: %w", id, kind, user, store.ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("function %q: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM functions WHERE id = ?`, id)
		if _, fk := constraint(err); fk {
			return fmt.Errorf("function %q: in use: %w", id, store.ErrConflict)
		}
		return checkUpdated(res, mapWriteErr(err, "function", id), "function", id)
	})
}

// SetConfig sets a configuration variable of the function with ID id. The
// value is sealed at rest.
func (s *Store) SetConfig(ctx context.Context, id, key, value string) error {
	if key == "" {
		return fmt.Errorf("function %q: config: a key is required", id)
	}
	box := s.sealer.Seal([]byte(value), sealed.ConfigAAD(id, key))
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO function_config (function_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value`, id, key, box)
		if err != nil {
			return fmt.Errorf("function %q: config %q: %w", id, key, err)
		}
		return nil
	})
}

// DeleteConfig deletes a configuration variable.
func (s *Store) DeleteConfig(ctx context.Context, id, key string) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM function_config WHERE function_id = ? AND key = ?`, id, key)
		if err != nil {
			return fmt.Errorf("function %q: config %q: %w", id, key, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("function %q: config %q: %w", id, key, err)
			}
			return fmt.Errorf("function %q: %w", id, storeerr.NotFound("config", key))
		}
		return nil
	})
}

// Config returns the function's configuration variables, decrypted.
func (s *Store) Config(ctx context.Context, id string) (map[string]string, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("function %q: config: %w", id, err)
	}
	defer tx.Rollback()
	if err := mustExist(ctx, tx, "functions", "function", id); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, value FROM function_config WHERE function_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("function %q: config: %w", id, err)
	}
	defer rows.Close()
	cfg := map[string]string{}
	for rows.Next() {
		var key string
		var box []byte
		if err := rows.Scan(&key, &box); err != nil {
			return nil, fmt.Errorf("function %q: config: %w", id, err)
		}
		value, err := s.sealer.Open(box, sealed.ConfigAAD(id, key))
		if err != nil {
			return nil, fmt.Errorf("function %q: config %q: %w", id, key, err)
		}
		cfg[key] = string(value)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("function %q: config: %w", id, err)
	}
	return cfg, nil
}

// mustExist returns a not-found error for kind when table has no row id.
func mustExist(ctx context.Context, q querier, table, kind, id string) error {
	ok, err := exists(ctx, q, table, id)
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	if !ok {
		return storeerr.NotFound(kind, id)
	}
	return nil
}
