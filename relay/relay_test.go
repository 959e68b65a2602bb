package relay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// newHarness starts the relay of these tests: relaytest's, with the
// webhook bodies capped at 1 MiB.
func newHarness(t *testing.T) *relaytest.Relay {
	t.Helper()
	return relaytest.New(t, relaytest.Options{MaxBodyBytes: 1 << 20})
}

// recorder is a destination that records what it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	method, path, query, body string
	header                    http.Header
}

func newRecorder(t *testing.T, answer func(n int, w http.ResponseWriter)) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		n := len(rec.reqs)
		rec.mu.Unlock()
		if answer != nil {
			answer(n, w)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) received() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func TestForwardThroughInputAndOutputFunctions(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	inFn := h.Function("shape", `
r:SetRequestBody("in:" .. r.RequestBody)
r:SetRequestHeader("X-Input", r.Metadata.input_name)
r:SetRequestMethod("PUT")
`)
	outFn := h.Function("stamp", `
r:SetRequestBody(r.RequestBody .. ":out")
r:SetRequestHeader("X-Output", r.Metadata.output_name)
r:SetRequestRawQuery(r.RequestRawQuery .. "&via=" .. r.Metadata.bucket_name)
`)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "github", FunctionID: inFn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL + "/base", FunctionID: outFn.ID})

	resp, body := h.Send("POST", "/v1/webhooks/"+in.ID+"/extra/path?a=1", "payload", http.Header{"X-Custom": {"kept"}})
	if resp.StatusCode != 200 || body != "" {
		t.Fatalf("caller got %d %q, want 200 and an empty body", resp.StatusCode, body)
	}
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	got := dest.received()
	if len(got) != 1 {
		t.Fatalf("destination got %d requests", len(got))
	}
	r := got[0]
	if r.method != "PUT" || r.path != "/base/extra/path" || r.query != "a=1&via=ci" || r.body != "in:payload:out" {
		t.Fatalf("destination got %s %s?%s %q", r.method, r.path, r.query, r.body)
	}
	if r.header.Get("X-Input") != "github" || r.header.Get("X-Output") != "dest" || r.header.Get("X-Custom") != "kept" {
		t.Fatalf("headers: %v", r.header)
	}
}

func TestLockPath(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "locked", Destination: dest.srv.URL + "/fixed", LockPath: true})
	h.Send("POST", "/v1/webhooks/"+in.ID+"/ignored", "x", nil)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	if p := dest.received()[0].path; p != "/fixed" {
		t.Fatalf("path = %q, want /fixed", p)
	}
}

func TestResponseModes(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("X-Dest", "yes")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("from destination"))
	})
	answerFn := h.Function("answer", `r:SetResponseStatusCode(202) r:SetResponseHeader("X-Fn", "1") r:SetResponseBody("from function")`)
	plainFn := h.Function("plain", `r:SetRequestHeader("X-Seen", "1")`)
	b := h.Bucket(&relay.Bucket{Name: "modes"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL})
	tests := []struct {
		name       string
		in         relay.Input
		status     int
		body       string
		header     string
		headerWant string
	}{
		{"default", relay.Input{Response: relay.ResponseConfig{Mode: relay.ResponseDefault}}, 200, "", "X-Dest", ""},
		{"default with a function answer", relay.Input{FunctionID: answerFn.ID, Response: relay.ResponseConfig{Mode: relay.ResponseDefault}}, 202, "from function", "X-Fn", "1"},
		{"static", relay.Input{FunctionID: answerFn.ID, Response: relay.ResponseConfig{Mode: relay.ResponseStatic, Status: 201, Body: "static body", Headers: map[string]string{"X-Static": "s"}}}, 201, "static body", "X-Static", "s"},
		{"function", relay.Input{FunctionID: answerFn.ID, Response: relay.ResponseConfig{Mode: relay.ResponseFunction}}, 202, "from function", "X-Fn", "1"},
		{"function that set nothing", relay.Input{FunctionID: plainFn.ID, Response: relay.ResponseConfig{Mode: relay.ResponseFunction}}, 200, "", "X-Fn", ""},
		{"destination", relay.Input{FunctionID: plainFn.ID, Response: relay.ResponseConfig{Mode: relay.ResponseDestination}}, 201, "from destination", "X-Dest", "yes"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.BucketID, in.Name = b.ID, fmt.Sprintf("in%d", i)
			h.Input(&in)
			resp, body := h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
			if resp.StatusCode != tt.status || body != tt.body || resp.Header.Get(tt.header) != tt.headerWant {
				t.Fatalf("got %d %q %s=%q; want %d %q %q", resp.StatusCode, body, tt.header, resp.Header.Get(tt.header), tt.status, tt.body, tt.headerWant)
			}
		})
	}
}

