package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// The writes of every webhook (SaveWebhook, RecordAttempt) are hot writes:
// they run their statements through a hotTx, which is either a
// database/sql transaction (sqlTx) or, for a batch of only hot writes, the
// write connection's driver itself (rawTx). The driver's prepared
// statements run with its own argument slice, without database/sql's work
// for each statement (a connection lock, the arguments' conversion and
// copy, a result) and for each transaction (a goroutine, a context). A hot
// write that needs more than its prepared statements (a query on a cache
// miss, say) fails on a rawTx with errNeedsSQL, and its batch runs again in
// a database/sql transaction.

// hotTx runs the statements of a hot write in a transaction of the
// group-commit writer.
type hotTx interface {
	// exec runs query, one of preparedQueries, with args (driver values:
	// int64, float64, string, []byte, nil) and returns how many rows it
	// changed.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// queryRow runs query and scans its first row into dest, or fails
	// with sql.ErrNoRows.
	queryRow(ctx context.Context, query string, dest []any, args ...any) error
}

// errNeedsSQL is the error of a hot write that a rawTx cannot run.
var errNeedsSQL = errors.New("sqlite: the write needs a database/sql transaction")

// sqlTx is a hotTx over a database/sql transaction.
type sqlTx struct {
	s  *Store
	tx *sql.Tx
}

func (t sqlTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.s.txExec(ctx, t.tx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t sqlTx) queryRow(ctx context.Context, query string, dest []any, args ...any) error {
	return t.s.txQueryRow(ctx, t.tx, query, args...).Scan(dest...)
}

// rawTx is a hotTx over the write connection's driver, in a transaction
// begun on it; it runs only the prepared statements, and is used by the
// writer's goroutine alone.
type rawTx struct {
	conn  any // the driver connection the statements are prepared on
	stmts map[string]driver.StmtExecContext
	args  []driver.NamedValue
}

func (t *rawTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	stmt := t.stmts[query]
	if stmt == nil {
		return 0, errNeedsSQL
	}
	t.args = t.args[:0]
	for i, a := range args {
		if !driver.IsValue(a) {
			return 0, errNeedsSQL
		}
		t.args = append(t.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	res, err := stmt.ExecContext(ctx, t.args)
	clear(t.args) // keeps no webhook's data
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *rawTx) queryRow(context.Context, string, []any, ...any) error {
	return errNeedsSQL
}

// prepare readies t for the driver connection dc: the prepared statements
// of an earlier connection (one database/sql replaced) are left to it.
func (t *rawTx) prepare(ctx context.Context, dc any) error {
	if t.conn == dc && t.stmts != nil {
		return nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return fmt.Errorf("sqlite: driver connection %T cannot prepare statements", dc)
	}
	stmts := make(map[string]driver.StmtExecContext, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := pc.PrepareContext(ctx, q)
		if err == nil {
			if ex, ok := st.(driver.StmtExecContext); ok {
				stmts[q] = ex
				continue
			}
			st.Close()
			err = fmt.Errorf("driver statement %T cannot execute with a context", st)
		}
		for _, st := range stmts {
			st.(driver.Stmt).Close()
		}
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	t.conn, t.stmts = dc, stmts
	return nil
}

// close closes the prepared statements, when dc is still their
// connection.
func (t *rawTx) close(dc any) error {
	var errs []error
	if t.conn == dc {
		for _, st := range t.stmts {
			errs = append(errs, st.(driver.Stmt).Close())
		}
	}
	t.conn, t.stmts = nil, nil
	return errors.Join(errs...)
}

// writeHot is write for a hot write, which, when lazy, may wait up to
// lazyWait for another write to share its commit.
func (s *Store) writeHot(ctx context.Context, hot func(ctx context.Context, t hotTx) error, lazy bool) error {
	return s.enqueue(ctx, &writeReq{fn: s.onSQL(hot), hot: hot, lazy: lazy})
}

// onSQL is hot as a write on a database/sql transaction.
func (s *Store) onSQL(hot func(ctx context.Context, t hotTx) error) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error { return hot(ctx, sqlTx{s: s, tx: tx}) }
}

// hotOnly reports whether every write of batch is hot.
func hotOnly(batch []*writeReq) bool {
	for _, r := range batch {
		if r.hot == nil {
			return false
		}
	}
	return true
}

// runRaw runs batch, of hot writes only, in one transaction on the write
// connection's driver, as runSQL does.
func (s *Store) runRaw(ctx context.Context, batch []*writeReq, results []error) error {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if err := s.raw.prepare(ctx, dc); err != nil {
			return err
		}
		bc, ok := dc.(driver.ConnBeginTx)
		if !ok {
			return fmt.Errorf("sqlite: driver connection %T cannot begin with options", dc)
		}
		tx, err := bc.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			if err := r.hot(ctx, &s.raw); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			// A failed COMMIT may leave the transaction open.
			_ = tx.Rollback()
			return err
		}
		return nil
	})
}

// closeRaw closes the prepared statements of rawTx, once the writer has
// stopped.
func (s *Store) closeRaw(ctx context.Context) error {
	if s.raw.stmts == nil {
		return nil
	}
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return s.raw.close(dc) })
}
