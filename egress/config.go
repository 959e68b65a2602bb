package egress

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http/httpproxy"

	"github.com/relayfn/relayfn/egress/acl"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultProxyRoleHeader  = "X-Smokescreen-Role"
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 10 << 20 // 10 MiB
	DefaultMaxRedirects     = 10
)

// Config is the operator's outbound policy: relay.yaml's server.http.* and
// server.egress.* settings. The zero value is a valid configuration: no
// proxy beyond the environment's, no ACL, private addresses refused.
type Config struct {
	// Proxy is the forward proxy for http and https targets (server.http.proxy):
	// an http://, https:// or socks5:// URL, optionally with user:password.
	// Empty means none is configured, and the environment's HTTP_PROXY and
	// HTTPS_PROXY apply instead.
	Proxy string

	// NoProxy lists hosts that bypass Proxy (server.http.no_proxy), in
	// NO_PROXY syntax: comma-separated domain suffixes, ".domain", "*.domain",
	// exact hosts, host:port, CIDR ranges, or "*". It applies only when Proxy
	// is set, and then takes precedence over the NO_PROXY and no_proxy
	// environment variables.
	NoProxy string

	// ProxyRoleHeader names the header that carries the service to the proxy,
	// on plain requests and on CONNECT (server.http.proxy_role_header).
	// Default DefaultProxyRoleHeader.
	ProxyRoleHeader string

	// AllowRanges are CIDR prefixes (or single addresses) the address guard
	// lets through although they are private, loopback, etc.
	// (server.egress.allow_ranges).
	AllowRanges []string

	// ACL is the optional Smokescreen-format policy (server.egress.acl); nil
	// means every host is allowed by policy (the address guard still applies).
	ACL *acl.ACL

	// Timeout bounds a request whose context has no deadline, from sending it
	// to reading the end of its response body (server.egress.timeout).
	// Zero means DefaultTimeout; negative means no default bound.
	Timeout time.Duration

	// MaxResponseBytes caps response bodies (server.egress.max_response_bytes).
	// Zero means DefaultMaxResponseBytes; negative means no cap.
	MaxResponseBytes int64

	// MaxRedirects is how many redirects a request follows
	// (server.egress.max_redirects). Zero means DefaultMaxRedirects; negative
	// means none are followed and the 3xx response is returned as is.
	MaxRedirects int

	// TLSClientConfig is used for TLS to destinations and to an https://
	// proxy, for operators with a private CA (and for tests). Nil means the
	// system roots. It is cloned; later changes have no effect.
	TLSClientConfig *tls.Config

	// LookupIP resolves host names for direct connections; the address guard
	// then checks each IP actually dialed. Nil uses the system resolver. Set
	// it for split-horizon DNS, or in tests to point names at loopback. The
	// proxy's own host name is always resolved by the system resolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)

	// Getenv looks up proxy environment variables, once, in New. Nil means
	// os.Getenv.
	Getenv func(string) string

	// Logger records requests that an ACL in report mode let through but
	// would have denied under enforce. Nil discards them.
	Logger *slog.Logger
}

// proxySchemes are the proxy URL schemes http.Transport can use.
var proxySchemes = map[string]bool{"http": true, "https": true, "socks5": true, "socks5h": true}

// parseConfigProxy validates server.http.proxy, which must be a full URL.
func parseConfigProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme == "" || u.Host == "" || !strings.Contains(s, "://") {
		return nil, fmt.Errorf("%q is not a URL (want http://, https:// or socks5://host:port)", s)
	}
	if !proxySchemes[u.Scheme] {
		return nil, fmt.Errorf("unsupported scheme %q (want http, https or socks5)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if p := u.Port(); p != "" {
		if _, err := parsePort(p); err != nil {
			return nil, fmt.Errorf("invalid port %q", p)
		}
	}
	return u, nil
}

// parseEnvProxy validates a proxy environment variable the way
// golang.org/x/net/http/httpproxy reads it: "host:port" without a scheme
// means http://host:port.
func parseEnvProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if u2, err2 := url.Parse("http://" + s); err2 == nil {
			u, err = u2, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid proxy address %q: %w", s, err)
	}
	if !proxySchemes[u.Scheme] {
		return nil, fmt.Errorf("unsupported proxy scheme %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy address %q has no host", s)
	}
	return u, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// proxyConfig turns the configured or environment proxy settings into the
// httpproxy rules that choose a proxy per request URL.
func proxyConfig(cfg *Config, getenv func(string) string) (*httpproxy.Config, error) {
	if cfg.Proxy != "" {
		u, err := parseConfigProxy(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("server.http.proxy: %w", err)
		}
		return &httpproxy.Config{
			HTTPProxy:  u.String(),
			HTTPSProxy: u.String(),
			NoProxy:    firstNonEmpty(cfg.NoProxy, getenv("NO_PROXY"), getenv("no_proxy")),
		}, nil
	}
	pc := &httpproxy.Config{
		HTTPProxy:  firstNonEmpty(getenv("HTTP_PROXY"), getenv("http_proxy")),
		HTTPSProxy: firstNonEmpty(getenv("HTTPS_PROXY"), getenv("https_proxy")),
		NoProxy:    firstNonEmpty(getenv("NO_PROXY"), getenv("no_proxy")),
		CGI:        getenv("REQUEST_METHOD") != "",
	}
	for _, v := range []struct{ name, val string }{{"HTTP_PROXY", pc.HTTPProxy}, {"HTTPS_PROXY", pc.HTTPSProxy}} {
		if v.val == "" {
			continue
		}
		if _, err := parseEnvProxy(v.val); err != nil {
			return nil, fmt.Errorf("environment %s: %w", v.name, err)
		}
	}
	return pc, nil
}

// parseAllowRanges validates server.egress.allow_ranges.
func parseAllowRanges(ranges []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ranges))
	for i, s := range ranges {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			ip, err2 := netip.ParseAddr(s)
			if err2 != nil || ip.Zone() != "" {
				return nil, fmt.Errorf("server.egress.allow_ranges[%d]: %q is not a CIDR prefix or IP address", i, s)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// validate applies defaults to cfg and checks the fields New does not parse
// elsewhere.
func (cfg *Config) validate() error {
	if cfg.ProxyRoleHeader == "" {
		cfg.ProxyRoleHeader = DefaultProxyRoleHeader
	}
	if !httpguts.ValidHeaderFieldName(cfg.ProxyRoleHeader) {
		return fmt.Errorf("server.http.proxy_role_header: %q is not a valid header name", cfg.ProxyRoleHeader)
	}
	cfg.ProxyRoleHeader = http.CanonicalHeaderKey(cfg.ProxyRoleHeader)
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	return nil
}
