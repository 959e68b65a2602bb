package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/api"
)

// rewriterLua logs, rewrites the body, and fails on a body that asks it to.
const rewriterLua = `print("got " .. r.RequestBody)
r:SetRequestBody("rewritten:" .. r.RequestBody)
r:SetRequestHeader("X-Rewritten", "yes")
if string.find(r.RequestBody, "fail", 1, true) then error("asked to fail") end
`

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// inputID creates an input with the CLI and returns its ID.
func (r *adminRelay) inputID(bucket, name string) string {
	r.t.Helper()
	var in api.Input
	r.okJSON(&in, "input", "create", bucket, name)
	return in.ID
}

// TestWebhooksCLI follows webhooks through the CLI alone: tail started
// first, webhooks sent with fnctl send (one failing the function, one
// refused 401), then ls, show, function run --webhook and export.
func TestWebhooksCLI(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	boom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "boom")
	}))
	t.Cleanup(boom.Close)
	dir := t.TempDir()
	fn := filepath.Join(dir, "rewriter.lua")
	if err := os.WriteFile(fn, []byte(rewriterLua), 0o644); err != nil {
		t.Fatal(err)
	}
	r.ok("function", "create", "rewriter", "-f", fn)
	r.ok("bucket", "create", "log")
	r.ok("bucket", "create", "locked", "--auth", "token")
	in := r.inputID("log", "in")
	locked := r.inputID("locked", "in")
	r.ok("output", "create", "log", "boom", "--destination", boom.URL, "--max-attempts", "1")
	r.ok("attach", "rewriter", "--input", in)

	// tail, started before the webhooks are sent.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tail := &syncBuffer{}
	tailDone := make(chan int, 1)
	go func() {
		env := map[string]string{"FNCTL_SERVER": r.url, "FNCTL_TOKEN": r.token}
		tailDone <- execute(ctx, []string{"webhooks", "tail"}, strings.NewReader(""), tail, &bytes.Buffer{}, func(k string) string { return env[k] })
	}()
	waitFor(t, "tail to follow", func() bool {
		r.run("send", "00000000-0000-4000-8000-000000000000", "--body", "ping")
		return strings.Contains(tail.String(), "(no input)")
	})

	out := r.ok("send", in, "--body", "first")
	contains(t, "send", out, "200 OK")
	var first api.WebhookPage
	waitFor(t, "the failed delivery", func() bool {
		r.okJSON(&first, "webhooks", "ls", "--bucket", "log", "--state", "failed")
		return len(first.Webhooks) == 1
	})
	r.ok("send", in, "--body", "please fail")
	out, errOut, code := r.run("send", locked, "--body", "no token")
	wantCode(t, code, 1, out, errOut)
	contains(t, "send to the locked bucket", out+errOut, "401")

	// ls: both stored webhooks, newest first; --failed; the 401 is not stored.
	out = r.ok("webhooks", "ls")
	contains(t, "ls", out, "ID", "RECEIVED", "BUCKET", "REQUEST", "STATUS", "DELIVERIES", "ERROR", "log", "POST /", "1 failed", "asked to fail")
	var all api.WebhookPage
	r.okJSON(&all, "webhooks", "ls", "--since", "1h")
	if len(all.Webhooks) != 2 || all.Webhooks[0].FunctionError == "" || all.Webhooks[1].ID != first.Webhooks[0].ID {
		t.Fatalf("webhooks ls = %+v", all.Webhooks)
	}
	failedID, okID := all.Webhooks[0].ID, all.Webhooks[1].ID
	var failed api.WebhookPage
	r.okJSON(&failed, "webhooks", "ls", "--failed")
	if len(failed.Webhooks) != 2 {
		t.Errorf("ls --failed = %+v, want the failed function and the failed delivery", failed.Webhooks)
	}
	r.okJSON(&failed, "webhooks", "ls", "--status", "401")
	if len(failed.Webhooks) != 0 {
		t.Errorf("ls --status 401 = %+v: refused webhooks are not stored", failed.Webhooks)
	}

	// show: the log, the changes, the error, the destination's answer.
	out = r.ok("webhooks", "show", okID)
	contains(t, "show", out, "Request: POST /", "first", "Logs:", "got first", "Changes:",
		`body: "first" -> "rewritten:first"`, `header X-Rewritten: "" -> "yes"`,
		"Forwarded: POST /", "Delivery ", "log/boom", "failed after 1 attempt", "500 Internal Server Error", "boom")
	out = r.ok("webhooks", "show", failedID)
	contains(t, "show failed", out, "Error:", "asked to fail", "got please fail", "Deliveries: none")
	var detail api.WebhookDetail
	r.okJSON(&detail, "webhooks", "show", okID)
	if len(detail.Deliveries) != 1 || string(detail.Deliveries[0].Attempts[0].ResponseBody) != "boom" {
		t.Errorf("show -o json deliveries = %+v", detail.Deliveries)
	}
	out = r.ok("deliveries", "show", detail.Deliveries[0].Delivery.ID)
	contains(t, "deliveries show", out, "Attempt 1", "500 Internal Server Error", "boom")

	// tail saw both webhooks, the 401 and the attempt.
	waitFor(t, "tail to see everything", func() bool {
		s := tail.String()
		return strings.Contains(s, "stored "+okID) && strings.Contains(s, "stored "+failedID+" (function failed)") &&
			strings.Contains(s, "401 locked/in") && strings.Contains(s, " not stored") && strings.Contains(s, "attempt  log/boom #1 failed 500")
	})
	cancel()
	if code := <-tailDone; code != 0 {
		t.Errorf("tail exit status %d:\n%s", code, tail.String())
	}

	// function run --webhook reproduces the stored result.
	out = r.ok("function", "run", "rewriter", "--webhook", okID)
	contains(t, "function run", out, "Forwarded: yes", "Modified:  header, body", "rewritten:first", "got first")
	var res api.Result
	r.okJSON(&res, "function", "run", "rewriter", "--webhook", okID)
	if res.Request.Body != string(detail.Forwarded.Body) || strings.Join(res.Logs, "\n") != "got first" {
		t.Errorf("run = %+v, want the stored %q", res, detail.Forwarded.Body)
	}
	out, errOut, code = r.run("function", "run", fn, "--webhook", failedID)
	wantCode(t, code, 1, out, errOut)
	contains(t, "function run FILE", out+errOut, "Forwarded: no (the function failed)", "asked to fail")

	// export writes a spec that fnctl test passes.
	exp := t.TempDir()
	out = r.ok("webhooks", "export", okID, "--spec", "--dir", exp)
	contains(t, "export", out, "rewriter.lua", ".spec.yaml")
	r.ok("webhooks", "export", failedID, "--spec", "--dir", exp)
	out, errOut, code = fnctl(t, "", "test", exp)
	wantCode(t, code, 0, out, errOut)
	contains(t, "test of the exported specs", out, "2 passed, 0 failed")
}

