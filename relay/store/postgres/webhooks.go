package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
	"github.com/relayfn/relayfn/relay/store/internal/journal"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const (
	// qInsertWebhook makes the webhook's row from its bucket's: a missing
	// bucket leaves bucket_id NULL, which fails (not-null violation), and
	// an ephemeral bucket's payload columns are NULL.
	qInsertWebhook = `INSERT INTO webhooks (id, bucket_id, input_id, received_at, method, path, raw_path,
		raw_query, headers, body, status, function_error, logs, received, function_outcome, answer_headers, answer_size)
		SELECT $1, b.id, $3, $4, $5,
			CASE WHEN b.ephemeral THEN NULL ELSE $6::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $7::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $8::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $9::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $10::bytea END,
			$11,
			CASE WHEN b.ephemeral THEN NULL ELSE $12::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $13::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $14::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $15::bytea END,
			CASE WHEN b.ephemeral THEN NULL ELSE $16::bytea END,
			CASE WHEN b.ephemeral THEN 0 ELSE $17::integer END
		FROM (SELECT $2::text AS id) v LEFT JOIN buckets b ON b.id = v.id`

	// qInsertDeliveries inserts deliveries given as arrays, one INSERT for
	// all. Each row's output_id is its output's, found in its bucket: a
	// missing output, or one of another bucket, leaves it NULL, which
	// fails. due_at is the lease's end for a delivery stored claimed, else
	// its next attempt time (the caller computes it).
	qInsertDeliveries = `INSERT INTO deliveries (id, webhook_id, bucket_id, output_id, state, attempts,
		next_attempt_at, last_status, last_error, created_at, updated_at, due_at, lease_owner, lease_id)
		SELECT u.id, u.webhook_id, u.bucket_id, o.id, u.state, u.attempts, u.next_attempt_at, u.last_status,
			u.last_error, u.created_at, u.updated_at, u.due_at, u.lease_owner, u.lease_id
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::bigint[],
			$8::integer[], $9::bytea[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::text[])
			AS u(id, webhook_id, bucket_id, output_id, state, attempts, next_attempt_at, last_status,
				last_error, created_at, updated_at, due_at, lease_owner, lease_id)
		LEFT JOIN outputs o ON o.id = u.output_id AND o.bucket_id = u.bucket_id`
)

// deliveryArgs are the arguments of qInsertDeliveries for ds.
func (s *Store) deliveryArgs(ds []*relay.Delivery) []any {
	n := len(ds)
	ids, webhooks, buckets, outputs, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts, statuses := make([]int32, n), make([]int32, n)
	next, created, updated, due := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	lastErrs := make([][]byte, n)
	owners, leases := make([]*string, n), make([]*string, n)
	for i, d := range ds {
		ids[i], webhooks[i], buckets[i], outputs[i], states[i] = d.ID, d.WebhookID, d.BucketID, d.OutputID, string(d.State)
		attempts[i], statuses[i] = int32(d.Attempts), int32(d.LastStatus)
		next[i], created[i], updated[i] = unixtime.Nanos(d.NextAttemptAt), unixtime.Nanos(d.CreatedAt), unixtime.Nanos(d.UpdatedAt)
		due[i] = unixtime.Nanos(d.NextAttemptAt)
		if d.LeaseOwner != "" {
			due[i] = unixtime.Nanos(d.LeaseUntil)
		}
		lastErrs[i] = s.sealOptional([]byte(d.LastError), "deliveries", d.ID, "last_error")
		owners[i], leases[i] = nullString(d.LeaseOwner), nullString(d.LeaseID)
	}
	return []any{ids, webhooks, buckets, outputs, states, attempts, next, statuses, lastErrs, created, updated, due, owners, leases}
}

// unclaimed reports whether one of ds is stored due without a lease: a
// node should be woken.
func unclaimed(ds []*relay.Delivery) bool {
	for _, d := range ds {
		if d.LeaseOwner == "" && d.State == relay.DeliveryPending {
			return true
		}
	}
	return false
}

