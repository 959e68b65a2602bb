package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
	"github.com/relayfn/relayfn/relay/store/internal/journal"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// The statements of the group-commit writes, prepared once at Open.
const (
	// The caller passes NULL for the secret columns of an ephemeral bucket
	// (see bucketEphemeral, which fails for a missing bucket). Single-row VALUES statements need no statement journal, unlike
	// INSERT … SELECT.
	qInsertWebhook = `INSERT INTO webhooks (id, bucket_id, input_id, received_at, method, path,
		raw_query, headers, body, status, function_error, logs, raw_path,
		received, function_outcome, answer_headers, answer_size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// What bucketEphemeral reads when its cache misses.
	qBucketEphemeral = `SELECT ephemeral FROM buckets WHERE id = ?`
	// due_at is the lease's end for a delivery stored claimed, else its
	// next attempt time.
	qInsertDelivery = `INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, attempts,
		next_attempt_at, last_status, last_error, created_at, updated_at, due_at, lease_owner, lease_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// Whether output ?1 exists in bucket ?2, checked before a delivery
	// to it is stored (through the outputs_bucket_id index).
	qOutputInBucket = `SELECT 1 FROM outputs WHERE id = ? AND bucket_id = ?`
	qWebhookBucket  = `SELECT bucket_id FROM webhooks WHERE id = ?`
	// The number of a delivery's last attempt; no row means no delivery.
	qAttemptN = `SELECT attempt_n FROM deliveries WHERE id = ?`
	// Moves a delivery's last attempt out of its row when attempt ?2
	// follows it.
	qMoveAttempt = `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, logs,
			response_headers, response_body)
		SELECT id, attempt_n, attempt_started_at, attempt_duration_ms, attempt_status, attempt_error, attempt_logs,
			attempt_response_headers, attempt_response_body
		FROM deliveries WHERE id = ?1 AND attempt_n > 0 AND attempt_n < ?2`
	// Records an attempt in the delivery's row, with the delivery's new
	// state, unless the row holds that attempt or a later one already,
	// and ends the delivery's lease (due_at is its next attempt time),
	// unless a claim ID is given and the delivery is no longer under it.
	// Logs are dropped for an ephemeral bucket. (Plain ? parameters bind
	// faster than numbered ones.)
	qRecordAttempt = `UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, due_at = ?, lease_owner = NULL, lease_id = NULL,
		last_status = ?, last_error = ?, updated_at = ?,
		attempt_n = ?, attempt_started_at = ?, attempt_duration_ms = ?, attempt_status = ?,
		attempt_error = ?, attempt_response_headers = ?, attempt_response_body = ?,
		attempt_logs = CASE WHEN ? IS NULL THEN NULL
			WHEN (SELECT b.ephemeral FROM buckets b WHERE b.id = deliveries.bucket_id) THEN NULL
			ELSE ? END
		WHERE id = ? AND attempt_n < ? AND (? = '' OR lease_id = ?)`
)

// preparedQueries are prepared on the write connection at Open.
var preparedQueries = []string{
	qInsertWebhook, qBucketEphemeral, qInsertDelivery, qOutputInBucket, qWebhookBucket, qAttemptN, qMoveAttempt, qRecordAttempt,
}

// SaveWebhook stores w and its deliveries ds in one transaction, filling
// w.ID and w.ReceivedAt when empty and, in each delivery, the ID, WebhookID,
// BucketID, State (pending) and times when empty. When it returns nil, they
// survive a crash of the process. The bucket must exist, and every
// delivery's output must belong to it. For a bucket that is ephemeral, only
// the ids, method, status and time of w are stored. w is not modified
// otherwise.
func (s *Store) SaveWebhook(ctx context.Context, w *relay.Webhook, ds []*relay.Delivery) error {
	fn, err := s.saveWebhookFunc(w, ds)
	if err != nil {
		return err
	}
	return s.writeHot(ctx, fn, false)
}

