package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

var _ relay.RetentionStore = (*Store)(nil)

// maxPurgeBatch bounds the webhooks of one purge transaction, so that the
// writer is never held long.
const maxPurgeBatch = 1000

// SetRetention sets a bucket's retention policy; a zero r removes it.
func (s *Store) SetRetention(ctx context.Context, bucketID string, r relay.Retention) error {
	if r.Payload < 0 || r.Metadata < 0 {
		return fmt.Errorf("sqlite: bucket %s: retention: negative duration", bucketID)
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := mustExist(ctx, tx, "buckets", "bucket", bucketID); err != nil {
			return err
		}
		if r.IsZero() {
			_, err := tx.ExecContext(ctx, `DELETE FROM bucket_retention WHERE bucket_id = ?`, bucketID)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bucket_retention (bucket_id, payload_ns, metadata_ns) VALUES (?, ?, ?)
			ON CONFLICT (bucket_id) DO UPDATE SET payload_ns = excluded.payload_ns, metadata_ns = excluded.metadata_ns`,
			bucketID, int64(r.Payload), int64(r.Metadata))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: bucket %s: set retention: %w", bucketID, err)
	}
	return nil
}

// Retentions returns the policies set on buckets, by bucket ID.
func (s *Store) Retentions(ctx context.Context) (map[string]relay.Retention, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT bucket_id, payload_ns, metadata_ns FROM bucket_retention`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: retentions: %w", err)
	}
	defer rows.Close()
	m := make(map[string]relay.Retention)
	for rows.Next() {
		var id string
		var p, md int64
		if err := rows.Scan(&id, &p, &md); err != nil {
			return nil, fmt.Errorf("sqlite: retentions: %w", err)
		}
		m[id] = relay.Retention{Payload: time.Duration(p), Metadata: time.Duration(md)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: retentions: %w", err)
	}
	return m, nil
}

// idBound is the smallest time-ordered (UUIDv7) ID of a record created at
// t's millisecond: IDs below it were made before.
func idBound(t time.Time) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", ms>>16, ms&0xffff)
}

// payloadPresent selects webhooks that still hold a payload column.
const payloadPresent = `(w.body IS NOT NULL OR w.headers IS NOT NULL OR w.raw_query IS NOT NULL
	OR w.path IS NOT NULL OR w.raw_path IS NOT NULL OR w.logs IS NOT NULL OR w.function_error IS NOT NULL
	OR w.received IS NOT NULL OR w.function_outcome IS NOT NULL OR w.answer_headers IS NOT NULL)`

// notPending selects webhooks without a pending delivery (to an output
// that exists).
const notPending = `NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending' AND ` + liveDelivery + `)`

// Purge purges one batch. For PurgePayload and PurgeMetadata, it takes
// a bucket's webhooks received before p.Before: their payload columns are
// set to NULL (PurgePayload), or they are deleted with their deliveries
// and attempts (PurgeMetadata); webhooks with a pending delivery are
// skipped. PurgeDeleted removes what deleted buckets and outputs left
// (purgeDeleted). Candidates are read, by ID range, on the read pool; the
// purge itself is one transaction of its own in the group-commit writer's
// queue (writeAlone), with secure_delete on so that the freed and
// rewritten pages hold zeros instead of the old ciphertext.
func (s *Store) Purge(ctx context.Context, p relay.Purge) (relay.PurgeResult, error) {
	res := relay.PurgeResult{Next: p.After}
	if p.Limit <= 0 || p.Limit > maxPurgeBatch {
		p.Limit = maxPurgeBatch
	}
	var extra string
	switch p.Kind {
	case relay.PurgePayload:
		extra = " AND " + payloadPresent
	case relay.PurgeMetadata:
	case relay.PurgeDeleted:
		return s.purgeDeleted(ctx, p)
	default:
		return res, fmt.Errorf("sqlite: purge: unknown kind %q", p.Kind)
	}
	if p.Before.IsZero() {
		return res, nil
	}
	// The webhooks have no index by bucket: the candidates are read by
	// ID, a window at a time (scanIDs); the other buckets' are skipped.
	ids, last, done, err := scanIDs(ctx, s.rdb, "webhooks w",
		`CASE WHEN w.bucket_id = ? AND w.received_at < ?`+extra+` THEN `+notPending+` ELSE 0 END`,
		[]any{p.BucketID, unixtime.Nanos(p.Before)}, p.After, idBound(p.Before), p.Limit)
	if err != nil {
		return res, fmt.Errorf("sqlite: bucket %s: purge %s: %w", p.BucketID, p.Kind, err)
	}
	res.Next, res.More = last, !done
	if len(ids) == 0 {
		return res, nil
	}
	var n int
	err = s.purgeWrite(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		n, err = purgeTx(ctx, tx, p.Kind, ids, notPending)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("sqlite: bucket %s: purge %s: %w", p.BucketID, p.Kind, err)
	}
	res.Webhooks = n
	return res, nil
}

// purgeWrite runs fn in a transaction of its own of the group-commit
// writer (writeAlone), with secure_delete on.
func (s *Store) purgeWrite(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.writeAlone(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return err
		}
		defer func() {
			if _, e := tx.ExecContext(ctx, `PRAGMA secure_delete = OFF`); e != nil && err == nil {
				err = e
			}
		}()
		return fn(ctx, tx)
	})
}

// purgeTx purges the webhooks ids that still meet cond (a condition on
// webhooks w) and returns how many it purged: it empties their payloads
// (PurgePayload) or deletes them with their deliveries and attempts.
func purgeTx(ctx context.Context, tx *sql.Tx, kind relay.PurgeKind, ids []string, cond string) (int, error) {
	return purgeRows(ctx, tx, "webhooks w", ids, cond, func(in string) []string {
		if kind != relay.PurgePayload {
			return deleteWebhooks(in)
		}
		return []string{
			`UPDATE attempts SET logs = NULL, response_headers = NULL, response_body = NULL
				WHERE delivery_id IN (SELECT id FROM deliveries WHERE webhook_id IN ` + in + `)`,
			`UPDATE deliveries SET attempt_logs = NULL, attempt_response_headers = NULL, attempt_response_body = NULL
				WHERE webhook_id IN ` + in,
			`UPDATE webhooks SET path = NULL, raw_path = NULL, raw_query = NULL, headers = NULL, body = NULL,
				function_error = NULL, logs = NULL, received = NULL, function_outcome = NULL, answer_headers = NULL
				WHERE id IN ` + in,
		}
	})
}

// purgeRows runs stmts on those of ids, rows of from (a table and the
// alias cond names it by, "webhooks w"), that still meet cond, and
// returns how many they were. stmts gets the list of those IDs,
// "(?, ?, …)", whose arguments each statement takes.
func purgeRows(ctx context.Context, tx *sql.Tx, from string, ids []string, cond string, stmts func(in string) []string) (int, error) {
	in, args := idList(ids)
	// Recheck, under the write lock, what may have changed since the
	// candidates were read (a replay made a delivery pending).
	keep, err := queryIDs(ctx, tx, `SELECT id FROM `+from+` WHERE id IN `+in+` AND `+cond, args...)
	if err != nil {
		return 0, err
	}
	if len(keep) == 0 {
		return 0, nil
	}
	in, args = idList(keep)
	for _, q := range stmts(in) {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, err
		}
	}
	return len(keep), nil
}
