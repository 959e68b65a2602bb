package egress

import (
	"net/netip"
)

// rangeClass names one refused address range.
type rangeClass struct {
	prefix netip.Prefix
	reason string
}

func mustPrefixes(classes []struct{ cidr, reason string }) []rangeClass {
	out := make([]rangeClass, len(classes))
	for i, c := range classes {
		out[i] = rangeClass{netip.MustParsePrefix(c.cidr), c.reason}
	}
	return out
}

// refusedV4 lists the IPv4 ranges that are not the public internet. Order
// matters only for the reason reported: the first match wins.
var refusedV4 = mustPrefixes([]struct{ cidr, reason string }{
	{"0.0.0.0/32", "unspecified"},
	{"0.0.0.0/8", "this network"},
	{"10.0.0.0/8", "private"},
	{"100.64.0.0/10", "carrier-grade NAT"},
	{"127.0.0.0/8", "loopback"},
	{"169.254.169.254/32", "link-local, cloud metadata"},
	{"169.254.0.0/16", "link-local"},
	{"172.16.0.0/12", "private"},
	{"192.0.0.0/24", "IETF protocol assignments"},
	{"192.0.2.0/24", "documentation"},
	{"192.31.196.0/24", "AS112"},
	{"192.52.193.0/24", "AMT"},
	{"192.88.99.0/24", "6to4 relay anycast"},
	{"192.168.0.0/16", "private"},
	{"192.175.48.0/24", "AS112"},
	{"198.18.0.0/15", "benchmarking"},
	{"198.51.100.0/24", "documentation"},
	{"203.0.113.0/24", "documentation"},
	{"224.0.0.0/4", "multicast"},
	{"255.255.255.255/32", "broadcast"},
	{"240.0.0.0/4", "reserved"},
})

// refusedV6 lists the IPv6 ranges refused outright. Ranges that embed an
// IPv4 address we can recover (IPv4-mapped, NAT64 well-known prefix, 6to4)
// are handled in classify, which judges the embedded address instead.
var refusedV6 = mustPrefixes([]struct{ cidr, reason string }{
	{"::/128", "unspecified"},
	{"::1/128", "loopback"},
	{"::/96", "IPv4-compatible IPv6"},
	{"64:ff9b:1::/48", "local-use NAT64"},
	{"100::/64", "discard-only"},
	{"2001::/32", "Teredo"},
	{"2001:2::/48", "benchmarking"},
	{"2001:10::/28", "ORCHID"},
	{"2001:20::/28", "ORCHIDv2"},
	{"2001:db8::/32", "documentation"},
	{"2620:4f:8000::/48", "AS112"},
	{"3fff::/20", "documentation"},
	{"fc00::/7", "private"},
	{"fe80::/10", "link-local"},
	{"fec0::/10", "site-local"},
	{"ff00::/8", "multicast"},
})

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	globalUnicast  = netip.MustParsePrefix("2000::/3")
)

// classify returns why ip is refused by the address guard, or "" if it is a
// public address. It ignores any zone.
func classify(ip netip.Addr) string {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return "invalid address"
	}
	if ip.Is4In6() {
		if r := classify(ip.Unmap()); r != "" {
			return r + ", IPv4-mapped"
		}
		return ""
	}
	if ip.Is4() {
		for _, c := range refusedV4 {
			if c.prefix.Contains(ip) {
				return c.reason
			}
		}
		return ""
	}
	for _, c := range refusedV6 {
		if c.prefix.Contains(ip) {
			return c.reason
		}
	}
	b := ip.As16()
	switch {
	case nat64WellKnown.Contains(ip):
		if r := classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
			return r + ", NAT64"
		}
		return ""
	case sixToFour.Contains(ip):
		if r := classify(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
			return r + ", 6to4"
		}
		return ""
	case !globalUnicast.Contains(ip):
		return "reserved"
	}
	return ""
}

// guard decides whether a dialed IP may be connected to.
type guard struct {
	allow []netip.Prefix // operator's exceptions (Config.AllowRanges)
}

// check returns a *DeniedError if ip is refused and no allow range covers it.
func (g *guard) check(ip netip.Addr) error {
	ip = ip.WithZone("")
	for _, p := range g.allow {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if reason := classify(ip); reason != "" {
		return &DeniedError{By: ByGuard, Reason: reason, Target: ip.String()}
	}
	return nil
}
