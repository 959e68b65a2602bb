// Package netlimit bounds what HTTP clients can hold of a server's
// connections, so that slow or idle clients cannot starve the others:
//
//   - Listener caps the connections open at once. At the cap it closes an
//     idle keep-alive connection to make room, and otherwise waits for one
//     to end before accepting the next (new connections wait in the
//     kernel's backlog meanwhile, they are not refused).
//   - MinBodyRate cuts a request whose body arrives slower than a minimum
//     rate after a grace period, as ASP.NET Kestrel does (240 bytes/s after
//     5 s by default): a body that stalls is cut within seconds, whatever
//     Content-Length it declared.
//   - Config.Server sets the http.Server's header, request and idle
//     timeouts.
//
// The default connection cap follows the process's file descriptor limit
// (RLIMIT_NOFILE), leaving room for the descriptors the rest of the
// process needs (outbound connections, the database).
package netlimit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultMinBodyRate       = 240 // bytes per second
	DefaultMinBodyRateGrace  = 5 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = time.Minute
	// MinConnections and MaxDefaultConnections bound the default cap.
	MinConnections        = 64
	MaxDefaultConnections = 16384
)

// Config limits an HTTP server's connections. The zero value is the
// defaults.
type Config struct {
	// MaxConnections caps the connections open at once; 0 means
	// DefaultMaxConnections().
	MaxConnections int
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, once MinBodyRateGrace has passed since the handler started.
	MinBodyRate int
	// MinBodyRateGrace is the time a body is given before the rate applies.
	MinBodyRateGrace time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, body included.
	ReadTimeout time.Duration
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections()
	}
	if c.MinBodyRate <= 0 {
		c.MinBodyRate = DefaultMinBodyRate
	}
	if c.MinBodyRateGrace <= 0 {
		c.MinBodyRateGrace = DefaultMinBodyRateGrace
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	return c
}

// Validate reports the first negative field, by its name in relay.yaml
// under server.limits.
func (c Config) Validate() error {
	switch {
	case c.MaxConnections < 0:
		return &FieldError{"max_connections", "must not be negative"}
	case c.MinBodyRate < 0:
		return &FieldError{"min_body_rate", "must not be negative"}
	case c.MinBodyRateGrace < 0:
		return &FieldError{"min_body_rate_grace", "must not be negative"}
	case c.IdleTimeout < 0:
		return &FieldError{"idle_timeout", "must not be negative"}
	case c.ReadHeaderTimeout < 0:
		return &FieldError{"read_header_timeout", "must not be negative"}
	case c.ReadTimeout < 0:
		return &FieldError{"read_timeout", "must not be negative"}
	}
	return nil
}

// FieldError is a Config field with an invalid value.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// DefaultMaxConnections is 80% of the soft RLIMIT_NOFILE (of 1024 where
// it cannot be read), within [MinConnections, MaxDefaultConnections].
func DefaultMaxConnections() int { return capFor(fileLimit()) }

// capFor is the default connection cap under a descriptor limit.
func capFor(fileLimit int) int {
	return min(max(fileLimit*8/10, MinConnections), MaxDefaultConnections)
}

// Server returns an http.Server serving h with c's limits: h wrapped in
// MinBodyRate, the timeouts set, and a ConnState hook that lets ln close
// idle connections at its cap. Serve it on ln (from Listen or NewListener).
func (c Config) Server(h http.Handler, ln *Listener) *http.Server {
	c = c.WithDefaults()
	hs := &http.Server{
		Handler:           MinBodyRate(h, c.MinBodyRate, c.MinBodyRateGrace, c.ReadTimeout),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		IdleTimeout:       c.IdleTimeout,
	}
	if ln != nil {
		hs.ConnState = ln.ConnState
	}
	return hs
}

// Listener is a net.Listener that caps the connections open at once.
type Listener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	idle    map[net.Conn]struct{}
	waiting int // Accepts waiting for a slot
}

// NewListener caps ln at max connections open at once.
func NewListener(ln net.Listener, max int) *Listener {
	if max <= 0 {
		max = DefaultMaxConnections()
	}
	return &Listener{Listener: ln, slots: make(chan struct{}, max), done: make(chan struct{}), idle: map[net.Conn]struct{}{}}
}

// Listen listens on the TCP address addr with c's connection cap.
func (c Config) Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewListener(ln, c.WithDefaults().MaxConnections), nil
}

// Cap is the most connections open at once.
func (l *Listener) Cap() int { return cap(l.slots) }

// Open is the number of connections open now.
func (l *Listener) Open() int { return len(l.slots) }

// Accept waits for a free slot (closing an idle connection when there is
// none) and then for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		// Full: close an idle connection now, or the next to become idle
		// while this Accept waits (see ConnState).
		l.mu.Lock()
		l.waiting++
		victim := l.takeIdle()
		l.mu.Unlock()
		if victim != nil {
			victim.Close()
		}
		var err error
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			err = net.ErrClosed
		}
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &conn{Conn: c, l: l}, nil
}

// Close closes the listener; an Accept waiting for a slot returns
// net.ErrClosed.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// takeIdle removes an idle connection from the idle set and returns it,
// or nil. l.mu is held.
func (l *Listener) takeIdle() net.Conn {
	for c := range l.idle {
		delete(l.idle, c)
		return c
	}
	return nil
}

// ConnState is an http.Server ConnState hook: it tells the Listener which
// connections are idle, so that it can close one at its cap (at once when
// an Accept is waiting for a slot).
func (l *Listener) ConnState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	if st != http.StateIdle {
		delete(l.idle, c)
		l.mu.Unlock()
		return
	}
	if l.waiting > 0 {
		l.mu.Unlock()
		c.Close()
		return
	}
	l.idle[c] = struct{}{}
	l.mu.Unlock()
}

// conn frees its slot when closed.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}

// ErrBodyTooSlow is returned by the body of a request cut by MinBodyRate.
var ErrBodyTooSlow = errors.New("request body arrived too slowly")

// MinBodyRate wraps h so that a request body must arrive at rate bytes
// per second or faster once grace has passed since the handler started,
// and whole within maxTime: after n bytes, the connection's read deadline
// is start + grace + n/rate (at most start + maxTime), so a body that
// stalls is cut within grace + n/rate. A read past the deadline fails
// with an error wrapping ErrBodyTooSlow, and the connection is closed.
// rate 0 leaves h as it is.
func MinBodyRate(h http.Handler, rate int, grace, maxTime time.Duration) http.Handler {
	if rate <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rb := &rateBody{body: r.Body, rc: http.NewResponseController(w), start: start, rate: rate, grace: grace}
		if maxTime > 0 {
			rb.end = start.Add(maxTime)
		}
		r.Body = rb
		h.ServeHTTP(w, r)
	})
}

type rateBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	end   time.Time // zero: no overall bound
	rate  int
	grace time.Duration
	n     int64
	done  bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.done {
		return b.body.Read(p)
	}
	deadline := b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
	if !b.end.IsZero() && deadline.After(b.end) {
		deadline = b.end
	}
	if err := b.rc.SetReadDeadline(deadline); err != nil {
		// The connection does not support deadlines: read without.
		b.done = true
		return b.body.Read(p)
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, fmt.Errorf("%w (%d bytes in %v)", ErrBodyTooSlow, b.n, time.Since(b.start).Round(time.Millisecond))
		}
		// At the end of the body the server reads on in the background,
		// to notice a client that goes away: lift the deadline, which
		// would otherwise cancel the request's context.
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *rateBody) Close() error { return b.body.Close() }
