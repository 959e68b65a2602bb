package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// TestRequestLogAndDetail checks the request log's filters and paging,
// a webhook's detail (log line, changes, the destination's answer, a
// binary body in hex), a replay from the detail, and the editor's run
// against a captured webhook.
func TestRequestLogAndDetail(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Dest", "yes")
		http.Error(w, "the ERP is down", http.StatusInternalServerError)
	}))
	t.Cleanup(dest.Close)
	fn := r.Function("tag", "log.info(\"tagging\")\nr:SetRequestHeader(\"X-Tag\", \"t\")\n")
	b := r.Bucket(&relay.Bucket{Name: "shop", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "orders", FunctionID: fn.ID})
	out := r.Output(&relay.Output{BucketID: b.ID, Name: "erp", Destination: dest.URL, Retries: relay.RetryPolicy{MaxAttempts: 1}})
	b2 := r.Bucket(&relay.Bucket{Name: "other", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	in2 := r.Input(&relay.Input{BucketID: b2.ID, Name: "bin"})
	for i := range 55 {
		r.Webhook(in.ID, fmt.Sprintf(`{"order":%d}`, i), http.Header{"Content-Type": {"application/json"}})
	}
	r.Webhook(in2.ID, "\x00\x01\xffbinary", nil)
	ds := r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliveryFailed, 55)

	c := newClient(t, r)
	signIn(t, c, r)
	res, page := c.do("GET", "/ui/webhooks", nil, nil)
	if res.StatusCode != http.StatusOK || strings.Count(page, `<tr id="wh-`) != 50 || !strings.Contains(page, `id="older"`) || !strings.Contains(page, `id="live"`) {
		t.Fatalf("first page: %d, %d rows\n%s", res.StatusCode, strings.Count(page, `<tr id="wh-`), page)
	}
	older := html.UnescapeString(page[strings.Index(page, `href="/ui/webhooks?`)+6:])
	older = older[:strings.Index(older, `"`)]
	_, page2 := c.do("GET", older, nil, nil)
	if n := strings.Count(page2, `<tr id="wh-`); n != 6 || strings.Contains(page2, `id="live"`) {
		t.Errorf("second page: %d rows (want 6), live=%v", n, strings.Contains(page2, `id="live"`))
	}
	for _, tc := range []struct {
		query string
		rows  int
	}{
		{"bucket=other", 1},
		{"bucket=shop&state=failed", 50},
		{"input=" + in2.ID, 1},
		{"status=200&bucket=other", 1},
		{"function_error=true", 0},
		{"since=1h&bucket=other", 1},
		{"until=2000-01-01T00:00", 0},
	} {
		_, p := c.do("GET", "/ui/webhooks?"+tc.query, nil, nil)
		if n := strings.Count(p, `<tr id="wh-`); n != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.query, n, tc.rows)
		}
	}
	if res, p := c.do("GET", "/ui/webhooks?status=abc&since=soon", nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(p, "status: &#34;abc&#34; is not an HTTP status") {
		t.Errorf("a bad filter: %d\n%s", res.StatusCode, p)
	}

	// The detail of the newest shop webhook.
	id := ds[0].WebhookID
	res, page = c.do("GET", "/ui/webhooks/"+id, nil, nil)
	for _, want := range []string{"tagging", "the ERP is down", "X-Dest: yes", "&#43; X-Tag: t", "&#34;order&#34;: ", ">500<", "Replay delivery"} {
		if !strings.Contains(page, want) {
			t.Errorf("detail: %q missing", want)
		}
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("detail: %d", res.StatusCode)
	}
	ws, err := r.Store.ListWebhooks(context.Background(), relay.WebhookFilter{BucketID: b2.ID, Limit: 1})
	if err != nil || len(ws) != 1 {
		t.Fatal(ws, err)
	}
	if _, p := c.do("GET", "/ui/webhooks/"+ws[0].ID, nil, nil); !strings.Contains(p, "00000000  00 01 ff 62") {
		t.Errorf("binary body not shown as hex:\n%s", p)
	}
	if res, _ := c.do("GET", "/ui/webhooks/nope", nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown webhook: %d", res.StatusCode)
	}

	// Replay from the detail stays on the detail.
	res, p := c.do("POST", "/ui/deliveries/"+ds[0].ID+"/replay", url.Values{"csrf": {csrf(t, page)}, "webhook": {id}}, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(p, "Replayed to erp") || !strings.Contains(p, "Webhook "+id) {
		t.Errorf("replay from the detail: %d\n%s", res.StatusCode, p)
	}

	// The editor runs a draft against the captured webhook, offline.
	_, ed := c.do("GET", "/ui/functions/tag?webhook="+id, nil, nil)
	if !strings.Contains(ed, `value="`+id+`"`) {
		t.Errorf("editor: the webhook is not prefilled")
	}
	src := "log.info(\"draft\")\nr:SetRequestBody('{\"changed\":true}')\nlocal res, err = http.request(\"GET\", \"http://127.0.0.1:1/\")\nif err then log.info(\"network refused\") end\n"
	_, run := c.do("POST", "/ui/functions/tag", url.Values{"csrf": {csrf(t, ed)}, "action": {"run-webhook"}, "webhook": {id}, "source": {src}}, nil)
	for _, want := range []string{`id="body-diff"`, "&#43;   &#34;changed&#34;: true", "-   &#34;order&#34;: 54", "draft", "network refused"} {
		if !strings.Contains(run, want) {
			t.Errorf("run against the webhook: %q missing\n%s", want, run[strings.Index(run, `id="result"`):])
		}
	}
	_, run = c.do("POST", "/ui/functions/tag", url.Values{"csrf": {csrf(t, ed)}, "action": {"run-webhook"}, "webhook": {"nope"}, "source": {src}}, nil)
	if !strings.Contains(run, "No webhook &#34;nope&#34;") {
		t.Errorf("run against an unknown webhook: no error shown")
	}
}

// TestEvents checks the console's event stream: behind the session, it
// streams the relay's webhook events.
func TestEvents(t *testing.T) {
	r := relaytest.New(t, relaytest.Options{})
	b := r.Bucket(&relay.Bucket{Name: "shop", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "orders"})
	if res, err := http.Get(r.URL + "/ui/events"); err != nil || res.StatusCode != http.StatusOK || strings.Contains(res.Header.Get("Content-Type"), "event-stream") {
		t.Fatalf("events without a session: %v %v, want the sign-in page", res, err)
	}
	c := newClient(t, r)
	signIn(t, c, r)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/ui/events", nil)
	res, err := c.hc.Do(req)
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", res, err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Scan() // the stream's first comment: subscribed
	r.Webhook(in.ID, `{}`, nil)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e struct {
			WebhookID  string `json:"webhook_id"`
			BucketName string `json:"bucket_name"`
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatal(err)
		}
		if e.WebhookID == "" || e.BucketName != "shop" {
			t.Errorf("event %s", data)
		}
		return
	}
	t.Fatalf("no event: %v", sc.Err())
}
