package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/console"
)

// client is a browser-like HTTP client of the console: it keeps the
// session cookie and does not follow redirects.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, r *relaytest.Relay) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: r.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if csp := res.Header.Get("Content-Security-Policy"); csp != console.CSP {
		c.t.Errorf("%s %s: Content-Security-Policy %q, want %q", method, path, csp, console.CSP)
	}
	return res, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of a rendered page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

func TestSessionsCSRFAndSecrets(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	ctx := context.Background()
	f := r.Function("shout", `r:SetRequestBody(string.upper(r.RequestBody))`)
	if err := r.Store.SetConfig(ctx, f.ID, "SIGNING_KEY", "very-secret-value"); err != nil {
		t.Fatal(err)
	}
	b := r.Bucket(&relay.Bucket{Name: "shop", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	r.Input(&relay.Input{BucketID: b.ID, Name: "orders", FunctionID: f.ID})
	r.Output(&relay.Output{BucketID: b.ID, Name: "erp", Destination: "https://user:hunter2@erp.example.com/hook?api_key=k3y"})
	c := newClient(t, r)

	// Without a session: the sign-in page.
	res, _ := c.do("GET", "/ui/", nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/login" {
		t.Fatalf("GET /ui/ without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := c.do("POST", "/ui/login", url.Values{"token": {"nope.nope"}}, nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", res.StatusCode)
	}
	// A sign-in from another origin is refused.
	if res, _ := c.do("POST", "/ui/login", url.Values{"token": {r.AdminToken}}, http.Header{"Origin": {"https://evil.example"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: %d", res.StatusCode)
	}
	res, _ = c.do("POST", "/ui/login", url.Values{"token": {r.AdminToken}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	ck := res.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/ui/" || ck[0].Expires.IsZero() {
		t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui/, expiring", ck)
	}

	for _, p := range []string{"/ui/", "/ui/functions", "/ui/functions/shout", "/ui/deliveries", "/ui/login", "/ui/static/app.css", "/ui/nope"} {
		res, page := c.do("GET", p, nil, nil)
		if strings.Contains(page, "very-secret-value") || strings.Contains(page, "hunter2") || strings.Contains(page, "k3y") ||
			strings.Contains(page, strings.SplitN(r.AdminToken, ".", 2)[1]) {
			t.Errorf("GET %s (%d) shows a secret:\n%s", p, res.StatusCode, page)
		}
	}
	_, page := c.do("GET", "/ui/functions/shout", nil, nil)
	if !strings.Contains(page, "SIGNING_KEY") {
		t.Errorf("the editor does not list the config variable's name")
	}
	_, page = c.do("GET", "/ui/", nil, nil)
	if !strings.Contains(page, "https://…@erp.example.com/hook?api_key=…") {
		t.Errorf("the overview does not show the redacted destination:\n%s", page)
	}
	token := csrf(t, page)

	// A change without the CSRF token, with a wrong one, or from another
	// origin is refused; with it, it is made.
	set := url.Values{"key": {"OTHER"}, "value": {"v"}}
	if res, _ := c.do("POST", "/ui/functions/shout/config", set, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d, want 403", res.StatusCode)
	}
	set.Set("csrf", "forged")
	if res, _ := c.do("POST", "/ui/functions/shout/config", set, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("with a wrong CSRF token: %d, want 403", res.StatusCode)
	}
	set.Set("csrf", token)
	if res, _ := c.do("POST", "/ui/functions/shout/config", set, http.Header{"Origin": {"https://evil.example"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin: %d, want 403", res.StatusCode)
	}
	if cfg, _ := r.Store.Config(ctx, f.ID); cfg["OTHER"] != "" {
		t.Fatalf("a refused request changed the config: %v", cfg)
	}
	if res, _ := c.do("POST", "/ui/functions/shout/config", set, http.Header{"Origin": {r.URL}}); res.StatusCode != http.StatusOK {
		t.Errorf("with the CSRF token: %d", res.StatusCode)
	}
	if cfg, _ := r.Store.Config(ctx, f.ID); cfg["OTHER"] != "v" {
		t.Errorf("config after set = %v", cfg)
	}

	// Deleting the admin token ends its sessions.
	id, _, _ := strings.Cut(r.AdminToken, ".")
	if err := r.Store.DeleteToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.do("GET", "/ui/", nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after deleting the token: %d, want a redirect to the sign-in page", res.StatusCode)
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://example.com/a", "https://example.com/a"},
		{"https://u:p@example.com/a?token=x&b=1#frag", "https://…@example.com/a?b=…&token=…"},
		{"/v1/webhooks/abc", "/v1/webhooks/abc"},
	} {
		if got := console.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDiff(t *testing.T) {
	got := console.Diff("a\nb\nc", "a\nB\nc\nd")
	var s []string
	for _, l := range got {
		s = append(s, l.Op+l.Text)
	}
	if want := " a|-b|+B| c|+d"; strings.Join(s, "|") != want {
		t.Errorf("Diff = %q, want %q", strings.Join(s, "|"), want)
	}
}

func TestStaticFiles(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	c := newClient(t, r)
	const p = "/ui/static/vendor/codemirror/codemirror.js"
	plain, body := c.do("GET", p, nil, http.Header{"Accept-Encoding": {"identity"}})
	if plain.StatusCode != http.StatusOK || plain.Header.Get("Content-Encoding") != "" || !strings.Contains(body, "CodeMirror") {
		t.Fatalf("GET %s: %d %s", p, plain.StatusCode, plain.Header)
	}
	gz, zbody := c.do("GET", p, nil, http.Header{"Accept-Encoding": {"gzip"}})
	if gz.Header.Get("Content-Encoding") != "gzip" || len(zbody) >= len(body)/2 {
		t.Errorf("gzip: %s, %d bytes of %d", gz.Header.Get("Content-Encoding"), len(zbody), len(body))
	}
	if !strings.HasPrefix(gz.Header.Get("Content-Type"), "text/javascript") || gz.Header.Get("ETag") == "" {
		t.Errorf("headers: %v", gz.Header)
	}
	again, _ := c.do("GET", p, nil, http.Header{"If-None-Match": {gz.Header.Get("ETag")}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.StatusCode)
	}
	for _, p := range []string{"/ui/static/nope.js", "/ui/static/vendor/", "/ui/static/vendor/htmx"} {
		if res, _ := c.do("GET", p, nil, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}

// signIn signs c in with the relay's admin token.
func signIn(t *testing.T, c *client, r *relaytest.Relay) {
	t.Helper()
	if res, _ := c.do("POST", "/ui/login", url.Values{"token": {r.AdminToken}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
}

func TestReplayAllShowsTheCountFirst(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	var hits atomic.Int32
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(dest.Close)
	b := r.Bucket(&relay.Bucket{Name: "shop", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "orders"})
	out := r.Output(&relay.Output{BucketID: b.ID, Name: "erp", Destination: dest.URL, Retries: relay.RetryPolicy{MaxAttempts: 1}})
	for i := range 3 {
		r.Webhook(in.ID, fmt.Sprintf(`{"n":%d}`, i), nil)
	}
	r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliveryFailed, 3)

	c := newClient(t, r)
	signIn(t, c, r)
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	res, page := c.do("GET", "/ui/deliveries/replay?"+url.Values{"output": {out.ID}, "since": {since}}.Encode(), nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "<strong>3</strong> failed deliveries of output <strong>erp</strong>") {
		t.Fatalf("count page: %d\n%s", res.StatusCode, page)
	}
	if hits.Load() != 3 {
		t.Fatalf("counting replayed something: %d attempts", hits.Load())
	}
	// Nothing is counted after the time given.
	_, none := c.do("GET", "/ui/deliveries/replay?"+url.Values{"output": {out.ID}, "since": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339)}}.Encode(), nil, nil)
	if !strings.Contains(none, "<strong>0</strong> failed") {
		t.Errorf("count after now:\n%s", none)
	}
	res, page = c.do("POST", "/ui/deliveries/replay", url.Values{"csrf": {csrf(t, page)}, "output": {out.ID}, "since": {since}}, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Replayed 3 failed deliveries of erp.") {
		t.Fatalf("replay all: %d\n%s", res.StatusCode, page)
	}
	r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliveryFailed, 6)
	if hits.Load() != 6 {
		t.Errorf("destination attempts = %d, want 6", hits.Load())
	}
}
