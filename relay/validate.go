package relay

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"
)

// The model's rules live here, next to the model: relay/config checks a
// relay.yaml with them and relay/admin checks API requests with them, so
// both say the same thing about the same mistake.

// MaxNameLength bounds the names of functions, buckets, inputs and outputs.
const MaxNameLength = 64

// MaxPasswordBytes bounds a basic-auth password: bcrypt reads no more.
const MaxPasswordBytes = 72

// FieldError is a problem with one field of a model object. Field is the
// field's path in the object's JSON and YAML forms ("response.status",
// "retries.backoff"), so a caller can prefix its own path.
type FieldError struct {
	Field string
	Err   error
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors returns the field errors err joins (a Validate method's
// error), in order; an error that is not a FieldError comes back with an
// empty Field.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*FieldError, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		} else {
			out = append(out, &FieldError{Err: e})
		}
	}
	return out
}

// problems collects field errors.
type problems []error

func (ps *problems) add(field string, err error) {
	*ps = append(*ps, &FieldError{Field: field, Err: err})
}

func (ps *problems) addf(field, format string, args ...any) {
	ps.add(field, fmt.Errorf(format, args...))
}

func (ps problems) err() error { return errors.Join(ps...) }

// Validate reports whether t is an auth type this relay knows.
func (t AuthType) Validate() error {
	switch t {
	case AuthNone, AuthBasic, AuthToken:
		return nil
	}
	return fmt.Errorf("unknown auth type %q (want none, basic or token)", truncate(string(t), 40))
}

// Validate reports whether m is a response mode; empty means
// ResponseDefault and is valid.
func (m ResponseMode) Validate() error {
	switch m {
	case "", ResponseDefault, ResponseStatic, ResponseFunction, ResponseDestination:
		return nil
	}
	return fmt.Errorf("unknown mode %q (want default, static, function or destination)", truncate(string(m), 40))
}

// OrDefault returns m, or ResponseDefault for an empty mode.
func (m ResponseMode) OrDefault() ResponseMode {
	if m == "" {
		return ResponseDefault
	}
	return m
}

// Validate reports whether s is a delivery state.
func (s DeliveryState) Validate() error {
	switch s {
	case DeliveryPending, DeliverySucceeded, DeliveryFailed, DeliveryStopped:
		return nil
	}
	return fmt.Errorf("unknown state %q (want pending, succeeded, failed or stopped)", truncate(string(s), 40))
}

// Validate reports whether b is a backoff; empty means BackoffExponential
// and is valid.
func (b Backoff) Validate() error {
	switch b {
	case "", BackoffExponential, BackoffFixed:
		return nil
	}
	return fmt.Errorf("unknown backoff %q (want exponential or fixed)", truncate(string(b), 40))
}

// ValidatePassword checks a basic-auth password. The error never shows it.
func ValidatePassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("missing: basic auth needs a password")
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("longer than %d bytes (bcrypt's limit)", MaxPasswordBytes)
	}
	return nil
}

// ValidateUsername checks a basic-auth user name.
func ValidateUsername(user string) error {
	switch {
	case user == "":
		return errors.New("missing: basic auth needs a username")
	case strings.ContainsAny(user, ":\r\n"):
		return errors.New("must not contain ':' or line breaks")
	}
	return nil
}

// ValidateName checks the name of a function, bucket, input or output: 1
// to 64 letters, digits, '.', '_' and '-', starting with a letter or digit,
// and not a UUID (so that lookups by ID or name are never ambiguous).
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("missing: a name is required")
	case len(name) > MaxNameLength:
		return fmt.Errorf("%q is longer than %d characters", truncate(name, 20), MaxNameLength)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("%q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		}
	}
	if _, err := uuid.Parse(name); err == nil {
		return fmt.Errorf("%q is a UUID: names must not look like IDs", name)
	}
	return nil
}

// ValidateDestination checks an output's destination: an absolute http or
// https URL with a host.
func ValidateDestination(s string) error {
	if s == "" {
		return errors.New("missing: an http(s) URL is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", RedactURL(s))
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q has a #fragment, which is never sent", u.Redacted())
	}
	return nil
}

// ValidateFunction checks a function's name and timeout. The error joins
// one FieldError per problem.
func ValidateFunction(name string, timeout time.Duration) error {
	var ps problems
	if err := ValidateName(name); err != nil {
		ps.add("name", err)
	}
	if timeout < 0 {
		ps.add("timeout", errors.New("must not be negative"))
	}
	return ps.err()
}

