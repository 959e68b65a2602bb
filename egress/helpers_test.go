package egress_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/egress"
)

// testTimeout only guards against a hung test; nothing is measured with it.
const testTimeout = 10 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

// resolver is a Config.LookupIP for tests: example.com, example.net,
// example.org and every name under them are 127.0.0.1 unless names says otherwise;
// anything else does not exist. No test ever consults real DNS.
func resolver(names map[string][]netip.Addr) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		if ips, ok := names[host]; ok {
			return ips, nil
		}
		for _, domain := range []string{"example.com", "example.net", "example.org"} {
			if host == domain || strings.HasSuffix(host, "."+domain) {
				return []netip.Addr{loopback}, nil
			}
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
}

// env returns a Config.Getenv over a fixed map, so that the machine's own
// proxy variables never leak into a test.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// newClient builds a client that, as a safety net on top of the guard under
// test, never connects anywhere but loopback.
func newClient(t *testing.T, cfg egress.Config) *egress.Client {
	t.Helper()
	if cfg.Getenv == nil {
		cfg.Getenv = env(nil)
	}
	if cfg.LookupIP == nil {
		cfg.LookupIP = resolver(nil)
	}
	c, err := egress.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	egress.LoopbackOnly(c)
	t.Cleanup(c.Close)
	return c
}

// dest is a destination server that counts the requests it serves, by host.
type dest struct {
	*httptest.Server
	mu    sync.Mutex
	hosts []string // Host of each request served
	roles []string // role header of each request served
}

func newDest(t *testing.T, useTLS bool, h http.HandlerFunc) *dest {
	t.Helper()
	d := &dest{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", r.Host) }
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.hosts = append(d.hosts, r.Host)
		d.roles = append(d.roles, r.Header.Get(egress.DefaultProxyRoleHeader))
		d.mu.Unlock()
		h(w, r)
	})
	if useTLS {
		d.Server = httptest.NewTLSServer(handler)
	} else {
		d.Server = httptest.NewServer(handler)
	}
	t.Cleanup(d.Close)
	return d
}

func (d *dest) hits() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.hosts)
}

func (d *dest) seenRoles() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.roles...)
}

// port is the server's port on 127.0.0.1.
func (d *dest) port() string {
	_, p, _ := net.SplitHostPort(d.Listener.Addr().String())
	return p
}

// url is the server's URL with host in place of 127.0.0.1.
func (d *dest) url(host, path string) string {
	scheme := "http"
	if d.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, d.port()), path)
}

// trust returns a TLS config that trusts the httptest certificate, which is
// valid for 127.0.0.1, example.com and *.example.com.
func trust(d *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(d.Certificate())
	return &tls.Config{RootCAs: pool}
}

// get sends a GET through c and returns the response and its body.
func get(t *testing.T, c *egress.Client, service, url string) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx, service, req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// mustGet is get for requests that must succeed with 200.
func mustGet(t *testing.T, c *egress.Client, service, url string) string {
	t.Helper()
	resp, body, err := get(t, c, service, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %s", url, resp.Status)
	}
	return body
}
