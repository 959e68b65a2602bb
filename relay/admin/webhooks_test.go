package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

// rewriter logs, rewrites the body, and fails on a body that asks it to.
const rewriter = `
print("got " .. r.RequestBody)
r:SetRequestBody("rewritten:" .. r.RequestBody)
r:SetRequestHeader("X-Rewritten", "yes")
if string.find(r.RequestBody, "fail", 1, true) then error("asked to fail") end
`

func TestWebhookJourneyAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	boom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Dest", "d")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "boom")
	}))
	t.Cleanup(boom.Close)
	fn := e.relay.Function("rewriter", rewriter)
	b := e.relay.Bucket(&relay.Bucket{Name: "log"})
	in := e.relay.Input(&relay.Input{BucketID: b.ID, Name: "in", FunctionID: fn.ID})
	e.relay.Output(&relay.Output{BucketID: b.ID, Name: "boom", Destination: boom.URL,
		Retries: relay.RetryPolicy{MaxAttempts: 1}})
	c := client.New(e.url, e.token, nil)

	if r := e.webhook(in.ID, "first", nil); r.status != 200 {
		t.Fatalf("first webhook: %d", r.status)
	}
	e.relay.WaitDeliveries(relay.DeliveryFilter{BucketID: b.ID}, relay.DeliveryFailed, 1)
	if r := e.webhook(in.ID, "please fail", nil); r.status != 200 {
		t.Fatalf("second webhook: %d", r.status)
	}

	page, err := c.ListWebhooks(ctx, client.WebhookQuery{Bucket: "log"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Webhooks) != 2 || page.Webhooks[0].FunctionError == "" || page.Webhooks[1].FunctionError != "" {
		t.Fatalf("listing = %+v, want the failed webhook first, then the first one", page.Webhooks)
	}
	failed, err := c.ListWebhooks(ctx, client.WebhookQuery{FunctionError: true})
	if err != nil || len(failed.Webhooks) != 1 || failed.Webhooks[0].ID != page.Webhooks[0].ID {
		t.Fatalf("function_error listing = %+v, %v", failed, err)
	}
	one, err := c.ListWebhooks(ctx, client.WebhookQuery{Limit: 1})
	if err != nil || len(one.Webhooks) != 1 || one.Next == "" {
		t.Fatalf("first page = %+v, %v", one, err)
	}
	two, err := c.ListWebhooks(ctx, client.WebhookQuery{Limit: 1, Before: one.Next})
	if err != nil || len(two.Webhooks) != 1 || two.Webhooks[0].ID != page.Webhooks[1].ID || two.Next != "" {
		t.Fatalf("second page = %+v, %v", two, err)
	}

	// The failed one: its log, its changes made before the error, the error.
	d, err := c.GetWebhook(ctx, page.Webhooks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Function == nil || d.Function.Error == "" || !strings.Contains(d.Function.Error, "asked to fail") ||
		len(d.Function.Logs) != 1 || d.Function.Logs[0] != "got please fail" {
		t.Errorf("failed webhook's function = %+v", d.Function)
	}
	if len(d.Deliveries) != 0 {
		t.Errorf("failed webhook has deliveries: %+v", d.Deliveries)
	}
	if string(d.Received.Body) != "please fail" {
		t.Errorf("received body = %q", d.Received.Body)
	}

	// The first one: changes, and the destination's 500 with its body.
	d, err = c.GetWebhook(ctx, page.Webhooks[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Received.Body) != "first" || string(d.Forwarded.Body) != "rewritten:first" {
		t.Errorf("received %q forwarded %q", d.Received.Body, d.Forwarded.Body)
	}
	want := map[string]string{"body": "rewritten:first", "header X-Rewritten": "yes"}
	if len(d.Changes) != len(want) {
		t.Errorf("changes = %+v, want %v", d.Changes, want)
	}
	for _, ch := range d.Changes {
		if want[ch.Field] != ch.To {
			t.Errorf("change %+v, want %v", ch, want)
		}
	}
	if d.Answer.Status != 200 || d.Function.Error != "" || len(d.Function.Logs) != 1 {
		t.Errorf("answer %+v function %+v", d.Answer, d.Function)
	}
	if len(d.Deliveries) != 1 || len(d.Deliveries[0].Attempts) != 1 {
		t.Fatalf("deliveries = %+v", d.Deliveries)
	}
	a := d.Deliveries[0].Attempts[0]
	if a.Status != 500 || string(a.ResponseBody) != "boom" || a.ResponseHeaders.Get("X-Dest") != "d" {
		t.Errorf("attempt = %+v, want 500 with body boom", a)
	}
	_, as, err := c.GetDelivery(ctx, d.Deliveries[0].Delivery.ID)
	if err != nil || len(as) != 1 || string(as[0].ResponseBody) != "boom" {
		t.Errorf("delivery's attempts = %+v, %v", as, err)
	}

	// A run against the stored webhook reproduces what the input did.
	res, err := c.RunWebhook(ctx, d.ID, api.RunRequest{Function: "rewriter"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.Body != "rewritten:first" || res.Error != "" || strings.Join(res.Logs, "\n") != "got first" {
		t.Errorf("run = %+v", res)
	}
	res, err = c.RunWebhook(ctx, page.Webhooks[0].ID, api.RunRequest{Source: `error("draft says no")`})
	if err != nil || !strings.Contains(res.Error, "draft says no") {
		t.Errorf("draft run = %+v, %v", res, err)
	}
	res, err = c.RunWebhook(ctx, d.ID, api.RunRequest{Source: `local _, err = http.get("http://127.0.0.1:1/") print(err)`})
	if err != nil || len(res.Logs) != 1 || !strings.Contains(res.Logs[0], "network access is off") {
		t.Errorf("offline run = %+v, %v", res, err)
	}
	e.fails(http.StatusBadRequest, "give function", "POST", "/v1/admin/webhooks/"+d.ID+"/run", map[string]any{})
	e.fails(http.StatusNotFound, "", "GET", "/v1/admin/webhooks/nope", nil)
	e.fails(http.StatusBadRequest, "since", "GET", "/v1/admin/webhooks?since=yesterday", nil)
}

func TestEventStream(t *testing.T) {
	e := newEnv(t)
	b := e.relay.Bucket(&relay.Bucket{Name: "ev", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	open := e.relay.Bucket(&relay.Bucket{Name: "open"})
	in := e.relay.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	in2 := e.relay.Input(&relay.Input{BucketID: open.ID, Name: "in"})
	dest := newDestination(t)
	e.relay.Output(&relay.Output{BucketID: open.ID, Name: "out", Destination: dest.URL})
	c := client.New(e.url, e.token, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan *api.Event, 16)
	done := make(chan error, 1)
	go func() { done <- c.Events(ctx, "", func(ev *api.Event) error { events <- ev; return nil }) }()
	// The stream is open once a webhook sent now is seen.
	next := func() *api.Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(relaytest.Timeout):
			t.Fatal("no event")
			return nil
		}
	}
	relaytest.WaitFor(t, "the subscription", func() bool {
		e.webhook(in2.ID, "ping", nil)
		select {
		case <-events:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	dest.next(t)
	for len(events) > 0 || len(dest.got) > 0 {
		select {
		case <-events:
		case <-dest.got:
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := e.webhook(in.ID, "no token", nil); r.status != 401 {
		t.Fatalf("webhook without a token: %d", r.status)
	}
	ev := next()
	if ev.Type != "webhook" || ev.Status != 401 || ev.WebhookID != "" || ev.BucketName != "ev" {
		t.Errorf("event = %+v, want a refused webhook of ev", ev)
	}
	e.webhook(in2.ID, "hello", nil)
	types := map[string]bool{}
	for !types["webhook"] || !types["attempt"] {
		ev := next()
		types[ev.Type] = true
		if ev.Type == "attempt" && (ev.State != "succeeded" || ev.Status != 200) {
			t.Errorf("attempt event = %+v", ev)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Events: %v", err)
	}

	// An open stream does not hold up the relay's shutdown (which fails
	// the test past its grace period): it ends.
	seen := make(chan struct{}, 1)
	go func() {
		done <- c.Events(context.Background(), "", func(*api.Event) error {
			select {
			case seen <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	relaytest.WaitFor(t, "the second subscription", func() bool {
		e.webhook(in2.ID, "ping", nil)
		select {
		case <-seen:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	e.relay.Stop()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "ended the stream") {
			t.Errorf("Events after the relay stopped: %v", err)
		}
	case <-time.After(relaytest.Timeout):
		t.Fatal("the stream outlived the relay")
	}
}

// TestWebhookAnswerInDestinationMode: the caller's answer, known only once
// the destination answered, is recorded with the webhook.
func TestWebhookAnswerInDestinationMode(t *testing.T) {
	e := newEnv(t)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-From", "destination")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "queued")
	}))
	t.Cleanup(dest.Close)
	b := e.relay.Bucket(&relay.Bucket{Name: "wait"})
	in := e.relay.Input(&relay.Input{BucketID: b.ID, Name: "in", Response: relay.ResponseConfig{Mode: relay.ResponseDestination}})
	e.relay.Output(&relay.Output{BucketID: b.ID, Name: "out", Destination: dest.URL})
	if r := e.webhook(in.ID, "x", nil); r.status != http.StatusAccepted || string(r.body) != "queued" {
		t.Fatalf("webhook answered %d %q", r.status, r.body)
	}
	c := client.New(e.url, e.token, nil)
	page, err := c.ListWebhooks(context.Background(), client.WebhookQuery{Bucket: "wait", Status: http.StatusAccepted})
	if err != nil || len(page.Webhooks) != 1 {
		t.Fatalf("listing by the relayed status = %+v, %v", page, err)
	}
	d, err := c.GetWebhook(context.Background(), page.Webhooks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Answer.Status != http.StatusAccepted || d.Answer.BodySize != len("queued") || d.Answer.Headers.Get("X-From") != "destination" {
		t.Errorf("answer = %+v", d.Answer)
	}
}