// saveWebhookFunc prepares w and ds and returns the write that stores
// them.
func (s *Store) saveWebhookFunc(w *relay.Webhook, ds []*relay.Delivery) (func(context.Context, hotTx) error, error) {
	if err := records.Webhook(w, ds, unixtime.Now()); err != nil {
		return nil, err
	}
	sw, err := journal.SealWebhook(s.sealer, w)
	if err != nil {
		return nil, err
	}
	lastErrs := s.sealLastErrors(ds)
	return func(ctx context.Context, tx hotTx) error {
		ephemeral, err := s.bucketEphemeral(ctx, tx, w.BucketID)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", w.ID, err)
		}
		cols, path, rawPath := *sw, any(w.Request.Path), any(nil)
		if w.Request.RawPath != "" {
			rawPath = w.Request.RawPath
		}
		if ephemeral {
			cols, path, rawPath = journal.Webhook{}, nil, nil
		}
		_, err = tx.exec(ctx, qInsertWebhook,
			w.ID, w.BucketID, w.InputID, unixtime.Nanos(w.ReceivedAt), w.Request.Method, path,
			cols.RawQuery, cols.Headers, cols.Body, int64(w.Status), cols.FunctionError, cols.Logs, rawPath,
			cols.Received, cols.Outcome, cols.AnswerHeaders, int64(cols.AnswerSize))
		if err != nil {
			return mapWriteErr(err, "webhook", w.ID)
		}
		return s.insertDeliveries(ctx, tx, ds, lastErrs)
	}, nil
}

// bucketEphemeral reports whether bucket id is ephemeral, from the cache
// or else read in tx.
func (s *Store) bucketEphemeral(ctx context.Context, tx hotTx, id string) (bool, error) {
	if e, ok := s.ephemeral.get(id); ok {
		return e, nil
	}
	var e bool
	err := tx.queryRow(ctx, qBucketEphemeral, []any{&e}, id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, storeerr.NotFound("bucket", id)
	}
	if err != nil {
		return false, fmt.Errorf("bucket %q: %w", id, err)
	}
	s.ephemeral.put(id, e)
	return e, nil
}

// sealLastErrors seals the deliveries' last errors.
func (s *Store) sealLastErrors(ds []*relay.Delivery) []any {
	errs := make([]any, len(ds))
	for i, d := range ds {
		errs[i] = s.sealOptional([]byte(d.LastError), "deliveries", d.ID, "last_error")
	}
	return errs
}

// insertDeliveries inserts ds, after checking that each one's output
// exists and belongs to its bucket (once per output: see outputCache).
// (No foreign key checks it: deleting an output leaves its deliveries for
// the retention purge.)
func (s *Store) insertDeliveries(ctx context.Context, tx hotTx, ds []*relay.Delivery, lastErrs []any) error {
	for i, d := range ds {
		if b, ok := s.outputs.get(d.OutputID); !ok || b != d.BucketID {
			var one int
			err := tx.queryRow(ctx, qOutputInBucket, []any{&one}, d.OutputID, d.BucketID)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("delivery %s: output %s in bucket %s: %w", d.ID, d.OutputID, d.BucketID, storeerr.NotFound("output", d.OutputID))
			}
			if err != nil {
				return fmt.Errorf("delivery %s: %w", d.ID, err)
			}
			s.outputs.put(d.OutputID, d.BucketID)
		}
		due := unixtime.Nanos(d.NextAttemptAt)
		if d.LeaseOwner != "" {
			due = unixtime.Nanos(d.LeaseUntil)
		}
		_, err := tx.exec(ctx, qInsertDelivery,
			d.ID, d.WebhookID, d.BucketID, d.OutputID, string(d.State), int64(d.Attempts), unixtime.Nanos(d.NextAttemptAt), int64(d.LastStatus),
			lastErrs[i], unixtime.Nanos(d.CreatedAt), unixtime.Nanos(d.UpdatedAt), due, nullString(d.LeaseOwner), nullString(d.LeaseID))
		if err != nil {
			return mapWriteErr(err, "delivery", d.ID)
		}
	}
	return nil
}

// qGetWebhook is GetWebhook's query, prepared at Open: the delivery
// engine reloads each delivery's request with it when the request was not
// kept in memory (a backlog, a restart), so under load it runs as often
// as webhooks arrive.
const qGetWebhook = `SELECT id, bucket_id, input_id, received_at, method, path, raw_query,
	headers, body, status, function_error, logs, raw_path,
	received, function_outcome, answer_headers, answer_size FROM webhooks w WHERE id = ? AND ` + liveWebhook

// GetWebhook finds a webhook by ID. A webhook of an ephemeral bucket comes
// back with only its ids, method, status and time; one of a deleted bucket
// is not found.
func (s *Store) GetWebhook(ctx context.Context, id string) (*relay.Webhook, error) {
	return s.scanWebhook(s.getWebhook.QueryRowContext(ctx, id), id)
}

