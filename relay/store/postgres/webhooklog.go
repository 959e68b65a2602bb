package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// The request log: the journey's columns and the listing of webhooks.

// SetWebhookAnswer records the status, headers and body size of the
// answer to webhook id's caller (the headers and size are not kept for an
// ephemeral bucket).
func (s *Store) SetWebhookAnswer(ctx context.Context, id string, status int, a relay.Answer) error {
	var headers []byte
	if len(a.Header) > 0 {
		headers = s.sealValue(headerjson.Append(nil, a.Header), "webhooks", id, "answer_headers")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhooks w SET status = $1,
		answer_headers = CASE WHEN b.ephemeral THEN NULL ELSE $2::bytea END,
		answer_size = CASE WHEN b.ephemeral THEN 0 ELSE $3::integer END
		FROM buckets b WHERE w.id = $4 AND b.id = w.bucket_id`, status, headers, a.BodySize, id)
	if err != nil {
		return fmt.Errorf("webhook %s: answer: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return storeerr.NotFound("webhook", id)
	}
	return nil
}

// ListWebhooks lists the webhooks f selects, newest first (by ID: webhook
// IDs are time-ordered), with the states of their deliveries. The
// webhooks of deleted buckets and the deliveries of deleted outputs are
// left out.
func (s *Store) ListWebhooks(ctx context.Context, f relay.WebhookFilter) ([]*relay.WebhookSummary, error) {
	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		for _, a := range arg {
			args = append(args, a)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
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
			OR EXISTS (SELECT 1 FROM deliveries d JOIN outputs o ON o.id = d.output_id
				WHERE d.webhook_id = w.id AND d.state = 'failed'))`)
	}
	if f.DeliveryState != "" {
		add(`EXISTS (SELECT 1 FROM deliveries d JOIN outputs o ON o.id = d.output_id
			WHERE d.webhook_id = w.id AND d.state = ?)`, string(f.DeliveryState))
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
		(SELECT string_agg(d.state, ',') FROM deliveries d JOIN outputs o ON o.id = d.output_id WHERE d.webhook_id = w.id)
		FROM webhooks w JOIN buckets b ON b.id = w.bucket_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += ` ORDER BY w.id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, func(r pgx.Rows) (*relay.WebhookSummary, error) {
		var w relay.WebhookSummary
		var received int64
		var states *string
		var path, fnErr []byte
		if err := r.Scan(&w.ID, &w.BucketID, &w.InputID, &received, &w.Method, &path, &w.Status, &fnErr, &states); err != nil {
			return nil, err
		}
		w.ReceivedAt = unixtime.Time(received)
		w.Path = string(path)
		fe, err := s.openValue(fnErr, "webhooks", w.ID, "function_error")
		if err != nil {
			return nil, err
		}
		w.FunctionError = string(fe)
		if st := deref(states); st != "" {
			w.Deliveries = map[relay.DeliveryState]int{}
			for state := range strings.SplitSeq(st, ",") {
				w.Deliveries[relay.DeliveryState(state)]++
			}
		}
		return &w, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}