// TestSendSigned signs with fnctl send as GitHub and Stripe do, against
// the examples' signature checks.
func TestSendSigned(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("function", "create", "gh", "-f", "../../examples/github-signature/github-signature.lua", "--config", "GITHUB_WEBHOOK_SECRET=S")
	r.ok("function", "create", "stripe", "-f", "../../examples/stripe-signature/stripe-signature.lua", "--config", "STRIPE_WEBHOOK_SECRET=whsec_S")
	r.ok("bucket", "create", "signed")
	gh := r.inputID("signed", "gh")
	st := r.inputID("signed", "stripe")
	r.ok("attach", "gh", "--input", gh)
	r.ok("attach", "stripe", "--input", st)
	body := "../../testdata/github/push.json"

	out := r.ok("send", gh, "--body-file", body, "-H", "X-GitHub-Event: push", "--sign", "github", "--secret", "S")
	contains(t, "github, right secret", out, "200 OK")
	out, errOut, code := r.run("send", gh, "--body-file", body, "--sign", "github", "--secret", "wrong")
	wantCode(t, code, 1, out, errOut)
	contains(t, "github, wrong secret", out, "401 Unauthorized", "invalid signature")

	var ans sentAnswer
	r.okJSON(&ans, "send", st, "--body", `{"id":"evt_1","type":"charge.succeeded"}`, "--sign", "stripe", "--secret", "whsec_S")
	if ans.Status != 200 {
		t.Errorf("stripe, right secret: %+v", ans)
	}
	out, errOut, code = r.run("send", st, "--body", `{"id":"evt_1"}`, "--sign", "stripe", "--secret", "nope")
	wantCode(t, code, 1, out, errOut)

	_, errOut, code = r.run("send", gh, "--sign", "gitlab", "--secret", "x")
	wantCode(t, code, 2, "", errOut)
	contains(t, "unknown provider", errOut, "github, stripe, shopify, slack")
}

// TestSignRequest checks each provider's signature against one computed
// independently (openssl dgst -sha256 -hmac).
func TestSignRequest(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	tests := []struct{ provider, header, want string }{
		{"github", "X-Hub-Signature-256", "sha256=37beaf650f70b40ec9706929c2e9d835cbd63729988f48781e6383a147215f07"},
		{"stripe", "Stripe-Signature", "t=1700000000,v1=ab7bd212df57f3ef4ea3c17d4a1a71d8981ef595d4cd699b62517c68d89192a2"},
		{"slack", "X-Slack-Signature", "v0=2c2f1768697f34e61ddb48ad54466b045878021f87317bd8925086df2f67b996"},
		{"slack", "X-Slack-Request-Timestamp", "1700000000"},
		{"shopify", "X-Shopify-Hmac-Sha256", "N76vZQ9wtA7JcGkpwunYNcvWNymYj0h4HmODoUchXwc="},
	}
	for _, tt := range tests {
		h := http.Header{}
		if err := signRequest(h, tt.provider, "s", body, now); err != nil {
			t.Fatal(err)
		}
		if got := h.Get(tt.header); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.provider, tt.header, got, tt.want)
		}
	}
}