// scanWebhook reads the webhook id from row, a row of qGetWebhook.
func (s *Store) scanWebhook(row *sql.Row, id string) (*relay.Webhook, error) {
	var w relay.Webhook
	var path, rawPath sql.NullString
	var rawQuery, headers, body, functionError, logs []byte
	var sealedReceived, outcome, answerHeaders []byte
	var received int64
	err := row.Scan(
		&w.ID, &w.BucketID, &w.InputID, &received, &w.Request.Method, &path, &rawQuery,
		&headers, &body, &w.Status, &functionError, &logs, &rawPath,
		&sealedReceived, &outcome, &answerHeaders, &w.Answer.BodySize)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("webhook", id)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook %q: %w", id, err)
	}
	w.ReceivedAt = unixtime.Time(received)
	w.Request.Path = path.String
	w.Request.RawPath = rawPath.String
	open := func(b []byte, column string) []byte {
		if err != nil {
			return nil
		}
		var p []byte
		p, err = s.openValue(b, "webhooks", w.ID, column)
		return p
	}
	q := open(rawQuery, "raw_query")
	h := open(headers, "headers")
	w.Request.Body = open(body, "body")
	fe := open(functionError, "function_error")
	l := open(logs, "logs")
	if err != nil {
		return nil, err
	}
	w.Request.RawQuery = string(q)
	w.FunctionError = string(fe)
	if h != nil {
		if err := json.Unmarshal(h, &w.Request.Header); err != nil {
			return nil, fmt.Errorf("webhook %s: headers: %w", w.ID, err)
		}
	}
	if l != nil {
		if err := json.Unmarshal(l, &w.Logs); err != nil {
			return nil, fmt.Errorf("webhook %s: logs: %w", w.ID, err)
		}
	}
	if err := journal.Open(s.sealer, &w, sealedReceived, outcome, answerHeaders); err != nil {
		return nil, err
	}
	return &w, nil
}

// AddDeliveries stores new deliveries of stored webhooks (a replay), all or
// none, filling each one's ID, BucketID (the webhook's), State (pending) and
// times when empty.
func (s *Store) AddDeliveries(ctx context.Context, ds []*relay.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	t := unixtime.Now()
	for i, d := range ds {
		if d.WebhookID == "" {
			return errors.New("delivery: a webhook is required")
		}
		records.Delivery(d, i, t)
	}
	lastErrs := s.sealLastErrors(ds)
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range ds {
			var bucket string
			err := s.txQueryRow(ctx, tx, qWebhookBucket, d.WebhookID).Scan(&bucket)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("delivery %s: %w", d.ID, storeerr.NotFound("webhook", d.WebhookID))
			}
			if err != nil {
				return fmt.Errorf("delivery %s: %w", d.ID, err)
			}
			if d.BucketID == "" {
				d.BucketID = bucket
			}
			if d.BucketID != bucket {
				return fmt.Errorf("delivery %s: webhook %s is not in bucket %s: %w", d.ID, d.WebhookID, d.BucketID, store.ErrNotFound)
			}
		}
		return s.insertDeliveries(ctx, sqlTx{s: s, tx: tx}, ds, lastErrs)
	})
}

const deliveryColumns = `id, webhook_id, bucket_id, output_id, state, attempts, next_attempt_at, last_status,
	last_error, created_at, updated_at, due_at, lease_owner, lease_id`

// scanDelivery scans a delivery and opens its last error.
func (s *Store) scanDelivery(sc scanner) (*relay.Delivery, error) {
	var d relay.Delivery
	var next, created, updated, due int64
	var lastErr []byte
	var owner, leaseID sql.NullString
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.BucketID, &d.OutputID, &d.State, &d.Attempts, &next,
		&d.LastStatus, &lastErr, &created, &updated, &due, &owner, &leaseID); err != nil {
		return nil, err
	}
	if owner.Valid {
		d.LeaseOwner, d.LeaseUntil, d.LeaseID = owner.String, unixtime.Time(due), leaseID.String
	}
	le, err := s.openValue(lastErr, "deliveries", d.ID, "last_error")
	if err != nil {
		return nil, err
	}
	d.LastError = string(le)
	d.NextAttemptAt = unixtime.Time(next)
	d.CreatedAt = unixtime.Time(created)
	d.UpdatedAt = unixtime.Time(updated)
	return &d, nil
}

