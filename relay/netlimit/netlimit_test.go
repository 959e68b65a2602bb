package netlimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/netlimit"
)

// guard is the failure guard of every wait here; never a timing assertion.
const guard = 30 * time.Second

// serve serves h with c's limits on a loopback port and returns its
// address and listener.
func serve(t *testing.T, c netlimit.Config, h http.Handler) (string, *netlimit.Listener) {
	t.Helper()
	ln, err := c.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := c.Server(h, ln)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String(), ln
}

// slowBody opens a connection and sends a POST declaring a large body,
// of which it sends only a few bytes. It returns the connection.
func slowBody(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc", path)
	return c
}

// waitClosed waits until the server closes c and returns how long it took.
func waitClosed(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(guard))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection was not closed within %v", guard)
	}
	return time.Since(start)
}

// TestMinBodyRateCutsStalledBody: a body that stalls is cut after the
// grace period, whatever Content-Length it declared, and the handler's
// read fails with ErrBodyTooSlow; a body sent at a normal pace is read.
func TestMinBodyRateCutsStalledBody(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "%d", len(b))
	})
	addr, _ := serve(t, netlimit.Config{MinBodyRateGrace: 500 * time.Millisecond}, h)

	c := slowBody(t, addr, "/")
	defer c.Close()
	took := waitClosed(t, c)
	t.Logf("a stalled body declaring 1,000,000 bytes was cut after %v (grace 500ms, 240 bytes/s)", took)
	mu.Lock()
	if len(errs) != 1 || !errors.Is(errs[0], netlimit.ErrBodyTooSlow) {
		t.Fatalf("handler read errors %v, want one ErrBodyTooSlow", errs)
	}
	mu.Unlock()

	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader(strings.Repeat("x", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "100000" {
		t.Fatalf("a normal body: %d %q", resp.StatusCode, b)
	}
}

// TestMinBodyRateKeepsContext: once the body is read, the request's
// context is not canceled by the body's deadline while the handler works
// on (as in destination mode, which waits for the destination).
func TestMinBodyRateKeepsContext(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "canceled", http.StatusInternalServerError)
		case <-time.After(700 * time.Millisecond): // past the grace period
			w.Write([]byte("ok"))
		}
	})
	addr, _ := serve(t, netlimit.Config{MinBodyRateGrace: 200 * time.Millisecond}, h)
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("answer %d %q, want ok", resp.StatusCode, b)
	}
}

// TestListenerClosesIdleAtCap: at the cap, an idle keep-alive connection
// is closed to make room for a new one.
func TestListenerClosesIdleAtCap(t *testing.T) {
	addr, ln := serve(t, netlimit.Config{MaxConnections: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	if ln.Cap() != 2 {
		t.Fatalf("Cap = %d", ln.Cap())
	}
	var idle []net.Conn
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, guard)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		idle = append(idle, c) // kept alive, idle
	}
	client := &http.Client{Timeout: guard, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a new connection at the cap: %v", err)
	}
	resp.Body.Close()
	closed := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed == 0 {
		t.Fatal("no idle connection was closed to make room")
	}
}

// TestSlowBodyAttack: with twice as many slow-body connections as the
// connection cap, webhooks sent to a real relay keep being answered 200.
// The wait of each is logged.
func TestSlowBodyAttack(t *testing.T) {
	const (
		capacity = 32
		attack   = 64
		normal   = 6
	)
	h := relaytest.New(t, relaytest.Options{})
	b := h.Bucket(&relay.Bucket{Name: "attacked"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	cfg := netlimit.Config{MaxConnections: capacity, MinBodyRateGrace: time.Second}
	addr, ln := serve(t, cfg, h.Server.Handler())

	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	var opened atomic.Int64
	for range attack {
		// Each attacker reopens its slow body as soon as it is cut.
		wg.Go(func() {
			for !stop.Load() {
				c, err := net.DialTimeout("tcp", addr, guard)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "POST /v1/webhooks/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc", in.ID)
				opened.Add(1)
				c.SetReadDeadline(time.Now().Add(guard))
				io.Copy(io.Discard, c)
				c.Close()
			}
		})
	}
	relaytest.WaitFor(t, "the attack to fill the connections", func() bool { return ln.Open() == capacity })

	client := &http.Client{Timeout: guard, Transport: &http.Transport{DisableKeepAlives: true}}
	var waits []time.Duration
	for range normal {
		start := time.Now()
		resp, err := client.Post("http://"+addr+"/v1/webhooks/"+in.ID, "application/json", strings.NewReader(`{"ok":true}`))
		if err != nil {
			t.Fatalf("a webhook during the attack: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a webhook during the attack: %d", resp.StatusCode)
		}
		waits = append(waits, time.Since(start))
	}
	slices.Sort(waits)
	t.Logf("cap %d, %d slow-body attackers (%d connections opened), grace 1s at 240 bytes/s: %d webhooks answered 200, wait p50 %v, max %v",
		capacity, attack, opened.Load(), normal, waits[len(waits)/2], waits[len(waits)-1])
}

// TestListenerCloseWhileFull: Close ends an Accept waiting for a slot.
func TestListenerCloseWhileFull(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := netlimit.NewListener(inner, 1)
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(50 * time.Millisecond) // let Accept wait for the slot
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(guard):
		t.Fatal("Accept still waits after Close")
	}
	if ln.Open() != 1 {
		t.Fatalf("Open = %d, want 1 (the held connection)", ln.Open())
	}
	held.Close()
	if ln.Open() != 0 {
		t.Fatalf("Open = %d after closing the held connection", ln.Open())
	}
}
