package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/runtime"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _, _ := relay.ParseToken(e.token)
	cases := map[string]string{
		"no header":      "",
		"not bearer":     "Basic " + e.token,
		"malformed":      "Bearer nodot",
		"wrong secret":   "Bearer " + id + ".wrong",
		"unknown token":  "Bearer 00000000-0000-0000-0000-000000000000.secret",
		"empty bearer":   "Bearer ",
		"secret missing": "Bearer " + id + ".",
	}
	for name, auth := range cases {
		for _, path := range []string{"/v1/admin/buckets", "/v1/admin/no/such/endpoint"} {
			r := e.doAuth(http.MethodGet, path, nil, auth)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s, %s: %d, want 401", name, path, r.status)
				continue
			}
			if r.header.Get("WWW-Authenticate") == "" || !strings.Contains(r.errMsg(t), "admin token") {
				t.Errorf("%s: 401 without WWW-Authenticate or message: %v %s", name, r.header, r.body)
			}
		}
	}
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets", nil)
	// lowercase scheme works too
	if r := e.doAuth(http.MethodGet, "/v1/admin/buckets", nil, "bearer "+e.token); r.status != http.StatusOK {
		t.Errorf("lowercase bearer: %d", r.status)
	}

	// A bucket token is not an admin token.
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets", map[string]any{"name": "ci"})
	var bt api.NewToken
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/ci/tokens", map[string]any{"name": "gh"}).json(t, &bt)
	if r := e.doAuth(http.MethodGet, "/v1/admin/buckets", nil, "Bearer "+bt.Credential); r.status != http.StatusUnauthorized {
		t.Errorf("bucket token on the admin API: %d, want 401", r.status)
	}

	// Bootstrap does nothing once a token exists.
	cred, created, err := admin.Bootstrap(context.Background(), e.store)
	if err != nil || created || cred != "" {
		t.Errorf("second Bootstrap = %q, %v, %v", cred, created, err)
	}
}

func TestAdminTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var nt api.NewToken
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/tokens", map[string]any{"name": "ci"}).json(t, &nt)
	if nt.Token == nil || nt.Token.Name != "ci" || !strings.HasPrefix(nt.Credential, nt.Token.ID+".") {
		t.Fatalf("new token = %+v", nt)
	}
	if strings.Contains(string(e.must(http.StatusOK, http.MethodGet, "/v1/admin/tokens", nil).body), "secret") {
		t.Error("the token list shows secrets")
	}
	var toks []*api.Token
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/tokens", nil).json(t, &toks)
	if len(toks) != 2 {
		t.Errorf("tokens = %d, want 2", len(toks))
	}
	// The new credential works; once deleted, it no longer does (even
	// though it was verified and remembered).
	if r := e.doAuth(http.MethodGet, "/v1/admin/tokens", nil, "Bearer "+nt.Credential); r.status != http.StatusOK {
		t.Fatalf("new credential: %d", r.status)
	}
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/tokens/"+nt.Token.ID, nil)
	if r := e.doAuth(http.MethodGet, "/v1/admin/tokens", nil, "Bearer "+nt.Credential); r.status != http.StatusUnauthorized {
		t.Errorf("deleted credential: %d, want 401", r.status)
	}
	// The last admin token stays.
	id, _, _ := relay.ParseToken(e.token)
	e.fails(http.StatusConflict, "last admin token", http.MethodDelete, "/v1/admin/tokens/"+id, nil)
	e.fails(http.StatusNotFound, "not found", http.MethodDelete, "/v1/admin/tokens/nope", nil)
	e.fails(http.StatusBadRequest, "name: longer than", http.MethodPost, "/v1/admin/tokens", map[string]any{"name": strings.Repeat("n", 201)})
	e.fails(http.StatusBadRequest, `unknown field "nmae"`, http.MethodPost, "/v1/admin/tokens", `{"nmae": "x"}`)
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(http.MethodGet, "/v1/admin/nothing", nil)
	if r.status != http.StatusNotFound || !strings.Contains(r.errMsg(t), "no such endpoint") {
		t.Errorf("unknown endpoint: %d %s", r.status, r.body)
	}
	r = e.do(http.MethodPut, "/v1/admin/buckets", nil)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("wrong method: %d %v %s", r.status, r.header, r.body)
	}
	e.fails(http.StatusBadRequest, "invalid JSON", http.MethodPost, "/v1/admin/buckets", `{"name":`)
	e.fails(http.StatusBadRequest, "empty request body", http.MethodPost, "/v1/admin/buckets", nil)
	e.fails(http.StatusBadRequest, "name: expected string", http.MethodPost, "/v1/admin/buckets", `{"name": 3}`)
	e.fails(http.StatusBadRequest, "more than one JSON value", http.MethodPost, "/v1/admin/buckets", `{"name": "a"} {}`)
	e.fails(http.StatusRequestEntityTooLarge, "larger than", http.MethodPost, "/v1/admin/buckets",
		`{"description": "`+strings.Repeat("x", admin.DefaultMaxBodyBytes)+`"}`)
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var b api.Bucket
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets", map[string]any{
		"name": "ci", "description": "CI", "ephemeral": true,
	}).json(t, &b)
	if b.ID == "" || b.Name != "ci" || b.Auth.Type != string(relay.AuthNone) || !b.Ephemeral || b.CreatedAt.IsZero() {
		t.Errorf("created bucket = %+v", b)
	}
	e.fails(http.StatusConflict, "already exists", http.MethodPost, "/v1/admin/buckets", map[string]any{"name": "ci"})
	e.fails(http.StatusBadRequest, "name: missing", http.MethodPost, "/v1/admin/buckets", map[string]any{})
	e.fails(http.StatusBadRequest, `name: "a b": use letters`, http.MethodPost, "/v1/admin/buckets", map[string]any{"name": "a b"})
	e.fails(http.StatusBadRequest, `auth.type: unknown auth type "oauth"`, http.MethodPost, "/v1/admin/buckets",
		map[string]any{"name": "x", "auth": map[string]any{"type": "oauth"}})
	e.fails(http.StatusBadRequest, "auth.password: missing", http.MethodPost, "/v1/admin/buckets",
		map[string]any{"name": "x", "auth": map[string]any{"type": "basic", "username": "u"}})

	var got api.Bucket
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets/ci", nil).json(t, &got)
	if got.ID != b.ID {
		t.Errorf("by name: %+v", got)
	}
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets/"+b.ID, nil).json(t, &got)
	if got.Name != "ci" {
		t.Errorf("by id: %+v", got)
	}
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/buckets/nope", nil)

	// Basic auth: the password is hashed and never answered.
	r := e.must(http.StatusOK, http.MethodPatch, "/v1/admin/buckets/ci", map[string]any{
		"description": "CI builds", "auth": map[string]any{"type": "basic", "username": "u", "password": "hunter2"},
	})
	r.json(t, &got)
	if got.Description != "CI builds" || got.Auth.Type != string(relay.AuthBasic) || got.Auth.Username != "u" || !got.Ephemeral {
		t.Errorf("patched = %+v", got)
	}
	if strings.Contains(string(r.body), "hunter2") || strings.Contains(string(r.body), "$2a$") {
		t.Errorf("the answer shows the password or its hash: %s", r.body)
	}
	sb, _ := e.store.GetBucket(context.Background(), "ci")
	if bcrypt.CompareHashAndPassword([]byte(sb.Auth.PasswordHash), []byte("hunter2")) != nil {
		t.Error("the stored hash does not match the password")
	}
	// A change of username keeps the password.
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/buckets/ci", map[string]any{"auth": map[string]any{"username": "v"}})
	sb2, _ := e.store.GetBucket(context.Background(), "ci")
	if sb2.Auth.PasswordHash != sb.Auth.PasswordHash || sb2.Auth.Username != "v" {
		t.Errorf("username change: %+v", sb2.Auth)
	}
	e.fails(http.StatusBadRequest, "auth.password: longer than 72 bytes", http.MethodPatch, "/v1/admin/buckets/ci",
		map[string]any{"auth": map[string]any{"password": strings.Repeat("p", 73)}})
	e.fails(http.StatusBadRequest, "only used with type basic", http.MethodPatch, "/v1/admin/buckets/ci",
		map[string]any{"auth": map[string]any{"type": "token", "password": "x"}})
	e.fails(http.StatusBadRequest, "name:", http.MethodPatch, "/v1/admin/buckets/ci", map[string]any{"name": ""})

	var bs []*api.Bucket
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets", nil).json(t, &bs)
	if len(bs) != 1 {
		t.Errorf("buckets = %d", len(bs))
	}
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/buckets/ci", nil)
	e.fails(http.StatusNotFound, "not found", http.MethodDelete, "/v1/admin/buckets/ci", nil)
	if r := e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("empty list = %s, want []", r.body)
	}
	if strings.Contains(e.logs.String(), "hunter2") {
		t.Error("the log shows a password")
	}
}

