package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

func TestRemoteBuckets(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.env["SHOP_PASSWORD"] = "sh0p-secret-value"

	out := r.ok("bucket", "create", "ci", "--description", "CI hooks")
	contains(t, "create", out, "created bucket ci (")
	out = r.ok("bucket", "create", "tok", "--auth", "token", "--ephemeral")
	contains(t, "create token", out, "created bucket tok", "fnctl bucket token create tok")
	var shop api.Bucket
	r.okJSON(&shop, "bucket", "create", "shop", "--auth", "basic", "--username", "shopify", "--password-env", "SHOP_PASSWORD")
	if shop.Name != "shop" || shop.Auth.Type != "basic" || shop.Auth.Username != "shopify" || shop.ID == "" {
		t.Errorf("create -o json = %+v", shop)
	}

	out = r.ok("bucket", "ls")
	contains(t, "ls", out, "NAME", "AUTH", "EPHEMERAL", "ci", "CI hooks", "tok", "token", "true", "shop", "basic")
	lacks(t, "ls", out, "sh0p-secret-value")
	var bs []api.Bucket
	r.okJSON(&bs, "bucket", "ls")
	if len(bs) != 3 {
		t.Errorf("ls -o json = %+v", bs)
	}

	out = r.ok("bucket", "get", "shop")
	contains(t, "get", out, "Name:", "shop", "Auth:", "basic (username shopify)", "Inputs:", "Outputs:")
	lacks(t, "get", out, "sh0p-secret-value")
	var b api.Bucket
	r.okJSON(&b, "bucket", "get", shop.ID)
	if b.ID != shop.ID {
		t.Errorf("get -o json = %+v", b)
	}

	// Bucket tokens: the credential on stdout once, the warning on stderr.
	out, errOut, code := r.run("bucket", "token", "create", "tok", "--name", "github")
	wantCode(t, code, 0, out, errOut)
	cred := strings.TrimSpace(out)
	if _, _, ok := relay.ParseToken(cred); !ok || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create stdout = %q, want the credential alone", out)
	}
	contains(t, "token create stderr", errOut, "(github) for bucket tok", "shown once")
	var nt api.NewToken
	r.okJSON(&nt, "bucket", "token", "create", "tok")
	if _, _, ok := relay.ParseToken(nt.Credential); !ok || nt.Token == nil {
		t.Errorf("token create -o json = %+v", nt)
	}
	out = r.ok("bucket", "token", "ls", "tok")
	contains(t, "token ls", out, "ID", "NAME", "github")
	lacks(t, "token ls", out, cred, strings.SplitN(cred, ".", 2)[1])
	var toks []api.Token
	r.okJSON(&toks, "bucket", "token", "ls", "tok")
	if len(toks) != 2 {
		t.Errorf("token ls -o json = %+v", toks)
	}

	// The token works on the bucket's inputs.
	var in api.Input
	r.okJSON(&in, "input", "create", "tok", "hook")
	send := func(auth string) int {
		req, _ := http.NewRequest(http.MethodPost, webhookURL(r.url, in.ID), strings.NewReader("x"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send("Bearer " + cred); st != http.StatusOK {
		t.Errorf("webhook with the bucket token: %d", st)
	}
	if st := send("Bearer " + toks[0].ID + ".wrong"); st == http.StatusOK {
		t.Errorf("webhook with a wrong token: %d", st)
	}

	out = r.ok("bucket", "rm", "ci")
	contains(t, "rm", out, "deleted bucket ci (")
	out, errOut, code = r.run("bucket", "get", "ci")
	wantCode(t, code, 1, out, errOut)
}

func TestRemoteAdminTokens(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	out, errOut, code := r.run("token", "create", "--name", "ci")
	wantCode(t, code, 0, out, errOut)
	cred := strings.TrimSpace(out)
	id, _, ok := relay.ParseToken(cred)
	if !ok {
		t.Fatalf("token create stdout = %q", out)
	}
	contains(t, "stderr", errOut, "(ci) for the admin API", "shown once")

	out = r.ok("token", "ls")
	contains(t, "ls", out, id, "ci", "bootstrap")
	var toks []api.Token
	r.okJSON(&toks, "token", "ls")
	if len(toks) != 2 {
		t.Errorf("ls -o json = %+v", toks)
	}

	// The new token works; then delete the first one with it.
	first := r.token
	r.token = cred
	firstID, _, _ := relay.ParseToken(first)
	out = r.ok("token", "rm", firstID)
	contains(t, "rm", out, "deleted token "+firstID)
	r.token = first
	out, errOut, code = r.run("token", "ls")
	wantCode(t, code, 1, out, errOut)
	contains(t, "deleted token", errOut, "unauthorized")
}

func TestRemoteInputsOutputsAttach(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("function", "create", "tag", "-f", tagLua)
	r.ok("function", "create", "audit", "-f", "testdata/echo.lua")
	r.ok("bucket", "create", "ci")
	r.ok("bucket", "create", "shop")

	out := r.ok("input", "create", "ci", "github", "--function", "tag")
	contains(t, "input create", out, "created input github (", "in bucket ci", "webhook URL: "+r.url+"/v1/webhooks/")
	var static api.Input
	r.okJSON(&static, "input", "create", "shop", "orders", "--response", "static", "--status", "202", "--body", "accepted", "-H", "x-handled: yes")
	if static.Response.Mode != "static" || static.Response.Status != 202 || static.Response.Headers["X-Handled"] != "yes" {
		t.Errorf("input create -o json = %+v", static)
	}
	var waiting api.Input
	r.okJSON(&waiting, "input", "create", "shop", "sync", "--response", "destination", "--timeout", "3s",
		"--id", "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b")
	if waiting.ID != "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b" || waiting.Response.Timeout.String() != "3s" {
		t.Errorf("input create --id = %+v", waiting)
	}

	out = r.ok("input", "ls")
	contains(t, "input ls", out, "BUCKET", "URL", "ci", "github", "tag", "default", "shop", "orders", "static 202", "destination (3s)", webhookURL(r.url, static.ID))
	out = r.ok("input", "ls", "shop")
	lacks(t, "input ls shop", out, "github")
	var ins []api.Input
	r.okJSON(&ins, "input", "ls")
	if len(ins) != 3 {
		t.Errorf("input ls -o json = %+v", ins)
	}
	out = r.ok("input", "get", static.ID)
	contains(t, "input get", out, "Name:", "orders", "Bucket:", "shop", "URL:", webhookURL(r.url, static.ID), "X-Handled: yes", "accepted")
	var gotIn api.Input
	r.okJSON(&gotIn, "input", "get", static.ID)
	if gotIn.ID != static.ID {
		t.Errorf("input get -o json = %+v", gotIn)
	}

	// Outputs: the destination's path is not shown in text.
	dest := "https://hooks.example.com/services/T0/B0/very-secret-path"
	// An agent window is for internal outputs only.
	if _, stderr, code := r.run("output", "create", "ci", "agent", "--destination", "http://localhost:3000/hooks", "--agent-window", "2s"); code != exitUsage ||
		!strings.Contains(stderr, "--agent-window") {
		t.Errorf("output create --agent-window without --internal: exit %d, stderr %q; want a usage error", code, stderr)
	}
	if _, stderr, code := r.run("output", "create", "ci", "bad", "--destination", dest, "--max-in-flight", "-1"); code != exitUsage ||
		!strings.Contains(stderr, "--max-in-flight") {
		t.Errorf("output create --max-in-flight -1: exit %d, stderr %q; want a usage error", code, stderr)
	}
	out = r.ok("output", "create", "ci", "slack", "--destination", dest, "--lock-path", "--timeout", "4s", "--max-attempts", "3", "--max-in-flight", "4")
	contains(t, "output create", out, "created output slack (", "→ https://hooks.example.com/…")
	lacks(t, "output create", out, "very-secret-path")
	var o api.Output
	r.okJSON(&o, "output", "create", "shop", "erp", "--destination", "https://erp.example.com/orders", "--function", "tag", "--response-function", "audit")
	if o.Destination != "https://erp.example.com/orders" || o.FunctionID == "" || o.ResponseFunctionID == "" {
		t.Errorf("output create -o json = %+v", o)
	}
	out = r.ok("output", "ls")
	contains(t, "output ls", out, "DESTINATION", "slack", "lock-path", "erp", "tag", "audit")
	lacks(t, "output ls", out, "very-secret-path", "/orders")
	var outs []api.Output
	r.okJSON(&outs, "output", "ls", "ci")
	if len(outs) != 1 || outs[0].Destination != dest || outs[0].Retries.MaxAttempts != 3 || !outs[0].LockPath || outs[0].Internal ||
		outs[0].MaxInFlight != 4 {
		t.Errorf("output ls ci -o json = %+v", outs)
	}
	out = r.ok("output", "get", o.ID)
	contains(t, "output get", out, "Name:", "erp", "Function:", "tag", "Response function:", "audit", "Retries:", "8 attempts, exponential backoff", "Timeout:", "10s",
		"Max in flight:", "16 (default)")

	// attach and detach.
	slack := outs[0]
	for _, tc := range []struct {
		args []string
		want string
		// check reads the state after.
		check func() bool
	}{
		{[]string{"attach", "audit", "--input", static.ID}, "attached function audit to input orders (" + static.ID + ")",
			func() bool { return r.inputFunction(static.ID) != "" }},
		{[]string{"attach", "tag", "--output-id", slack.ID}, "attached function tag to output slack",
			func() bool { return r.output(slack.ID).FunctionID != "" }},
		{[]string{"attach", "audit", "--output-id", slack.ID, "--response"}, "attached response function audit to output slack",
			func() bool { return r.output(slack.ID).ResponseFunctionID != "" }},
		{[]string{"detach", "--input", static.ID}, "detached the function of input orders",
			func() bool { return r.inputFunction(static.ID) == "" }},
		{[]string{"detach", "--output-id", slack.ID}, "detached the function of output slack",
			func() bool { o := r.output(slack.ID); return o.FunctionID == "" && o.ResponseFunctionID != "" }},
		{[]string{"detach", "--output-id", slack.ID, "--response"}, "detached the response function of output slack",
			func() bool { return r.output(slack.ID).ResponseFunctionID == "" }},
	} {
		out := r.ok(tc.args...)
		contains(t, strings.Join(tc.args, " "), out, tc.want)
		if !tc.check() {
			t.Errorf("%s: not done", strings.Join(tc.args, " "))
		}
	}
	var attached api.Output
	r.okJSON(&attached, "attach", "tag", "--output-id", slack.ID)
	if attached.ID != slack.ID || attached.FunctionID == "" {
		t.Errorf("attach -o json = %+v", attached)
	}
	out, errOut, code := r.run("attach", "nope", "--input", static.ID)
	wantCode(t, code, 1, out, errOut)
	contains(t, "attach nope", errOut, `function: no function "nope"`)
	out, errOut, code = r.run("function", "rm", "tag")
	wantCode(t, code, 1, out, errOut) // in use

	// rm.
	contains(t, "input rm", r.ok("input", "rm", static.ID), "deleted input orders ("+static.ID+")")
	contains(t, "output rm", r.ok("output", "rm", slack.ID), "deleted output slack ("+slack.ID+")")
	var del map[string]string
	r.okJSON(&del, "input", "rm", waiting.ID)
	if del["kind"] != "input" || del["id"] != waiting.ID {
		t.Errorf("input rm -o json = %v", del)
	}
	out, errOut, code = r.run("input", "get", static.ID)
	wantCode(t, code, 1, out, errOut)
}

func (r *adminRelay) inputFunction(id string) string {
	r.t.Helper()
	in, err := r.store.GetInput(r.t.Context(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return in.FunctionID
}

func (r *adminRelay) output(id string) *relay.Output {
	r.t.Helper()
	o, err := r.store.GetOutput(r.t.Context(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return o
}
