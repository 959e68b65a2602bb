package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const (
	// maxPurgeBatch bounds the webhooks of one purge transaction, so that
	// locks are held briefly.
	maxPurgeBatch = 1000
	// deletePage is how many records one statement of purgeTombstone
	// deletes.
	deletePage = 500
	// tombstoneGrace is how long a tombstone outlives the purge of what
	// its bucket or output left: a webhook stored by a transaction that
	// read the bucket before its deletion committed is still found.
	tombstoneGrace = time.Minute
)

// SetRetention sets a bucket's retention policy; a zero r removes it.
func (s *Store) SetRetention(ctx context.Context, bucketID string, r relay.Retention) error {
	if r.Payload < 0 || r.Metadata < 0 {
		return fmt.Errorf("postgres: bucket %s: retention: negative duration", bucketID)
	}
	err := s.routesTx(ctx, func(tx pgx.Tx) error {
		if err := mustExist(ctx, tx, "buckets", "bucket", bucketID); err != nil {
			return err
		}
		if r.IsZero() {
			_, err := tx.Exec(ctx, `DELETE FROM bucket_retention WHERE bucket_id = $1`, bucketID)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO bucket_retention (bucket_id, payload_ns, metadata_ns) VALUES ($1, $2, $3)
			ON CONFLICT (bucket_id) DO UPDATE SET payload_ns = excluded.payload_ns, metadata_ns = excluded.metadata_ns`,
			bucketID, int64(r.Payload), int64(r.Metadata))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: bucket %s: set retention: %w", bucketID, err)
	}
	return nil
}

// Retentions returns the policies set on buckets, by bucket ID.
func (s *Store) Retentions(ctx context.Context) (map[string]relay.Retention, error) {
	rows, err := s.pool.Query(ctx, `SELECT bucket_id, payload_ns, metadata_ns FROM bucket_retention`)
	m := make(map[string]relay.Retention)
	_, err = collect(rows, err, func(r pgx.Rows) (struct{}, error) {
		var id string
		var p, md int64
		err := r.Scan(&id, &p, &md)
		m[id] = relay.Retention{Payload: time.Duration(p), Metadata: time.Duration(md)}
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: retentions: %w", err)
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
const notPending = `NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'
	AND EXISTS (SELECT 1 FROM outputs o WHERE o.id = d.output_id))`

// Purge purges one batch. PurgePayload and PurgeMetadata take a bucket's
// webhooks received before p.Before: their payload columns are set to
// NULL, or they are deleted with their deliveries and attempts.
// Candidates are read by ID from p.After; the purge itself is one short
// transaction that rechecks that none has a pending delivery. (Deleted and
// overwritten values stay in dead row versions, sealed, until VACUUM.)
//
// PurgeDeleted deletes, in statements of at most p.Limit records in all,
// the webhooks of deleted buckets (res.Webhooks) and the deliveries of
// deleted outputs (res.Deliveries); res.More says that the limit was
// reached. A sweep with nothing deleted reads one empty table.
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
		return s.purgeDeleted(ctx, p.Limit)
	default:
		return res, fmt.Errorf("postgres: purge: unknown kind %q", p.Kind)
	}
	if p.Before.IsZero() {
		return res, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT w.id FROM webhooks w
		WHERE w.bucket_id = $1 AND w.id > $2 AND w.id < $3 AND w.received_at < $4`+extra+` AND `+notPending+`
		ORDER BY w.id LIMIT $5`, p.BucketID, p.After, idBound(p.Before), unixtime.Nanos(p.Before), p.Limit)
	ids, err := collect(rows, err, scanID)
	if err != nil {
		return res, fmt.Errorf("postgres: bucket %s: purge %s: %w", p.BucketID, p.Kind, err)
	}
	if len(ids) == 0 {
		return res, nil
	}
	res.Next = ids[len(ids)-1]
	res.More = len(ids) == p.Limit
	var n int
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = purgeTx(ctx, tx, p.Kind, ids)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("postgres: bucket %s: purge %s: %w", p.BucketID, p.Kind, err)
	}
	res.Webhooks = n
	return res, nil
}

func scanID(r pgx.Rows) (string, error) {
	var id string
	err := r.Scan(&id)
	return id, err
}

