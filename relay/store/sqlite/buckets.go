package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const bucketColumns = `id, name, description, auth_type, auth_username, auth_password_hash, ephemeral, created_at`

// CreateBucket saves b, filling b.ID (when empty), b.Auth.Type (when empty)
// and b.CreatedAt.
func (s *Store) CreateBucket(ctx context.Context, b *relay.Bucket) error {
	if err := records.Bucket(b, unixtime.Now()); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := notDeleted(ctx, tx, "bucket", b.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO buckets (`+bucketColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.Name, b.Description, b.Auth.Type, b.Auth.Username, b.Auth.PasswordHash, boolInt(b.Ephemeral), unixtime.Nanos(b.CreatedAt))
		return mapWriteErr(err, "bucket", b.Name)
	})
}

// notDeleted refuses the ID of a deleted bucket or output whose records
// the purge has not removed yet (see deleted.go): a new one of that ID
// would show them as its own. IDs are made new for each record, so only a
// caller that gives one can meet this.
func notDeleted(ctx context.Context, tx *sql.Tx, kind, id string) error {
	var deleted bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_owners WHERE id = ?)`, id).Scan(&deleted)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, id, err)
	}
	if deleted {
		return fmt.Errorf("%s %s: the records of a deleted %s of this ID are still being removed: %w", kind, id, kind, store.ErrConflict)
	}
	return nil
}

// GetBucket finds a bucket by ID or, failing that, by name.
func (s *Store) GetBucket(ctx context.Context, idOrName string) (*relay.Bucket, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+bucketColumns+` FROM buckets
		WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName)
	b, err := scanBucket(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("bucket", idOrName)
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %q: %w", idOrName, err)
	}
	return b, nil
}

// ListBuckets lists every bucket by name.
func (s *Store) ListBuckets(ctx context.Context) ([]*relay.Bucket, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+bucketColumns+` FROM buckets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer rows.Close()
	var bs []*relay.Bucket
	for rows.Next() {
		b, err := scanBucket(rows)
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return bs, nil
}

// UpdateBucket saves b's name, description, auth and ephemeral flag. A
// change of the flag applies to webhooks saved from then on.
func (s *Store) UpdateBucket(ctx context.Context, b *relay.Bucket) error {
	if b.Name == "" {
		return errors.New("bucket: a name is required")
	}
	if b.Auth.Type == "" {
		b.Auth.Type = relay.AuthNone
	}
	res, err := s.wdb.ExecContext(ctx, `UPDATE buckets SET name = ?, description = ?, auth_type = ?,
		auth_username = ?, auth_password_hash = ?, ephemeral = ? WHERE id = ?`,
		b.Name, b.Description, b.Auth.Type, b.Auth.Username, b.Auth.PasswordHash, boolInt(b.Ephemeral), b.ID)
	s.ephemeral.forget(b.ID)
	return checkUpdated(res, mapWriteErr(err, "bucket", b.Name), "bucket", b.ID)
}

// DeleteBucket deletes the bucket with its inputs, outputs, tokens and
// retention policy, at once: its webhooks, with their deliveries and
// attempts, stay in the database, hidden from every reader, until the
// retention purge removes them in small batches (relay.PurgeDeleted). It
// runs in the group-commit writer, so that a webhook stored after it finds
// no bucket.
func (s *Store) DeleteBucket(ctx context.Context, id string) error {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		// A SaveWebhook after this one in the writer reads the bucket
		// and its outputs again, and finds none.
		s.ephemeral.forget(id)
		s.outputs.clear()
		res, err := tx.ExecContext(ctx, `DELETE FROM buckets WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deleted_owners (id, kind, deleted_at) VALUES (?, 'bucket', ?)
			ON CONFLICT (id) DO UPDATE SET sweep = 0`, id, unixtime.Nanos(unixtime.Now()))
		return err
	})
	s.ephemeral.forget(id)
	s.outputs.clear()
	if err != nil {
		return mapWriteErr(err, "bucket", id)
	}
	if n == 0 {
		return storeerr.NotFound("bucket", id)
	}
	return nil
}

