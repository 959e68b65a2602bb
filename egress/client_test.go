package egress_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/egress/acl"
)

func mustACL(t *testing.T, policy string) *acl.ACL {
	t.Helper()
	a, err := acl.Load(strings.NewReader(policy))
	if err != nil {
		t.Fatalf("acl.Load: %v", err)
	}
	return a
}

const testPolicy = `
version: v1
services:
  - name: ci
    project: platform
    action: enforce
    allowed_domains: [allowed.example.com]
  - name: audit
    project: security
    action: report
    allowed_domains: [allowed.example.com]
global_deny_list: [blocked.example.com]
`

func TestACLOnRequests(t *testing.T) {
	d := newDest(t, false, func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		fmt.Fprint(w, "ok")
	})
	c := newClient(t, egress.Config{ACL: mustACL(t, testPolicy), AllowRanges: []string{"127.0.0.0/8"}})
	tests := []struct {
		name, service, url string
		wantErr            string // "" = success
	}{
		{"allowed domain", "ci", d.url("allowed.example.com", "/"), ""},
		{"enforce denies", "ci", d.url("other.example.com", "/"),
			`egress: host other.example.com denied by egress ACL for service "ci": rule has enforce policy`},
		{"global deny in report mode", "audit", d.url("blocked.example.com", "/"),
			`egress: host blocked.example.com denied by egress ACL for service "audit": host matched rule in global deny list`},
		{"unknown service without default", "nobody", d.url("allowed.example.com", "/"),
			`egress: host allowed.example.com denied by egress ACL for service "nobody": no rule matched`},
		{"redirect to a denied host", "ci", d.url("allowed.example.com", "/?to="+d.url("other.example.com", "/")),
			`egress: host other.example.com denied by egress ACL for service "ci": rule has enforce policy`},
		{"report lets it through", "audit", d.url("other.example.com", "/"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.mu.Lock()
			d.hosts = nil
			d.mu.Unlock()
			_, _, err := get(t, c, tt.service, tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var de *egress.DeniedError
			if !errors.As(err, &de) || de.By != egress.ByACL {
				t.Errorf("err = %#v, want an ACL *DeniedError", err)
			}
			for _, h := range d.hosts {
				if !strings.HasPrefix(h, "allowed.example.com:") {
					t.Errorf("denied host %s reached the server", h)
				}
			}
		})
	}
}

// TestACLBeforeProxy: the ACL is ours; a denied request never reaches the
// proxy, even one that would have allowed it.
func TestACLBeforeProxy(t *testing.T) {
	d := newDest(t, false, nil)
	p := newTestProxy(t, proxyOptions{})
	c := newClient(t, egress.Config{Proxy: p.URL(), ACL: mustACL(t, testPolicy)})
	_, _, err := get(t, c, "ci", d.url("other.example.com", "/"))
	if !errors.Is(err, egress.ErrDenied) {
		t.Fatalf("err = %v, want an ACL denial", err)
	}
	if got := p.take(); len(got) != 0 {
		t.Errorf("proxy saw %+v", got)
	}
	mustGet(t, c, "ci", d.url("allowed.example.com", "/"))
	if got := p.take(); len(got) != 1 {
		t.Errorf("allowed request: proxy saw %+v, want it once", got)
	}
}

