package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

func TestHealthReasonUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"dial refused", fmt.Errorf("ping: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"connection reset", fmt.Errorf("probe: %w", syscall.ECONNRESET), true},
		{"cut short", fmt.Errorf("probe: %w", io.ErrUnexpectedEOF), true},
		{"timed out", fmt.Errorf("probe: %w", context.DeadlineExceeded), true},
		{"disk full", errors.New("database or disk is full"), false},
		{"read-only", errors.New("attempt to write a readonly database"), false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("%s: unreachable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
