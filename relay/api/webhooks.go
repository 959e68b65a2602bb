package api

import (
	"net/http"
	"time"
)

// MaxWebhooks caps the limit of a webhook listing.
const MaxWebhooks = 1000

// WebhookSummary is a webhook of a listing (GET /v1/admin/webhooks).
type WebhookSummary struct {
	ID         string    `json:"id"`
	BucketID   string    `json:"bucket_id"`
	InputID    string    `json:"input_id"`
	ReceivedAt time.Time `json:"received_at"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	// Status is what the caller was answered (0 while an input in
	// destination mode waits for the destination; 499 when the caller
	// left before the destination answered).
	Status        int    `json:"status"`
	FunctionError string `json:"function_error,omitempty"`
	// Deliveries counts the webhook's deliveries by state.
	Deliveries map[string]int `json:"deliveries,omitempty"`
}

// WebhookPage is a page of a webhook listing, newest first. Next, when
// set, is the cursor of the next (older) page: pass it as before.
type WebhookPage struct {
	Webhooks []*WebhookSummary `json:"webhooks"`
	Next     string            `json:"next,omitempty"`
}

// WebhookDetail is a webhook's whole journey (GET
// /v1/admin/webhooks/{id}): the request as received and as forwarded,
// what the input's function did, the caller's answer, and each delivery
// with its attempts and the destination's answers. For an ephemeral
// bucket, only ids, status and times are known.
type WebhookDetail struct {
	ID         string    `json:"id"`
	BucketID   string    `json:"bucket_id"`
	InputID    string    `json:"input_id"`
	ReceivedAt time.Time `json:"received_at"`
	// Received is the request as the caller sent it (relay credentials
	// removed); Forwarded, as the input's function left it.
	Received  HTTPRequest `json:"received"`
	Forwarded HTTPRequest `json:"forwarded"`
	// Changes lists what the function changed, field by field.
	Changes  []RequestChange  `json:"changes,omitempty"`
	Function *FunctionOutcome `json:"function,omitempty"`
	Answer   Answer           `json:"answer"`
	// Deliveries are the webhook's deliveries, oldest first.
	Deliveries []*DeliveryDetail `json:"deliveries"`
}

// RequestChange is one difference between a webhook as received and as
// forwarded: Field is method, path, query, body or "header NAME".
type RequestChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// FunctionOutcome is what the input's function did.
type FunctionOutcome struct {
	Error string   `json:"error,omitempty"`
	Logs  []string `json:"logs,omitempty"`
	// StopForwarding is true when the function called r:StopForwarding().
	StopForwarding bool `json:"stop_forwarding,omitempty"`
	// Response is the answer the function set, if any.
	Response   *ResponseResult `json:"response,omitempty"`
	DurationMS float64         `json:"duration_ms"`
}

// Answer is what the relay answered the webhook's caller.
type Answer struct {
	Status   int         `json:"status"`
	Headers  http.Header `json:"headers,omitempty"`
	BodySize int         `json:"body_size"`
}

// Event is one entry of the live event stream (GET /v1/admin/events, as
// Server-Sent Events whose event name is Type): a webhook answered on the
// ingress ("webhook": stored, or refused and then without WebhookID), a
// delivery attempt ("attempt"), or the number of events a slow reader
// missed ("dropped").
type Event struct {
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	BucketID      string    `json:"bucket_id,omitempty"`
	BucketName    string    `json:"bucket_name,omitempty"`
	InputID       string    `json:"input_id,omitempty"`
	InputName     string    `json:"input_name,omitempty"`
	WebhookID     string    `json:"webhook_id,omitempty"`
	Status        int       `json:"status,omitempty"`
	FunctionError bool      `json:"function_error,omitempty"`
	DeliveryID    string    `json:"delivery_id,omitempty"`
	OutputID      string    `json:"output_id,omitempty"`
	Attempt       int       `json:"attempt,omitempty"`
	State         string    `json:"state,omitempty"`
	Error         string    `json:"error,omitempty"`
	DurationMS    float64   `json:"duration_ms,omitempty"`
	Dropped       int64     `json:"dropped,omitempty"`
}

// RunRequest runs a function against a stored webhook's request as it was
// received (POST /v1/admin/webhooks/{id}/run), as invoke does: nothing is
// delivered or stored. Give Function (a stored function's name or ID) or
// Source (a draft; Function then names the function whose configuration
// it reads, if any). Without AllowNetwork, the function's HTTP calls fail.
type RunRequest struct {
	Function     string `json:"function,omitempty"`
	Source       string `json:"source,omitempty"`
	AllowNetwork bool   `json:"allow_network,omitempty"`
}