// checkUpdated returns err, or a not-found error when res affected no row.
func checkUpdated(res sql.Result, err error, kind, id string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	if n == 0 {
		return storeerr.NotFound(kind, id)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanBucket(sc scanner) (*relay.Bucket, error) {
	var b relay.Bucket
	var eph int
	var created int64
	if err := sc.Scan(&b.ID, &b.Name, &b.Description, &b.Auth.Type, &b.Auth.Username, &b.Auth.PasswordHash, &eph, &created); err != nil {
		return nil, err
	}
	b.Ephemeral = eph != 0
	b.CreatedAt = unixtime.Time(created)
	return &b, nil
}

const inputColumns = `id, bucket_id, name, description, function_id, response, created_at`

// CreateInput saves in, filling in.ID (when empty), in.Response.Mode (when
// empty) and in.CreatedAt. Its bucket and function must exist.
func (s *Store) CreateInput(ctx context.Context, in *relay.Input) error {
	if err := records.Input(in, unixtime.Now()); err != nil {
		return err
	}
	resp, err := json.Marshal(in.Response)
	if err != nil {
		return fmt.Errorf("input %q: response: %w", in.Name, err)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, "input", in.Name, in.BucketID, in.FunctionID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO inputs (`+inputColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.BucketID, in.Name, in.Description, nullString(in.FunctionID), string(resp), unixtime.Nanos(in.CreatedAt))
		return mapWriteErr(err, "input", in.Name)
	})
}

// GetInput finds an input by ID.
func (s *Store) GetInput(ctx context.Context, id string) (*relay.Input, error) {
	in, err := scanInput(s.rdb.QueryRowContext(ctx, `SELECT `+inputColumns+` FROM inputs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("input", id)
	}
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", id, err)
	}
	return in, nil
}

// ListInputs lists a bucket's inputs, or every input for "", by name.
func (s *Store) ListInputs(ctx context.Context, bucketID string) ([]*relay.Input, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+inputColumns+` FROM inputs
		WHERE ?1 = '' OR bucket_id = ?1 ORDER BY bucket_id, name`, bucketID)
	if err != nil {
		return nil, fmt.Errorf("list inputs: %w", err)
	}
	defer rows.Close()
	var ins []*relay.Input
	for rows.Next() {
		in, err := scanInput(rows)
		if err != nil {
			return nil, fmt.Errorf("list inputs: %w", err)
		}
		ins = append(ins, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list inputs: %w", err)
	}
	return ins, nil
}

// UpdateInput saves in's name, description, function and response. Its
// bucket cannot change.
func (s *Store) UpdateInput(ctx context.Context, in *relay.Input) error {
	if in.Name == "" {
		return errors.New("input: a name is required")
	}
	if in.Response.Mode == "" {
		in.Response.Mode = relay.ResponseDefault
	}
	resp, err := json.Marshal(in.Response)
	if err != nil {
		return fmt.Errorf("input %q: response: %w", in.Name, err)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, "input", in.Name, "", in.FunctionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE inputs SET name = ?, description = ?, function_id = ?, response = ?
			WHERE id = ?`, in.Name, in.Description, nullString(in.FunctionID), string(resp), in.ID)
		return checkUpdated(res, mapWriteErr(err, "input", in.Name), "input", in.ID)
	})
}

// DeleteInput deletes an input; its webhooks are kept.
func (s *Store) DeleteInput(ctx context.Context, id string) error {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM inputs WHERE id = ?`, id)
	return checkUpdated(res, mapWriteErr(err, "input", id), "input", id)
}

func scanInput(sc scanner) (*relay.Input, error) {
	var in relay.Input
	var fn sql.NullString
	var resp string
	var created int64
	if err := sc.Scan(&in.ID, &in.BucketID, &in.Name, &in.Description, &fn, &resp, &created); err != nil {
		return nil, err
	}
	in.FunctionID = fn.String
	if err := json.Unmarshal([]byte(resp), &in.Response); err != nil {
		return nil, fmt.Errorf("input %s: response: %w", in.ID, err)
	}
	in.CreatedAt = unixtime.Time(created)
	return &in, nil
}

// checkRefs checks, for a record of kind named name, that the bucket (when
// bucketID is not empty) and the functions (those not empty) exist.
func checkRefs(ctx context.Context, q querier, kind, name, bucketID string, functionIDs ...string) error {
	has := func(ctx context.Context, table, id string) (bool, error) { return exists(ctx, q, table, id) }
	return records.CheckRefs(ctx, has, kind, name, bucketID, functionIDs...)
}

const outputColumns = `id, bucket_id, name, destination, function_id, response_function_id, lock_path, timeout_ns,
	retry_max_attempts, retry_backoff, retry_initial_ns, retry_max_ns, internal, disabled, created_at, max_in_flight, agent_window_ns`

// CreateOutput saves out, filling out.ID (when empty) and out.CreatedAt.
// Its bucket and functions must exist.
func (s *Store) CreateOutput(ctx context.Context, out *relay.Output) error {
	if err := records.Output(out, unixtime.Now()); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, "output", out.Name, out.BucketID, out.FunctionID, out.ResponseFunctionID); err != nil {
			return err
		}
		if err := notDeleted(ctx, tx, "output", out.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outputs (`+outputColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.BucketID, out.Name, out.Destination, nullString(out.FunctionID), nullString(out.ResponseFunctionID),
			boolInt(out.LockPath), int64(out.Timeout), out.Retries.MaxAttempts, string(out.Retries.Backoff),
			int64(out.Retries.InitialInterval), int64(out.Retries.MaxInterval), boolInt(out.Internal), boolInt(out.Disabled),
			unixtime.Nanos(out.CreatedAt), out.MaxInFlight, int64(out.AgentWindow))
		return mapWriteErr(err, "output", out.Name)
	})
}

// GetOutput finds an output by ID.
func (s *Store) GetOutput(ctx context.Context, id string) (*relay.Output, error) {
	out, err := scanOutput(s.rdb.QueryRowContext(ctx, `SELECT `+outputColumns+` FROM outputs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("output", id)
	}
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", id, err)
	}
	return out, nil
}

// ListOutputs lists a bucket's outputs, or every output for "", by name.
func (s *Store) ListOutputs(ctx context.Context, bucketID string) ([]*relay.Output, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+outputColumns+` FROM outputs
		WHERE ?1 = '' OR bucket_id = ?1 ORDER BY bucket_id, name`, bucketID)
	if err != nil {
		return nil, fmt.Errorf("list outputs: %w", err)
	}
	defer rows.Close()
	var outs []*relay.Output
	for rows.Next() {
		out, err := scanOutput(rows)
		if err != nil {
			return nil, fmt.Errorf("list outputs: %w", err)
		}
		outs = append(outs, out)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outputs: %w", err)
	}
	return outs, nil
}