func TestDestinationModeTimeout(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	dest := newRecorder(t, func(n int, w http.ResponseWriter) { <-release })
	defer close(release)
	b := h.Bucket(&relay.Bucket{Name: "slow"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in", Response: relay.ResponseConfig{Mode: relay.ResponseDestination, Timeout: 100 * time.Millisecond}})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL, Timeout: 30 * time.Second})
	resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504", resp.StatusCode)
	}
}

func TestUnknownInputAnswersLikeKnown(t *testing.T) {
	h := newHarness(t)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	known, kb := h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	unknown, ub := h.Send("POST", "/v1/webhooks/0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10", "x", nil)
	if known.StatusCode != unknown.StatusCode || kb != ub {
		t.Fatalf("known %d %q, unknown %d %q", known.StatusCode, kb, unknown.StatusCode, ub)
	}
	for _, hd := range []http.Header{known.Header, unknown.Header} {
		hd.Del("Date")
	}
	if fmt.Sprint(known.Header) != fmt.Sprint(unknown.Header) {
		t.Fatalf("headers differ: known %v, unknown %v", known.Header, unknown.Header)
	}
}

func TestBucketAuth(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	hash, err := relay.HashSecret("pa55")
	if err != nil {
		t.Fatal(err)
	}
	basic := h.Bucket(&relay.Bucket{Name: "basic", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "hook", PasswordHash: hash}})
	tokenB := h.Bucket(&relay.Bucket{Name: "token", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	secret, thash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok := &relay.Token{BucketID: tokenB.ID, Name: "ci", SecretHash: thash}
	if err := h.Store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	cred := relay.FormatToken(tok.ID, secret)
	bin := h.Input(&relay.Input{BucketID: basic.ID, Name: "in"})
	tin := h.Input(&relay.Input{BucketID: tokenB.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: basic.ID, Name: "d", Destination: dest.srv.URL})
	h.Output(&relay.Output{BucketID: tokenB.ID, Name: "d", Destination: dest.srv.URL})

	basicHdr := func(u, p string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"basic missing", "/v1/webhooks/" + bin.ID, nil, 401},
		{"basic wrong password", "/v1/webhooks/" + bin.ID, basicHdr("hook", "nope"), 401},
		{"basic wrong user", "/v1/webhooks/" + bin.ID, basicHdr("other", "pa55"), 401},
		{"basic ok", "/v1/webhooks/" + bin.ID, basicHdr("hook", "pa55"), 200},
		{"token missing", "/v1/webhooks/" + tin.ID, nil, 401},
		{"token wrong", "/v1/webhooks/" + tin.ID, http.Header{"Authorization": {"Bearer " + tok.ID + ".wrong"}}, 401},
		{"token bearer", "/v1/webhooks/" + tin.ID, http.Header{"Authorization": {"Bearer " + cred}}, 200},
		{"token header", "/v1/webhooks/" + tin.ID, http.Header{"X-Relay-Token": {cred}}, 200},
		{"token query", "/v1/webhooks/" + tin.ID + "?token=" + cred + "&keep=1", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := h.Send("POST", tt.path, "x", tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 4)
	for _, r := range dest.received() {
		if r.header.Get("Authorization") != "" || r.header.Get("X-Relay-Token") != "" || strings.Contains(r.query, "token") {
			t.Fatalf("credentials were forwarded: %v %q", r.header, r.query)
		}
	}
}

func TestOversizedBody(t *testing.T) {
	h := newHarness(t)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID, strings.Repeat("x", 1<<20+1), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", resp.StatusCode)
	}
}

func TestRetriesUntilSuccess(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "flaky", Destination: dest.srv.URL, Retries: relay.RetryPolicy{MaxAttempts: 5}})
	h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	ds := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	d, attempts, err := h.Store.GetDelivery(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 3 || len(attempts) != 3 || attempts[0].Status != 503 || attempts[2].Status != 200 {
		t.Fatalf("delivery %+v, attempts %+v", d, attempts)
	}
	time.Sleep(50 * time.Millisecond) // nothing more may arrive
	if n := len(dest.received()); n != 3 {
		t.Fatalf("destination got %d requests, want 3 (two failures, one success)", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	h := newHarness(t)
	var hits atomic.Int32
	dest := newRecorder(t, func(n int, w http.ResponseWriter) { hits.Add(1); w.WriteHeader(500) })
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "down", Destination: dest.srv.URL, Retries: relay.RetryPolicy{MaxAttempts: 3}})
	h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	ds := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryFailed, 1)
	if ds[0].Attempts != 3 || hits.Load() != 3 || ds[0].LastStatus != 500 {
		t.Fatalf("delivery %+v after %d hits", ds[0], hits.Load())
	}
}