// TestBucketTokensReachTheRelay checks that a token made through the API
// is accepted by the ingress at once (the relay reloaded).
func TestBucketTokensReachTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets", map[string]any{"name": "ci", "auth": map[string]any{"type": "token"}})
	var in api.Input
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/ci/inputs", map[string]any{"name": "gh"}).json(t, &in)
	if r := e.webhook(in.ID, "{}", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("webhook without a token: %d, want 401", r.status)
	}
	var nt api.NewToken
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/ci/tokens", map[string]any{"name": "github"}).json(t, &nt)
	if nt.Token.BucketID == "" || nt.Credential == "" {
		t.Fatalf("bucket token = %+v", nt)
	}
	if r := e.webhook(in.ID, "{}", http.Header{"Authorization": {"Bearer " + nt.Credential}}); r.status != http.StatusOK {
		t.Errorf("webhook with the new token: %d, want 200", r.status)
	}
	var toks []*api.Token
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets/ci/tokens", nil).json(t, &toks)
	if len(toks) != 1 || toks[0].ID != nt.Token.ID {
		t.Errorf("bucket tokens = %+v", toks)
	}
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/tokens/"+nt.Token.ID, nil)
	if r := e.webhook(in.ID, "{}", http.Header{"Authorization": {"Bearer " + nt.Credential}}); r.status != http.StatusUnauthorized {
		t.Errorf("webhook with a deleted token: %d, want 401", r.status)
	}
	e.fails(http.StatusNotFound, "not found", http.MethodPost, "/v1/admin/buckets/nope/tokens", map[string]any{})
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/buckets/nope/tokens", nil)
	if strings.Contains(e.logs.String(), nt.Credential) {
		t.Error("the log shows a credential")
	}
}

func TestInputsAndOutputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dest := newDestination(t)
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets", map[string]any{"name": "ci"})
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/functions", map[string]any{
		"name": "tag", "source": `r:SetRequestHeader("X-Tag", cfg:GetValue("TAG"))`, "config": map[string]string{"TAG": "blue"},
	})

	const id = "0B7A3C52-6D1E-4A8F-9C39-2F1E5D7A9B10"
	var in api.Input
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/ci/inputs", map[string]any{
		"id": id, "name": "github", "response": map[string]any{"mode": "static", "status": 202, "body": "queued"},
	}).json(t, &in)
	if in.ID != strings.ToLower(id) || in.Response.Status != 202 || in.FunctionID != "" {
		t.Errorf("created input = %+v", in)
	}
	e.fails(http.StatusConflict, "already exists", http.MethodPost, "/v1/admin/buckets/ci/inputs", map[string]any{"id": id, "name": "other"})
	e.fails(http.StatusConflict, "already exists", http.MethodPost, "/v1/admin/buckets/ci/inputs", map[string]any{"name": "github"})
	e.fails(http.StatusBadRequest, `id: "nope" is not a UUID`, http.MethodPost, "/v1/admin/buckets/ci/inputs", map[string]any{"id": "nope", "name": "x"})
	e.fails(http.StatusBadRequest, "response.status: only used in static mode", http.MethodPost, "/v1/admin/buckets/ci/inputs",
		map[string]any{"name": "x", "response": map[string]any{"status": 201}})
	e.fails(http.StatusBadRequest, `response.mode: unknown mode "echo"`, http.MethodPost, "/v1/admin/buckets/ci/inputs",
		map[string]any{"name": "x", "response": map[string]any{"mode": "echo"}})
	e.fails(http.StatusBadRequest, `function: no function "nope"`, http.MethodPost, "/v1/admin/buckets/ci/inputs",
		map[string]any{"name": "x", "function": "nope"})
	e.fails(http.StatusNotFound, "not found", http.MethodPost, "/v1/admin/buckets/nope/inputs", map[string]any{"name": "x"})

	// Attach by name.
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/inputs/"+in.ID, map[string]any{"function": "tag"}).json(t, &in)
	fn, _ := e.store.GetFunction(context.Background(), "tag")
	if in.FunctionID != fn.ID || in.Response.Status != 202 {
		t.Errorf("attached input = %+v", in)
	}
	e.fails(http.StatusBadRequest, "id: an input's id cannot change", http.MethodPatch, "/v1/admin/inputs/"+in.ID,
		map[string]any{"id": "9d1e6f7a-0b2c-4d3e-8f4a-5b6c7d8e9f00"})
	e.fails(http.StatusNotFound, "not found", http.MethodPatch, "/v1/admin/inputs/nope", map[string]any{})

	var out api.Output
	e.fails(http.StatusBadRequest, `destination: "ftp://x" is not an http(s) URL`, http.MethodPost, "/v1/admin/buckets/ci/outputs",
		map[string]any{"name": "o", "destination": "ftp://x"})
	e.fails(http.StatusBadRequest, "destination: missing", http.MethodPost, "/v1/admin/buckets/ci/outputs", map[string]any{"name": "o"})
	e.fails(http.StatusBadRequest, `retries.backoff: unknown backoff "linear"`, http.MethodPost, "/v1/admin/buckets/ci/outputs",
		map[string]any{"name": "o", "destination": dest.URL, "retries": map[string]any{"backoff": "linear"}})
	e.fails(http.StatusBadRequest, `timeout: invalid duration "soon"`, http.MethodPost, "/v1/admin/buckets/ci/outputs",
		map[string]any{"name": "o", "destination": dest.URL, "timeout": "soon"})
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/ci/outputs", map[string]any{
		"name": "o", "destination": dest.URL + "/hooks", "timeout": "3s",
		"retries": map[string]any{"max_attempts": 2, "backoff": "fixed", "initial_interval": "10ms"},
	}).json(t, &out)
	if out.Timeout != api.Duration(3*time.Second) || out.Retries.MaxAttempts != 2 || out.Retries.InitialInterval != api.Duration(10*time.Millisecond) {
		t.Errorf("created output = %+v", out)
	}
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{
		"response_function": "tag", "lock_path": true, "timeout": 2000000000,
	}).json(t, &out)
	if out.ResponseFunctionID != fn.ID || !out.LockPath || out.Timeout != api.Duration(2*time.Second) || out.Destination != dest.URL+"/hooks" {
		t.Errorf("patched output = %+v", out)
	}
	var detached api.Output
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{"response_function": ""}).json(t, &detached)
	if detached.ResponseFunctionID != "" || detached.ID != out.ID {
		t.Errorf("detach: %+v", detached)
	}
	e.fails(http.StatusBadRequest, `response_function: no function "gone"`, http.MethodPatch, "/v1/admin/outputs/"+out.ID,
		map[string]any{"response_function": "gone"})
	e.fails(http.StatusBadRequest, "agent_window: applies to internal outputs only",
		http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{"agent_window": "2s"})
	e.fails(http.StatusBadRequest, "max_in_flight: must not be negative", http.MethodPatch, "/v1/admin/outputs/"+out.ID,
		map[string]any{"max_in_flight": -1})
	// Durations are answered as Go duration strings, and max_in_flight as
	// given.
	raw := e.must(http.StatusOK, http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{"max_in_flight": 4})
	for _, want := range []string{`"timeout":"2s"`, `"initial_interval":"10ms"`, `"max_in_flight":4`, `"internal":false`} {
		if !strings.Contains(string(raw.body), want) {
			t.Errorf("output answer %s lacks %s", raw.body, want)
		}
	}

	// The relay routes by what the API made: the input's function tags the
	// webhook, the static answer is sent, the output gets it.
	r := e.webhook(in.ID, `{"a":1}`, nil)
	if r.status != http.StatusAccepted || string(r.body) != "queued" {
		t.Errorf("webhook answer: %d %q", r.status, r.body)
	}
	got, body := dest.next(t)
	if got.Header.Get("X-Tag") != "blue" || body != `{"a":1}` || got.URL.Path != "/hooks" {
		t.Errorf("delivered %s %v %q", got.URL, got.Header, body)
	}

	var ins []*api.Input
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets/ci/inputs", nil).json(t, &ins)
	var outs []*api.Output
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/buckets/ci/outputs", nil).json(t, &outs)
	if len(ins) != 1 || len(outs) != 1 {
		t.Errorf("lists: %d inputs, %d outputs", len(ins), len(outs))
	}
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/inputs/"+in.ID, nil)
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/outputs/"+out.ID, nil)

	// A function in use cannot be deleted.
	e.fails(http.StatusConflict, "attached", http.MethodDelete, "/v1/admin/functions/tag", nil)

	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/inputs/"+in.ID, nil)
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/outputs/"+out.ID, nil)
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/inputs/"+in.ID, nil)
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/outputs/"+out.ID, nil)
	e.fails(http.StatusNotFound, "not found", http.MethodDelete, "/v1/admin/outputs/"+out.ID, nil)
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/functions/tag", nil)
}