// deliveriesErr explains a failed qInsertDeliveries of ds.
func (s *Store) deliveriesErr(ctx context.Context, err error, ds []*relay.Delivery) error {
	switch code, column := pgCode(err); {
	case code == codeNotNull && column == "output_id":
		for _, d := range ds {
			var ok bool
			if e := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outputs WHERE id = $1 AND bucket_id = $2)`,
				d.OutputID, d.BucketID).Scan(&ok); e == nil && !ok {
				return fmt.Errorf("delivery %s: output %s in bucket %s: %w", d.ID, d.OutputID, d.BucketID, storeerr.NotFound("output", d.OutputID))
			}
		}
		return fmt.Errorf("deliveries: an output: %w", store.ErrNotFound)
	case code == codeForeignKey:
		return fmt.Errorf("deliveries: a webhook: %w", store.ErrNotFound)
	case code == codeUnique:
		return fmt.Errorf("deliveries: a delivery ID: %w", store.ErrConflict)
	}
	return fmt.Errorf("deliveries: %w", err)
}

// SaveWebhook stores w and its deliveries ds in one transaction, filling
// w.ID and w.ReceivedAt when empty and, in each delivery, the ID,
// WebhookID, BucketID, State (pending) and times when empty. When it
// returns nil, they are committed. The bucket must exist, and every
// delivery's output must belong to it. For a bucket that is ephemeral,
// only the ids, method, status and time of w are stored. w is not
// modified otherwise.
//
// Concurrent calls share transactions (group commit): see the package
// documentation.
func (s *Store) SaveWebhook(ctx context.Context, w *relay.Webhook, ds []*relay.Delivery) error {
	if err := records.Webhook(w, ds, unixtime.Now()); err != nil {
		return err
	}
	req := &saveReq{ctx: ctx, w: w, ds: ds, unclaimed: unclaimed(ds), done: make(chan error, 1)}
	var err error
	if req.sw, err = journal.SealWebhook(s.sealer, w); err != nil {
		return err
	}
	return s.save(req)
}

// saveOne stores the webhook of req and its deliveries in one round trip:
// both INSERTs sent together, one implicit transaction.
func (s *Store) saveOne(ctx context.Context, req *saveReq) error {
	w, ds, sw := req.w, req.ds, req.sw
	b := &pgx.Batch{}
	b.Queue(qInsertWebhook, w.ID, w.BucketID, w.InputID, unixtime.Nanos(w.ReceivedAt), w.Request.Method, pathBytes(w.Request.Path), optionalBytes(w.Request.RawPath),
		sw.RawQuery, sw.Headers, sw.Body, w.Status, sw.FunctionError, sw.Logs,
		sw.Received, sw.Outcome, sw.AnswerHeaders, sw.AnswerSize)
	if len(ds) > 0 {
		b.Queue(qInsertDeliveries, s.deliveryArgs(ds)...)
	}
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	if err != nil {
		br.Close()
		if code, column := pgCode(err); code == codeNotNull && column == "bucket_id" {
			return fmt.Errorf("webhook %s: %w", w.ID, storeerr.NotFound("bucket", w.BucketID))
		}
		return mapWriteErr(err, "webhook", w.ID)
	}
	if len(ds) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("webhook %s: %w", w.ID, s.deliveriesErr(ctx, err, ds))
		}
	}
	if err := br.Close(); err != nil {
		return mapWriteErr(err, "webhook", w.ID)
	}
	return nil
}

// GetWebhook finds a webhook by ID. A webhook of an ephemeral bucket comes
// back with only its ids, method, status and time; one of a deleted
// bucket is not found.
func (s *Store) GetWebhook(ctx context.Context, id string) (*relay.Webhook, error) {
	var w relay.Webhook
	var path, rawPath []byte
	var rawQuery, headers, body, functionError, logs []byte
	var sealedReceived, outcome, answerHeaders []byte
	var received int64
	err := s.pool.QueryRow(ctx, `SELECT w.id, w.bucket_id, w.input_id, w.received_at, w.method, w.path, w.raw_query,
		w.headers, w.body, w.status, w.function_error, w.logs, w.raw_path,
		w.received, w.function_outcome, w.answer_headers, w.answer_size
		FROM webhooks w JOIN buckets b ON b.id = w.bucket_id WHERE w.id = $1`, id).Scan(
		&w.ID, &w.BucketID, &w.InputID, &received, &w.Request.Method, &path, &rawQuery,
		&headers, &body, &w.Status, &functionError, &logs, &rawPath,
		&sealedReceived, &outcome, &answerHeaders, &w.Answer.BodySize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storeerr.NotFound("webhook", id)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook %q: %w", id, err)
	}
	w.ReceivedAt = unixtime.Time(received)
	w.Request.Path = string(path)
	w.Request.RawPath = string(rawPath)
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
// times when empty, and wakes the nodes.
func (s *Store) AddDeliveries(ctx context.Context, ds []*relay.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	t := unixtime.Now()
	webhookIDs := make([]string, 0, len(ds))
	for i, d := range ds {
		if d.WebhookID == "" {
			return errors.New("delivery: a webhook is required")
		}
		records.Delivery(d, i, t)
		webhookIDs = append(webhookIDs, d.WebhookID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		buckets := map[string]string{}
		rows, err := tx.Query(ctx, `SELECT w.id, w.bucket_id FROM webhooks w JOIN buckets b ON b.id = w.bucket_id
			WHERE w.id = ANY($1)`, webhookIDs)
		_, err = collect(rows, err, func(r pgx.Rows) (struct{}, error) {
			var id, bucket string
			err := r.Scan(&id, &bucket)
			buckets[id] = bucket
			return struct{}{}, err
		})
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		for _, d := range ds {
			bucket, ok := buckets[d.WebhookID]
			if !ok {
				return fmt.Errorf("delivery %s: %w", d.ID, storeerr.NotFound("webhook", d.WebhookID))
			}
			if d.BucketID == "" {
				d.BucketID = bucket
			}
			if d.BucketID != bucket {
				return fmt.Errorf("delivery %s: webhook %s is not in bucket %s: %w", d.ID, d.WebhookID, d.BucketID, store.ErrNotFound)
			}
		}
		if _, err := tx.Exec(ctx, qInsertDeliveries, s.deliveryArgs(ds)...); err != nil {
			return s.deliveriesErr(ctx, err, ds)
		}
		if unclaimed(ds) {
			return notify(ctx, tx, s.workChan)
		}
		return nil
	})
}

// pathBytes is a webhook's path as stored: its bytes, never NULL.
func pathBytes(p string) []byte {
	return append([]byte{}, p...)
}

// optionalBytes is s's bytes, or NULL when s is empty.
func optionalBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// deliveryColumns are a delivery's columns, of the table aliased d.
const deliveryColumns = `d.id, d.webhook_id, d.bucket_id, d.output_id, d.state, d.attempts, d.next_attempt_at,
	d.last_status, d.last_error, d.created_at, d.updated_at, d.due_at, d.lease_owner, d.lease_id`

// scanDelivery scans a delivery and opens its last error.
func (s *Store) scanDelivery(sc pgx.Row) (*relay.Delivery, error) {
	var d relay.Delivery
	var next, created, updated, due int64
	var lastErr []byte
	var owner, leaseID *string
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.BucketID, &d.OutputID, &d.State, &d.Attempts, &next,
		&d.LastStatus, &lastErr, &created, &updated, &due, &owner, &leaseID); err != nil {
		return nil, err
	}
	if owner != nil {
		d.LeaseOwner, d.LeaseUntil, d.LeaseID = *owner, unixtime.Time(due), deref(leaseID)
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

// scanDeliveries scans rows of deliveryColumns.
func (s *Store) scanDeliveries(rows pgx.Rows, err error) ([]*relay.Delivery, error) {
	return collect(rows, err, func(r pgx.Rows) (*relay.Delivery, error) { return s.scanDelivery(r) })
}

// qClaim leases up to $6 of output $4's deliveries due at $5 to $2 until
// $1 under claim $3, earliest due first, through the deliveries_due
// index. SKIP LOCKED passes over the rows another claim is taking. A
// deleted output's deliveries are never claimed.
const qClaim = `WITH due AS (
		SELECT x.id FROM deliveries x
		WHERE x.output_id = $4 AND x.state = 'pending' AND x.due_at <= $5
			AND EXISTS (SELECT 1 FROM outputs o WHERE o.id = $4)
		ORDER BY x.due_at LIMIT $6
		FOR UPDATE SKIP LOCKED)
	UPDATE deliveries d SET due_at = $1, lease_owner = $2, lease_id = $3
	FROM due WHERE d.id = due.id
	RETURNING ` + deliveryColumns

// ClaimDue leases due pending deliveries to c.Owner until c.Now+c.Lease:
// for each output of c.Quota, up to its quota, earliest due first. They
// come back ordered by next attempt time, then creation. One transaction
// (one round trip) claims for every output, one statement per output.
func (s *Store) ClaimDue(ctx context.Context, c relay.Claim) ([]*relay.Delivery, error) {
	if c.Owner == "" {
		return nil, errors.New("claim: an owner is required")
	}
	if c.Lease <= 0 {
		return nil, errors.New("claim: the lease must be positive")
	}
	until, at := unixtime.Nanos(c.Now.Add(c.Lease)), unixtime.Nanos(c.Now)
	leaseID := relay.NewRecordID()
	b := &pgx.Batch{}
	for output, n := range c.Quota {
		if n > 0 {
			b.Queue(qClaim, until, c.Owner, leaseID, output, at, n)
		}
	}
	if b.Len() == 0 {
		return nil, nil
	}
	br := s.pool.SendBatch(ctx, b)
	var ds []*relay.Delivery
	for range b.Len() {
		rows, err := br.Query()
		got, err := s.scanDeliveries(rows, err)
		if err != nil {
			br.Close()
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		ds = append(ds, got...)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
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

// NextDue returns when the first pending delivery of the outputs (those
// that exist) falls due: one probe of the pending index per output.
func (s *Store) NextDue(ctx context.Context, outputIDs []string) (time.Time, bool, error) {
	if len(outputIDs) == 0 {
		return time.Time{}, false, nil
	}
	var due *int64
	err := s.pool.QueryRow(ctx, `SELECT MIN(x.due_at) FROM outputs o
		CROSS JOIN LATERAL (SELECT d.due_at FROM deliveries d WHERE d.output_id = o.id AND d.state = 'pending'
			ORDER BY d.due_at LIMIT 1) x
		WHERE o.id = ANY($1)`, outputIDs).Scan(&due)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	if due == nil {
		return time.Time{}, false, nil
	}
	return unixtime.Time(*due), true, nil
}

// ReleaseClaims ends owner's leases of the pending deliveries ids (all of
// them when ids is nil): they are due again at their next attempt time,
// and the nodes are woken when one was released. Releasing every lease
// scans the pending deliveries.
func (s *Store) ReleaseClaims(ctx context.Context, owner string, ids []string) error {
	if owner == "" {
		return errors.New("release claims: an owner is required")
	}
	if ids != nil && len(ids) == 0 {
		return nil
	}
	// One statement: the release, and a notification when it released
	// something.
	which, args := `TRUE`, []any{s.workChan, owner}
	if ids != nil {
		which, args = `id = ANY($3)`, append(args, ids)
	}
	q := `WITH r AS (UPDATE deliveries SET due_at = next_attempt_at, lease_owner = NULL, lease_id = NULL
			WHERE ` + which + ` AND state = 'pending' AND lease_owner = $2
			RETURNING 1)
		SELECT pg_notify($1, '') FROM (SELECT 1 FROM r LIMIT 1) x`
	if _, err := s.pool.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("release claims of %s: %w", owner, err)
	}
	return nil
}

// RenewClaims extends to until the leases of claims still held, in one
// statement, and returns the IDs of the deliveries no longer under their
// claim.
func (s *Store) RenewClaims(ctx context.Context, until time.Time, claims []relay.LeaseRef) ([]string, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	ids, leases := make([]string, len(claims)), make([]string, len(claims))
	for i, c := range claims {
		ids[i], leases[i] = c.ID, c.LeaseID
	}
	rows, err := s.pool.Query(ctx, `UPDATE deliveries d SET due_at = $1
		FROM unnest($2::text[], $3::text[]) AS c(id, lease_id)
		WHERE d.id = c.id AND d.state = 'pending' AND d.lease_id = c.lease_id
		RETURNING d.id`, unixtime.Nanos(until), ids, leases)
	renewed, err := collect(rows, err, func(r pgx.Rows) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("renew claims: %w", err)
	}
	held := make(map[string]bool, len(renewed))
	for _, id := range renewed {
		held[id] = true
	}
	var lost []string
	for _, c := range claims {
		if !held[c.ID] {
			lost = append(lost, c.ID)
		}
	}
	return lost, nil
}

// ListDeliveries lists the deliveries f selects, newest first. The
// deliveries of deleted outputs are left out.
func (s *Store) ListDeliveries(ctx context.Context, f relay.DeliveryFilter) ([]*relay.Delivery, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.BucketID != "" {
		add("d.bucket_id = ?", f.BucketID)
	}
	if f.OutputID != "" {
		add("d.output_id = ?", f.OutputID)
	}
	if f.WebhookID != "" {
		add("d.webhook_id = ?", f.WebhookID)
	}
	if f.State != "" {
		add("d.state = ?", string(f.State))
	}
	if !f.Before.IsZero() {
		add("d.created_at < ?", unixtime.Nanos(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries d JOIN outputs o ON o.id = d.output_id`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += ` ORDER BY d.id DESC LIMIT $` + strconv.Itoa(len(args))
	ds, err := s.scanDeliveries(s.pool.Query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// qRecordAttempt records attempt $2 of delivery $1 in one statement: it
// locks the delivery's row (d), and, when the row holds an earlier
// attempt and is still under claim $3 (or $3 is empty), moves the
// earlier attempt into attempts and writes the new one and the delivery's
// new state in the row, ending its lease (due_at is its next attempt
// time). An ephemeral bucket's attempts keep no logs and no answer. It
// returns the row's attempt number and claim as found (NULL: no such
// delivery) and whether it was updated.
const qRecordAttempt = `WITH d AS (
		SELECT x.id, x.attempt_n, x.lease_id, x.attempt_started_at, x.attempt_duration_ms, x.attempt_status,
			x.attempt_error, x.attempt_logs, x.attempt_response_headers, x.attempt_response_body,
			COALESCE((SELECT b.ephemeral FROM buckets b WHERE b.id = x.bucket_id), false) AS eph
		FROM deliveries x WHERE x.id = $1 FOR UPDATE OF x),
	ok AS (SELECT * FROM d WHERE d.attempt_n < $2 AND ($3::text = '' OR d.lease_id = $3)),
	moved AS (
		INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, logs, response_headers, response_body)
		SELECT id, attempt_n, attempt_started_at, attempt_duration_ms, attempt_status, attempt_error, attempt_logs,
			attempt_response_headers, attempt_response_body
		FROM ok WHERE attempt_n > 0
		RETURNING 1),
	upd AS (
		UPDATE deliveries x SET state = $4, attempts = $5, next_attempt_at = $6, due_at = $6,
			lease_owner = NULL, lease_id = NULL, last_status = $7, last_error = $8, updated_at = $9,
			attempt_n = $2, attempt_started_at = $10, attempt_duration_ms = $11, attempt_status = $12,
			attempt_error = $13,
			attempt_logs = CASE WHEN ok.eph THEN NULL ELSE $14::bytea END,
			attempt_response_headers = CASE WHEN ok.eph THEN NULL ELSE $15::bytea END,
			attempt_response_body = CASE WHEN ok.eph THEN NULL ELSE $16::bytea END
		FROM ok WHERE x.id = ok.id
		RETURNING 1)
	SELECT (SELECT attempt_n FROM d), (SELECT lease_id FROM d), EXISTS (SELECT 1 FROM upd),
		(SELECT count(*) FROM moved)`

// RecordAttempt saves a and d's new state, attempts, next attempt time,
// last status, last error and update time together, in one statement
// (sharing its transaction with concurrent calls: group commit). It
// fills a.DeliveryID (d's), a.N (the next number), a.StartedAt and
// d.UpdatedAt (the current time) when empty. For a delivery of an
// ephemeral bucket, a's logs and answer are not stored. Recording an
// attempt whose number is taken fails with store.ErrConflict; when
// d.LeaseID is set and the delivery is no longer under that claim, with
// store.ErrLeaseLost.
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
	n := a.N
	if n == 0 {
		var last int
		err := s.pool.QueryRow(ctx, `SELECT attempt_n FROM deliveries WHERE id = $1`, d.ID).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound("delivery", d.ID)
		}
		if err != nil {
			return fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		n = last + 1
	}
	var logs, respHeaders, sealedErr []byte
	if len(a.Logs) > 0 {
		l, err := json.Marshal(a.Logs)
		if err != nil {
			return fmt.Errorf("delivery %s: attempt logs: %w", d.ID, err)
		}
		logs = s.sealer.Seal(l, sealed.AttemptAAD(d.ID, n, "logs"))
	}
	if len(a.ResponseHeader) > 0 {
		respHeaders = s.sealer.Seal(headerjson.Append(nil, a.ResponseHeader), sealed.AttemptAAD(d.ID, n, "response_headers"))
	}
	var respBody []byte
	if len(a.ResponseBody) > 0 {
		respBody = s.sealer.Seal(a.ResponseBody, sealed.AttemptAAD(d.ID, n, "response_body"))
	}
	if a.Error != "" {
		sealedErr = s.sealer.Seal([]byte(a.Error), sealed.AttemptAAD(d.ID, n, "error"))
	}
	lastErr := s.sealOptional([]byte(d.LastError), "deliveries", d.ID, "last_error")
	res := s.recordAttempt(ctx, []any{d.ID, n, d.LeaseID,
		string(d.State), d.Attempts, unixtime.Nanos(d.NextAttemptAt), d.LastStatus, lastErr, unixtime.Nanos(d.UpdatedAt),
		unixtime.Nanos(a.StartedAt), a.DurationMS, a.Status, sealedErr, logs, respHeaders, respBody})
	last, leaseID, updated, err := res.last, res.leaseID, res.updated, res.err
	if code, _ := pgCode(err); code == codeUnique {
		return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, err)
	}
	switch {
	case last == nil:
		return storeerr.NotFound("delivery", d.ID)
	case !updated && d.LeaseID != "" && deref(leaseID) != d.LeaseID:
		return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, store.ErrLeaseLost)
	case !updated:
		return fmt.Errorf("delivery %s: attempt %d: attempt %d is recorded: %w", d.ID, n, *last, store.ErrConflict)
	}
	a.N = n
	d.LeaseOwner, d.LeaseUntil, d.LeaseID = "", time.Time{}, ""
	return nil
}

