package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/api"
)

// TestRemoteWebhookToDestination sets up a route with the CLI alone, sends
// a webhook to the URL input create printed, and follows its delivery with
// deliveries ls, show and replay.
func TestRemoteWebhookToDestination(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	sink := newHookSink(t)

	r.ok("function", "create", "tag", "-f", tagLua)
	r.ok("bucket", "create", "ci")
	out := r.ok("input", "create", "ci", "github")
	_, url, ok := strings.Cut(out, "webhook URL: ")
	if !ok {
		t.Fatalf("input create printed no URL:\n%s", out)
	}
	url = strings.TrimSpace(url)
	var o api.Output
	r.okJSON(&o, "output", "create", "ci", "sink", "--destination", sink.srv.URL+"/in")
	inputID := url[strings.LastIndex(url, "/")+1:]
	r.ok("attach", "tag", "--input", inputID)

	resp, err := http.Post(url+"/push", "application/json", strings.NewReader(`{"ref":"main"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	var ds []api.Delivery
	waitFor(t, "the delivery to succeed", func() bool {
		r.okJSON(&ds, "deliveries", "ls", "--state", "succeeded")
		return len(ds) == 1
	})
	got := sink.received()
	if len(got) != 1 || got[0].path != "/in/push" || got[0].body != `{"ref":"main"}` || got[0].header.Get("X-Tagged") != "yes" {
		t.Fatalf("destination received %+v", got)
	}
	d := ds[0]
	if d.OutputID != o.ID || d.Attempts != 1 || d.LastStatus != http.StatusNoContent {
		t.Errorf("delivery = %+v", d)
	}

	// ls: text, and the filters.
	out = r.ok("deliveries", "ls")
	contains(t, "ls", out, "ID", "STATE", "ATTEMPTS", "STATUS", "OUTPUT", d.ID, "succeeded", "204", "ci/sink")
	for _, args := range [][]string{
		{"--bucket", "ci"},
		{"--output-id", o.ID},
		{"--bucket", "ci", "--output-id", "sink"},
		{"--limit", "1"},
	} {
		r.okJSON(&ds, append([]string{"deliveries", "ls"}, args...)...)
		if len(ds) != 1 || ds[0].ID != d.ID {
			t.Errorf("deliveries ls %v = %+v", args, ds)
		}
	}
	r.okJSON(&ds, "deliveries", "ls", "--state", "failed")
	if len(ds) != 0 {
		t.Errorf("deliveries ls --state failed = %+v", ds)
	}
	out, errOut, code := r.run("deliveries", "ls", "--bucket", "nope")
	wantCode(t, code, 1, out, errOut)
	contains(t, "ls --bucket nope", errOut, `bucket: no bucket "nope"`)

	// show: the delivery and its attempts.
	out = r.ok("deliveries", "show", d.ID)
	contains(t, "show", out, "ID:", d.ID, "State:", "succeeded", "Output:", "ci/sink", "Attempts:", "N", "STARTED", "STATUS", "DURATION", "ERROR", "204", "ms")
	var detail api.DeliveryDetail
	r.okJSON(&detail, "deliveries", "show", d.ID)
	if detail.Delivery == nil || detail.Delivery.ID != d.ID || len(detail.Attempts) != 1 || detail.Attempts[0].Status != http.StatusNoContent {
		t.Errorf("show -o json = %+v", detail)
	}

	// replay: a new delivery, delivered again.
	out = r.ok("deliveries", "replay", d.ID)
	contains(t, "replay", out, "replayed delivery "+d.ID+" as ", "(pending)")
	waitFor(t, "the replay to be delivered", func() bool { return len(sink.received()) == 2 })
	waitFor(t, "both deliveries to succeed", func() bool {
		r.okJSON(&ds, "deliveries", "ls", "--state", "succeeded")
		return len(ds) == 2
	})
	if again := sink.received()[1]; again.body != `{"ref":"main"}` || again.path != "/in/push" {
		t.Errorf("replay delivered %+v", again)
	}
	var nd api.Delivery
	r.okJSON(&nd, "deliveries", "replay", d.ID)
	if nd.ID == "" || nd.ID == d.ID || nd.WebhookID != d.WebhookID {
		t.Errorf("replay -o json = %+v", nd)
	}
	waitFor(t, "the second replay", func() bool { return len(sink.received()) == 3 })
}

func TestRemoteDeliveriesShowFailure(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	r.ok("bucket", "create", "ci")
	var in api.Input
	r.okJSON(&in, "input", "create", "ci", "hook")
	r.ok("output", "create", "ci", "flaky", "--destination", down.URL, "--max-attempts", "1")
	resp, err := http.Post(webhookURL(r.url, in.ID), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ds []api.Delivery
	waitFor(t, "the delivery to fail", func() bool {
		r.okJSON(&ds, "deliveries", "ls", "--state", "failed")
		return len(ds) == 1
	})
	out := r.ok("deliveries", "show", ds[0].ID)
	contains(t, "show", out, "State:", "failed", "Last status:", "503", "503")
	b, _ := json.Marshal(ds[0])
	if !strings.Contains(string(b), `"state":"failed"`) {
		t.Errorf("delivery = %s", b)
	}
}
