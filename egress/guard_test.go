package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		ip   string
		want string // "" = public, allowed
	}{
		// Public.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.1", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"2606:4700::1111", ""},
		{"2a00:1450:4001::1", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8

		// IPv4 special ranges.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "this network"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local, cloud metadata"},
		{"169.254.0.1", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.1", "IETF protocol assignments"},
		{"192.0.2.1", "documentation"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.1", "documentation"},
		{"203.0.113.1", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},
		{"192.31.196.1", "AS112"},
		{"192.175.48.6", "AS112"},
		{"192.52.193.1", "AMT"},
		{"192.88.99.1", "6to4 relay anycast"},
		{"192.31.195.255", ""},
		{"192.175.49.0", ""},
		{"192.52.192.255", ""},
		{"192.88.100.0", ""},

		// IPv6.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"100::1", "discard-only"},
		{"2620:4f:8000::1", "AS112"},
		{"2620:4f:8001::1", ""},
		{"2001:2::1", "benchmarking"},
		{"2001:2:1::1", ""},
		{"2001:10::1", "ORCHID"},
		{"2001:1f:ffff::1", "ORCHID"},
		{"2001:20::1", "ORCHIDv2"},
		{"2001:2f:ffff::1", "ORCHIDv2"},
		{"2001:30::1", ""},
		{"4000::1", "reserved"},
		{"::2:3:4:5:6", "reserved"},

		// IPv6 forms embedding IPv4.
		{"::ffff:127.0.0.1", "loopback, IPv4-mapped"},
		{"::ffff:10.0.0.1", "private, IPv4-mapped"},
		{"::ffff:169.254.169.254", "link-local, cloud metadata, IPv4-mapped"},
		{"64:ff9b::7f00:1", "loopback, NAT64"},
		{"64:ff9b::a9fe:a9fe", "link-local, cloud metadata, NAT64"},
		{"64:ff9b:1::808:808", "local-use NAT64"},
		{"2002:7f00:1::1", "loopback, 6to4"},
		{"2002:a00:1::", "private, 6to4"},
		{"64:ff9b::c0a8:101", "private, NAT64"},
		{"2002:c0a8:101::1", "private, 6to4"},
		{"64:ff9b::c01f:c401", "AS112, NAT64"},
		{"2002:c058:6301::1", "6to4 relay anycast, 6to4"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"::127.0.0.1", "IPv4-compatible IPv6"},
		{"::8.8.8.8", "IPv4-compatible IPv6"},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := classify(ip); got != tt.want {
			t.Errorf("classify(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if got := classify(netip.Addr{}); got == "" {
		t.Error("classify(zero Addr) allowed it")
	}
}

func TestGuardCheck(t *testing.T) {
	allow, err := parseAllowRanges([]string{"127.0.0.0/8", "10.1.2.3", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	g := guard{allow: allow}
	tests := []struct {
		ip      string
		allowed bool
	}{
		{"8.8.8.8", true},
		{"127.0.0.1", true},
		{"127.9.9.9", true},
		{"::ffff:127.0.0.1", true}, // the same destination as 127.0.0.1
		{"10.1.2.3", true},
		{"10.1.2.4", false},
		{"fd00::1", true},
		{"fc00::1", false},
		{"::1", false},
		{"64:ff9b::7f00:1", false}, // NAT64 reaches a gateway, not this host's loopback
		{"169.254.169.254", false},
	}
	for _, tt := range tests {
		err := g.check(netip.MustParseAddr(tt.ip))
		if tt.allowed && err != nil {
			t.Errorf("check(%s) = %v, want allowed", tt.ip, err)
		}
		if !tt.allowed {
			var d *DeniedError
			if !errors.As(err, &d) || d.By != ByGuard || d.Target == "" {
				t.Errorf("check(%s) = %v, want *DeniedError by the guard", tt.ip, err)
			}
		}
	}
}

func TestDeniedErrorMessages(t *testing.T) {
	tests := []struct {
		err  *DeniedError
		want string
	}{
		{&DeniedError{By: ByProxy, Reason: "host not allowed"}, "denied by egress proxy: host not allowed"},
		{&DeniedError{By: ByGuard, Reason: "loopback", Target: "127.0.0.1"}, "egress: address 127.0.0.1 is not allowed (loopback)"},
		{&DeniedError{By: ByACL, Reason: "rule has enforce policy", Target: "example.com", Service: "ci"},
			`egress: host example.com denied by egress ACL for service "ci": rule has enforce policy`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, ErrDenied) {
			t.Errorf("%v is not ErrDenied", tt.err)
		}
	}
}

// TestControlRefusesBeforeConnect bypasses dialGuarded's resolve-time check
// and dials a live loopback listener directly: the Control hook alone must
// refuse, and the listener must never see a connection.
func TestControlRefusesBeforeConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	port := strconv.Itoa(int(ap.Port()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.dialIP(ctx, "tcp", ap.Addr(), port)
	if err == nil {
		conn.Close()
		t.Fatal("dialIP to loopback succeeded")
	}
	var d *DeniedError
	if !errors.As(err, &d) || d.By != ByGuard || d.Reason != "loopback" {
		t.Fatalf("dialIP = %v, want a loopback refusal", err)
	}

	// The same dial with the range allowed connects. Connections are
	// accepted in order, so once this one is counted, a connection made by
	// the refused dial would have been counted too.
	c2, err := New(Config{AllowRanges: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	conn, err = c2.dialIP(ctx, "tcp", ap.Addr(), port)
	if err != nil {
		t.Fatalf("allowed dialIP: %v", err)
	}
	defer conn.Close()
	for accepted.Load() == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("listener accepted %d connections, want 1 (the allowed one)", n)
	}
}
