package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// The request log: the columns of migration 5 and the listing of webhooks.

// deliveryEphemeral reports whether d's bucket is ephemeral.
func (s *Store) deliveryEphemeral(ctx context.Context, tx hotTx, d *relay.Delivery) (bool, error) {
	bucket := d.BucketID
	if bucket == "" {
		err := tx.queryRow(ctx, `SELECT bucket_id FROM deliveries WHERE id = ?`, []any{&bucket}, d.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, storeerr.NotFound("delivery", d.ID)
		}
		if err != nil {
			return false, fmt.Errorf("delivery %s: %w", d.ID, err)
		}
	}
	return s.bucketEphemeral(ctx, tx, bucket)
}

// SetWebhookAnswer records the status, headers and body size of the
// answer to webhook id's caller (the headers are not kept for an
// ephemeral bucket).
func (s *Store) SetWebhookAnswer(ctx context.Context, id string, status int, a relay.Answer) error {
	var headers any
	if len(a.Header) > 0 {
		headers = s.sealValue(headerjson.Append(nil, a.Header), "webhooks", id, "answer_headers")
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET status = ?,
			answer_headers = CASE WHEN (SELECT b.ephemeral FROM buckets b WHERE b.id = webhooks.bucket_id) THEN NULL ELSE ? END,
			answer_size = CASE WHEN (SELECT b.ephemeral FROM buckets b WHERE b.id = webhooks.bucket_id) THEN 0 ELSE ? END
			WHERE id = ?`, status, headers, a.BodySize, id)
		if err != nil {
			return fmt.Errorf("webhook %s: answer: %w", id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return storeerr.NotFound("webhook", id)
		}
		return nil
	})
}

// ListWebhooks lists the webhooks f selects, newest first (by ID: webhook
// IDs are time-ordered), with the states of their deliveries, leaving out
// deleted buckets' webhooks and deleted outputs' deliveries. Filters
// other than Before scan the webhooks from the newest until Limit match.
func (s *Store) ListWebhooks(ctx context.Context, f relay.WebhookFilter) ([]*relay.WebhookSummary, error) {
	where := []string{liveWebhook}
	var args []any
	add := func(cond string, arg ...any) {
		where = append(where, cond)
		args = append(args, arg...)
	}
	if f.BucketID != "" {
		add("w.bucket_id = ?", f.BucketID)
	}
	if f.InputID != "" {
		add("w.input_id = ?", f.InputID)
	}
	if f.Status != 0 {
		add("w.status = ?", f.Status)
	}
	if f.FunctionError {
		add("w.function_error IS NOT NULL")
	}
	if f.Failed {
		add(`(w.function_error IS NOT NULL OR w.status >= 400
			OR EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'failed' AND ` + liveDelivery + `))`)
	}
	if f.DeliveryState != "" {
		add("EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.state = ? AND "+liveDelivery+")", string(f.DeliveryState))
	}
	if !f.Since.IsZero() {
		add("w.received_at >= ?", unixtime.Nanos(f.Since))
	}
	if !f.Until.IsZero() {
		add("w.received_at < ?", unixtime.Nanos(f.Until))
	}
	if f.Before != "" {
		add("w.id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT w.id, w.bucket_id, w.input_id, w.received_at, w.method, w.path, w.status, w.function_error,
		(SELECT group_concat(d.state) FROM deliveries d WHERE d.webhook_id = w.id AND ` + liveDelivery + `)
		FROM webhooks w WHERE ` + strings.Join(where, " AND ")
	q += ` ORDER BY w.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*relay.WebhookSummary
	for rows.Next() {
		var w relay.WebhookSummary
		var received int64
		var path, states sql.NullString
		var fnErr []byte
		if err := rows.Scan(&w.ID, &w.BucketID, &w.InputID, &received, &w.Method, &path, &w.Status, &fnErr, &states); err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		w.ReceivedAt = unixtime.Time(received)
		w.Path = path.String
		fe, err := s.openValue(fnErr, "webhooks", w.ID, "function_error")
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		w.FunctionError = string(fe)
		if states.String != "" {
			w.Deliveries = map[relay.DeliveryState]int{}
			for st := range strings.SplitSeq(states.String, ",") {
				w.Deliveries[relay.DeliveryState(st)]++
			}
		}
		out = append(out, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}