// queryDeliveries runs a query of deliveryColumns.
func (s *Store) queryDeliveries(ctx context.Context, q querier, what, query string, args ...any) ([]*relay.Delivery, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ds []*relay.Delivery
	for rows.Next() {
		d, err := s.scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ds, nil
}

// qClaim leases up to ?5 of output ?3's deliveries due at ?4 to ?2 until
// ?1, earliest due first, through the deliveries_due index.
// A deleted output's deliveries are never claimed.
const qClaim = `UPDATE deliveries SET due_at = ?1, lease_owner = ?2, lease_id = ?6
	WHERE id IN (SELECT id FROM deliveries WHERE output_id = ?3 AND state = 'pending' AND due_at <= ?4
		AND EXISTS (SELECT 1 FROM outputs o WHERE o.id = ?3)
		ORDER BY due_at LIMIT ?5)
	RETURNING ` + deliveryColumns

// ClaimDue leases due pending deliveries to c.Owner until c.Now+c.Lease:
// for each output of c.Quota, up to its quota, earliest due first. They
// come back ordered by next attempt time, then creation. One transaction
// claims for every output; each output's claim reads only its own part of
// the pending index.
func (s *Store) ClaimDue(ctx context.Context, c relay.Claim) ([]*relay.Delivery, error) {
	if c.Owner == "" {
		return nil, errors.New("claim: an owner is required")
	}
	if c.Lease <= 0 {
		return nil, errors.New("claim: the lease must be positive")
	}
	until, at := unixtime.Nanos(c.Now.Add(c.Lease)), unixtime.Nanos(c.Now)
	leaseID := relay.NewRecordID()
	var ds []*relay.Delivery
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ds = ds[:0] // a batch's failure runs this again
		for output, n := range c.Quota {
			if n <= 0 {
				continue
			}
			got, err := s.queryDeliveries(ctx, tx, "claim deliveries", qClaim, until, c.Owner, output, at, n, leaseID)
			if err != nil {
				return err
			}
			ds = append(ds, got...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b *relay.Delivery) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ds, nil
}

// NextDue returns when the first pending delivery of the outputs falls
// due: one probe of the pending index per output that exists.
func (s *Store) NextDue(ctx context.Context, outputIDs []string) (time.Time, bool, error) {
	if len(outputIDs) == 0 {
		return time.Time{}, false, nil
	}
	list, err := json.Marshal(outputIDs)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	var due sql.NullInt64
	err = s.rdb.QueryRowContext(ctx, `SELECT MIN((SELECT d.due_at FROM deliveries d
		WHERE d.output_id = j.value AND d.state = 'pending' ORDER BY d.due_at LIMIT 1)) FROM json_each(?) j
		WHERE EXISTS (SELECT 1 FROM outputs o WHERE o.id = j.value)`,
		string(list)).Scan(&due)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return unixtime.Time(due.Int64), true, nil
}

// ReleaseClaims ends owner's leases of the pending deliveries ids (all of
// them when ids is nil): they are due again at their next attempt time.
// Releasing every lease scans the pending deliveries.
func (s *Store) ReleaseClaims(ctx context.Context, owner string, ids []string) error {
	if owner == "" {
		return errors.New("release claims: an owner is required")
	}
	if ids != nil && len(ids) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if ids == nil {
			_, err := tx.ExecContext(ctx, `UPDATE deliveries SET due_at = next_attempt_at, lease_owner = NULL, lease_id = NULL
				WHERE state = 'pending' AND lease_owner = ?`, owner)
			if err != nil {
				return fmt.Errorf("release claims of %s: %w", owner, err)
			}
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE deliveries SET due_at = next_attempt_at, lease_owner = NULL, lease_id = NULL
			WHERE id = ? AND state = 'pending' AND lease_owner = ?`)
		if err != nil {
			return fmt.Errorf("release claims of %s: %w", owner, err)
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, id, owner); err != nil {
				return fmt.Errorf("release claim of delivery %s: %w", id, err)
			}
		}
		return nil
	})
}

// RenewClaims extends to until the leases of claims still held, and
// returns the IDs of the deliveries no longer under their claim.
func (s *Store) RenewClaims(ctx context.Context, until time.Time, claims []relay.LeaseRef) ([]string, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	var lost []string
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		lost = lost[:0] // a batch's failure runs this again
		stmt, err := tx.PrepareContext(ctx, `UPDATE deliveries SET due_at = ?
			WHERE id = ? AND state = 'pending' AND lease_id = ?`)
		if err != nil {
			return fmt.Errorf("renew claims: %w", err)
		}
		defer stmt.Close()
		for _, c := range claims {
			res, err := stmt.ExecContext(ctx, unixtime.Nanos(until), c.ID, c.LeaseID)
			if err != nil {
				return fmt.Errorf("renew the claim of delivery %s: %w", c.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("renew the claim of delivery %s: %w", c.ID, err)
			} else if n == 0 {
				lost = append(lost, c.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lost, nil
}

// ListDeliveries lists the deliveries f selects, newest first, but
// those of deleted outputs.
func (s *Store) ListDeliveries(ctx context.Context, f relay.DeliveryFilter) ([]*relay.Delivery, error) {
	where := []string{liveDelivery}
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.BucketID != "" {
		add("bucket_id = ?", f.BucketID)
	}
	if f.OutputID != "" {
		add("output_id = ?", f.OutputID)
	}
	if f.WebhookID != "" {
		add("webhook_id = ?", f.WebhookID)
	}
	if f.State != "" {
		add("state = ?", f.State)
	}
	if !f.Before.IsZero() {
		add("created_at < ?", unixtime.Nanos(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries d WHERE ` + strings.Join(where, " AND ")
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return s.queryDeliveries(ctx, s.rdb, "list deliveries", query, args...)
}

// RecordAttempt saves a and d's new state, attempts, next attempt time,
// last status, last error and update time together. It fills
// a.DeliveryID (d's), a.N (the next number), a.StartedAt and d.UpdatedAt
// (the current time) when empty. For a delivery of an ephemeral bucket,
// a's logs are not stored. Recording an attempt whose number is taken
// fails with store.ErrConflict.
//
// The last attempt is kept in the delivery's row and the earlier ones in
// the attempts table, so that a delivery that succeeds at once costs one
// UPDATE.
func (s *Store) RecordAttempt(ctx context.Context, d *relay.Delivery, a *relay.Attempt) error {
	if d.ID == "" {
		return errors.New("attempt: a delivery is required")
	}
	if a.DeliveryID == "" {
		a.DeliveryID = d.ID
	}
	if a.DeliveryID != d.ID {
		return fmt.Errorf("delivery %s: attempt belongs to delivery %s", d.ID, a.DeliveryID)
	}
	if d.State == "" {
		d.State = relay.DeliveryPending
	}
	t := unixtime.Now()
	if a.StartedAt.IsZero() {
		a.StartedAt = t
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = t
	}
	var logs []byte
	if len(a.Logs) > 0 {
		var err error
		if logs, err = json.Marshal(a.Logs); err != nil {
			return fmt.Errorf("delivery %s: attempt logs: %w", d.ID, err)
		}
	}
	lastErr := s.sealOptional([]byte(d.LastError), "deliveries", d.ID, "last_error")
	n := a.N
	var sealedErr, sealedLogs, respHeaders, respBody any
	var respHeaderJSON []byte
	respBodyPlain := a.ResponseBody
	if len(a.ResponseHeader) > 0 {
		respHeaderJSON = headerjson.Append(nil, a.ResponseHeader)
	}
	seal := func() {
		if logs != nil {
			sealedLogs = s.sealer.Seal(logs, sealed.AttemptAAD(d.ID, n, "logs"))
		}
		if respHeaderJSON != nil {
			respHeaders = s.sealer.Seal(respHeaderJSON, sealed.AttemptAAD(d.ID, n, "response_headers"))
		}
		if len(respBodyPlain) > 0 {
			respBody = s.sealer.Seal(respBodyPlain, sealed.AttemptAAD(d.ID, n, "response_body"))
		}
		if a.Error != "" {
			sealedErr = s.sealer.Seal([]byte(a.Error), sealed.AttemptAAD(d.ID, n, "error"))
		}
	}
	if n > 0 {
		seal() // here rather than on the writer's goroutine
	}
	err := s.writeHot(ctx, func(ctx context.Context, tx hotTx) error {
		if respHeaderJSON != nil || len(respBodyPlain) > 0 {
			// An ephemeral bucket keeps no answers.
			if eph, err := s.deliveryEphemeral(ctx, tx, d); err != nil {
				return err
			} else if eph {
				respHeaderJSON, respBodyPlain, respHeaders, respBody = nil, nil, nil, nil
			}
		}
		if n == 0 {
			var last int
			err := tx.queryRow(ctx, qAttemptN, []any{&last}, d.ID)
			if errors.Is(err, sql.ErrNoRows) {
				return storeerr.NotFound("delivery", d.ID)
			}
			if err != nil {
				return fmt.Errorf("delivery %s: %w", d.ID, err)
			}
			n = last + 1
			seal()
		}
		if n > 1 {
			if _, err := tx.exec(ctx, qMoveAttempt, d.ID, int64(n)); err != nil {
				if unique, _ := constraint(err); unique {
					return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, store.ErrConflict)
				}
				return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, err)
			}
		}
		k, err := tx.exec(ctx, qRecordAttempt, string(d.State), int64(d.Attempts), unixtime.Nanos(d.NextAttemptAt), unixtime.Nanos(d.NextAttemptAt),
			int64(d.LastStatus), lastErr, unixtime.Nanos(d.UpdatedAt),
			int64(n), unixtime.Nanos(a.StartedAt), a.DurationMS, int64(a.Status), sealedErr, respHeaders, respBody, sealedLogs, sealedLogs, d.ID, int64(n),
			d.LeaseID, d.LeaseID)
		if err != nil {
			return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, err)
		}
		if k == 0 {
			var last int
			var leaseID sql.NullString
			err := tx.queryRow(ctx, `SELECT attempt_n, lease_id FROM deliveries WHERE id = ?`, []any{&last, &leaseID}, d.ID)
			if errors.Is(err, sql.ErrNoRows) {
				return storeerr.NotFound("delivery", d.ID)
			}
			if err != nil {
				return fmt.Errorf("delivery %s: %w", d.ID, err)
			}
			if d.LeaseID != "" && leaseID.String != d.LeaseID {
				return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, store.ErrLeaseLost)
			}
			return fmt.Errorf("delivery %s: attempt %d: attempt %d is recorded: %w", d.ID, n, last, store.ErrConflict)
		}
		return nil
	}, true)
	if err != nil {
		return err
	}
	a.N = n
	d.LeaseOwner, d.LeaseUntil, d.LeaseID = "", time.Time{}, ""
	return nil
}

