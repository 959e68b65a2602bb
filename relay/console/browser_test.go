package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// findBrowser returns the path of a Chromium to drive. Without one the
// browser tests skip, unless CI=true, where a missing browser fails.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "no Chromium found: install Debian's chromium (apt-get install chromium) and run go test ./relay/console -run Browser"
	if os.Getenv("CI") == "true" {
		t.Fatal(how)
	}
	t.Skip(how)
	return ""
}

// screenshot saves a PNG of the page as docs/NAME.png when
// RELAYFN_SCREENSHOTS names the folder (relative to the repository).
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var v chromedp.Void
		dir := os.Getenv("RELAYFN_SCREENSHOTS")
		if dir == "" {
			return v, nil
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join("..", "..", dir)
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return v, err
		}
		return v, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// TestBrowser drives Chromium through the console: sign-in, the
// overview, the editor's dry run and a Save refused by the spec, a
// request without the CSRF token, the replay of a failed delivery, a
// webhook appearing in the request log without a reload (and the log
// pausing when scrolled), its detail and replay, and a run of an edited
// function against it; every page must carry the CSP and cause no CSP
// violation.
func TestBrowser(t *testing.T) {
	browser := findBrowser(t)
	r := relaytest.New(t, relaytest.Options{})
	ctx := context.Background()

	// A destination that fails its first and third requests.
	var hits atomic.Int32
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n := hits.Add(1); n == 1 || n == 3 {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(dest.Close)

	fn := r.Function("enrich", "log.info(\"passing through\")\n")
	b := r.Bucket(&relay.Bucket{Name: "shop", Description: "Orders from the web shop", Auth: relay.BucketAuth{Type: relay.AuthNone}})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "orders", FunctionID: fn.ID})
	out := r.Output(&relay.Output{BucketID: b.ID, Name: "erp", Destination: dest.URL + "/orders",
		Retries: relay.RetryPolicy{MaxAttempts: 1}})
	b2 := r.Bucket(&relay.Bucket{Name: "github", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	r.Input(&relay.Input{BucketID: b2.ID, Name: "push", Response: relay.ResponseConfig{Mode: relay.ResponseStatic, Status: 202}})
	r.Output(&relay.Output{BucketID: b2.ID, Name: "ci", Destination: "https://ci.example.com/hooks/github?token=secret"})

	if res, _ := r.Webhook(in.ID, `{"order":42}`, http.Header{"Content-Type": {"application/json"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", res.StatusCode)
	}
	failed := r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliveryFailed, 1)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(1366, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	documents := 0
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v; the page:\n%s", what, err, page)
		}
	}
	// text reads an element's text in one evaluation: htmx may swap the
	// element between a query and a read of the node it found.
	text := func(sel string) string {
		t.Helper()
		q, _ := json.Marshal(sel)
		s, err := chromedp.Run(bctx, chromedp.Evaluate[*string](`(e => e === null ? null : e.innerText)(document.querySelector(`+string(q)+`))`))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		if s == nil {
			t.Fatalf("text of %s: no such element", sel)
		}
		return *s
	}
	// The first call starts the browser, bound to bctx.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Type != network.ResourceTypeDocument && e.Type != network.ResourceTypeXHR && e.Type != network.ResourceTypeFetch &&
				e.Type != network.ResourceTypeEventSource {
				return
			}
			documents++
			if !hasCSP(e.Response.Headers) {
				problems = append(problems, "no Content-Security-Policy on "+e.Response.URL)
			}
		case *cdplog.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") {
				problems = append(problems, "CSP violation: "+e.Entry.Text)
			}
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "script error: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	// Sign in.
	do("sign in",
		chromedp.Navigate(r.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), r.AdminToken),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#bucket-shop")),
	)
	html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop", "orders", "erp", "enrich", "1 failed", "/v1/webhooks/" + in.ID, "token=…"} {
		if !strings.Contains(html, want) {
			t.Errorf("overview: %q missing", want)
		}
	}
	do("overview screenshot", screenshot("console-overview"))

	// The editor runs an edited function against a pasted payload.
	edited := "local body = string.gsub(r.RequestBody, \"}$\", ',\"enriched\":true}')\n" +
		"log.info(\"enriched order\")\nr:SetRequestBody(body)\nr:SetRequestHeader(\"X-Enriched\", \"yes\")\n"
	do("dry run",
		chromedp.Navigate(r.URL+"/ui/functions/enrich"),
		chromedp.WaitVisible(chromedp.CSS(".CodeMirror")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".CodeMirror").CodeMirror.setValue(`+jsString(edited)+`)`),
		chromedp.SetValue(chromedp.CSS("#payload"), `{"order":42}`),
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.WaitVisible(chromedp.CSS("#body-diff")),
	)
	diff, logText := text("#body-diff"), text("#run-log")
	if !strings.Contains(diff, `+   "enriched": true`) || !strings.Contains(diff, `-   "order": 42`) {
		t.Errorf("body diff = %q, want the enriched field added", diff)
	}
	if !strings.Contains(logText, "enriched order") {
		t.Errorf("run log = %q", logText)
	}

	// Save with a failing spec is refused, with the failure shown.
	spec := "version: v1\ntests:\n  - name: adds the currency\n    request:\n      body: '{\"order\":1}'\n    expect:\n      request:\n        bodyContains: currency\n"
	do("save refused",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("details").open = true`),
		chromedp.SetValue(chromedp.CSS("#spec"), spec),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#save-failures")),
	)
	if failures := text("#save-failures"); !strings.Contains(failures, "adds the currency") || !strings.Contains(failures, "bodyContains") {
		t.Errorf("save failures = %q", failures)
	}
	if f, err := r.Store.GetFunction(ctx, "enrich"); err != nil || f.Version != 1 {
		t.Errorf("after a refused save: %+v, %v; want version 1", f, err)
	}
	if s, _ := r.Store.Spec(ctx, fn.ID); s != nil {
		t.Errorf("a refused save stored the spec %q", s)
	}

	// A request without the CSRF token is refused.
	status, err := chromedp.Run(bctx, chromedp.Evaluate[int](`fetch("/ui/functions/enrich/config", {method: "POST",
		body: new URLSearchParams({key: "X", value: "y"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, %v; want 403", status, err)
	}

	// Replay of the failed delivery delivers it again.
	do("deliveries",
		chromedp.Navigate(r.URL+"/ui/deliveries"),
		chromedp.WaitVisible(chromedp.CSS("#deliveries")),
	)
	if list := text("#deliveries"); !strings.Contains(list, "500") || !strings.Contains(list, "erp") {
		t.Errorf("deliveries page = %q, want the failed delivery with its 500", list)
	}
	do("replay",
		screenshot("console-deliveries"),
		chromedp.Click(chromedp.CSS("#deliveries button")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := text(".notice"); !strings.Contains(notice, "Replayed to erp") {
		t.Errorf("replay notice = %q", notice)
	}
	ok := r.WaitDeliveries(relay.DeliveryFilter{OutputID: out.ID}, relay.DeliverySucceeded, 1)
	if ok[0].WebhookID != failed[0].WebhookID || hits.Load() != 2 {
		t.Errorf("replayed delivery %+v, destination hits %d; want the same webhook delivered a second time", ok[0], hits.Load())
	}

	// The request log shows a new webhook without a reload.
	do("request log",
		chromedp.Navigate(r.URL+"/ui/webhooks"),
		chromedp.WaitVisible(chromedp.CSS("#webhooks")),
		chromedp.Poll[chromedp.Void](`document.getElementById("live-state").textContent.startsWith("Live:")`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate[chromedp.Void](`window.samePage = "yes"`),
	)
	newest := func() string {
		t.Helper()
		ws, err := r.Store.ListWebhooks(ctx, relay.WebhookFilter{Limit: 1})
		if err != nil || len(ws) != 1 {
			t.Fatalf("newest webhook: %v", err)
		}
		return ws[0].ID
	}
	if res, _ := r.Webhook(in.ID, `{"order":43,"lines":[{"sku":"A-1","qty":2}]}`, http.Header{"Content-Type": {"application/json"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", res.StatusCode)
	}
	id := newest()
	do("live row",
		chromedp.WaitVisible(chromedp.CSS("#wh-"+id)),
	)
	if same, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.samePage || "reloaded"`)); err != nil || same != "yes" {
		t.Errorf("the request log reloaded: %q, %v", same, err)
	}
	r.WaitDeliveries(relay.DeliveryFilter{WebhookID: id}, relay.DeliveryFailed, 1)

	// Scrolled down, the log pauses and counts what is new.
	do("paused",
		chromedp.Evaluate[chromedp.Void](`document.body.style.minHeight = "4000px"; window.scrollTo(0, 600)`),
		chromedp.Poll[chromedp.Void](`window.scrollY > 40`, chromedp.WithPollingTimeout(5*time.Second)),
	)
	r.Webhook(in.ID, `{"order":44}`, http.Header{"Content-Type": {"application/json"}})
	third := newest()
	do("paused count",
		chromedp.Poll[chromedp.Void](`document.getElementById("live-state").textContent === "Paused · 1 new"`, chromedp.WithPollingTimeout(15*time.Second)),
	)
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#wh-`+third+`").length`)); err != nil || n != 0 {
		t.Errorf("a paused log inserted the new row: %d, %v", n, err)
	}
	do("show new",
		chromedp.Click(chromedp.CSS("#live-show")),
		chromedp.WaitVisible(chromedp.CSS("#wh-"+third)),
	)
	do("request log screenshot",
		chromedp.Navigate(r.URL+"/ui/webhooks"),
		chromedp.WaitVisible(chromedp.CSS("#wh-"+third)),
		chromedp.Poll[chromedp.Void](`document.getElementById("live-state").textContent.startsWith("Live:")`, chromedp.WithPollingTimeout(15*time.Second)),
		screenshot("console-request-log"),
	)

	// Its detail: the function's log line and the destination's 500 body.
	do("webhook detail",
		chromedp.Click(chromedp.CSS("#wh-"+id+" a")),
		chromedp.WaitVisible(chromedp.CSS("#fn-log")),
	)
	if got := text("#fn-log"); !strings.Contains(got, "passing through") {
		t.Errorf("function log = %q", got)
	}
	if got := text("#deliveries"); !strings.Contains(got, "500") || !strings.Contains(got, "down for maintenance") {
		t.Errorf("deliveries on the detail = %q, want the 500 and its body", got)
	}
	do("webhook screenshot", screenshot("console-webhook"))
	do("replay from the detail",
		chromedp.Click(chromedp.CSS("#deliveries button")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := text(".notice"); !strings.Contains(notice, "Replayed to erp") {
		t.Errorf("replay notice = %q", notice)
	}
	if ok := r.WaitDeliveries(relay.DeliveryFilter{WebhookID: id}, relay.DeliverySucceeded, 1); ok[0].WebhookID != id {
		t.Errorf("replayed delivery %+v", ok[0])
	}

	// The editor runs an edited function against that webhook.
	do("run against the webhook",
		chromedp.Navigate(r.URL+"/ui/functions/enrich?webhook="+id),
		chromedp.WaitVisible(chromedp.CSS(".CodeMirror")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".CodeMirror").CodeMirror.setValue(`+jsString(edited)+`)`),
		chromedp.Click(chromedp.CSS("#run-webhook")),
		chromedp.WaitVisible(chromedp.CSS("#body-diff")),
	)
	if diff := text("#body-diff"); !strings.Contains(diff, `+   "enriched": true`) || !strings.Contains(diff, `"order": 43`) {
		t.Errorf("body diff of the run against the webhook = %q", diff)
	}
	if got := text("#run-log"); !strings.Contains(got, "enriched order") {
		t.Errorf("run log = %q", got)
	}
	do("editor screenshot", screenshot("console-editor"))

	mu.Lock()
	defer mu.Unlock()
	if documents < 5 {
		t.Errorf("saw %d page responses, want every page's", documents)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func hasCSP(h network.Headers) bool {
	for k, v := range h {
		if strings.EqualFold(k, "Content-Security-Policy") {
			s, _ := v.(string)
			return strings.Contains(s, "script-src 'self'") && strings.Contains(s, "frame-ancestors 'none'")
		}
	}
	return false
}

func exceptionText(d *cdpruntime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "<", `\u003c`)
	return `"` + r.Replace(s) + `"`
}
