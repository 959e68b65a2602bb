package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const bucketColumns = `id, name, description, auth_type, auth_username, auth_password_hash, ephemeral, created_at`

// CreateBucket saves b, filling b.ID (when empty), b.Auth.Type (when empty)
// and b.CreatedAt. When b.ID is that of a deleted bucket whose webhooks
// are not purged yet, they are purged first.
func (s *Store) CreateBucket(ctx context.Context, b *relay.Bucket) error {
	given := b.ID != ""
	if err := records.Bucket(b, unixtime.Now()); err != nil {
		return err
	}
	if given {
		if err := s.purgeTombstone(ctx, "bucket", b.ID); err != nil {
			return fmt.Errorf("bucket %q: %w", b.Name, err)
		}
	}
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO buckets (`+bucketColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			b.ID, b.Name, b.Description, b.Auth.Type, b.Auth.Username, b.Auth.PasswordHash, b.Ephemeral, unixtime.Nanos(b.CreatedAt))
		return mapWriteErr(err, "bucket", b.Name)
	})
}

// GetBucket finds a bucket by ID or, failing that, by name.
func (s *Store) GetBucket(ctx context.Context, idOrName string) (*relay.Bucket, error) {
	b, err := scanBucket(s.pool.QueryRow(ctx, `SELECT `+bucketColumns+` FROM buckets
		WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storeerr.NotFound("bucket", idOrName)
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %q: %w", idOrName, err)
	}
	return b, nil
}

// ListBuckets lists every bucket by name.
func (s *Store) ListBuckets(ctx context.Context) ([]*relay.Bucket, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+bucketColumns+` FROM buckets ORDER BY name`)
	bs, err := collect(rows, err, func(r pgx.Rows) (*relay.Bucket, error) { return scanBucket(r) })
	if err != nil {
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
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE buckets SET name = $1, description = $2, auth_type = $3,
			auth_username = $4, auth_password_hash = $5, ephemeral = $6 WHERE id = $7`,
			b.Name, b.Description, b.Auth.Type, b.Auth.Username, b.Auth.PasswordHash, b.Ephemeral, b.ID)
		return checkUpdated(tag, mapWriteErr(err, "bucket", b.Name), "bucket", b.ID)
	})
}

// DeleteBucket deletes the bucket with its inputs, outputs, tokens and
// retention policy at once. Its webhooks, with their deliveries and
// attempts, are no longer shown and go with the next purges of deleted
// records (relay.PurgeDeleted).
func (s *Store) DeleteBucket(ctx context.Context, id string) error {
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM buckets WHERE id = $1`, id)
		if err := checkUpdated(tag, mapWriteErr(err, "bucket", id), "bucket", id); err != nil {
			return err
		}
		return addTombstone(ctx, tx, "bucket", id)
	})
}

// addTombstone records that the bucket or output id was deleted.
func addTombstone(ctx context.Context, tx pgx.Tx, kind, id string) error {
	_, err := tx.Exec(ctx, `INSERT INTO tombstones (kind, id, deleted_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, id) DO UPDATE SET deleted_at = excluded.deleted_at`, kind, id, unixtime.Nanos(unixtime.Now()))
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	return nil
}

func scanBucket(sc pgx.Row) (*relay.Bucket, error) {
	var b relay.Bucket
	var created int64
	if err := sc.Scan(&b.ID, &b.Name, &b.Description, &b.Auth.Type, &b.Auth.Username, &b.Auth.PasswordHash, &b.Ephemeral, &created); err != nil {
		return nil, err
	}
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
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := checkRefs(ctx, tx, "input", in.Name, in.BucketID, in.FunctionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO inputs (`+inputColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			in.ID, in.BucketID, in.Name, in.Description, nullString(in.FunctionID), string(resp), unixtime.Nanos(in.CreatedAt))
		return mapWriteErr(err, "input", in.Name)
	})
}

// GetInput finds an input by ID.
func (s *Store) GetInput(ctx context.Context, id string) (*relay.Input, error) {
	in, err := scanInput(s.pool.QueryRow(ctx, `SELECT `+inputColumns+` FROM inputs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storeerr.NotFound("input", id)
	}
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", id, err)
	}
	return in, nil
}

// ListInputs lists a bucket's inputs, or every input for "", by name.
func (s *Store) ListInputs(ctx context.Context, bucketID string) ([]*relay.Input, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+inputColumns+` FROM inputs
		WHERE $1 = '' OR bucket_id = $1 ORDER BY bucket_id, name`, bucketID)
	ins, err := collect(rows, err, func(r pgx.Rows) (*relay.Input, error) { return scanInput(r) })
	if err != nil {
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
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := checkRefs(ctx, tx, "input", in.Name, "", in.FunctionID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE inputs SET name = $1, description = $2, function_id = $3, response = $4
			WHERE id = $5`, in.Name, in.Description, nullString(in.FunctionID), string(resp), in.ID)
		return checkUpdated(tag, mapWriteErr(err, "input", in.Name), "input", in.ID)
	})
}

// DeleteInput deletes an input; its webhooks are kept.
func (s *Store) DeleteInput(ctx context.Context, id string) error {
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM inputs WHERE id = $1`, id)
		return checkUpdated(tag, mapWriteErr(err, "input", id), "input", id)
	})
}

