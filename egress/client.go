package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/net/proxy"

	"github.com/relayfn/relayfn/egress/acl"
)

// ProxyErrorHeader is the response header in which a Smokescreen-style proxy
// explains a refusal.
const ProxyErrorHeader = "X-Smokescreen-Error"

// Client sends every outbound request under one egress policy. It is safe
// for concurrent use. Build it with New; release its idle connections with
// Close.
type Client struct {
	cfg       Config // defaults applied, TLS config cloned
	guard     guard
	proxyFunc func(*url.URL) (*url.URL, error)
	logger    *slog.Logger

	// dialCheck, if set, runs after the guard in the dialer's Control hook.
	// Tests set it to refuse anything but loopback as a safety net, so that
	// a guard bug cannot send a packet off the machine.
	dialCheck func(netip.Addr) error

	mu         sync.Mutex
	closed     bool
	transports map[string]*http.Transport // one per service; see transport
}

// New validates cfg and builds a Client. Errors name the offending setting,
// e.g. "server.http.proxy: ..." or "server.egress.allow_ranges[1]: ...".
// Proxy environment variables are read here, once.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	pc, err := proxyConfig(&cfg, getenv)
	if err != nil {
		return nil, err
	}
	allow, err := parseAllowRanges(cfg.AllowRanges)
	if err != nil {
		return nil, err
	}
	if cfg.TLSClientConfig != nil {
		cfg.TLSClientConfig = cfg.TLSClientConfig.Clone()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:        cfg,
		guard:      guard{allow: allow},
		proxyFunc:  pc.ProxyFunc(),
		logger:     logger,
		transports: make(map[string]*http.Transport),
	}, nil
}

// Do sends req on behalf of service (the bucket: the ACL's service and the
// value of the proxy role header) and follows redirects, applying the ACL to
// every hop and the address guard to every direct connection. If ctx has no
// deadline, Config.Timeout bounds the whole exchange, body included; ctx
// replaces req's own context. The
// response body is capped at Config.MaxResponseBytes. A policy refusal is
// returned as the *DeniedError itself, so its message reads as documented.
func (c *Client) Do(ctx context.Context, service string, req *http.Request) (*http.Response, error) {
	cancel := func() {}
	if _, ok := ctx.Deadline(); !ok && c.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
	}
	resp, err := c.HTTPClient(service).Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		var denied *DeniedError
		if errors.As(err, &denied) {
			return nil, denied
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL)
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// HTTPClient returns an *http.Client for libraries that want one (BigQuery,
// Mailgun, ...). Its requests follow the same rules as Do, except that the
// default timeout applies to each hop of a redirect chain rather than to the
// whole chain, and errors come wrapped in *url.Error.
func (c *Client) HTTPClient(service string) *http.Client {
	return &http.Client{
		Transport:     &roundTripper{c: c, service: service},
		CheckRedirect: c.checkRedirect,
	}
}

// DialContext opens a TCP connection for protocols other than HTTP, such as
// SMTP. The ACL applies to the host and the address guard to the IP dialed.
// An HTTP proxy is not used; a socks5 proxy is, unless the host is in the
// no-proxy list. If ctx has no deadline, Config.Timeout bounds the dial (not
// the connection's later use).
func (c *Client) DialContext(ctx context.Context, service, network, addr string) (net.Conn, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("egress: dial %s: unsupported network %q", addr, network)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", addr, err)
	}
	if err := c.checkACL(ctx, service, host); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok && c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel() // an established connection outlives its dial context
	}
	pu, err := c.proxyFunc(&url.URL{Scheme: "https", Host: addr})
	if err != nil {
		return nil, fmt.Errorf("egress: choose proxy: %w", err)
	}
	if pu != nil && (pu.Scheme == "socks5" || pu.Scheme == "socks5h") {
		return c.dialSOCKS(ctx, pu, network, addr)
	}
	conn, err := c.dialGuarded(ctx, network, addr)
	if err != nil {
		var denied *DeniedError
		if errors.As(err, &denied) {
			return nil, denied // as from Do: the message as documented
		}
		return nil, err
	}
	return conn, nil
}

