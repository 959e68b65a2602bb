package egress_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elazarl/goproxy"

	"github.com/relayfn/relayfn/egress"
)

// seen is one request as the proxy received it.
type seen struct {
	Method, Host, Role string
	ProxyAuth          string
}

// testProxy is a real forward proxy (goproxy) on loopback that records what
// it receives. Whatever host a request names, the proxy connects to that
// port on 127.0.0.1, so nothing leaves the machine.
type testProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type proxyOptions struct {
	tls        bool   // serve the proxy itself over TLS (an https:// proxy)
	roleHeader string // header to record as the role; default X-Smokescreen-Role
	deny       bool   // answer every request and CONNECT with 407
	denyReason string // X-Smokescreen-Error on the 407, if not empty
}

func newTestProxy(t *testing.T, opt proxyOptions) *testProxy {
	t.Helper()
	if opt.roleHeader == "" {
		opt.roleHeader = egress.DefaultProxyRoleHeader
	}
	p := &testProxy{}
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = log.New(io.Discard, "", 0) // tunnel teardown warnings are noise here
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	gp.Tr = &http.Transport{DialContext: dial}
	gp.ConnectDial = func(network, addr string) (net.Conn, error) {
		return dial(context.Background(), network, addr)
	}
	deny := func(r *http.Request) *http.Response {
		resp := goproxy.NewResponse(r, goproxy.ContentTypeText, http.StatusProxyAuthRequired, "denied\n")
		if opt.denyReason != "" {
			resp.Header.Set(egress.ProxyErrorHeader, opt.denyReason)
		}
		return resp
	}
	gp.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		p.record(seen{"CONNECT", host, ctx.Req.Header.Get(opt.roleHeader), ctx.Req.Header.Get("Proxy-Authorization")})
		if opt.deny {
			ctx.Resp = deny(ctx.Req)
			return goproxy.RejectConnect, host
		}
		return goproxy.OkConnect, host
	})
	gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		p.record(seen{r.Method, r.URL.Host, r.Header.Get(opt.roleHeader), r.Header.Get("Proxy-Authorization")})
		if opt.deny {
			return r, deny(r)
		}
		return r, nil
	})
	if opt.tls {
		p.srv = httptest.NewTLSServer(gp)
	} else {
		p.srv = httptest.NewServer(gp)
	}
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProxy) URL() string { return p.srv.URL }

func (p *testProxy) record(s seen) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, s)
}

// take returns the requests recorded so far and forgets them.
func (p *testProxy) take() []seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

func TestProxyCarriesHTTPAndHTTPS(t *testing.T) {
	plain := newDest(t, false, nil)
	secure := newDest(t, true, nil)
	for _, proxyTLS := range []bool{false, true} {
		name := "http proxy"
		if proxyTLS {
			name = "https proxy"
		}
		t.Run(name, func(t *testing.T) {
			p := newTestProxy(t, proxyOptions{tls: proxyTLS})
			c := newClient(t, egress.Config{
				Proxy:           p.URL(),
				TLSClientConfig: trust(secure.Server), // also valid for the TLS proxy: same test certificate
			})

			// Plain HTTP: sent to the proxy in absolute form, role header on it.
			if body := mustGet(t, c, "ci", plain.url("plain.example.com", "/x")); body != "hello from plain.example.com:"+plain.port() {
				t.Errorf("plain body = %q", body)
			}
			want := []seen{{"GET", "plain.example.com:" + plain.port(), "ci", ""}}
			if got := p.take(); !slices.Equal(got, want) {
				t.Errorf("proxy saw %+v, want %+v", got, want)
			}

			// HTTPS: a CONNECT tunnel, role header on the CONNECT.
			if body := mustGet(t, c, "ci", secure.url("secure.example.com", "/y")); body != "hello from secure.example.com:"+secure.port() {
				t.Errorf("https body = %q", body)
			}
			want = []seen{{"CONNECT", "secure.example.com:" + secure.port(), "ci", ""}}
			if got := p.take(); !slices.Equal(got, want) {
				t.Errorf("proxy saw %+v, want %+v", got, want)
			}
			// Inside the tunnel the role header is not sent to the destination.
			for _, r := range secure.seenRoles() {
				if r != "" {
					t.Errorf("destination behind CONNECT saw role header %q", r)
				}
			}
		})
	}
}