// GetDelivery finds a delivery by ID, with its attempts in order. A
// delivery of a deleted output is not found.
func (s *Store) GetDelivery(ctx context.Context, id string) (*relay.Delivery, []*relay.Attempt, error) {
	var d *relay.Delivery
	var as []*relay.Attempt
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = s.scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+`
			FROM deliveries d JOIN outputs o ON o.id = d.output_id WHERE d.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound("delivery", id)
		}
		if err != nil {
			return fmt.Errorf("delivery %q: %w", id, err)
		}
		rows, err := tx.Query(ctx, `SELECT n, started_at, duration_ms, status, error, logs,
				response_headers, response_body
			FROM attempts WHERE delivery_id = $1
			UNION ALL
			SELECT attempt_n, attempt_started_at, attempt_duration_ms, attempt_status, attempt_error, attempt_logs,
				attempt_response_headers, attempt_response_body
			FROM deliveries WHERE id = $1 AND attempt_n > 0
			ORDER BY 1`, id)
		as, err = collect(rows, err, func(r pgx.Rows) (*relay.Attempt, error) { return s.scanAttempt(r, id) })
		if err != nil {
			return fmt.Errorf("delivery %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return d, as, nil
}

// scanAttempt scans an attempt of delivery id and opens its sealed
// columns.
func (s *Store) scanAttempt(sc pgx.Row, id string) (*relay.Attempt, error) {
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
