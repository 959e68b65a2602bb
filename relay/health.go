package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/relayfn/relayfn/relay/store"
)

// WriteChecker is a Store that can tell whether it accepts writes now
// (the SQLite store can). /healthz asks it.
type WriteChecker interface {
	// CheckWrite makes a probe write and returns its error.
	CheckWrite(ctx context.Context) error
}

// ErrStoreUnreachable marks a store's error as its server's absence (a
// connection refused, lost or timed out) rather than a refusal to write:
// a store that talks to a server wraps such errors with it, so that
// /healthz says "unreachable", and a write that failed so stops counting
// once a probe succeeds again.
var ErrStoreUnreachable = errors.New("the store's server cannot be reached")

const (
	// healthProbeEvery bounds how often /healthz probes the store.
	healthProbeEvery = time.Second
	// healthProbeTimeout bounds a probe.
	healthProbeTimeout = 5 * time.Second
	// recentWriteFailure is how long a failed webhook write keeps /healthz
	// degraded, unless a later one succeeds.
	recentWriteFailure = time.Minute
)

// health is the store's write health as /healthz reports it.
type health struct {
	failing   atomic.Bool // failedErr is set: the hot path skips the lock otherwise
	mu        sync.Mutex
	probedAt  time.Time
	probeErr  error
	failedAt  time.Time // the last webhook that could not be stored
	failedErr error
}

// writeFailed records a webhook that could not be stored; nil records one
// that was.
func (h *health) writeFailed(err error, now time.Time) {
	if err == nil && !h.failing.Load() {
		return
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return // the data's fault, not the store's
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.failedAt, h.failedErr = time.Time{}, nil
		h.failing.Store(false)
		return
	}
	h.failedAt, h.failedErr = now, err
	h.failing.Store(true)
}

// checkHealth returns why the store refuses writes, or nil: a probe write
// failed (probes run at most once a second), or a webhook could not be
// stored within the last minute and none was since (nor, when it failed
// for the store's server being unreachable, did a probe succeed since).
func (s *Server) checkHealth(ctx context.Context) error {
	h := &s.health
	now := s.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if wc, ok := s.store.(WriteChecker); ok && (h.probedAt.IsZero() || now.Sub(h.probedAt) >= healthProbeEvery) {
		// The probe's result is kept for the callers of the next second:
		// a caller that hangs up (a load balancer's short timeout) must
		// not make it fail.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthProbeTimeout)
		h.probeErr = wc.CheckWrite(pctx)
		cancel()
		h.probedAt = now
		if h.probeErr == nil && h.failedErr != nil && unreachable(h.failedErr) && !now.Before(h.failedAt) {
			// The server is back: a webhook lost to its absence says
			// nothing of the store's writes now.
			h.failedAt, h.failedErr = time.Time{}, nil
			h.failing.Store(false)
		}
	}
	if h.probeErr != nil {
		return h.probeErr
	}
	if h.failedErr != nil && now.Sub(h.failedAt) < recentWriteFailure {
		return h.failedErr
	}
	return nil
}

// serveHealth answers /healthz: {"status":"ok"}, or
// {"status":"degraded","store":"refuses writes"} with Options.DegradedStatus
// (200 by default, or 503) when the store refuses writes, "unreachable"
// in place of "refuses writes" when the store's server cannot be reached
// (a PostgreSQL outage). The error itself is logged, not answered.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.checkHealth(r.Context()); err != nil {
		reason, msg := "refuses writes", "health: the store refuses writes"
		if unreachable(err) {
			reason, msg = "unreachable", "health: the store is unreachable"
		}
		s.log.Warn(msg, "error", err)
		w.WriteHeader(s.opts.DegradedStatus)
		json.NewEncoder(w).Encode(map[string]string{"status": "degraded", "store": reason})
		return
	}
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// unreachable reports whether a store's error is its server's absence
// rather than a refusal: ErrStoreUnreachable, a network error, a
// connection cut short, or a probe that timed out.
func unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, ErrStoreUnreachable) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}