// TestProxyRoleHeaderCannotBeSpoofed: a function cannot choose its own role
// or send proxy credentials.
func TestProxyRoleHeaderCannotBeSpoofed(t *testing.T) {
	plain := newDest(t, false, nil)
	p := newTestProxy(t, proxyOptions{})
	c := newClient(t, egress.Config{Proxy: p.URL(), NoProxy: "direct.example.com", AllowRanges: []string{"127.0.0.0/8"}})

	send := func(url string) {
		t.Helper()
		ctx := context.Background()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set(egress.DefaultProxyRoleHeader, "admin")
		req.Header["x-smokescreen-role"] = []string{"admin2"} // not canonicalized
		req.Header.Set("Proxy-Authorization", "Basic c3RvbGVuOmNyZWRz")
		resp, err := c.Do(ctx, "ci", req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
	}
	send(plain.url("spoof.example.com", "/"))
	want := []seen{{"GET", "spoof.example.com:" + plain.port(), "ci", ""}}
	if got := p.take(); !slices.Equal(got, want) {
		t.Errorf("proxy saw %+v, want %+v", got, want)
	}

	// Direct requests carry no role header at all.
	send(plain.url("direct.example.com", "/"))
	if got := p.take(); len(got) != 0 {
		t.Errorf("bypassed request reached the proxy: %+v", got)
	}
	if roles := plain.seenRoles(); roles[len(roles)-1] != "" {
		t.Errorf("direct destination saw role header %q", roles[len(roles)-1])
	}
}

// TestProxyTunnelPerService: a CONNECT tunnel opened for one service must
// not carry another service's requests.
func TestProxyTunnelPerService(t *testing.T) {
	secure := newDest(t, true, nil)
	p := newTestProxy(t, proxyOptions{})
	c := newClient(t, egress.Config{Proxy: p.URL(), TLSClientConfig: trust(secure.Server)})
	url := secure.url("secure.example.com", "/")
	for _, svc := range []string{"bucket-a", "bucket-b", "bucket-a", "bucket-b"} {
		mustGet(t, c, svc, url)
	}
	var roles []string
	for _, s := range p.take() {
		if s.Method != "CONNECT" {
			t.Errorf("unexpected %s through the proxy", s.Method)
		}
		roles = append(roles, s.Role)
	}
	if !slices.Contains(roles, "bucket-a") || !slices.Contains(roles, "bucket-b") {
		t.Errorf("CONNECT roles = %q, want a tunnel for each of bucket-a and bucket-b", roles)
	}
	if len(roles) > 2 {
		// Not wrong, only slower: each service's tunnel is normally reused
		// for its own later requests.
		t.Logf("CONNECT roles = %q: tunnels were not reused", roles)
	}
}

func TestProxyCustomRoleHeader(t *testing.T) {
	plain := newDest(t, false, nil)
	secure := newDest(t, true, nil)
	p := newTestProxy(t, proxyOptions{roleHeader: "X-Relay-Bucket"})
	c := newClient(t, egress.Config{Proxy: p.URL(), ProxyRoleHeader: "x-relay-bucket", TLSClientConfig: trust(secure.Server)})
	mustGet(t, c, "orders", plain.url("plain.example.com", "/"))
	mustGet(t, c, "orders", secure.url("secure.example.com", "/"))
	got := p.take()
	if len(got) != 2 || got[0].Role != "orders" || got[1].Role != "orders" {
		t.Errorf("proxy saw %+v, want the role under X-Relay-Bucket on both", got)
	}
}

// TestProxySelection covers which requests go through the proxy: the
// precedence of server.http.no_proxy over NO_PROXY over no_proxy, the
// httpproxy matching rules, and the environment's proxies when none is
// configured. A bypassed request goes direct (the test allows loopback for
// direct connections) and must not reach the proxy.
func TestProxySelection(t *testing.T) {
	plain := newDest(t, false, nil)
	p := newTestProxy(t, proxyOptions{})
	port := plain.port()
	envs := map[string]string{"NO_PROXY": "b.example.com", "no_proxy": "c.example.com"}
	tests := []struct {
		name        string
		configured  bool // Config.Proxy = the test proxy
		noProxy     string
		env         map[string]string
		host        string
		wantProxied bool
	}{
		{"config no_proxy bypasses", true, "a.example.com", envs, "a.example.com", false},
		{"config no_proxy beats NO_PROXY", true, "a.example.com", envs, "b.example.com", true},
		{"config no_proxy beats no_proxy", true, "a.example.com", envs, "c.example.com", true},
		{"NO_PROXY applies without config no_proxy", true, "", envs, "b.example.com", false},
		{"NO_PROXY beats no_proxy", true, "", envs, "c.example.com", true},
		{"no_proxy applies last", true, "", map[string]string{"no_proxy": "c.example.com"}, "c.example.com", false},
		{"unlisted host is proxied", true, "", envs, "other.example.com", true},
		{"domain suffix", true, "example.com", nil, "deep.sub.example.com", false},
		{"domain suffix matches apex", true, "example.com", nil, "example.com", false},
		{"suffix is label-aligned", true, "ample.com", nil, "x.example.com", true},
		{"leading dot", true, ".example.com", nil, "x.example.com", false},
		{"star dot", true, "*.example.com", nil, "x.example.com", false},
		{"exact host with port", true, "x.example.com:" + port, nil, "x.example.com", false},
		{"host with another port", true, "x.example.com:1", nil, "x.example.com", true},
		{"star bypasses all", true, "*", nil, "x.example.com", false},
		{"list with spaces", true, "foo.test, x.example.com ,bar.test", nil, "x.example.com", false},
		{"config no_proxy ignored without a configured proxy", false, "a.example.com",
			map[string]string{"HTTP_PROXY": p.URL()}, "a.example.com", true},
		{"env HTTP_PROXY without a configured proxy", false, "",
			map[string]string{"HTTP_PROXY": p.URL()}, "x.example.com", true},
		{"env http_proxy without a configured proxy", false, "",
			map[string]string{"http_proxy": p.URL()}, "x.example.com", true},
		{"env NO_PROXY with env proxy", false, "",
			map[string]string{"HTTP_PROXY": p.URL(), "NO_PROXY": "x.example.com"}, "x.example.com", false},
		{"env no_proxy with env proxy", false, "",
			map[string]string{"HTTP_PROXY": p.URL(), "no_proxy": "x.example.com"}, "x.example.com", false},
		{"env HTTPS_PROXY does not carry http", false, "",
			map[string]string{"HTTPS_PROXY": p.URL()}, "x.example.com", false},
		{"no proxy anywhere", false, "", nil, "x.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := egress.Config{NoProxy: tt.noProxy, Getenv: env(tt.env), AllowRanges: []string{"127.0.0.0/8"}}
			if tt.configured {
				cfg.Proxy = p.URL()
			}
			c := newClient(t, cfg)
			before := plain.hits()
			mustGet(t, c, "ci", plain.url(tt.host, "/"))
			if plain.hits() != before+1 {
				t.Errorf("destination served %d requests, want 1", plain.hits()-before)
			}
			got := p.take()
			switch {
			case tt.wantProxied && len(got) != 1:
				t.Errorf("want the request through the proxy; proxy saw %+v", got)
			case tt.wantProxied && got[0].Host != tt.host+":"+port:
				t.Errorf("proxy saw host %q, want %q", got[0].Host, tt.host+":"+port)
			case !tt.wantProxied && len(got) != 0:
				t.Errorf("want a direct request; proxy saw %+v", got)
			}
		})
	}
}

