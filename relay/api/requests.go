package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// In requests, pointer fields left out (null) are left unchanged by an
// update; on a create, they take their defaults.

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// BucketRequest creates (POST /v1/admin/buckets) or changes (PATCH
// /v1/admin/buckets/{bucket}) a bucket.
type BucketRequest struct {
	// Name is required on create.
	Name        *string      `json:"name,omitempty"`
	Description *string      `json:"description,omitempty"`
	Auth        *AuthRequest `json:"auth,omitempty"`
	Ephemeral   *bool        `json:"ephemeral,omitempty"`
}

// AuthRequest sets a bucket's auth.
type AuthRequest struct {
	// Type is none, basic or token; empty keeps the bucket's current type
	// (none on create).
	Type string `json:"type,omitempty"`
	// Username is required for basic auth; on an update of a bucket
	// already using basic auth, empty keeps the current one.
	Username string `json:"username,omitempty"`
	// Password is the basic-auth password. It is stored bcrypt-hashed and
	// never returned. Required when a bucket starts using basic auth;
	// otherwise empty keeps the current password.
	Password string `json:"password,omitempty"`
}

// TokenRequest creates an admin token (POST /v1/admin/tokens) or a bucket
// token (POST /v1/admin/buckets/{bucket}/tokens).
type TokenRequest struct {
	// Name is a label, such as "ci" or "laptop".
	Name string `json:"name,omitempty"`
}

// NewToken is a token just made, with its credential. The credential
// ("<id>.<secret>") is shown this once: only a SHA-256 hash of the secret
// (a 256-bit random value) is kept.
type NewToken struct {
	Token      *Token `json:"token"`
	Credential string `json:"credential"`
}

// InputRequest creates (POST /v1/admin/buckets/{bucket}/inputs) or
// changes (PATCH /v1/admin/inputs/{id}) an input.
type InputRequest struct {
	// ID is the input's UUID, used on create only; a UUID is made when it
	// is left out.
	ID *string `json:"id,omitempty"`
	// Name is required on create.
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	// Function attaches a function, by name or ID; "" detaches it.
	Function *string `json:"function,omitempty"`
	// Response replaces the input's response settings.
	Response *ResponseRequest `json:"response,omitempty"`
}

// ResponseRequest is how an input answers its caller.
type ResponseRequest struct {
	// Mode is default, static, function or destination.
	Mode    string            `json:"mode,omitempty"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Timeout bounds the wait for the destination in destination mode.
	Timeout Duration `json:"timeout,omitempty"`
}

// OutputRequest creates (POST /v1/admin/buckets/{bucket}/outputs) or
// changes (PATCH /v1/admin/outputs/{id}) an output.
type OutputRequest struct {
	// Name and Destination are required on create.
	Name        *string `json:"name,omitempty"`
	Destination *string `json:"destination,omitempty"`
	// Function and ResponseFunction attach functions, by name or ID; ""
	// detaches them.
	Function         *string   `json:"function,omitempty"`
	ResponseFunction *string   `json:"response_function,omitempty"`
	LockPath         *bool     `json:"lock_path,omitempty"`
	Timeout          *Duration `json:"timeout,omitempty"`
	// MaxInFlight caps the output's concurrent attempts; 0 means the
	// relay's default.
	MaxInFlight *int            `json:"max_in_flight,omitempty"`
	Retries     *RetriesRequest `json:"retries,omitempty"`
	// Internal outputs are delivered only by agents subscribed to the
	// bucket (fnctl agent).
	Internal *bool `json:"internal,omitempty"`
	// AgentWindow is how long an internal output's deliveries wait for an
	// agent; 0 means the relay's default (10m).
	AgentWindow *Duration `json:"agent_window,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// RetriesRequest replaces an output's retry policy; zero fields take the
// relay's defaults.
type RetriesRequest struct {
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Backoff is exponential or fixed.
	Backoff         string   `json:"backoff,omitempty"`
	InitialInterval Duration `json:"initial_interval,omitempty"`
	MaxInterval     Duration `json:"max_interval,omitempty"`
}

// FunctionRequest creates (POST /v1/admin/functions) or changes (PUT or
// PATCH /v1/admin/functions/{function}) a function.
type FunctionRequest struct {
	// Name and Source are required on create.
	Name *string `json:"name,omitempty"`
	// Source is the Lua source. It is compiled first: a syntax error is
	// answered 400 naming the line. On an update, a source that differs
	// from the current one becomes a new version.
	Source *string `json:"source,omitempty"`
	// Timeout is the invocation deadline; 0 means the engine's default.
	Timeout *Duration `json:"timeout,omitempty"`
	// Config sets configuration variables on create.
	Config map[string]string `json:"config,omitempty"`
	// Spec is the function's spec (the YAML of a spec file, request
	// bodies inline; its filename is ignored), stored with the function.
	// While a function has a spec, a new source or spec is saved only
	// when every test passes: otherwise the answer is 422 listing the
	// failures. "" removes the spec.
	Spec *string `json:"spec,omitempty"`
}

// ConfigKeys lists a function's configuration variables. Values are
// secrets: the API never returns them.
type ConfigKeys struct {
	Keys []string `json:"keys"`
}

// ConfigValue sets one configuration variable (PUT
// /v1/admin/functions/{function}/config/{key}).
type ConfigValue struct {
	Value string `json:"value"`
}

// InvokeRequest runs a function once (POST
// /v1/admin/functions/{function}/invoke) with its stored configuration.
// Nothing is stored or forwarded; the answer is a Result.
type InvokeRequest struct {
	// Method defaults to POST.
	Method string `json:"method,omitempty"`
	// Path is the extra path; "/" when empty.
	Path string `json:"path,omitempty"`
	// Query is the raw query, without "?".
	Query string `json:"query,omitempty"`
	// Headers map names to a value or a list of values.
	Headers Header `json:"headers,omitempty"`
	Body    string `json:"body,omitempty"`
	// Metadata is r.Metadata (bucket_name, input_id, …).
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Header is an http.Header that reads values given as a string or as a
// list of strings.
type Header http.Header

// UnmarshalJSON reads {"K": "v"} and {"K": ["v", "w"]}.
func (h *Header) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(http.Header, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out.Add(k, s)
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return fmt.Errorf("header %q: want a string or a list of strings", k)
		}
		for _, s := range list {
			out.Add(k, s)
		}
	}
	*h = Header(out)
	return nil
}

// DeliveryDetail is a delivery with its attempts (GET
// /v1/admin/deliveries/{id}).
type DeliveryDetail struct {
	Delivery *Delivery  `json:"delivery"`
	Attempts []*Attempt `json:"attempts"`
}
