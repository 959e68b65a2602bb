package relay

import (
	"net/http"
	"time"

	"github.com/google/uuid"
)

// NewRecordID returns a new ID for a webhook or a delivery: a version 7
// UUID, ordered by creation time, so that a store's indexes on these IDs
// grow at their end instead of touching a random page per write. Buckets,
// inputs, outputs and tokens keep random (version 4) IDs: an input's ID is
// part of its URL and must not be guessable.
func NewRecordID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// Only a failing random source gets here; a random ID is still
		// unique.
		return uuid.NewString()
	}
	return id.String()
}

// AuthType is what a bucket requires of the callers of its inputs.
type AuthType string

// Auth types.
const (
	AuthNone  AuthType = "none"
	AuthBasic AuthType = "basic"
	AuthToken AuthType = "token"
)

// ResponseMode is how an input answers its caller.
type ResponseMode string

// Response modes of an input.
const (
	// ResponseDefault answers 200 with an empty body at once.
	ResponseDefault ResponseMode = "default"
	// ResponseStatic answers the input's configured status, headers and body.
	ResponseStatic ResponseMode = "static"
	// ResponseFunction answers what the input's function set (200 and an
	// empty body when it set nothing).
	ResponseFunction ResponseMode = "function"
	// ResponseDestination waits for the first output's answer and relays it.
	ResponseDestination ResponseMode = "destination"
)

// DeliveryState is where a delivery stands.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliverySucceeded DeliveryState = "succeeded"
	DeliveryFailed    DeliveryState = "failed"
	// DeliveryStopped is a delivery its output function stopped, or that a
	// function error ended: nothing was sent.
	DeliveryStopped DeliveryState = "stopped"
)

// Backoff is how the wait between a delivery's attempts grows.
type Backoff string

// Backoffs of a retry policy; empty means BackoffExponential.
const (
	// BackoffExponential doubles the wait after each attempt, with jitter,
	// up to the policy's MaxInterval.
	BackoffExponential Backoff = "exponential"
	// BackoffFixed waits InitialInterval between attempts.
	BackoffFixed Backoff = "fixed"
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

// BucketAuth is what callers of a bucket's inputs must present.
type BucketAuth struct {
	Type     AuthType `json:"type"`
	Username string   `json:"username,omitempty"`
	// PasswordHash is the bcrypt hash of the basic-auth password.
	PasswordHash string `json:"-"`
}

// Token is a bucket's ingress token or an admin API token. Only the bcrypt
// hash of its secret is kept; the secret is shown once, when it is made.
type Token struct {
	ID string `json:"id"`
	// BucketID is empty for an admin token.
	BucketID   string    `json:"bucket_id,omitempty"`
	Name       string    `json:"name,omitempty"`
	SecretHash string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
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

// ResponseConfig is how an input answers its caller.
type ResponseConfig struct {
	Mode    ResponseMode      `json:"mode"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Timeout bounds the wait for the destination in destination mode.
	Timeout time.Duration `json:"timeout,omitempty"`
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
	LockPath bool          `json:"lock_path"`
	Timeout  time.Duration `json:"timeout"`
	Retries  RetryPolicy   `json:"retries"`
	// MaxInFlight caps the attempts to this output that run at once; 0
	// means DefaultMaxInFlight. A destination that hangs holds at most
	// this many of the relay's delivery workers.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// Internal outputs are delivered only by agents subscribed to their
	// bucket (fnctl agent): the relay never dials their destination.
	Internal bool `json:"internal"`
	// AgentWindow is how long a delivery to an internal output waits for
	// an agent to connect, from when its webhook arrived; past it the
	// delivery fails. 0 means DefaultAgentWindow.
	AgentWindow time.Duration `json:"agent_window,omitempty"`
	Disabled    bool          `json:"disabled"`
	CreatedAt   time.Time     `json:"created_at"`
}

// RetryPolicy is how often and how fast a failed delivery is retried.
type RetryPolicy struct {
	MaxAttempts int `json:"max_attempts"`
	// Backoff is exponential (with jitter) or fixed; empty means
	// exponential.
	Backoff         Backoff       `json:"backoff"`
	InitialInterval time.Duration `json:"initial_interval"`
	MaxInterval     time.Duration `json:"max_interval"`
}

// HTTPRequest is a stored request: a webhook as received or as rewritten by
// the input's function.
type HTTPRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// RawPath is the caller's encoding of Path when it is not the one
	// url.URL would choose (an escaped "/" as in "a%2Fb"), else empty. It
	// is kept so that the destination gets the path as it was sent.
	RawPath  string      `json:"raw_path,omitempty"`
	RawQuery string      `json:"raw_query"`
	Header   http.Header `json:"headers"`
	Body     []byte      `json:"body"`
}

// Webhook is one request received on an input, as the input's function
// left it. For an ephemeral bucket, Request holds only the method.
type Webhook struct {
	ID         string      `json:"id"`
	BucketID   string      `json:"bucket_id"`
	InputID    string      `json:"input_id"`
	ReceivedAt time.Time   `json:"received_at"`
	Request    HTTPRequest `json:"request"`
	// Status is what the caller was answered.
	Status        int      `json:"status"`
	FunctionError string   `json:"function_error,omitempty"`
	Logs          []string `json:"logs,omitempty"`
	// The request log (see journey.go): the request as received when the
	// input's function changed it, what else the function did, and the
	// caller's answer. None of them is kept for an ephemeral bucket.
	Received *HTTPRequest     `json:"received,omitempty"`
	Function *FunctionOutcome `json:"function,omitempty"`
	Answer   Answer           `json:"answer"`
}

// Delivery is a webhook's journey to one output.
type Delivery struct {
	ID            string        `json:"id"`
	WebhookID     string        `json:"webhook_id"`
	BucketID      string        `json:"bucket_id"`
	OutputID      string        `json:"output_id"`
	State         DeliveryState `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt time.Time     `json:"next_attempt_at"`
	LastStatus    int           `json:"last_status,omitempty"`
	LastError     string        `json:"last_error,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	// LeaseOwner is the relay process that claimed the delivery, until
	// LeaseUntil; empty when no process holds it. An expired lease makes
	// the delivery due again (see Store.ClaimDue).
	LeaseOwner string    `json:"-"`
	LeaseUntil time.Time `json:"-"`
	// LeaseID names the claim that leased the delivery: a new one for
	// each claim, so that a process whose lease ran out (and whose
	// delivery another claim took since) cannot record over the newer
	// claim's result (see Store.RecordAttempt and Store.RenewClaims).
	LeaseID string `json:"-"`
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
	// The destination's answer: its headers and the first
	// MaxRecordedResponseBody bytes of its body (not kept for an
	// ephemeral bucket).
	ResponseHeader http.Header `json:"response_headers,omitempty"`
	ResponseBody   []byte      `json:"response_body,omitempty"`
}

// AgentToken is the credential of an agent: it lets an agent subscribe to
// the deliveries of internal outputs of its buckets, and nothing else. It
// is kept apart from the buckets' caller tokens: neither kind is accepted
// in place of the other. Only the hash of its secret is kept.
type AgentToken struct {
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	BucketIDs  []string  `json:"bucket_ids"`
	SecretHash string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
}