// TestProxySelectionHTTPS checks HTTPS_PROXY from the environment, and that
// HTTP_PROXY alone does not carry https targets.
func TestProxySelectionHTTPS(t *testing.T) {
	secure := newDest(t, true, nil)
	p := newTestProxy(t, proxyOptions{})
	tests := []struct {
		name        string
		env         map[string]string
		wantProxied bool
	}{
		{"HTTPS_PROXY", map[string]string{"HTTPS_PROXY": p.URL()}, true},
		{"https_proxy", map[string]string{"https_proxy": p.URL()}, true},
		{"HTTP_PROXY only", map[string]string{"HTTP_PROXY": p.URL()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, egress.Config{Getenv: env(tt.env), AllowRanges: []string{"127.0.0.0/8"}, TLSClientConfig: trust(secure.Server)})
			mustGet(t, c, "ci", secure.url("secure.example.com", "/"))
			got := p.take()
			if tt.wantProxied != (len(got) == 1 && got[0].Method == "CONNECT") {
				t.Errorf("proxy saw %+v, want proxied=%v", got, tt.wantProxied)
			}
		})
	}
}

// TestProxyCIDRNoProxy uses an IP literal target, for which NO_PROXY CIDR
// entries apply. Through the proxy it arrives (the test proxy maps every
// host to loopback); bypassed, it goes direct and the address guard refuses
// it before connecting, which shows the proxy was not used.
func TestProxyCIDRNoProxy(t *testing.T) {
	plain := newDest(t, false, nil)
	p := newTestProxy(t, proxyOptions{})
	target := plain.url("203.0.113.5", "/")

	c := newClient(t, egress.Config{Proxy: p.URL(), NoProxy: "198.51.100.0/24"})
	mustGet(t, c, "ci", target)
	if got := p.take(); len(got) != 1 {
		t.Errorf("outside the CIDR: proxy saw %+v, want 1 request", got)
	}

	c = newClient(t, egress.Config{Proxy: p.URL(), NoProxy: "203.0.113.0/24"})
	_, _, err := get(t, c, "ci", target)
	var d *egress.DeniedError
	if !errors.As(err, &d) || d.By != egress.ByGuard || d.Target != "203.0.113.5" {
		t.Errorf("inside the CIDR: err = %v, want the address guard to refuse the direct connection", err)
	}
	if got := p.take(); len(got) != 0 {
		t.Errorf("inside the CIDR: proxy saw %+v", got)
	}
}