// TestFinalAnswersThatFail: an answer that is neither a 2xx nor worth a
// retry fails the delivery at once.
func TestFinalAnswersThatFail(t *testing.T) {
	for _, status := range []int{400, 404, 304} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHarness(t)
			dest := newRecorder(t, func(n int, w http.ResponseWriter) { w.WriteHeader(status) })
			b := h.Bucket(&relay.Bucket{Name: "ci"})
			in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
			h.Output(&relay.Output{BucketID: b.ID, Name: "picky", Destination: dest.srv.URL})
			h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
			ds := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryFailed, 1)
			if ds[0].Attempts != 1 || ds[0].LastStatus != status {
				t.Fatalf("a %d was retried or misrecorded: %+v", status, ds[0])
			}
		})
	}
}

func TestFunctionErrorStopsForwarding(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	fn := h.Function("broken", "local x = nil\nx.field = 1\n")
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in", FunctionID: fn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "d", Destination: dest.srv.URL})
	resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d: the caller of a default input is not told about function errors", resp.StatusCode)
	}
	ds, err := h.Store.ListDeliveries(context.Background(), relay.DeliveryFilter{})
	if err != nil || len(ds) != 0 {
		t.Fatalf("deliveries after a function error: %v %v", ds, err)
	}
	// The error is recorded with the webhook.
	whs := webhooks(t, h)
	if len(whs) != 1 || !strings.HasPrefix(whs[0].FunctionError, "broken.lua:2:") {
		t.Fatalf("recorded webhooks: %+v", whs)
	}
	if len(dest.received()) != 0 {
		t.Fatal("a failed function's webhook was forwarded")
	}
}

func TestOutputFunctionStops(t *testing.T) {
	h := newHarness(t)
	dest := newRecorder(t, nil)
	fn := h.Function("gate", `if r.Metadata.output_name == "blocked" then r:StopForwarding() end`)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "blocked", Destination: dest.srv.URL + "/blocked", FunctionID: fn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "open", Destination: dest.srv.URL + "/open", FunctionID: fn.ID})
	h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryStopped, 1)
	got := dest.received()
	if len(got) != 1 || got[0].path != "/open" {
		t.Fatalf("destination got %+v", got)
	}
}

func webhooks(t *testing.T, h *relaytest.Relay) []*relay.Webhook {
	t.Helper()
	// The store lists deliveries, not webhooks: read the IDs from the file.
	db, err := sql.Open("sqlite", h.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM webhooks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*relay.Webhook
	for rows.Next() {
		var id string
		rows.Scan(&id)
		w, err := h.Store.GetWebhook(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

func TestDeliveryErrorsHideTheDestinationPath(t *testing.T) {
	h := newHarness(t)
	b := h.Bucket(&relay.Bucket{Name: "ci"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	// A closed port: the connection is refused.
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.URL
	dead.Close()
	h.Output(&relay.Output{BucketID: b.ID, Name: "slack", Destination: addr + "/services/T000/B000/s3cr3t?token=hidden", Retries: relay.RetryPolicy{MaxAttempts: 1}})
	h.Send("POST", "/v1/webhooks/"+in.ID, "x", nil)
	ds := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryFailed, 1)
	if ds[0].LastError == "" || strings.Contains(ds[0].LastError, "s3cr3t") || strings.Contains(ds[0].LastError, "hidden") {
		t.Fatalf("error %q", ds[0].LastError)
	}
}
