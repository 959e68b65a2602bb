package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/relayfn/relayfn/egress"
)

// TestGuardRefusesAtDial sends real requests at refused addresses. The
// loopback ones have a live server behind them that must see nothing; for
// the others the guard must refuse before connecting, so no packet leaves
// (and the client's loopback-only safety net would fail the test if one
// tried).
func TestGuardRefusesAtDial(t *testing.T) {
	live := newDest(t, false, nil)
	port := live.port()
	c := newClient(t, egress.Config{
		LookupIP: resolver(map[string][]netip.Addr{
			"rebind.example.com":   {netip.MustParseAddr("127.0.0.1")},
			"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
			"v6.example.com":       {netip.MustParseAddr("::1")},
		}),
	})
	tests := []struct {
		url, target, reason string
	}{
		{"http://127.0.0.1:" + port + "/", "127.0.0.1", "loopback"},
		{"http://127.1.2.3:" + port + "/", "127.1.2.3", "loopback"},
		{"http://[::1]:" + port + "/", "::1", "loopback"},
		{"http://10.0.0.1/", "10.0.0.1", "private"},
		{"http://172.16.0.1/", "172.16.0.1", "private"},
		{"http://192.168.1.1/", "192.168.1.1", "private"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local, cloud metadata"},
		{"http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"},
		{"http://0.0.0.0:" + port + "/", "0.0.0.0", "unspecified"},
		{"http://0.1.2.3/", "0.1.2.3", "this network"},
		{"http://240.0.0.1/", "240.0.0.1", "reserved"},
		{"http://255.255.255.255/", "255.255.255.255", "broadcast"},
		{"http://198.18.0.1/", "198.18.0.1", "benchmarking"},
		{"http://224.0.0.1/", "224.0.0.1", "multicast"},
		{"http://192.0.2.1/", "192.0.2.1", "documentation"},
		{"http://[::ffff:127.0.0.1]:" + port + "/", "::ffff:127.0.0.1", "loopback, IPv4-mapped"},
		{"http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", "loopback, NAT64"},
		{"http://[fe80::1]/", "fe80::1", "link-local"},
		{"http://[fd00::1]/", "fd00::1", "private"},
		{"https://10.0.0.1/", "10.0.0.1", "private"},
		{"http://rebind.example.com:" + port + "/", "127.0.0.1", "loopback"},
		{"http://metadata.example.com/", "169.254.169.254", "link-local, cloud metadata"},
		{"http://v6.example.com:" + port + "/", "::1", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := get(t, c, "ci", tt.url)
			want := fmt.Sprintf("egress: address %s is not allowed (%s)", tt.target, tt.reason)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v, want %q", err, want)
			}
			var d *egress.DeniedError
			if !errors.As(err, &d) || d.By != egress.ByGuard || d.Target != tt.target || d.Reason != tt.reason {
				t.Errorf("err = %#v, want a *DeniedError by the guard", err)
			}
		})
	}
	if n := live.hits(); n != 0 {
		t.Errorf("live loopback server served %d requests, want 0", n)
	}
}

func TestGuardAllowRanges(t *testing.T) {
	live := newDest(t, false, nil)
	tests := []struct {
		name    string
		allow   []string
		url     string
		allowed bool
	}{
		{"range opens loopback", []string{"127.0.0.0/8"}, live.url("127.0.0.1", "/"), true},
		{"single address", []string{"127.0.0.1"}, live.url("127.0.0.1", "/"), true},
		{"exact /32", []string{"127.0.0.1/32"}, live.url("127.0.0.1", "/"), true},
		{"name resolving into the range", []string{"127.0.0.1/32"}, live.url("app.example.com", "/"), true},
		{"IPv4-mapped form of an allowed address", []string{"127.0.0.1/32"}, live.url("::ffff:127.0.0.1", "/"), true},
		{"other loopback address outside the range", []string{"127.0.0.2/32"}, live.url("127.0.0.1", "/"), false},
		{"unrelated range", []string{"10.0.0.0/8"}, live.url("127.0.0.1", "/"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, egress.Config{AllowRanges: tt.allow})
			before := live.hits()
			_, _, err := get(t, c, "ci", tt.url)
			if tt.allowed && err != nil {
				t.Fatalf("GET %s: %v", tt.url, err)
			}
			if !tt.allowed && !errors.Is(err, egress.ErrDenied) {
				t.Fatalf("GET %s: err = %v, want a denial", tt.url, err)
			}
			if got, want := live.hits()-before, map[bool]int{true: 1, false: 0}[tt.allowed]; got != want {
				t.Errorf("server served %d requests, want %d", got, want)
			}
		})
	}
}