// TestProxyLoopbackTargetNeverProxied: httpproxy sends loopback targets
// direct, so the guard applies to them even with a proxy configured.
func TestProxyLoopbackTargetNeverProxied(t *testing.T) {
	plain := newDest(t, false, nil)
	p := newTestProxy(t, proxyOptions{})
	c := newClient(t, egress.Config{Proxy: p.URL()})
	_, _, err := get(t, c, "ci", plain.url("127.0.0.1", "/"))
	var d *egress.DeniedError
	if !errors.As(err, &d) || d.By != egress.ByGuard {
		t.Errorf("err = %v, want an address guard refusal", err)
	}
	if got := p.take(); len(got) != 0 || plain.hits() != 0 {
		t.Errorf("proxy saw %+v, destination %d hits; want neither", got, plain.hits())
	}
}

func TestProxyDenial(t *testing.T) {
	plain := newDest(t, false, nil)
	secure := newDest(t, true, nil)
	tests := []struct {
		name, reason, want string
	}{
		{"with X-Smokescreen-Error", "host not allowed", "denied by egress proxy: host not allowed"},
		{"without a reason", "", "denied by egress proxy: 407 Proxy Authentication Required"},
	}
	for _, tt := range tests {
		p := newTestProxy(t, proxyOptions{deny: true, denyReason: tt.reason})
		c := newClient(t, egress.Config{Proxy: p.URL(), TLSClientConfig: trust(secure.Server)})
		for _, target := range []string{plain.url("plain.example.com", "/"), secure.url("secure.example.com", "/")} {
			t.Run(tt.name+" "+strings.SplitN(target, ":", 2)[0], func(t *testing.T) {
				resp, _, err := get(t, c, "ci", target)
				if err == nil {
					t.Fatalf("got %s, want a denial", resp.Status)
				}
				if err.Error() != tt.want {
					t.Errorf("Do error = %q, want %q", err.Error(), tt.want)
				}
				var d *egress.DeniedError
				if !errors.As(err, &d) || d.By != egress.ByProxy || !errors.Is(err, egress.ErrDenied) {
					t.Errorf("Do error %#v is not a proxy *DeniedError", err)
				}

				// Through HTTPClient the denial arrives wrapped, still findable.
				resp, err = c.HTTPClient("ci").Get(target)
				if err == nil {
					resp.Body.Close()
					t.Fatalf("HTTPClient got %s, want a denial", resp.Status)
				}
				if !errors.As(err, &d) || d.Error() != tt.want {
					t.Errorf("HTTPClient error = %v, want to find %q", err, tt.want)
				}
			})
		}
	}
	if plain.hits()+secure.hits() != 0 {
		t.Errorf("a denied request reached a destination")
	}
}

// TestProxyCredentials: the operator's proxy credentials (from the proxy
// URL) reach the proxy on plain requests and on CONNECT; a function's own
// Proxy-Authorization never does.
func TestProxyCredentials(t *testing.T) {
	plain := newDest(t, false, nil)
	secure := newDest(t, true, nil)
	p := newTestProxy(t, proxyOptions{})
	c := newClient(t, egress.Config{
		Proxy:           strings.Replace(p.URL(), "http://", "http://relay:s3cret@", 1),
		TLSClientConfig: trust(secure.Server),
	})
	const want = "Basic cmVsYXk6czNjcmV0" // relay:s3cret
	for _, target := range []string{plain.url("plain.example.com", "/"), secure.url("secure.example.com", "/")} {
		ctx := context.Background()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		req.Header.Set("Proxy-Authorization", "Basic c3RvbGVuOmNyZWRz")
		resp, err := c.Do(ctx, "ci", req)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		resp.Body.Close()
	}
	got := p.take()
	if len(got) != 2 || got[0].ProxyAuth != want || got[1].ProxyAuth != want {
		t.Errorf("proxy saw %+v, want Proxy-Authorization %q on the GET and the CONNECT", got, want)
	}
}