func TestFunctions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var f api.Function
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/functions", map[string]any{
		"name": "greet", "timeout": "2s", "source": "r:SetRequestBody(\"hello \" .. cfg:GetValue(\"WHO\"))\n",
		"config": map[string]string{"WHO": "world"},
	}).json(t, &f)
	if f.ID == "" || f.Version != 1 || f.Timeout != api.Duration(2*time.Second) || f.Source == "" {
		t.Errorf("created = %+v", f)
	}
	e.fails(http.StatusConflict, "already exists", http.MethodPost, "/v1/admin/functions", map[string]any{"name": "greet", "source": "return"})
	e.fails(http.StatusBadRequest, "source: missing", http.MethodPost, "/v1/admin/functions", map[string]any{"name": "x"})
	e.fails(http.StatusBadRequest, `source: function "broken": line 4, column 3: syntax error near 'end'`, http.MethodPost, "/v1/admin/functions",
		map[string]any{"name": "broken", "source": "local x = 1\nif x then\n  print(\"a\"\nend\n"})
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/functions/broken", nil)

	// Lists leave the source out; a single function has it.
	var list []*api.Function
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions", nil).json(t, &list)
	if len(list) != 1 || list[0].Source != "" || list[0].Hash == "" {
		t.Errorf("list = %+v", list)
	}
	var got api.Function
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet", nil).json(t, &got)
	if !strings.Contains(got.Source, "hello") {
		t.Errorf("get = %+v", got)
	}

	// PUT: a new source is a new version; the same source is not.
	e.must(http.StatusOK, http.MethodPut, "/v1/admin/functions/greet", map[string]any{
		"source": "r:SetRequestBody(\"hi \" .. cfg:GetValue(\"WHO\"))\n",
	}).json(t, &got)
	if got.Version != 2 || got.Timeout != api.Duration(2*time.Second) {
		t.Errorf("after a new source: %+v", got)
	}
	e.must(http.StatusOK, http.MethodPut, "/v1/admin/functions/"+f.ID, map[string]any{
		"source": "r:SetRequestBody(\"hi \" .. cfg:GetValue(\"WHO\"))\n", "timeout": "4s",
	}).json(t, &got)
	if got.Version != 2 || got.Timeout != api.Duration(4*time.Second) {
		t.Errorf("after the same source: %+v", got)
	}
	e.fails(http.StatusBadRequest, `source: function "greet": line 1`, http.MethodPut, "/v1/admin/functions/greet", map[string]any{"source": "end"})
	e.fails(http.StatusBadRequest, "timeout: must not be negative", http.MethodPut, "/v1/admin/functions/greet", map[string]any{"timeout": "-1s"})

	var vs []*api.Version
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet/versions", nil).json(t, &vs)
	if len(vs) != 2 || vs[0].Source != "" {
		t.Errorf("versions = %+v", vs)
	}
	var v1 api.Version
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet/versions/1", nil).json(t, &v1)
	if !strings.Contains(v1.Source, "hello") {
		t.Errorf("version 1 = %+v", v1)
	}
	e.fails(http.StatusNotFound, "no version 9", http.MethodGet, "/v1/admin/functions/greet/versions/9", nil)
	e.fails(http.StatusBadRequest, "not a version number", http.MethodGet, "/v1/admin/functions/greet/versions/x", nil)

	// Configuration: keys are listed, values never.
	e.must(http.StatusNoContent, http.MethodPut, "/v1/admin/functions/greet/config/API_KEY", map[string]any{"value": "sk_live_123"})
	r := e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet/config", nil)
	var keys api.ConfigKeys
	r.json(t, &keys)
	if strings.Join(keys.Keys, ",") != "API_KEY,WHO" || strings.Contains(string(r.body), "sk_live") || strings.Contains(string(r.body), "world") {
		t.Errorf("config list = %s", r.body)
	}
	if r := e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet/config/API_KEY", nil); strings.Contains(string(r.body), "sk_live") {
		t.Errorf("config get shows the value: %s", r.body)
	}
	e.fails(http.StatusNotFound, "no config variable", http.MethodGet, "/v1/admin/functions/greet/config/NOPE", nil)

	// Invoke runs the current version with the stored configuration.
	var res api.Result
	e.must(http.StatusOK, http.MethodPost, "/v1/admin/functions/greet/invoke", map[string]any{
		"method": "PUT", "path": "x", "query": "a=1", "headers": map[string]any{"X-One": "1", "X-Two": []string{"a", "b"}},
		"body": "in", "metadata": map[string]string{"bucket_name": "ci"},
	}).json(t, &res)
	if res.Error != "" || res.Request.Body != "hi world" || !res.Request.BodyModified || res.Request.Method != "PUT" ||
		res.Request.Path != "/x" || res.Request.RawQuery != "a=1" || len(res.Request.Headers["X-Two"]) != 2 {
		t.Errorf("invoke = %+v", res)
	}
	// A failing function is a result, not an error.
	e.must(http.StatusOK, http.MethodPut, "/v1/admin/functions/greet", map[string]any{"source": `error("boom")`})
	e.must(http.StatusOK, http.MethodPost, "/v1/admin/functions/greet/invoke", map[string]any{}).json(t, &res)
	if !strings.Contains(res.Error, "greet.lua:1: boom") {
		t.Errorf("failed invoke = %+v", res)
	}
	e.fails(http.StatusNotFound, "not found", http.MethodPost, "/v1/admin/functions/nope/invoke", map[string]any{})

	e.must(http.StatusOK, http.MethodPut, "/v1/admin/functions/greet/config", map[string]string{"A": "1", "WHO": "you"}).json(t, &keys)
	if strings.Join(keys.Keys, ",") != "A,WHO" {
		t.Errorf("replaced keys = %v", keys.Keys)
	}
	cfg, _ := e.store.Config(context.Background(), f.ID)
	if len(cfg) != 2 || cfg["WHO"] != "you" || cfg["A"] != "1" {
		t.Errorf("stored config = %d keys", len(cfg))
	}
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/functions/greet/config/A", nil)
	e.fails(http.StatusNotFound, "not found", http.MethodDelete, "/v1/admin/functions/greet/config/A", nil)
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/functions/greet/config", nil)
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/greet/config", nil).json(t, &keys)
	if len(keys.Keys) != 0 {
		t.Errorf("after clear: %v", keys.Keys)
	}
	e.fails(http.StatusNotFound, "not found", http.MethodPut, "/v1/admin/functions/nope/config/K", map[string]any{"value": "v"})

	// Rename.
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/functions/greet", map[string]any{"name": "hello"})
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/functions/hello", nil)
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/functions/hello", nil)
	e.fails(http.StatusNotFound, "not found", http.MethodDelete, "/v1/admin/functions/hello", nil)

	for _, secret := range []string{"sk_live_123", "world"} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log shows the config value %q", secret)
		}
	}
}

func TestDeliveriesAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dest := newDestination(t)
	in, out, d := e.delivered(t, dest, "ci", "payload")

	var detail api.DeliveryDetail
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/deliveries/"+d.ID, nil).json(t, &detail)
	if detail.Delivery.ID != d.ID || len(detail.Attempts) != 1 || detail.Attempts[0].Status != 200 {
		t.Errorf("detail = %+v", detail)
	}
	for _, q := range []string{"?output=" + out.ID, "?bucket=ci&output=o", "?webhook=" + d.WebhookID, "?limit=1"} {
		var ds []*api.Delivery
		e.must(http.StatusOK, http.MethodGet, "/v1/admin/deliveries"+q, nil).json(t, &ds)
		if len(ds) != 1 {
			t.Errorf("%s: %d deliveries", q, len(ds))
		}
	}
	var none []*api.Delivery
	e.must(http.StatusOK, http.MethodGet, "/v1/admin/deliveries?state=failed", nil).json(t, &none)
	if len(none) != 0 {
		t.Errorf("failed deliveries = %d", len(none))
	}
	e.fails(http.StatusBadRequest, `state: unknown state "done"`, http.MethodGet, "/v1/admin/deliveries?state=done", nil)
	e.fails(http.StatusBadRequest, "limit:", http.MethodGet, "/v1/admin/deliveries?limit=0", nil)
	e.fails(http.StatusBadRequest, "before:", http.MethodGet, "/v1/admin/deliveries?before=yesterday", nil)
	e.fails(http.StatusBadRequest, `bucket: no bucket "nope"`, http.MethodGet, "/v1/admin/deliveries?bucket=nope", nil)
	e.fails(http.StatusBadRequest, `output: no output "o"`, http.MethodGet, "/v1/admin/deliveries?output=o", nil)
	e.fails(http.StatusNotFound, "not found", http.MethodGet, "/v1/admin/deliveries/nope", nil)

	// Replay sends the same webhook to the same output again.
	var nd api.Delivery
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/deliveries/"+d.ID+"/replay", nil).json(t, &nd)
	if nd.ID == d.ID || nd.WebhookID != d.WebhookID || nd.OutputID != d.OutputID || nd.State != string(relay.DeliveryPending) {
		t.Errorf("replay = %+v", nd)
	}
	_, body := dest.next(t)
	if body != "payload" {
		t.Errorf("replayed body = %q", body)
	}
	e.fails(http.StatusNotFound, "not found", http.MethodPost, "/v1/admin/deliveries/nope/replay", nil)
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{"disabled": true})
	e.fails(http.StatusConflict, "disabled", http.MethodPost, "/v1/admin/deliveries/"+d.ID+"/replay", nil)

	// An ephemeral bucket's webhooks cannot be replayed.
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/outputs/"+out.ID, map[string]any{"disabled": false})
	e.must(http.StatusOK, http.MethodPatch, "/v1/admin/buckets/ci", map[string]any{"ephemeral": true})
	e.webhook(in.ID, "secret payload", nil)
	dest.next(t)
	var ds []*api.Delivery
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.must(http.StatusOK, http.MethodGet, "/v1/admin/deliveries?state=succeeded", nil).json(t, &ds)
		if len(ds) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ds) != 3 {
		t.Fatalf("deliveries = %d, want 3", len(ds))
	}
	e.fails(http.StatusConflict, "ephemeral", http.MethodPost, "/v1/admin/deliveries/"+ds[0].ID+"/replay", nil)
}

