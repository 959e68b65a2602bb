package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/relayfn/relayfn/egress"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name   string
		status int
		err    error
		want   bool
	}{
		{"connection refused", 0, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"timeout", 0, context.DeadlineExceeded, true},
		{"unreadable answer", 200, errors.New("read response: unexpected EOF"), true},
		{"egress denial", 0, fmt.Errorf("post https://x: %w", egress.ErrDenied), false},
		{"destination that does not parse", 0, permanent(errors.New(`parse "::": missing protocol scheme`)), false},
		{"500", 500, nil, true},
		{"503", 503, nil, true},
		{"408", 408, nil, true},
		{"429", 429, nil, true},
		{"200", 200, nil, false},
		{"304", 304, nil, false},
		{"400", 400, nil, false},
		{"404", 404, nil, false},
		{"410", 410, nil, false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.status, tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%d, %v) = %v, want %v", tt.name, tt.status, tt.err, got, tt.want)
		}
	}
}

func TestRetryPolicyNext(t *testing.T) {
	within := func(d, want time.Duration) bool {
		return d >= want*8/10 && d <= want*12/10
	}
	exp := RetryPolicy{MaxAttempts: 5, InitialInterval: time.Second, MaxInterval: 5 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second} {
		wait, retry := exp.Next(n, 503, nil)
		if !retry || !within(wait, want) {
			t.Errorf("exponential: after attempt %d: %v, %v; want a retry after %v ±20%%", n, wait, retry, want)
		}
	}
	if _, retry := exp.Next(5, 503, nil); retry {
		t.Error("exponential: retried after the last attempt")
	}
	if _, retry := exp.Next(1, 404, nil); retry {
		t.Error("a 404 was retried")
	}
	fixed := RetryPolicy{Backoff: BackoffFixed, InitialInterval: 3 * time.Second}
	for n := 1; n < DefaultMaxAttempts; n++ {
		if wait, retry := fixed.Next(n, 0, errors.New("reset")); !retry || !within(wait, 3*time.Second) {
			t.Errorf("fixed: after attempt %d: %v, %v", n, wait, retry)
		}
	}
	if _, retry := fixed.Next(DefaultMaxAttempts, 500, nil); retry {
		t.Errorf("fixed: retried after attempt %d, the default maximum", DefaultMaxAttempts)
	}
	var zero RetryPolicy
	if wait, retry := zero.Next(1, 500, nil); !retry || !within(wait, DefaultInitialInterval) {
		t.Errorf("defaults: %v, %v", wait, retry)
	}
	if wait := zero.Delay(30); wait > DefaultMaxInterval*12/10 {
		t.Errorf("defaults: the wait %v passes the maximum interval", wait)
	}
}