// TestACLReportLogging: report mode logs what enforce would have denied,
// naming service, host and reason, and nothing of the request's secrets.
func TestACLReportLogging(t *testing.T) {
	d := newDest(t, false, nil)
	var logs bytes.Buffer
	c := newClient(t, egress.Config{
		ACL:         mustACL(t, testPolicy),
		AllowRanges: []string{"127.0.0.0/8"},
		Logger:      slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url("other.example.com", "/hook/s3cr3t-path?token=s3cr3t-query"), strings.NewReader("s3cr3t-body"))
	req.Header.Set("Authorization", "Bearer s3cr3t-header")
	resp, err := c.Do(ctx, "audit", req)
	if err != nil {
		t.Fatalf("report mode refused: %v", err)
	}
	resp.Body.Close()

	out := logs.String()
	for _, want := range []string{`"service":"audit"`, `"host":"other.example.com"`, `"project":"security"`, `"reason":"rule has allow and report policy"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("log leaks request data: %s", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want exactly one log record, got: %s", out)
	}

	// An allowed request logs nothing.
	logs.Reset()
	mustGet(t, c, "audit", d.url("allowed.example.com", "/"))
	if logs.Len() != 0 {
		t.Errorf("allowed request logged: %s", logs.String())
	}
}

func TestResponseCap(t *testing.T) {
	d := newDest(t, false, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") != "" {
			// Flush first so the size is unknown up front.
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		if r.Method != http.MethodHead {
			w.Write(bytes.Repeat([]byte("x"), n))
		}
	})
	tests := []struct {
		name      string
		max       int64
		method    string
		query     string
		doErr     bool // Do itself fails (Content-Length over the cap)
		readErr   bool // reading the body fails
		wantBytes int
	}{
		{"at the cap", 10, "GET", "n=10", false, false, 10},
		{"under the cap, chunked", 10, "GET", "n=3&chunked=1", false, false, 3},
		{"at the cap, chunked", 10, "GET", "n=10&chunked=1", false, false, 10},
		{"declared over the cap", 10, "GET", "n=11", true, false, 0},
		{"chunked over the cap", 10, "GET", "n=5000&chunked=1", false, true, 10},
		{"HEAD with a large Content-Length", 10, "HEAD", "n=5000", false, false, 0},
		{"default cap allows 1 MiB", 0, "GET", "n=1048576", false, false, 1 << 20},
		{"negative disables the cap", -1, "GET", "n=20000&chunked=1", false, false, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, egress.Config{MaxResponseBytes: tt.max, AllowRanges: []string{"127.0.0.0/8"}})
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tt.method, d.url("127.0.0.1", "/?"+tt.query), nil)
			resp, err := c.Do(ctx, "ci", req)
			if tt.doErr {
				if !errors.Is(err, egress.ErrResponseTooLarge) {
					t.Fatalf("Do err = %v, want ErrResponseTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if tt.readErr != errors.Is(err, egress.ErrResponseTooLarge) {
				t.Fatalf("read err = %v, want ErrResponseTooLarge: %v", err, tt.readErr)
			}
			if !tt.readErr && err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(b) != tt.wantBytes {
				t.Errorf("read %d bytes, want %d", len(b), tt.wantBytes)
			}
			// Reading again after the error keeps failing rather than
			// reporting a clean end.
			if tt.readErr {
				if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, egress.ErrResponseTooLarge) {
					t.Errorf("second read err = %v", err)
				}
			}
		})
	}
}

// TestDeadlines: the caller's deadline, or Config.Timeout without one, ends a
// request whose server never answers, and one whose body never ends. The
// server is released when the test ends; no durations are asserted.
func TestDeadlines(t *testing.T) {
	release := make(chan struct{})
	d := newDest(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release) // runs before the server's Close (LIFO)

	tests := []struct {
		name        string
		timeout     int // Config.Timeout in ms (0 = default)
		ctxDeadline int // ms; 0 = the context has none
		path        string
	}{
		{"ctx deadline, no answer", 0, 50, "/hang"},
		{"ctx deadline, body never ends", 0, 50, "/slow-body"},
		{"default timeout, no answer", 50, 0, "/hang"},
		{"default timeout, body never ends", 50, 0, "/slow-body"},
		{"ctx deadline beats a long default", 3_600_000, 50, "/hang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, egress.Config{Timeout: ms(tt.timeout), AllowRanges: []string{"127.0.0.0/8"}})
			ctx := context.Background()
			if tt.ctxDeadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ms(tt.ctxDeadline))
				defer cancel()
			}
			req, _ := http.NewRequest(http.MethodGet, d.url("127.0.0.1", tt.path), nil)
			resp, err := c.Do(ctx, "ci", req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestRedirectLimit(t *testing.T) {
	d := newDest(t, false, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n > 0 {
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		fmt.Fprint(w, "done")
	})
	tests := []struct {
		max, hops  int
		wantStatus int    // 0 = error
		wantErr    string // substring
	}{
		{2, 2, http.StatusOK, ""},
		{2, 3, 0, "egress: stopped after 2 redirects"},
		{0, 10, http.StatusOK, ""}, // default 10
		{0, 11, 0, "egress: stopped after 10 redirects"},
		{-1, 1, http.StatusFound, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max %d hops %d", tt.max, tt.hops), func(t *testing.T) {
			c := newClient(t, egress.Config{MaxRedirects: tt.max, AllowRanges: []string{"127.0.0.0/8"}})
			resp, _, err := get(t, c, "ci", d.url("127.0.0.1", "/r/"+strconv.Itoa(tt.hops)))
			if tt.wantStatus == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || resp.StatusCode != tt.wantStatus {
				t.Errorf("got %v, %v; want status %d", resp, err, tt.wantStatus)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  egress.Config
		want string // "" = valid
	}{
		{"zero config", egress.Config{}, ""},
		{"http proxy", egress.Config{Proxy: "http://proxy.internal:3128"}, ""},
		{"https proxy", egress.Config{Proxy: "https://user:pw@proxy.internal"}, ""},
		{"socks5 proxy", egress.Config{Proxy: "socks5://127.0.0.1:1080"}, ""},
		{"unsupported scheme", egress.Config{Proxy: "ftp://proxy.internal"},
			`server.http.proxy: unsupported scheme "ftp" (want http, https or socks5)`},
		{"no scheme", egress.Config{Proxy: "proxy.internal:3128"},
			`server.http.proxy: "proxy.internal:3128" is not a URL (want http://, https:// or socks5://host:port)`},
		{"no host", egress.Config{Proxy: "http://"},
			`server.http.proxy: "http://" is not a URL (want http://, https:// or socks5://host:port)`},
		{"bad port", egress.Config{Proxy: "http://proxy.internal:99999"},
			`server.http.proxy: invalid port "99999"`},
		{"unparsable", egress.Config{Proxy: "http://[::1"},
			`server.http.proxy: invalid URL: parse "http://[::1": missing ']' in host`},
		{"allow ranges", egress.Config{AllowRanges: []string{"127.0.0.0/8", "10.0.0.1", "fd00::/8"}}, ""},
		{"bad allow range", egress.Config{AllowRanges: []string{"127.0.0.0/8", "10.0.0.0/33"}},
			`server.egress.allow_ranges[1]: "10.0.0.0/33" is not a CIDR prefix or IP address`},
		{"hostname as allow range", egress.Config{AllowRanges: []string{"localhost"}},
			`server.egress.allow_ranges[0]: "localhost" is not a CIDR prefix or IP address`},
		{"bad role header", egress.Config{ProxyRoleHeader: "X Role"},
			`server.http.proxy_role_header: "X Role" is not a valid header name`},
		{"env proxy without scheme is http", egress.Config{Getenv: env(map[string]string{"HTTP_PROXY": "proxy.internal:3128"})}, ""},
		{"bad env proxy", egress.Config{Getenv: env(map[string]string{"HTTPS_PROXY": "ftp://proxy.internal"})},
			`environment HTTPS_PROXY: unsupported proxy scheme "ftp"`},
		{"env ignored when proxy configured", egress.Config{Proxy: "http://p.internal", Getenv: env(map[string]string{"HTTPS_PROXY": "ftp://x"})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Getenv == nil {
				tt.cfg.Getenv = env(nil)
			}
			c, err := egress.New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				c.Close()
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("New err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRequestChecks(t *testing.T) {
	d := newDest(t, false, nil)
	c := newClient(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	ctx := context.Background()
	for _, tt := range []struct{ method, url, want string }{
		{"GET", "file:///etc/passwd", `egress: unsupported URL scheme "file"`},
		{"GET", "gopher://example.com/", `egress: unsupported URL scheme "gopher"`},
		{"CONNECT", d.url("127.0.0.1", "/"), "egress: CONNECT requests are not allowed"},
	} {
		req, _ := http.NewRequestWithContext(ctx, tt.method, tt.url, nil)
		_, err := c.Do(ctx, "ci", req)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: err = %v, want %q", tt.method, tt.url, err, tt.want)
		}
		// A request that can never be sent is a refusal, which callers
		// that retry network trouble do not retry.
		if !errors.Is(err, egress.ErrDenied) {
			t.Errorf("%s %s: err = %v is not ErrDenied", tt.method, tt.url, err)
		}
	}
	if d.hits() != 0 {
		t.Errorf("server served %d requests", d.hits())
	}
}

// TestErrorRedactsQuery: transport errors name the URL without its query,
// which often carries credentials.
func TestErrorRedactsQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	c := newClient(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	_, _, err = get(t, c, "ci", "http://"+addr+"/hook?api_key=s3cr3t#frag")
	if err == nil {
		t.Fatal("request to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "/hook") {
		t.Errorf("err = %q, want the path without the query", err)
	}
}

func TestClose(t *testing.T) {
	d := newDest(t, false, nil)
	c := newClient(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	mustGet(t, c, "ci", d.url("127.0.0.1", "/"))
	c.Close()
	if _, _, err := get(t, c, "ci", d.url("127.0.0.1", "/")); !errors.Is(err, egress.ErrClosed) {
		t.Errorf("Do after Close: err = %v, want ErrClosed", err)
	}
	if _, err := c.DialContext(context.Background(), "ci", "tcp", d.Listener.Addr().String()); !errors.Is(err, egress.ErrClosed) {
		t.Errorf("DialContext after Close: err = %v, want ErrClosed", err)
	}
	c.Close() // idempotent
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