// delivered creates the bucket with an input "gh" and an output "o" to
// dest, sends body through the input, and returns the input, the output
// and the webhook's delivery once it succeeded.
func (e *env) delivered(t *testing.T, dest *destination, bucket, body string) (api.Input, api.Output, *api.Delivery) {
	t.Helper()
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets", map[string]any{"name": bucket})
	var in api.Input
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/"+bucket+"/inputs", map[string]any{"name": "gh"}).json(t, &in)
	var out api.Output
	e.must(http.StatusCreated, http.MethodPost, "/v1/admin/buckets/"+bucket+"/outputs", map[string]any{"name": "o", "destination": dest.URL}).json(t, &out)
	e.webhook(in.ID, body, nil)
	dest.next(t)
	return in, out, waitDelivery(t, e, "/v1/admin/deliveries?bucket="+bucket+"&state=succeeded")
}

// waitDelivery polls the delivery list at path until it holds one.
func waitDelivery(t *testing.T, e *env, path string) *api.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ds []*api.Delivery
		e.must(http.StatusOK, http.MethodGet, path, nil).json(t, &ds)
		if len(ds) > 0 {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery at %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const applyDoc = `
server: {listen: ":9999"}
functions:
  - name: tag
    source: |
      r:SetRequestHeader("X-Tag", cfg:GetValue("TAG"))
    timeout: 3s
    config: {TAG: green}
buckets:
  - name: shop
    auth: {type: basic, username: shop, password: pw}
    inputs:
      - name: orders
        id: 6c3a1e2b-9f8d-4c7b-a6e5-d4c3b2a1f0e9
        function: tag
    outputs:
      - name: erp
        destination: %s
`

func TestApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dest := newDestination(t)
	doc := strings.Replace(applyDoc, "%s", dest.URL, 1)

	var rep api.Report
	e.must(http.StatusOK, http.MethodPost, "/v1/admin/apply?dry_run=true", doc).json(t, &rep)
	if !rep.DryRun || rep.Count(config.Created) != len(rep.Changes) {
		t.Errorf("dry run = %+v", rep)
	}
	if bs, _ := e.store.ListBuckets(context.Background()); len(bs) != 0 {
		t.Fatal("a dry run wrote")
	}
	var applied api.Report
	e.must(http.StatusOK, http.MethodPost, "/v1/admin/apply", doc).json(t, &applied)
	if applied.DryRun || applied.Count(config.Created) != 5 {
		t.Errorf("apply = %+v", applied)
	}
	// The relay routes by it at once.
	req := http.Header{"Authorization": {"Basic c2hvcDpwdw=="}} // shop:pw
	if r := e.webhook("6c3a1e2b-9f8d-4c7b-a6e5-d4c3b2a1f0e9", "order", req); r.status != http.StatusOK {
		t.Fatalf("webhook: %d", r.status)
	}
	got, _ := dest.next(t)
	if got.Header.Get("X-Tag") != "green" {
		t.Errorf("delivered headers %v", got.Header)
	}
	// Idempotent.
	var rep2 api.Report
	e.must(http.StatusOK, http.MethodPost, "/v1/admin/apply", doc).json(t, &rep2)
	if rep2.Changed() {
		t.Errorf("second apply: %+v", rep2.Changes)
	}
	if len(rep2.Warnings) != 1 || !strings.Contains(rep2.Warnings[0], "server: ignored") {
		t.Errorf("warnings = %q, want one about the server section", rep2.Warnings)
	}

	e.fails(http.StatusBadRequest, "functions[0].file: line 4: not allowed here", http.MethodPost, "/v1/admin/apply",
		"functions:\n  - name: f\n    # from disk\n    file: /etc/passwd\n")
	e.fails(http.StatusBadRequest, `functions[0].source: line 3: function "f": line 3: syntax error near 'then' at end of file`, http.MethodPost, "/v1/admin/apply",
		"functions:\n  - name: f\n    source: |\n      local x = 1\n      if x then\n")
	e.fails(http.StatusBadRequest, `buckets[0].outputs[0].destination: line 5: "ftp://x" is not an http(s) URL`, http.MethodPost, "/v1/admin/apply",
		"buckets:\n  - name: b\n    outputs:\n      - name: o\n        destination: ftp://x\n")
	e.fails(http.StatusBadRequest, "relay.yaml: line 1:", http.MethodPost, "/v1/admin/apply", "buckets: [\n")
	e.fails(http.StatusBadRequest, "dry_run:", http.MethodPost, "/v1/admin/apply?dry_run=maybe", doc)
	if strings.Contains(e.logs.String(), "green") || strings.Contains(e.logs.String(), ": pw") {
		t.Error("the log shows a secret of the applied document")
	}
}

