package relay_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// rawRecorder is a destination that records each request's path as it
// was sent (escaped), its raw query and its headers.
type rawRecorder struct {
	mu     sync.Mutex
	paths  []string
	query  []string
	header []http.Header
	srv    *httptest.Server
}

func newRawRecorder(t *testing.T, status func(n int) int) *rawRecorder {
	rec := &rawRecorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.paths = append(rec.paths, r.URL.EscapedPath())
		rec.query = append(rec.query, r.URL.RawQuery)
		rec.header = append(rec.header, r.Header.Clone())
		n := len(rec.paths)
		rec.mu.Unlock()
		if status != nil {
			w.WriteHeader(status(n))
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *rawRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.paths)
}

func (r *rawRecorder) last() (path, query string, header http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.paths) - 1
	return r.paths[n], r.query[n], r.header[n]
}

// sendRaw sends a request whose path and query are written on the wire
// exactly as given (no cleaning or re-encoding by the client).
func sendRaw(t *testing.T, h *relaytest.Relay, method, pathAndQuery, body string, header http.Header) *http.Response {
	t.Helper()
	u, err := url.Parse(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, h.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(pathAndQuery, "?")
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + path, RawQuery: query}
	if method == http.MethodConnect {
		// The client writes a CONNECT's target from URL.Path alone.
		req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func storedDeliveries(t *testing.T, h *relaytest.Relay) int {
	t.Helper()
	ds, err := h.Store.ListDeliveries(context.Background(), relay.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// TestExtraPathContainment: an extra path with a dot-segment, however it
// is encoded, is refused with 400 before anything is stored, for known
// and unknown inputs alike.
func TestExtraPathContainment(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "paths"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL + "/base/path"})
	for _, extra := range []string{
		"/%2e%2e/%2e%2e/etc/passwd",
		"/%2E%2E/admin",
		"/..%2f..%2fadmin",
		"/a/%2e%2e%2f%2e%2e%2f%2e%2e%2fadmin",
		"/a/%2e/b",
		"/a%5c..%5cb",
	} {
		for _, id := range []string{in.ID, uuid.NewString()} {
			resp := sendRaw(t, h, "POST", "/v1/webhooks/"+id+extra, "x", nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s (known input %v): status %d, want 400", extra, id == in.ID, resp.StatusCode)
			}
		}
	}
	if n := storedDeliveries(t, h); n != 0 {
		t.Fatalf("%d deliveries stored for refused paths", n)
	}
	if n := dest.count(); n != 0 {
		t.Fatalf("the destination got %d requests", n)
	}
}

// TestExtraPathKeepsEncoding: the extra path reaches the destination as the
// caller encoded it, on the first attempt and on a retry (read back from
// the store).
func TestExtraPathKeepsEncoding(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	b := h.Bucket(&relay.Bucket{Name: "enc"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL + "/base/path"})
	if resp := sendRaw(t, h, "POST", "/v1/webhooks/"+in.ID+"/a%2Fb/c%20d", "x", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	dest.mu.Lock()
	paths := append([]string(nil), dest.paths...)
	dest.mu.Unlock()
	if len(paths) != 2 {
		t.Fatalf("destination got %d requests, want 2 (a retry)", len(paths))
	}
	for i, p := range paths {
		if p != "/base/path/a%2Fb/c%20d" {
			t.Errorf("attempt %d: path %q, want /base/path/a%%2Fb/c%%20d", i+1, p)
		}
	}
	ds := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	wh, err := h.Store.GetWebhook(context.Background(), ds[0].WebhookID)
	if err != nil {
		t.Fatal(err)
	}
	if wh.Request.Path != "/a/b/c d" {
		t.Errorf("stored path %q, want the decoded /a/b/c d", wh.Request.Path)
	}
}

// TestExtraPathRewrittenByFunction: a path the input function sets is
// delivered as the function set it.
func TestExtraPathRewrittenByFunction(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	fn := h.Function("repath", `r:SetRequestPath("/x y/z")`)
	b := h.Bucket(&relay.Bucket{Name: "fnpath"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in", FunctionID: fn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL + "/base"})
	sendRaw(t, h, "POST", "/v1/webhooks/"+in.ID+"/a%2Fb", "x", nil)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	if p, _, _ := dest.last(); p != "/base/x%20y/z" {
		t.Fatalf("path %q, want /base/x%%20y/z", p)
	}
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// newToken stores a token of bucket b and returns its credential.
func newToken(t *testing.T, h *relaytest.Relay, b *relay.Bucket) (cred string) {
	t.Helper()
	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok := &relay.Token{ID: uuid.NewString(), BucketID: b.ID, Name: "t", SecretHash: hash}
	if err := h.Store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return relay.FormatToken(tok.ID, secret)
}

// TestCredentialCopiesRemoved: every copy of a relay credential is
// removed from what is forwarded, whichever one authenticated; the other
// query parameters stay byte for byte, and an Authorization value that is
// not a relay credential is forwarded.
func TestCredentialCopiesRemoved(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	hash, err := relay.HashSecret("pa55")
	if err != nil {
		t.Fatal(err)
	}
	tb := h.Bucket(&relay.Bucket{Name: "tok", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	bb := h.Bucket(&relay.Bucket{Name: "basic", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "hook", PasswordHash: hash}})
	cred1, cred2 := newToken(t, h, tb), newToken(t, h, tb)
	tin := h.Input(&relay.Input{BucketID: tb.ID, Name: "in"})
	bin := h.Input(&relay.Input{BucketID: bb.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: tb.ID, Name: "d", Destination: dest.srv.URL})
	h.Output(&relay.Output{BucketID: bb.ID, Name: "d", Destination: dest.srv.URL})
	id1, _, _ := relay.ParseToken(cred1)
	id2, _, _ := relay.ParseToken(cred2)

	tests := []struct {
		name, path string
		header     http.Header
		wantQuery  string
		wantAuth   []string
	}{
		{"bearer, copies in every place", "/v1/webhooks/" + tin.ID + "?z=1&token=" + url.QueryEscape(cred2) + "&a=2&token=" + url.QueryEscape(cred1),
			http.Header{"Authorization": {"Bearer " + cred1, basicHeader(id2, "x"), "Bearer not-a-relay-token"}, "X-Relay-Token": {cred2, cred1}},
			"z=1&a=2", []string{"Bearer not-a-relay-token"}},
		{"query token, stale copy", "/v1/webhooks/" + tin.ID + "?token=" + url.QueryEscape(cred1) + "&token=" + url.QueryEscape(id1+".stale"),
			http.Header{"Authorization": {"Bearer for-the-destination"}},
			"", []string{"Bearer for-the-destination"}},
		{"header token", "/v1/webhooks/" + tin.ID + "?keep=1",
			http.Header{"X-Relay-Token": {cred2}, "Authorization": {"Bearer " + cred1}},
			"keep=1", nil},
		{"basic auth, token copies", "/v1/webhooks/" + bin.ID + "?token=" + url.QueryEscape(h.AdminToken) + "&x=y",
			http.Header{"Authorization": {basicHeader("hook", "pa55"), basicHeader("hook", "other"), "Bearer " + h.AdminToken}, "X-Relay-Token": {h.AdminToken}},
			"x=y", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dest.count()
			resp := sendRaw(t, h, "POST", tt.path, "x", tt.header)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			relaytest.WaitFor(t, "the delivery", func() bool { return dest.count() > before })
			_, q, hdr := dest.last()
			if q != tt.wantQuery {
				t.Errorf("query %q, want %q", q, tt.wantQuery)
			}
			if v := hdr.Values(relay.TokenHeader); len(v) != 0 {
				t.Errorf("X-Relay-Token forwarded: %q", v)
			}
			if got := hdr.Values("Authorization"); strings.Join(got, "|") != strings.Join(tt.wantAuth, "|") {
				t.Errorf("Authorization forwarded: %q, want %q", got, tt.wantAuth)
			}
		})
	}
}

// TestQueryKeptByteForByte: removing the token parameter leaves the rest
// of the query exactly as sent: order, encoding, a parameter without "=".
func TestQueryKeptByteForByte(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "q", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	cred := newToken(t, h, b)
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL})
	for _, tt := range []struct{ query, want string }{
		{"z=1&a=2&sig=a%2Fb+c&token=" + url.QueryEscape(cred) + "&empty", "z=1&a=2&sig=a%2Fb+c&empty"},
		{"token=" + url.QueryEscape(cred) + "&b=%7e&a=1&&c=", "b=%7e&a=1&&c="},
		{"%74oken=" + url.QueryEscape(cred) + "&tokens=1&x=token", "tokens=1&x=token"},
	} {
		before := dest.count()
		if resp := sendRaw(t, h, "POST", "/v1/webhooks/"+in.ID+"?"+tt.query, "x", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", tt.query, resp.StatusCode)
		}
		relaytest.WaitFor(t, "the delivery", func() bool { return dest.count() > before })
		if _, q, _ := dest.last(); q != tt.want {
			t.Errorf("query %q delivered as %q, want %q", tt.query, q, tt.want)
		}
	}
}

// TestUndeliverableMethodRefused: CONNECT is refused at the ingress with
// 405, for known and unknown inputs, and nothing is stored; a function
// that sets it gets a failed delivery after one attempt, not retries.
func TestUndeliverableMethodRefused(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "m"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL})
	for _, id := range []string{in.ID, uuid.NewString()} {
		resp := sendRaw(t, h, http.MethodConnect, "/v1/webhooks/"+id, "", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("CONNECT: status %d, Allow %q; want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if n := storedDeliveries(t, h); n != 0 {
		t.Fatalf("%d deliveries stored for CONNECT", n)
	}

	fn := h.Function("connect", `r:SetRequestMethod("CONNECT")`)
	b2 := h.Bucket(&relay.Bucket{Name: "m2"})
	in2 := h.Input(&relay.Input{BucketID: b2.ID, Name: "in", FunctionID: fn.ID})
	h.Output(&relay.Output{BucketID: b2.ID, Name: "d", Destination: dest.srv.URL})
	h.Webhook(in2.ID, "x", nil)
	ds := h.WaitDeliveries(relay.DeliveryFilter{BucketID: b2.ID}, relay.DeliveryFailed, 1)
	if ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "CONNECT") {
		t.Fatalf("delivery: %d attempts, error %q; want 1 attempt refusing CONNECT", ds[0].Attempts, ds[0].LastError)
	}
}

// TestInputIDCaseInsensitive: an input's UUID matches in any case.
func TestInputIDCaseInsensitive(t *testing.T) {
	h := newHarness(t)
	dest := newRawRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "case"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL})
	resp, _ := h.Webhook(strings.ToUpper(in.ID), "x", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
}