// RedactURL returns s with the password of a URL hidden, or s itself when
// it does not parse as a URL with user information.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.Index(s, "@"); i >= 0 {
			return "…" + s[i:]
		}
		return s
	}
	return u.Redacted()
}

// Validate checks a bucket's name and auth (the password hash only for
// presence under basic auth). The error joins one FieldError per problem.
func (b *Bucket) Validate() error {
	var ps problems
	if err := ValidateName(b.Name); err != nil {
		ps.add("name", err)
	}
	if err := b.Auth.Type.Validate(); err != nil {
		ps.add("auth.type", err)
	} else if b.Auth.Type == AuthBasic {
		if err := ValidateUsername(b.Auth.Username); err != nil {
			ps.add("auth.username", err)
		}
		if b.Auth.PasswordHash == "" {
			ps.addf("auth.password", "missing: basic auth needs a password")
		}
	}
	return ps.err()
}

// Validate checks an input's name, ID and response settings (not its
// function or bucket, which only a store can check). The error joins one
// FieldError per problem.
func (in *Input) Validate() error {
	var ps problems
	if err := ValidateName(in.Name); err != nil {
		ps.add("name", err)
	}
	if in.ID != "" {
		if _, err := uuid.Parse(in.ID); err != nil {
			ps.addf("id", "%q is not a UUID", truncate(in.ID, 40))
		}
	}
	r := in.Response
	if err := r.Mode.Validate(); err != nil {
		ps.add("response.mode", err)
	}
	mode := r.Mode.OrDefault()
	static := mode == ResponseStatic
	if r.Status != 0 {
		if !static {
			ps.addf("response.status", "only used in static mode (mode is %s)", mode)
		} else if r.Status < 100 || r.Status > 599 {
			ps.addf("response.status", "invalid HTTP status %d", r.Status)
		}
	}
	if len(r.Headers) > 0 && !static {
		ps.addf("response.headers", "only used in static mode (mode is %s)", mode)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		v := r.Headers[k]
		if !httpguts.ValidHeaderFieldName(k) {
			ps.addf("response.headers"+mapKey(k), "invalid header name %q", k)
		} else if !httpguts.ValidHeaderFieldValue(v) {
			ps.addf("response.headers"+mapKey(k), "invalid header value")
		}
	}
	if r.Body != "" && !static {
		ps.addf("response.body", "only used in static mode (mode is %s)", mode)
	}
	if r.Timeout != 0 && mode != ResponseDestination {
		ps.addf("response.timeout", "only used in destination mode (mode is %s)", mode)
	}
	if r.Timeout < 0 {
		ps.addf("response.timeout", "must not be negative")
	}
	return ps.err()
}

// Validate checks an output's name, destination, timeout, concurrency and
// retry policy and agent window (not its functions or bucket). The error joins one FieldError per problem.
func (out *Output) Validate() error {
	var ps problems
	if err := ValidateName(out.Name); err != nil {
		ps.add("name", err)
	}
	if err := ValidateDestination(out.Destination); err != nil {
		ps.add("destination", err)
	}
	if out.Timeout < 0 {
		ps.addf("timeout", "must not be negative")
	}
	if out.MaxInFlight < 0 {
		ps.addf("max_in_flight", "must not be negative (0 means the default, %d)", DefaultMaxInFlight)
	}
	if out.AgentWindow < 0 {
		ps.addf("agent_window", "must not be negative (0 means the default, %s)", DefaultAgentWindow)
	}
	if out.AgentWindow > 0 && !out.Internal {
		ps.addf("agent_window", "applies to internal outputs only")
	}
	r := out.Retries
	if r.MaxAttempts < 0 {
		ps.addf("retries.max_attempts", "must not be negative (0 means the default, %d)", DefaultMaxAttempts)
	}
	if err := r.Backoff.Validate(); err != nil {
		ps.add("retries.backoff", err)
	}
	if r.InitialInterval < 0 {
		ps.addf("retries.initial_interval", "must not be negative")
	}
	if r.MaxInterval < 0 {
		ps.addf("retries.max_interval", "must not be negative")
	}
	if r.InitialInterval > 0 && r.MaxInterval > 0 && r.InitialInterval > r.MaxInterval {
		ps.addf("retries.initial_interval", "%s is longer than max_interval (%s)", r.InitialInterval, r.MaxInterval)
	}
	return ps.err()
}

// mapKey returns the path element of a map key: .key, or ["key"] when the
// key is not a plain identifier.
func mapKey(k string) string {
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

// truncate shortens s to n runes for an error message.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