// TestGuardMixedResolution: a name with both refused and allowed addresses
// connects to an allowed one; with only refused ones it is refused.
func TestGuardMixedResolution(t *testing.T) {
	live := newDest(t, false, nil)
	c := newClient(t, egress.Config{
		AllowRanges: []string{"127.0.0.0/8"},
		LookupIP: resolver(map[string][]netip.Addr{
			"mixed.example.com":   {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("127.0.0.1")},
			"private.example.com": {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.168.0.1")},
			"nowhere.example.com": {},
		}),
	})
	mustGet(t, c, "ci", live.url("mixed.example.com", "/"))

	_, _, err := get(t, c, "ci", live.url("private.example.com", "/"))
	if err == nil || err.Error() != "egress: address 10.0.0.1 is not allowed (private)" {
		t.Errorf("all-private name: err = %v", err)
	}
	_, _, err = get(t, c, "ci", live.url("nowhere.example.com", "/"))
	if err == nil || errors.Is(err, egress.ErrDenied) {
		t.Errorf("name without addresses: err = %v, want a plain error", err)
	}
}

// TestGuardRedirect: a redirect is checked again at dial time. The first
// server is allowed by an exact /32; it redirects to another loopback
// address, which is not allowed and has a live server that must see nothing.
func TestGuardRedirect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var privateHits atomic.Int32
	private := &httptest.Server{
		Listener: ln,
		Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			privateHits.Add(1)
			fmt.Fprint(w, "internal secrets")
		})},
	}
	private.Start()
	defer private.Close()
	_, privatePort, _ := net.SplitHostPort(ln.Addr().String())

	public := newDest(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-private":
			http.Redirect(w, r, private.URL+"/admin", http.StatusFound)
		case "/to-private-name":
			http.Redirect(w, r, "http://internal.example.com:"+privatePort+"/admin", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			fmt.Fprint(w, "final")
		}
	})
	c := newClient(t, egress.Config{
		AllowRanges: []string{"127.0.0.1/32"},
		LookupIP: resolver(map[string][]netip.Addr{
			"internal.example.com": {netip.MustParseAddr("127.0.0.2")},
		}),
	})

	if body := mustGet(t, c, "ci", public.url("127.0.0.1", "/to-self")); body != "final" {
		t.Errorf("allowed redirect: body %q", body)
	}
	for _, path := range []string{"/to-private", "/to-private-name"} {
		_, _, err := get(t, c, "ci", public.url("127.0.0.1", path))
		want := "egress: address 127.0.0.2 is not allowed (loopback)"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
	if n := privateHits.Load(); n != 0 {
		t.Errorf("private server served %d requests, want 0", n)
	}
}

func TestDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(conn, "220 smtp.example.com ESMTP\r\n")
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	policy := mustACL(t, `
version: v1
services:
  - {name: mail, action: enforce, allowed_domains: [smtp.example.com]}
`)
	ctx := context.Background()

	allowed := newClient(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}, ACL: policy})
	conn, err := allowed.DialContext(ctx, "mail", "tcp", net.JoinHostPort("smtp.example.com", port))
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	conn.Close()
	if got := string(buf[:n]); got != "220 smtp.example.com ESMTP\r\n" {
		t.Errorf("greeting = %q", got)
	}

	_, err = allowed.DialContext(ctx, "mail", "tcp", net.JoinHostPort("relay.example.com", port))
	want := `egress: host relay.example.com denied by egress ACL for service "mail": rule has enforce policy`
	if err == nil || err.Error() != want {
		t.Errorf("ACL-denied dial: err = %v, want %q", err, want)
	}

	guarded := newClient(t, egress.Config{ACL: policy})
	_, err = guarded.DialContext(ctx, "mail", "tcp", net.JoinHostPort("smtp.example.com", port))
	if err == nil || err.Error() != "egress: address 127.0.0.1 is not allowed (loopback)" {
		t.Errorf("guarded dial: err = %v", err)
	}

	// An HTTP proxy is not used for non-HTTP traffic: the dial goes direct,
	// guard and all.
	p := newTestProxy(t, proxyOptions{})
	proxied := newClient(t, egress.Config{Proxy: p.URL(), ACL: policy})
	_, err = proxied.DialContext(ctx, "mail", "tcp", net.JoinHostPort("smtp.example.com", port))
	if !errors.Is(err, egress.ErrDenied) || len(p.take()) != 0 {
		t.Errorf("dial with an HTTP proxy: err = %v, want a direct, guarded dial", err)
	}

	if _, err := allowed.DialContext(ctx, "mail", "udp", net.JoinHostPort("smtp.example.com", port)); err == nil {
		t.Error("udp dial succeeded")
	}
}