// UpdateOutput saves every field of out but its ID, bucket and creation
// time.
func (s *Store) UpdateOutput(ctx context.Context, out *relay.Output) error {
	if out.Name == "" {
		return errors.New("output: a name is required")
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, "output", out.Name, "", out.FunctionID, out.ResponseFunctionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE outputs SET name = ?, destination = ?, function_id = ?,
			response_function_id = ?, lock_path = ?, timeout_ns = ?, retry_max_attempts = ?, retry_backoff = ?,
			retry_initial_ns = ?, retry_max_ns = ?, internal = ?, disabled = ?, max_in_flight = ?, agent_window_ns = ? WHERE id = ?`,
			out.Name, out.Destination, nullString(out.FunctionID), nullString(out.ResponseFunctionID),
			boolInt(out.LockPath), int64(out.Timeout), out.Retries.MaxAttempts, string(out.Retries.Backoff),
			int64(out.Retries.InitialInterval), int64(out.Retries.MaxInterval), boolInt(out.Internal), boolInt(out.Disabled),
			out.MaxInFlight, int64(out.AgentWindow), out.ID)
		return checkUpdated(res, mapWriteErr(err, "output", out.Name), "output", out.ID)
	})
}

// DeleteOutput deletes an output, at once: its deliveries, with their
// attempts, stay in the database, hidden from every reader and never
// claimed, until the retention purge removes them in small batches
// (relay.PurgeDeleted). It runs in the group-commit writer, so that a
// delivery stored after it finds no output.
func (s *Store) DeleteOutput(ctx context.Context, id string) error {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		// A SaveWebhook after this one in the writer reads the output
		// again, and finds none.
		s.outputs.forget(id)
		res, err := tx.ExecContext(ctx, `DELETE FROM outputs WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deleted_owners (id, kind, deleted_at) VALUES (?, 'output', ?)
			ON CONFLICT (id) DO UPDATE SET sweep = 0`, id, unixtime.Nanos(unixtime.Now()))
		return err
	})
	s.outputs.forget(id)
	if err != nil {
		return mapWriteErr(err, "output", id)
	}
	if n == 0 {
		return storeerr.NotFound("output", id)
	}
	return nil
}

func scanOutput(sc scanner) (*relay.Output, error) {
	var out relay.Output
	var fn, rfn sql.NullString
	var lock, internal, disabled int
	var timeout, initial, maxi, created, window int64
	var backoff string
	if err := sc.Scan(&out.ID, &out.BucketID, &out.Name, &out.Destination, &fn, &rfn, &lock, &timeout,
		&out.Retries.MaxAttempts, &backoff, &initial, &maxi, &internal, &disabled, &created, &out.MaxInFlight, &window); err != nil {
		return nil, err
	}
	out.Retries.Backoff = relay.Backoff(backoff)
	out.FunctionID = fn.String
	out.ResponseFunctionID = rfn.String
	out.LockPath = lock != 0
	out.Timeout = time.Duration(timeout)
	out.Retries.InitialInterval = time.Duration(initial)
	out.Retries.MaxInterval = time.Duration(maxi)
	out.Internal = internal != 0
	out.AgentWindow = time.Duration(window)
	out.Disabled = disabled != 0
	out.CreatedAt = unixtime.Time(created)
	return &out, nil
}

const tokenColumns = `id, bucket_id, name, secret_hash, created_at`

// CreateToken saves t, filling t.ID (when empty) and t.CreatedAt. A token
// with a BucketID needs that bucket to exist.
func (s *Store) CreateToken(ctx context.Context, t *relay.Token) error {
	if err := records.Token(t, unixtime.Now()); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, "token", t.ID, t.BucketID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?)`,
			t.ID, nullString(t.BucketID), t.Name, t.SecretHash, unixtime.Nanos(t.CreatedAt))
		return mapWriteErr(err, "token", t.ID)
	})
}

// GetToken finds a token by ID.
func (s *Store) GetToken(ctx context.Context, id string) (*relay.Token, error) {
	t, err := scanToken(s.rdb.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("token", id)
	}
	if err != nil {
		return nil, fmt.Errorf("token %q: %w", id, err)
	}
	return t, nil
}

// ListTokens lists a bucket's tokens, or the admin tokens for "", oldest
// first.
func (s *Store) ListTokens(ctx context.Context, bucketID string) ([]*relay.Token, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE bucket_id IS ? ORDER BY created_at, id`, nullString(bucketID))
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var toks []*relay.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		toks = append(toks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return toks, nil
}

// DeleteToken deletes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	return checkUpdated(res, mapWriteErr(err, "token", id), "token", id)
}

func scanToken(sc scanner) (*relay.Token, error) {
	var t relay.Token
	var bucket sql.NullString
	var created int64
	if err := sc.Scan(&t.ID, &bucket, &t.Name, &t.SecretHash, &created); err != nil {
		return nil, err
	}
	t.BucketID = bucket.String
	t.CreatedAt = unixtime.Time(created)
	return &t, nil
}
