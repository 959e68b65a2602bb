package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/relayfn/relayfn/internal/jsonstr"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
)

// The request log: the columns of migration 5 and the listing of webhooks.

// sealJourney seals w's request log columns into sw.
func (s *Store) sealJourney(w *relay.Webhook, sw *sealedWebhook) error {
	if w.Received != nil {
		b := receivedDiff(w.Received, &w.Request).appendJSON(nil)
		sw.received = s.sealValue(b, "webhooks", w.ID, "received")
	}
	if w.Function != nil {
		b, err := json.Marshal(w.Function)
		if err != nil {
			return fmt.Errorf("webhook %s: function outcome: %w", w.ID, err)
		}
		sw.outcome = s.sealValue(b, "webhooks", w.ID, "function_outcome")
	}
	if len(w.Answer.Header) > 0 {
		sw.answerHeaders = s.sealValue(headerjson.Append(nil, w.Answer.Header), "webhooks", w.ID, "answer_headers")
	}
	sw.answerSize = w.Answer.BodySize
	return nil
}

// openJourney opens w's request log columns.
func (s *Store) openJourney(w *relay.Webhook, received, outcome, answerHeaders []byte) error {
	open := func(b []byte, column string, v any) error {
		p, err := s.openValue(b, "webhooks", w.ID, column)
		if err != nil || p == nil {
			return err
		}
		if err := json.Unmarshal(p, v); err != nil {
			return fmt.Errorf("webhook %s: %s: %w", w.ID, column, err)
		}
		return nil
	}
	if received != nil {
		var d requestDiff
		if err := open(received, "received", &d); err != nil {
			return err
		}
		w.Received = d.apply(&w.Request)
	}
	if outcome != nil {
		w.Function = &relay.FunctionOutcome{}
		if err := open(outcome, "function_outcome", w.Function); err != nil {
			return err
		}
	}
	return open(answerHeaders, "answer_headers", &w.Answer.Header)
}

// requestDiff is the JSON of webhooks.received: the parts of the request
// as received that differ from the request as forwarded (the webhook's
// own columns), so that a function that changed one header costs its
// headers, not a second copy of the body.
type requestDiff struct {
	Method   *string `json:"m,omitempty"`
	Path     *string `json:"p,omitempty"`
	RawPath  *string `json:"rp,omitempty"`
	RawQuery *string `json:"q,omitempty"`
	// Header holds the received values of the headers the function
	// changed or deleted; Added, the headers it added.
	Header http.Header `json:"h,omitempty"`
	Added  []string    `json:"a,omitempty"`
	Body   *[]byte     `json:"b,omitempty"`
}

// receivedDiff is what of received differs from forwarded.
func receivedDiff(received, forwarded *relay.HTTPRequest) *requestDiff {
	d := &requestDiff{}
	str := func(a, b string) *string {
		if a == b {
			return nil
		}
		return &a
	}
	d.Method = str(received.Method, forwarded.Method)
	d.Path = str(received.Path, forwarded.Path)
	d.RawPath = str(received.RawPath, forwarded.RawPath)
	d.RawQuery = str(received.RawQuery, forwarded.RawQuery)
	for k, vs := range received.Header {
		if fv, ok := forwarded.Header[k]; !ok || !slices.Equal(vs, fv) {
			if d.Header == nil {
				d.Header = http.Header{}
			}
			d.Header[k] = vs
		}
	}
	for k := range forwarded.Header {
		if _, ok := received.Header[k]; !ok {
			d.Added = append(d.Added, k)
		}
	}
	if !bytes.Equal(received.Body, forwarded.Body) {
		b := received.Body
		d.Body = &b
	}
	return d
}

// appendJSON appends d's JSON, as encoding/json writes it, in a fraction
// of the time: it is made for every webhook whose function changed it.
func (d *requestDiff) appendJSON(b []byte) []byte {
	b = append(b, '{')
	field := func(name string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"m", d.Method}, {"p", d.Path}, {"rp", d.RawPath}, {"q", d.RawQuery}} {
		if f.v != nil {
			field(f.name)
			b = jsonstr.Append(b, *f.v)
		}
	}
	if len(d.Header) > 0 {
		field("h")
		b = headerjson.Append(b, d.Header)
	}
	if len(d.Added) > 0 {
		field("a")
		b = append(b, '[')
		for i, k := range d.Added {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k)
		}
		b = append(b, ']')
	}
	if d.Body != nil {
		field("b")
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, *d.Body)
		b = append(b, '"')
	}
	return append(b, '}')
}

// apply returns the request as received, from the request as forwarded.
func (d *requestDiff) apply(forwarded *relay.HTTPRequest) *relay.HTTPRequest {
	r := *forwarded
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.Method, d.Method)
	set(&r.Path, d.Path)
	set(&r.RawPath, d.RawPath)
	set(&r.RawQuery, d.RawQuery)
	if d.Header != nil || d.Added != nil {
		r.Header = forwarded.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		for k, vs := range d.Header {
			r.Header[k] = vs
		}
		for _, k := range d.Added {
			delete(r.Header, k)
		}
	}
	if d.Body != nil {
		r.Body = *d.Body
	}
	return &r
}

// openAttemptResponse opens the destination's answer of attempt a of
// delivery id.
func (s *Store) openAttemptResponse(a *relay.Attempt, id string, headers, body []byte) error {
	if headers != nil {
		h, err := s.sealer.Open(headers, attemptAAD(id, a.N, "response_headers"))
		if err != nil {
			return fmt.Errorf("attempt %d: response headers: %w", a.N, err)
		}
		if err := json.Unmarshal(h, &a.ResponseHeader); err != nil {
			return fmt.Errorf("attempt %d: response headers: %w", a.N, err)
		}
	}
	if body != nil {
		b, err := s.sealer.Open(body, attemptAAD(id, a.N, "response_body"))
		if err != nil {
			return fmt.Errorf("attempt %d: response body: %w", a.N, err)
		}
		a.ResponseBody = b
	}
	return nil
}

// deliveryEphemeral reports whether d's bucket is ephemeral.
func (s *Store) deliveryEphemeral(ctx context.Context, tx *sql.Tx, d *relay.Delivery) (bool, error) {
	bucket := d.BucketID
	if bucket == "" {
		err := tx.QueryRowContext(ctx, `SELECT bucket_id FROM deliveries WHERE id = ?`, d.ID).Scan(&bucket)
		if errors.Is(err, sql.ErrNoRows) {
			return false, notFound("delivery", d.ID)
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
			return notFound("webhook", id)
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
		add("w.received_at >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("w.received_at < ?", ts(f.Until))
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
		w.ReceivedAt = fromTS(received)
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
