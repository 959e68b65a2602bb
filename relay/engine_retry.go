package relay

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/relayfn/relayfn/egress"
)

// permanentError is an attempt's error that no retry can change, such as a
// destination URL that does not parse.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err as one that no retry can change.
func permanent(err error) error { return &permanentError{err} }

// Retryable reports whether an attempt that ended with status (0 when no
// answer came) and err may succeed if it is made again. Network trouble,
// timeouts, an unreadable answer, 5xx, 408 Request Timeout and 429 Too
// Many Requests may; a refusal by the egress policy, a destination that
// cannot be requested and every other answer (2xx included) are final.
func Retryable(status int, err error) bool {
	if err != nil {
		var fe *permanentError
		return !errors.Is(err, egress.ErrDenied) && !errors.As(err, &fe)
	}
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// Next decides what follows attempt n (1 for the first) of a delivery
// that ended with status and err: retry reports whether attempt n+1 is
// made, wait how long after this one.
func (p RetryPolicy) Next(n, status int, err error) (wait time.Duration, retry bool) {
	if n >= p.Attempts() || !Retryable(status, err) {
		return 0, false
	}
	return p.Delay(n), true
}

// Attempts is the most attempts of a delivery: MaxAttempts, or
// DefaultMaxAttempts when it is 0.
func (p RetryPolicy) Attempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return DefaultMaxAttempts
}

// Delay is the wait after attempt n: the initial interval, doubled after
// every attempt (kept when the backoff is fixed), capped at the maximum
// interval, with ±20% jitter so that the retries of a burst spread out.
func (p RetryPolicy) Delay(n int) time.Duration {
	initial, maxI := p.InitialInterval, p.MaxInterval
	if initial <= 0 {
		initial = DefaultInitialInterval
	}
	if maxI <= 0 {
		maxI = DefaultMaxInterval
	}
	d := initial
	if p.Backoff != BackoffFixed {
		for i := 1; i < n && d < maxI; i++ {
			d *= 2
		}
	}
	d = min(d, maxI)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