// Close closes idle connections. Requests made afterwards fail with
// ErrClosed; responses already returned stay readable.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	ts := c.transports
	c.transports = nil
	c.mu.Unlock()
	for _, t := range ts {
		t.CloseIdleConnections()
	}
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// transport returns service's transport, creating it on first use. Each
// service has its own so that a CONNECT tunnel opened with one role header
// is never reused for a request of another service.
func (c *Client) transport(service string) (*http.Transport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if t, ok := c.transports[service]; ok {
		return t, nil
	}
	t := &http.Transport{
		Proxy:       func(r *http.Request) (*url.URL, error) { return c.proxyFunc(r.URL) },
		DialContext: c.dialTransport,
		// Cloned per transport: HTTP/2 setup writes to it.
		TLSClientConfig:   c.cfg.TLSClientConfig.Clone(),
		ForceAttemptHTTP2: true,
		MaxIdleConns:      512,
		// Deliveries to one destination run on many workers at once: keep
		// their connections rather than dial anew (Go's default keeps 2).
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		GetProxyConnectHeader: func(context.Context, *url.URL, string) (http.Header, error) {
			if service == "" {
				return nil, nil
			}
			return http.Header{c.cfg.ProxyRoleHeader: {service}}, nil
		},
		OnProxyConnectResponse: onProxyConnectResponse,
	}
	c.transports[service] = t
	return t, nil
}

// onProxyConnectResponse turns a proxy's refusal of CONNECT into an error
// that keeps the proxy's reason; the transport alone would report only the
// status text.
func onProxyConnectResponse(_ context.Context, _ *url.URL, req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	reason := resp.Header.Get(ProxyErrorHeader)
	if resp.StatusCode == http.StatusProxyAuthRequired {
		return &DeniedError{By: ByProxy, Reason: firstNonEmpty(reason, resp.Status)}
	}
	if reason != "" {
		return fmt.Errorf("egress: proxy refused CONNECT %s: %s: %s", req.Host, resp.Status, reason)
	}
	return fmt.Errorf("egress: proxy refused CONNECT %s: %s", req.Host, resp.Status)
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.cfg.MaxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("egress: stopped after %d redirects", c.cfg.MaxRedirects)
	}
	return nil
}

// checkACL applies the ACL to host for service. Report decisions are logged
// with the service, host, project and reason only: never headers, paths or
// query strings, which may carry secrets.
func (c *Client) checkACL(ctx context.Context, service, host string) error {
	if c.cfg.ACL == nil {
		return nil
	}
	d := c.cfg.ACL.Decide(service, host)
	switch d.Result {
	case acl.Allow:
		return nil
	case acl.AllowAndReport:
		c.logger.LogAttrs(ctx, slog.LevelWarn, "egress ACL would deny request",
			slog.String("service", service),
			slog.String("host", host),
			slog.String("project", d.Project),
			slog.String("reason", d.Reason))
		return nil
	}
	return &DeniedError{By: ByACL, Reason: d.Reason, Target: host, Service: service}
}

// roundTripper applies the egress rules to one request (one hop of a
// redirect chain) of one service.
type roundTripper struct {
	c       *Client
	service string
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.roundTrip(req)
	if err != nil && req.Body != nil {
		req.Body.Close() // a RoundTripper closes the body, even on error
	}
	return resp, err
}