// GetDelivery finds a delivery by ID, with its attempts in order; one of a
// deleted output is not found.
func (s *Store) GetDelivery(ctx context.Context, id string) (*relay.Delivery, []*relay.Attempt, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("delivery %q: %w", id, err)
	}
	defer tx.Rollback()
	d, err := s.scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE id = ? AND `+liveDelivery, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, storeerr.NotFound("delivery", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("delivery %q: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT n, started_at, duration_ms, status, error, logs,
			response_headers, response_body
		FROM attempts WHERE delivery_id = ?1
		UNION ALL
		SELECT attempt_n, attempt_started_at, attempt_duration_ms, attempt_status, attempt_error, attempt_logs,
			attempt_response_headers, attempt_response_body
		FROM deliveries WHERE id = ?1 AND attempt_n > 0
		ORDER BY 1`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("delivery %q: attempts: %w", id, err)
	}
	defer rows.Close()
	var as []*relay.Attempt
	for rows.Next() {
		a, err := s.scanAttempt(rows, id)
		if err != nil {
			return nil, nil, fmt.Errorf("delivery %q: %w", id, err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("delivery %q: attempts: %w", id, err)
	}
	return d, as, nil
}

// scanAttempt scans an attempt of delivery id and opens its sealed
// columns.
func (s *Store) scanAttempt(sc scanner, id string) (*relay.Attempt, error) {
	a := &relay.Attempt{DeliveryID: id}
	var started int64
	var sealedErr, sealedLogs, respHeaders, respBody []byte
	if err := sc.Scan(&a.N, &started, &a.DurationMS, &a.Status, &sealedErr, &sealedLogs, &respHeaders, &respBody); err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	if err := journal.OpenAttemptResponse(s.sealer, a, id, respHeaders, respBody); err != nil {
		return nil, err
	}
	a.StartedAt = unixtime.Time(started)
	if sealedErr != nil {
		e, err := s.sealer.Open(sealedErr, sealed.AttemptAAD(id, a.N, "error"))
		if err != nil {
			return nil, fmt.Errorf("attempt %d: error: %w", a.N, err)
		}
		a.Error = string(e)
	}
	if sealedLogs != nil {
		l, err := s.sealer.Open(sealedLogs, sealed.AttemptAAD(id, a.N, "logs"))
		if err != nil {
			return nil, fmt.Errorf("attempt %d: logs: %w", a.N, err)
		}
		if err := json.Unmarshal(l, &a.Logs); err != nil {
			return nil, fmt.Errorf("attempt %d: logs: %w", a.N, err)
		}
	}
	return a, nil
}
