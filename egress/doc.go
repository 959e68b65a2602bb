// Package egress is the one way out of the process: webhook forwarding and
// the functions' http, bigquery and email calls all send through a [Client].
// Functions are untrusted code, so every request passes the operator's
// policy before any byte of it leaves.
//
// # Order of checks
//
// For each request, and again for each redirect it follows:
//
//  1. Scheme: only http and https. CONNECT requests are refused, and the
//     caller's own proxy role and Proxy-Authorization headers are removed.
//  2. ACL: if the operator configured one (package acl, Smokescreen's v1
//     format), it decides for the service (the bucket) and the target host.
//     Deny fails the request with a [*DeniedError] (By "acl"); report lets it
//     through and logs what enforce would have denied. The ACL applies before
//     and independently of any proxy.
//  3. Proxy choice: Config.Proxy, if set, is used for http and https targets
//     unless the host is in the bypass list: the first non-empty of
//     Config.NoProxy, $NO_PROXY and $no_proxy. Without Config.Proxy, the
//     environment's HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or their lowercase
//     forms) apply, read once by [New]. Matching follows
//     golang.org/x/net/http/httpproxy, which never proxies "localhost" or
//     loopback addresses. The service is sent to the proxy in the role
//     header (X-Smokescreen-Role by default) on plain requests and on
//     CONNECT; each service has its own connection pool so a tunnel opened
//     for one role is never reused for another. A 407 from the proxy becomes
//     a [*DeniedError] (By "proxy") reading
//     "denied by egress proxy: <X-Smokescreen-Error>".
//  4. Address guard: every connection that does not go to the proxy is
//     checked on the IP actually dialed, after DNS, in the dialer's Control
//     hook, just before connect(2); a name that resolves (or re-resolves) to
//     a refused address therefore cannot get through. Refused unless a
//     Config.AllowRanges prefix covers them: unspecified, 0.0.0.0/8,
//     loopback, private (RFC 1918, fc00::/7), link-local (including the
//     cloud metadata address 169.254.169.254, fe80::/10), carrier-grade NAT
//     100.64.0.0/10, multicast, 240.0.0.0/4 and broadcast, benchmarking
//     (198.18.0.0/15, 2001:2::/48), 192.0.0.0/24, AS112 (192.31.196.0/24,
//     192.175.48.0/24, 2620:4f:8000::/48), AMT 192.52.193.0/24, the 6to4
//     relay anycast 192.88.99.0/24, ORCHID (2001:10::/28, 2001:20::/28),
//     discard-only 100::/64, the documentation ranges, and IPv6 outside
//     2000::/3. IPv6 forms that embed an IPv4 address are judged by that
//     address, allowed when it is public (IPv4-mapped ::ffff:0:0/96, NAT64
//     64:ff9b::/96, 6to4 2002::/16), or refused outright (IPv4-compatible
//     ::/96, local NAT64 64:ff9b:1::/48, Teredo 2001::/32). A refusal is a [*DeniedError] (By "address guard")
//     such as "egress: address 127.0.0.1 is not allowed (loopback)".
//     Connections to the configured proxy are not guarded: the operator
//     chose it, and it applies its own rules.
//  5. Limits: the request's context deadline, or Config.Timeout when it has
//     none, covers the exchange through the end of the body; bodies larger
//     than Config.MaxResponseBytes fail with an error wrapping
//     [ErrResponseTooLarge]; at most Config.MaxRedirects redirects are
//     followed.
//
// [Client.DialContext] serves protocols other than HTTP (SMTP): ACL and
// address guard apply; a socks5 proxy is used, an HTTP proxy is not.
package egress