func (rt *roundTripper) roundTrip(req *http.Request) (*http.Response, error) {
	c := rt.c
	switch {
	case req.URL == nil:
		return nil, errors.New("egress: request has no URL")
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return nil, &refusedError{fmt.Sprintf("egress: unsupported URL scheme %q", req.URL.Scheme)}
	case req.URL.Hostname() == "":
		return nil, &refusedError{"egress: URL has no host"}
	case req.Method == http.MethodConnect:
		return nil, &refusedError{"egress: CONNECT requests are not allowed"}
	}
	t, err := c.transport(rt.service)
	if err != nil {
		return nil, err
	}
	// The ACL is ours and applies whether or not a proxy also checks.
	if err := c.checkACL(req.Context(), rt.service, req.URL.Hostname()); err != nil {
		return nil, err
	}
	pu, err := c.proxyFunc(req.URL)
	if err != nil {
		return nil, fmt.Errorf("egress: choose proxy: %w", err)
	}

	ctx := req.Context()
	cancel := func() {}
	if _, ok := ctx.Deadline(); !ok && c.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
	}
	// A plain-HTTP request through an HTTP(S) proxy is sent to the proxy as
	// is, so the role header rides on it; HTTPS gets it on CONNECT instead.
	plainViaProxy := false
	if pu != nil {
		ctx = withProxyAddr(ctx, canonicalAddr(pu))
		plainViaProxy = req.URL.Scheme == "http" && (pu.Scheme == "http" || pu.Scheme == "https")
	}
	// Functions are untrusted: they must not pick their own role or talk to
	// the proxy with credentials of their choosing. The header is copied
	// only when it changes: a RoundTripper must not modify its request's.
	setRole := plainViaProxy && rt.service != ""
	out := req.WithContext(ctx)
	if setRole || c.hasProxyHeader(req.Header) {
		out = req.Clone(ctx)
		for k := range out.Header {
			if c.isProxyHeader(k) {
				delete(out.Header, k)
			}
		}
		if setRole {
			out.Header.Set(c.cfg.ProxyRoleHeader, rt.service)
		}
	}

	resp, err := t.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	if plainViaProxy && resp.StatusCode == http.StatusProxyAuthRequired {
		reason := firstNonEmpty(resp.Header.Get(ProxyErrorHeader), resp.Status)
		resp.Body.Close()
		cancel()
		return nil, &DeniedError{By: ByProxy, Reason: reason}
	}
	if limit := c.cfg.MaxResponseBytes; limit > 0 {
		if resp.ContentLength > limit && out.Method != http.MethodHead {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("%w: Content-Length %d exceeds the %d-byte cap", ErrResponseTooLarge, resp.ContentLength, limit)
		}
		resp.Body = &cappedBody{rc: resp.Body, limit: limit, left: limit}
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// isProxyHeader reports whether k names a header meant for the proxy (its
// role header, Proxy-Authorization), which requests may not set.
func (c *Client) isProxyHeader(k string) bool {
	return strings.EqualFold(k, c.cfg.ProxyRoleHeader) || strings.EqualFold(k, "Proxy-Authorization")
}

// hasProxyHeader reports whether h holds a header meant for the proxy.
func (c *Client) hasProxyHeader(h http.Header) bool {
	for k := range h {
		if c.isProxyHeader(k) {
			return true
		}
	}
	return false
}

// canonicalAddr is the host:port http.Transport dials for proxy URL u.
func canonicalAddr(u *url.URL) string {
	host := u.Hostname()
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		}
	}
	return net.JoinHostPort(host, port)
}

// redactURL drops the userinfo, query and fragment of a URL string for error
// messages, which end up in logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// dialSOCKS connects to addr through the socks5 proxy pu. The proxy resolves
// and connects; the operator chose it, so the address guard does not apply.
func (c *Client) dialSOCKS(ctx context.Context, pu *url.URL, network, addr string) (net.Conn, error) {
	var auth *proxy.Auth
	if pu.User != nil {
		pw, _ := pu.User.Password()
		auth = &proxy.Auth{User: pu.User.Username(), Password: pw}
	}
	d, err := proxy.SOCKS5("tcp", canonicalAddr(pu), auth, proxyDialer{c})
	if err != nil {
		return nil, fmt.Errorf("egress: socks5 proxy: %w", err)
	}
	conn, err := d.(proxy.ContextDialer).DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s through socks5 proxy: %w", addr, err)
	}
	return conn, nil
}

// proxyDialer connects to the proxy itself, for the socks5 client.
type proxyDialer struct{ c *Client }

func (d proxyDialer) Dial(network, addr string) (net.Conn, error) {
	return d.c.dialProxy(context.Background(), network, addr)
}

func (d proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.c.dialProxy(ctx, network, addr)
}