// TestWithoutServer checks the API over a store alone: invoke runs on the
// engine, replays wait in the store.
func TestWithoutServer(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	e, err := runtime.New(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h, err := admin.New(admin.Options{Store: base.store, Engine: e})
	if err != nil {
		t.Fatal(err)
	}
	f := &functions.Function{Name: "up", Driver: "lua", Source: `r:SetRequestBody(string.upper(r.RequestBody) .. cfg:GetValue("S"))`}
	if err := base.store.CreateFunction(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	base.store.SetConfig(context.Background(), f.ID, "S", "!")
	req, _ := http.NewRequest(http.MethodPost, "/v1/admin/functions/up/invoke", strings.NewReader(`{"body": "hi"}`))
	req.Header.Set("Authorization", "Bearer "+base.token)
	rec := newRecorder()
	h.ServeHTTP(rec, req)
	var res api.Result
	resp{status: rec.Code, body: rec.Body.Bytes()}.json(t, &res)
	if rec.Code != http.StatusOK || res.Request.Body != "HI!" {
		t.Errorf("invoke without a server: %d %+v", rec.Code, res)
	}
}

func TestNewRefusesMissingParts(t *testing.T) {
	if h, err := admin.New(admin.Options{}); err == nil || h != nil {
		t.Fatalf("New without a store and engine = %v, %v; want an error", h, err)
	}
}
