// Package journal holds the store-independent part of the request log
// (a webhook's journey): the diff between the request as received and as
// forwarded, and the sealing of a webhook's secret and journey columns.
// Each store keeps its own SQL.
package journal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/relayfn/relayfn/internal/jsonstr"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/internal/headerjson"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
)

// Webhook is a webhook's sealed columns, as written: a nil value is NULL.
// Stores make it before a write is queued, so that encryption runs on the
// callers' goroutines, not the writer's.
type Webhook struct {
	RawQuery, Headers, Body, FunctionError, Logs any
	// The request log's columns.
	Columns
}

// SealWebhook seals w's secret columns and its request log columns, each
// bound to the webhooks table, w's ID and its column.
func SealWebhook(s *seal.Sealer, w *relay.Webhook) (*Webhook, error) {
	value := func(b []byte, column string) []byte { return sealed.Value(s, b, "webhooks", w.ID, column) }
	sw := &Webhook{
		RawQuery: value([]byte(w.Request.RawQuery), "raw_query"),
		Headers:  value(headerjson.Append(nil, w.Request.Header), "headers"),
		Body:     value(w.Request.Body, "body"),
	}
	if w.FunctionError != "" {
		sw.FunctionError = value([]byte(w.FunctionError), "function_error")
	}
	if len(w.Logs) > 0 {
		logs, err := json.Marshal(w.Logs)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: logs: %w", w.ID, err)
		}
		sw.Logs = value(logs, "logs")
	}
	cols, err := Seal(s, w)
	if err != nil {
		return nil, err
	}
	sw.Columns = cols
	return sw, nil
}

// Columns are a webhook's request log columns, sealed, as written: a nil
// value is NULL.
type Columns struct {
	Received, Outcome, AnswerHeaders any
	AnswerSize                       int
}

// Seal seals w's request log columns, each bound to the webhooks table,
// w's ID and its column.
func Seal(s *seal.Sealer, w *relay.Webhook) (Columns, error) {
	var c Columns
	if w.Received != nil {
		b := ReceivedDiff(w.Received, &w.Request).AppendJSON(nil)
		c.Received = sealed.Value(s, b, "webhooks", w.ID, "received")
	}
	if w.Function != nil {
		b, err := json.Marshal(w.Function)
		if err != nil {
			return Columns{}, fmt.Errorf("webhook %s: function outcome: %w", w.ID, err)
		}
		c.Outcome = sealed.Value(s, b, "webhooks", w.ID, "function_outcome")
	}
	if len(w.Answer.Header) > 0 {
		c.AnswerHeaders = sealed.Value(s, headerjson.Append(nil, w.Answer.Header), "webhooks", w.ID, "answer_headers")
	}
	c.AnswerSize = w.Answer.BodySize
	return c, nil
}

// Open opens w's request log columns as read (nil for NULL) into w, whose
// ID and Request are already set.
func Open(s *seal.Sealer, w *relay.Webhook, received, outcome, answerHeaders []byte) error {
	open := func(b []byte, column string, v any) error {
		p, err := sealed.Open(s, b, "webhooks", w.ID, column)
		if err != nil || p == nil {
			return err
		}
		if err := json.Unmarshal(p, v); err != nil {
			return fmt.Errorf("webhook %s: %s: %w", w.ID, column, err)
		}
		return nil
	}
	if received != nil {
		var d Diff
		if err := open(received, "received", &d); err != nil {
			return err
		}
		w.Received = d.Apply(&w.Request)
	}
	if outcome != nil {
		w.Function = &relay.FunctionOutcome{}
		if err := open(outcome, "function_outcome", w.Function); err != nil {
			return err
		}
	}
	return open(answerHeaders, "answer_headers", &w.Answer.Header)
}

// OpenAttemptResponse opens the destination's answer of attempt a of
// delivery id into a: headers and body as read, nil for NULL.
func OpenAttemptResponse(s *seal.Sealer, a *relay.Attempt, id string, headers, body []byte) error {
	if headers != nil {
		h, err := s.Open(headers, sealed.AttemptAAD(id, a.N, "response_headers"))
		if err != nil {
			return fmt.Errorf("attempt %d: response headers: %w", a.N, err)
		}
		if err := json.Unmarshal(h, &a.ResponseHeader); err != nil {
			return fmt.Errorf("attempt %d: response headers: %w", a.N, err)
		}
	}
	if body != nil {
		b, err := s.Open(body, sealed.AttemptAAD(id, a.N, "response_body"))
		if err != nil {
			return fmt.Errorf("attempt %d: response body: %w", a.N, err)
		}
		a.ResponseBody = b
	}
	return nil
}

// Diff is the JSON of webhooks.received: the parts of the request
// as received that differ from the request as forwarded (the webhook's
// own columns), so that a function that changed one header costs its
// headers, not a second copy of the body.
type Diff struct {
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

// ReceivedDiff returns what of received differs from forwarded.
func ReceivedDiff(received, forwarded *relay.HTTPRequest) *Diff {
	d := &Diff{}
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

// AppendJSON appends d's JSON, as encoding/json writes it, in a fraction
// of the time: it is made for every webhook whose function changed it.
func (d *Diff) AppendJSON(b []byte) []byte {
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

// Apply returns the request as received, from the request as forwarded.
func (d *Diff) Apply(forwarded *relay.HTTPRequest) *relay.HTTPRequest {
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
