package api

import (
	"net/http"
	"time"
)

// Bucket groups inputs and outputs.
type Bucket struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Auth        BucketAuth `json:"auth"`
	// Ephemeral buckets never store bodies, headers or queries.
	Ephemeral bool      `json:"ephemeral"`
	CreatedAt time.Time `json:"created_at"`
}

// BucketAuth is what callers of a bucket's inputs must present: type none,
// basic or token. The basic-auth password is never answered.
type BucketAuth struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
}

// Token is a bucket's ingress token or an admin API token, without its
// secret.
type Token struct {
	ID string `json:"id"`
	// BucketID is empty for an admin token.
	BucketID  string    `json:"bucket_id,omitempty"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Input is a public endpoint of a bucket: /v1/webhooks/{id}.
type Input struct {
	ID          string         `json:"id"`
	BucketID    string         `json:"bucket_id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	FunctionID  string         `json:"function_id,omitempty"`
	Response    ResponseConfig `json:"response"`
	CreatedAt   time.Time      `json:"created_at"`
}

// ResponseConfig is how an input answers its caller: mode default,
// static, function or destination.
type ResponseConfig struct {
	Mode    string            `json:"mode"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Timeout bounds the wait for the destination in destination mode.
	Timeout Duration `json:"timeout,omitempty"`
}

// Output is a destination of a bucket's webhooks.
type Output struct {
	ID          string `json:"id"`
	BucketID    string `json:"bucket_id"`
	Name        string `json:"name"`
	Destination string `json:"destination"`
	FunctionID  string `json:"function_id,omitempty"`
	// ResponseFunctionID runs after the final delivery attempt, with the
	// destination's answer as its request.
	ResponseFunctionID string `json:"response_function_id,omitempty"`
	// LockPath keeps the destination's path: the webhook's extra path is
	// not appended.
	LockPath bool `json:"lock_path"`
	// Timeout bounds one attempt; 0 means the relay's default.
	Timeout Duration `json:"timeout"`
	// MaxInFlight caps the output's concurrent attempts; 0 means the
	// relay's default.
	MaxInFlight int         `json:"max_in_flight,omitempty"`
	Retries     RetryPolicy `json:"retries"`
	Internal    bool        `json:"internal"`
	// AgentWindow is how long an internal output's deliveries wait for an
	// agent; 0 means the relay's default (10m).
	AgentWindow Duration  `json:"agent_window,omitempty"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
}

// RetryPolicy is how often and how fast a failed delivery is retried;
// zero fields mean the relay's defaults.
type RetryPolicy struct {
	MaxAttempts int `json:"max_attempts"`
	// Backoff is exponential (with jitter) or fixed; empty means
	// exponential.
	Backoff         string   `json:"backoff"`
	InitialInterval Duration `json:"initial_interval"`
	MaxInterval     Duration `json:"max_interval"`
}

// Function is a named function with versions. Source and Hash are those of
// the current version; listings leave Source out.
type Function struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Driver  string `json:"driver"`
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	Source  string `json:"source,omitempty"`
	// Timeout is the invocation deadline; 0 means the engine's default.
	Timeout   Duration  `json:"timeout"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Version is one saved source of a function.
type Version struct {
	FunctionID string    `json:"function_id"`
	Version    int       `json:"version"`
	Hash       string    `json:"hash"`
	Source     string    `json:"source,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// HTTPRequest is a stored request: a webhook as received or as rewritten
// by the input's function.
type HTTPRequest struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query"`
	Header   http.Header `json:"headers"`
	Body     []byte      `json:"body"`
}

// Delivery is a webhook's journey to one output. State is pending,
// succeeded, failed or stopped.
type Delivery struct {
	ID            string    `json:"id"`
	WebhookID     string    `json:"webhook_id"`
	BucketID      string    `json:"bucket_id"`
	OutputID      string    `json:"output_id"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	DeliveryID string    `json:"delivery_id"`
	N          int       `json:"n"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Logs       []string  `json:"logs,omitempty"`
	// The destination's answer: its headers and the first 64 KB of its
	// body (none for an ephemeral bucket).
	ResponseHeaders http.Header `json:"response_headers,omitempty"`
	ResponseBody    []byte      `json:"response_body,omitempty"`
}