// purgeTx purges the webhooks ids that have no pending delivery and
// returns how many it purged. The webhooks' rows are locked first, which
// waits for the replays storing deliveries of them (their foreign key
// checks lock the rows too) and holds off new ones; the check that
// follows, a statement of its own, sees what those replays committed.
func purgeTx(ctx context.Context, tx pgx.Tx, kind relay.PurgeKind, ids []string) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT w.id FROM webhooks w WHERE w.id = ANY($1) AND `+notPending, ids)
	keep, err := collect(rows, err, scanID)
	if err != nil || len(keep) == 0 {
		return 0, err
	}
	var stmts []string
	switch kind {
	case relay.PurgePayload:
		stmts = []string{
			`UPDATE attempts SET logs = NULL, response_headers = NULL, response_body = NULL
				WHERE delivery_id IN (SELECT id FROM deliveries WHERE webhook_id = ANY($1))
				AND (logs IS NOT NULL OR response_headers IS NOT NULL OR response_body IS NOT NULL)`,
			`UPDATE deliveries SET attempt_logs = NULL, attempt_response_headers = NULL, attempt_response_body = NULL
				WHERE webhook_id = ANY($1)`,
			`UPDATE webhooks SET path = NULL, raw_path = NULL, raw_query = NULL, headers = NULL, body = NULL,
				function_error = NULL, logs = NULL, received = NULL, function_outcome = NULL, answer_headers = NULL
				WHERE id = ANY($1)`,
		}
	case relay.PurgeMetadata:
		// Deliveries and attempts go by cascade.
		stmts = []string{`DELETE FROM webhooks WHERE id = ANY($1)`}
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, keep); err != nil {
			return 0, err
		}
	}
	return len(keep), nil
}

// tombstone is a deleted bucket or output.
type tombstone struct {
	kind, id  string
	deletedAt time.Time
}

// Statements deleting up to $2 of what the deleted bucket or output $1
// left, unless it exists again.
const (
	qPurgeBucket = `DELETE FROM webhooks WHERE id IN (SELECT id FROM webhooks WHERE bucket_id = $1 ORDER BY id LIMIT $2)
		AND NOT EXISTS (SELECT 1 FROM buckets WHERE id = $1)`
	qPurgeOutput = `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE output_id = $1 ORDER BY id LIMIT $2)
		AND NOT EXISTS (SELECT 1 FROM outputs WHERE id = $1)`
)

// purgeDeleted deletes up to limit webhooks of deleted buckets and
// deliveries of deleted outputs, found through the tombstones, each
// statement a transaction of its own, and drops the tombstones left with
// nothing once they are older than tombstoneGrace. Its cursor is not
// needed: what was deleted is gone, so each batch starts over.
func (s *Store) purgeDeleted(ctx context.Context, limit int) (relay.PurgeResult, error) {
	var res relay.PurgeResult
	rows, err := s.pool.Query(ctx, `SELECT kind, id, deleted_at FROM tombstones ORDER BY deleted_at, kind, id`)
	stones, err := collect(rows, err, func(r pgx.Rows) (tombstone, error) {
		var t tombstone
		var at int64
		err := r.Scan(&t.kind, &t.id, &at)
		t.deletedAt = unixtime.Time(at)
		return t, err
	})
	if err != nil {
		return res, fmt.Errorf("postgres: purge deleted: %w", err)
	}
	for _, t := range stones {
		left := limit - res.Webhooks - res.Deliveries
		if left <= 0 {
			break
		}
		n, err := s.purgeStone(ctx, t, left)
		if t.kind == "bucket" {
			res.Webhooks += n
		} else {
			res.Deliveries += n
		}
		if err != nil {
			return res, fmt.Errorf("postgres: purge deleted: %s %s: %w", t.kind, t.id, err)
		}
		if n < left && unixtime.Now().Sub(t.deletedAt) >= tombstoneGrace {
			if _, err := s.pool.Exec(ctx, `DELETE FROM tombstones WHERE kind = $1 AND id = $2 AND deleted_at = $3`,
				t.kind, t.id, unixtime.Nanos(t.deletedAt)); err != nil {
				return res, fmt.Errorf("postgres: purge deleted: %s %s: %w", t.kind, t.id, err)
			}
		}
	}
	if res.Webhooks+res.Deliveries >= limit {
		res.More, res.Next = true, "more"
	}
	return res, nil
}

// purgeStone deletes up to limit records t left, and returns how many.
func (s *Store) purgeStone(ctx context.Context, t tombstone, limit int) (int, error) {
	q := qPurgeBucket
	if t.kind == "output" {
		q = qPurgeOutput
	}
	tag, err := s.pool.Exec(ctx, q, t.id, limit)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// purgeTombstone deletes at once what the deleted bucket or output id
// left, and its tombstone: its ID is taken again.
func (s *Store) purgeTombstone(ctx context.Context, kind, id string) error {
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT deleted_at FROM tombstones WHERE kind = $1 AND id = $2`, kind, id).Scan(&at)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge the deleted %s: %w", kind, err)
	}
	t := tombstone{kind: kind, id: id, deletedAt: unixtime.Time(at)}
	for {
		n, err := s.purgeStone(ctx, t, deletePage)
		if err != nil {
			return fmt.Errorf("purge the deleted %s: %w", kind, err)
		}
		if n < deletePage {
			break
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM tombstones WHERE kind = $1 AND id = $2`, kind, id); err != nil {
		return fmt.Errorf("purge the deleted %s: %w", kind, err)
	}
	return nil
}