func scanInput(sc pgx.Row) (*relay.Input, error) {
	var in relay.Input
	var fn *string
	var resp string
	var created int64
	if err := sc.Scan(&in.ID, &in.BucketID, &in.Name, &in.Description, &fn, &resp, &created); err != nil {
		return nil, err
	}
	in.FunctionID = deref(fn)
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
// Its bucket and functions must exist. When out.ID is that of a deleted
// output whose deliveries are not purged yet, they are purged first.
func (s *Store) CreateOutput(ctx context.Context, out *relay.Output) error {
	given := out.ID != ""
	if err := records.Output(out, unixtime.Now()); err != nil {
		return err
	}
	if given {
		if err := s.purgeTombstone(ctx, "output", out.ID); err != nil {
			return fmt.Errorf("output %q: %w", out.Name, err)
		}
	}
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := checkRefs(ctx, tx, "output", out.Name, out.BucketID, out.FunctionID, out.ResponseFunctionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO outputs (`+outputColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			out.ID, out.BucketID, out.Name, out.Destination, nullString(out.FunctionID), nullString(out.ResponseFunctionID),
			out.LockPath, int64(out.Timeout), out.Retries.MaxAttempts, string(out.Retries.Backoff),
			int64(out.Retries.InitialInterval), int64(out.Retries.MaxInterval), out.Internal, out.Disabled,
			unixtime.Nanos(out.CreatedAt), out.MaxInFlight, int64(out.AgentWindow))
		return mapWriteErr(err, "output", out.Name)
	})
}

// GetOutput finds an output by ID.
func (s *Store) GetOutput(ctx context.Context, id string) (*relay.Output, error) {
	out, err := scanOutput(s.pool.QueryRow(ctx, `SELECT `+outputColumns+` FROM outputs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storeerr.NotFound("output", id)
	}
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", id, err)
	}
	return out, nil
}

// ListOutputs lists a bucket's outputs, or every output for "", by name.
func (s *Store) ListOutputs(ctx context.Context, bucketID string) ([]*relay.Output, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+outputColumns+` FROM outputs
		WHERE $1 = '' OR bucket_id = $1 ORDER BY bucket_id, name`, bucketID)
	outs, err := collect(rows, err, func(r pgx.Rows) (*relay.Output, error) { return scanOutput(r) })
	if err != nil {
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
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := checkRefs(ctx, tx, "output", out.Name, "", out.FunctionID, out.ResponseFunctionID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE outputs SET name = $1, destination = $2, function_id = $3,
			response_function_id = $4, lock_path = $5, timeout_ns = $6, retry_max_attempts = $7, retry_backoff = $8,
			retry_initial_ns = $9, retry_max_ns = $10, internal = $11, disabled = $12, max_in_flight = $13,
			agent_window_ns = $14 WHERE id = $15`,
			out.Name, out.Destination, nullString(out.FunctionID), nullString(out.ResponseFunctionID),
			out.LockPath, int64(out.Timeout), out.Retries.MaxAttempts, string(out.Retries.Backoff),
			int64(out.Retries.InitialInterval), int64(out.Retries.MaxInterval), out.Internal, out.Disabled,
			out.MaxInFlight, int64(out.AgentWindow), out.ID)
		return checkUpdated(tag, mapWriteErr(err, "output", out.Name), "output", out.ID)
	})
}

// DeleteOutput deletes an output at once. Its deliveries are no longer
// shown or claimed, and go with the next purges of deleted records
// (relay.PurgeDeleted).
func (s *Store) DeleteOutput(ctx context.Context, id string) error {
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM outputs WHERE id = $1`, id)
		if err := checkUpdated(tag, mapWriteErr(err, "output", id), "output", id); err != nil {
			return err
		}
		return addTombstone(ctx, tx, "output", id)
	})
}

func scanOutput(sc pgx.Row) (*relay.Output, error) {
	var out relay.Output
	var fn, rfn *string
	var timeout, initial, maxi, created, window int64
	var backoff string
	if err := sc.Scan(&out.ID, &out.BucketID, &out.Name, &out.Destination, &fn, &rfn, &out.LockPath, &timeout,
		&out.Retries.MaxAttempts, &backoff, &initial, &maxi, &out.Internal, &out.Disabled, &created, &out.MaxInFlight, &window); err != nil {
		return nil, err
	}
	out.Retries.Backoff = relay.Backoff(backoff)
	out.FunctionID = deref(fn)
	out.ResponseFunctionID = deref(rfn)
	out.Timeout = time.Duration(timeout)
	out.Retries.InitialInterval = time.Duration(initial)
	out.Retries.MaxInterval = time.Duration(maxi)
	out.AgentWindow = time.Duration(window)
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
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := checkRefs(ctx, tx, "token", t.ID, t.BucketID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			t.ID, nullString(t.BucketID), t.Name, t.SecretHash, unixtime.Nanos(t.CreatedAt))
		return mapWriteErr(err, "token", t.ID)
	})
}

// GetToken finds a token by ID.
func (s *Store) GetToken(ctx context.Context, id string) (*relay.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE bucket_id IS NOT DISTINCT FROM $1 ORDER BY created_at, id`, nullString(bucketID))
	toks, err := collect(rows, err, func(r pgx.Rows) (*relay.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return toks, nil
}

// DeleteToken deletes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.routesTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
		return checkUpdated(tag, mapWriteErr(err, "token", id), "token", id)
	})
}

func scanToken(sc pgx.Row) (*relay.Token, error) {
	var t relay.Token
	var bucket *string
	var created int64
	if err := sc.Scan(&t.ID, &bucket, &t.Name, &t.SecretHash, &created); err != nil {
		return nil, err
	}
	t.BucketID = deref(bucket)
	t.CreatedAt = unixtime.Time(created)
	return &t, nil
}
