package relay

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/relayfn/relayfn/runtime"
)

// MaxRecordedResponseBody is how much of a destination's answer body the
// request log keeps per attempt.
const MaxRecordedResponseBody = 64 << 10

// FunctionOutcome is what an input's function did besides rewriting the
// request (the rewrite is Webhook.Received against Webhook.Request) and
// logging (Webhook.Logs, Webhook.FunctionError).
type FunctionOutcome struct {
	// Stopped is true when the function called r:StopForwarding().
	Stopped bool `json:"stopped,omitempty"`
	// Response is the answer the function set for the caller, if any.
	Response   *FunctionResponse `json:"response,omitempty"`
	DurationMS float64           `json:"duration_ms"`
}

// FunctionResponse is an answer set by r:SetResponse*.
type FunctionResponse struct {
	Status int         `json:"status"`
	Header http.Header `json:"headers,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// Answer is what the relay answered the webhook's caller (its status is
// Webhook.Status): the headers the relay set and the body's size.
type Answer struct {
	Header   http.Header `json:"headers,omitempty"`
	BodySize int         `json:"body_size"`
}

// WebhookFilter selects webhooks of the request log; zero fields select
// everything.
type WebhookFilter struct {
	BucketID string
	InputID  string
	// Status is the caller's answer status.
	Status int
	// FunctionError selects the webhooks whose input function failed.
	FunctionError bool
	// Failed selects the webhooks whose function failed, whose caller was
	// answered 400 or more, or with a failed delivery.
	Failed bool
	// DeliveryState selects the webhooks with a delivery in this state.
	DeliveryState DeliveryState
	// Since and Until bound the time received (Until excluded).
	Since, Until time.Time
	// Before is a cursor: webhooks whose ID sorts before it (older).
	Before string
	// Limit caps the result (newest first); 0 means 100.
	Limit int
}

// WebhookSummary is a webhook of a listing: its metadata, without the
// request, and the states of its deliveries.
type WebhookSummary struct {
	ID            string    `json:"id"`
	BucketID      string    `json:"bucket_id"`
	InputID       string    `json:"input_id"`
	ReceivedAt    time.Time `json:"received_at"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Status        int       `json:"status"`
	FunctionError string    `json:"function_error,omitempty"`
	// Deliveries counts the webhook's deliveries by state.
	Deliveries map[DeliveryState]int `json:"deliveries,omitempty"`
}

// recordFunction fills w's request log from the input function's result
// res, given the request as received: the received request is kept only
// when the function changed it.
//
// To keep the hot path cheap, the outcome is kept only when the function
// stopped forwarding or set an answer: a function that only rewrote the
// request and logged is told by Received, Logs and FunctionError.
func recordFunction(w *Webhook, received HTTPRequest, res *runtime.Result) {
	if res.StopForwarding || res.Response.Modified {
		w.Function = &FunctionOutcome{Stopped: res.StopForwarding, DurationMS: res.DurationMS}
		if res.Response.Modified {
			w.Function.Response = &FunctionResponse{Status: res.Response.Status, Header: res.Response.Headers, Body: []byte(res.Response.Body)}
		}
	}
	if res.Request.Modified {
		r := received
		w.Received = &r
	}
}

// Change is one difference between a webhook as received and as
// forwarded.
type Change struct {
	// Field is method, path, query, body or "header NAME".
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Changes lists what the input's function changed in w's request:
// nothing when w.Received is nil.
func (w *Webhook) Changes() []Change {
	if w.Received == nil {
		return nil
	}
	a, b := w.Received, &w.Request
	var cs []Change
	add := func(field, from, to string) {
		if from != to {
			cs = append(cs, Change{Field: field, From: from, To: to})
		}
	}
	add("method", a.Method, b.Method)
	add("path", a.Path, b.Path)
	add("query", a.RawQuery, b.RawQuery)
	var names []string
	for k := range a.Header {
		names = append(names, k)
	}
	for k := range b.Header {
		if _, ok := a.Header[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Equal(a.Header[k], b.Header[k]) {
			cs = append(cs, Change{Field: "header " + k, From: strings.Join(a.Header[k], ", "), To: strings.Join(b.Header[k], ", ")})
		}
	}
	if !bytes.Equal(a.Body, b.Body) {
		cs = append(cs, Change{Field: "body", From: string(a.Body), To: string(b.Body)})
	}
	return cs
}

// recordAnswer sets the webhook's answer in the store, for a caller
// answered after the webhook was stored (destination mode).
func (s *Server) recordAnswer(ctx context.Context, id string, status int, a Answer) {
	if err := s.store.SetWebhookAnswer(context.WithoutCancel(ctx), id, status, a); err != nil {
		s.log.Error("record the answer of a webhook", "webhook", id, "error", err)
	}
}

// InputMetadata is r.Metadata of the function of input in of bucket b:
// what a run against a stored webhook passes, as the ingress does.
func InputMetadata(b *Bucket, in *Input) map[string]string {
	return metadata(b, in, nil)
}
