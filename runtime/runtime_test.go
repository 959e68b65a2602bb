package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

func newEngine(t testing.TB, opts runtime.Options) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func run(t testing.TB, e *runtime.Engine, src string, in *runtime.Input) *runtime.Result {
	t.Helper()
	fn, err := e.Compile("fn.lua", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if in == nil {
		in = &runtime.Input{}
	}
	return e.Run(context.Background(), fn, in)
}

func webhook() *runtime.Input {
	return &runtime.Input{
		Request: runtime.Request{
			Method:   "POST",
			Path:     "/hooks/gh",
			RawQuery: "a=1&b=two&a=3",
			Header: http.Header{
				"Content-Type":   {"application/json"},
				"X-Github-Event": {"push"},
			},
			Body: []byte(`{"ref":"refs/heads/main"}`),
		},
		Config:   map[string]string{"SECRET": "s3cr3t"},
		Metadata: map[string]string{"bucket_name": "ci", "input_name": "github"},
	}
}

func TestRequestReads(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	res := run(t, e, `
print(r.RequestBody)
print(r.RequestMethod, r.RequestPath, r.RequestRawQuery)
print(r.RequestHeader["Content-Type"], r.RequestHeader["content-type"], r.RequestHeader["X-GitHub-Event"], r.RequestHeader["x-github-event"])
print(r.RequestHeader["missing"] == nil)
print(r.RequestQuery["a"], r.RequestQuery["b"], r.RequestQuery["c"] == nil)
print(r.Metadata.bucket_name, r.Metadata.input_name, r.Metadata.output_id == "", r.Metadata.output_url == "")
print(cfg:GetValue("SECRET"), cfg:GetValue("NOPE") == "")
print(tostring(r))
`, webhook())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []string{
		`{"ref":"refs/heads/main"}`,
		"POST\t/hooks/gh\ta=1&b=two&a=3",
		"application/json\tapplication/json\tpush\tpush",
		"true",
		"1\ttwo\ttrue",
		"ci\tgithub\ttrue\ttrue",
		"s3cr3t\ttrue",
		"request",
	}
	if !reflect.DeepEqual(res.Logs, want) {
		t.Fatalf("logs:\n got %q\nwant %q", res.Logs, want)
	}
	if res.Request.Modified || res.Response.Modified || res.StopForwarding {
		t.Fatalf("reads must not modify: %+v", res)
	}
	if res.Request.Body != `{"ref":"refs/heads/main"}` || res.Request.Method != "POST" || res.Request.Path != "/hooks/gh" {
		t.Fatalf("unmodified request not passed through: %+v", res.Request)
	}
}

func TestRequestSetters(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, res *runtime.Result)
	}{
		{"body", `r:SetRequestBody("new") print(r.RequestBody)`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "body")
			eq(t, res.Request.Body, "new")
			eq(t, res.Logs[0], "new")
		}},
		{"method", `r:SetRequestMethod("put")`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "method")
			eq(t, res.Request.Method, "PUT")
		}},
		{"path", `r:SetRequestPath("v2/x")`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "path")
			eq(t, res.Request.Path, "/v2/x")
		}},
		{"query", `r:SetRequestRawQuery("?x=1") print(r.RequestQuery.x, r.RequestQuery.a == nil)`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "query")
			eq(t, res.Request.RawQuery, "x=1")
			eq(t, res.Logs[0], "1\ttrue")
		}},
		{"set header", `r:SetRequestHeader("X-Added", "yes") print(r.RequestHeader["x-added"])`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "header")
			eq(t, res.Request.Headers.Get("X-Added"), "yes")
			eq(t, res.Request.Headers.Get("X-Github-Event"), "push")
			eq(t, res.Logs[0], "yes")
		}},
		{"delete header", `r:DeleteRequestHeader("x-github-event") print(r.RequestHeader["X-GitHub-Event"] == nil)`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request, "header")
			eq(t, res.Request.Headers.Get("X-Github-Event"), "")
			eq(t, res.Logs[0], "true")
		}},
		{"response", `r:SetResponseBody("ok") r:SetResponseStatusCode(202) r:SetResponseHeader("X-Handled", "yes")`, func(t *testing.T, res *runtime.Result) {
			flags(t, res.Request)
			if !res.Response.Modified || res.Response.Status != 202 || res.Response.Body != "ok" || res.Response.Headers.Get("X-Handled") != "yes" {
				t.Fatalf("response: %+v", res.Response)
			}
		}},
		{"stop forwarding continues", `r:StopForwarding() print("after")`, func(t *testing.T, res *runtime.Result) {
			if !res.StopForwarding || res.Forward() {
				t.Fatal("StopForwarding not recorded")
			}
			eq(t, res.Logs[0], "after")
		}},
		{"top-level return ends", `r:SetRequestBody("a") if true then return end r:SetRequestBody("b")`, func(t *testing.T, res *runtime.Result) {
			eq(t, res.Request.Body, "a")
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		}},
	}
	e := newEngine(t, runtime.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := webhook()
			res := run(t, e, tt.src, in)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			tt.check(t, res)
			if got := in.Request.Header.Get("X-Added"); got != "" {
				t.Fatal("the input's header map was changed")
			}
		})
	}
}

func flags(t *testing.T, r runtime.RequestResult, want ...string) {
	t.Helper()
	got := map[string]bool{"body": r.BodyModified, "method": r.MethodModified, "path": r.PathModified, "query": r.RawQueryModified, "header": r.HeaderModified}
	for k, v := range got {
		w := false
		for _, x := range want {
			w = w || x == k
		}
		if v != w {
			t.Errorf("%s_modified = %v, want %v", k, v, w)
		}
	}
	if r.Modified != (len(want) > 0) {
		t.Errorf("modified = %v", r.Modified)
	}
}

func eq(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSetterErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`r.SetRequestBody("x")`, "must be called as r:SetRequestBody"},
		{`r:SetResponseStatusCode(42)`, "status code must be between 100 and 999"},
		{`r:SetRequestHeader("Bad Name", "v")`, "invalid header name"},
		{`r:SetRequestHeader("X", "a\r\nInjected: 1")`, "must not contain CR or LF"},
		{`r.RequestBody = "x"`, "r is read-only"},
		{`cfg.GetValue("x")`, "cfg:GetValue"},
		{`r:SetRequestBody(string.rep("x", 2000))`, "exceeds the limit of 1000 bytes"},
	}
	e := newEngine(t, runtime.Options{MaxBodyBytes: 1000})
	for _, tt := range tests {
		res := run(t, e, tt.src, webhook())
		if res.Err == nil || !strings.Contains(res.Error, tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.src, res.Error, tt.want)
		}
		if !strings.HasPrefix(res.Error, "fn.lua:1:") {
			t.Errorf("%s: error %q does not name the file and line", tt.src, res.Error)
		}
		if res.Forward() {
			t.Errorf("%s: a failed function must not forward", tt.src)
		}
	}
}

func TestBodyOverCap(t *testing.T) {
	e := newEngine(t, runtime.Options{MaxBodyBytes: 10})
	in := webhook()
	in.Request.Body = []byte(strings.Repeat("x", 11))
	res := run(t, e, `print("never")`, in)
	if !errors.Is(res.Err, runtime.ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", res.Err)
	}
	if len(res.Logs) != 0 {
		t.Fatal("function ran on an oversized body")
	}
}

func TestSyntaxErrorNamesFileAndLine(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	tests := []struct{ src, want string }{
		{"local x = 1\nlocal y = = 2\n", "github_to_slack.lua:2:"},
		{"if true then\n", "github_to_slack.lua:2:"},
		{"x = 1\nx = = 1\n", "github_to_slack.lua:2:"},
		{"x = 'unterminated", "github_to_slack.lua:1:"},
	}
	for _, tt := range tests {
		_, err := e.Compile("github_to_slack.lua", []byte(tt.src))
		var se *runtime.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: err = %v, want a SyntaxError", tt.src, err)
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %q does not start with %q", tt.src, err, tt.want)
		}
	}
}

func TestRuntimeErrorNamesFileAndLine(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	res := run(t, e, "local a = 1\nlocal b = nil\nprint(b.field)\n", nil)
	if !strings.HasPrefix(res.Error, "fn.lua:3:") {
		t.Fatalf("error %q does not name fn.lua:3", res.Error)
	}
	res = run(t, e, `error("custom failure")`, nil)
	if res.Error != "fn.lua:1: custom failure" {
		t.Fatalf("error = %q", res.Error)
	}
}

func TestCompileCache(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	a, _ := e.Compile("a.lua", []byte("x = 1"))
	b, _ := e.Compile("a.lua", []byte("x = 1"))
	c, _ := e.Compile("a.lua", []byte("x = 2"))
	if a != b {
		t.Fatal("same source compiled twice")
	}
	if a == c || a.Hash == c.Hash {
		t.Fatal("different sources share a compiled function")
	}
}

func TestLogs(t *testing.T) {
	e := newEngine(t, runtime.Options{MaxLogBytes: 100})
	res := run(t, e, `
print("a", 1, true, nil)
log.info("started", 2)
log.warn("careful")
log.error("bad")
local l = require("log")
l.info("via require")
for i = 1, 100 do print("spam spam spam") end
`, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []string{"a\t1\ttrue\tnil", "[info] started\t2", "[warn] careful", "[error] bad", "[info] via require"}
	if !reflect.DeepEqual(res.Logs[:5], want) {
		t.Fatalf("logs = %q", res.Logs)
	}
	if last := res.Logs[len(res.Logs)-1]; !strings.Contains(last, "log truncated") {
		t.Fatalf("log cap not applied: last line %q", last)
	}
}

func TestModules(t *testing.T) {
	opened := 0
	mod := runtime.Module{Name: "greet", Open: func(L *lua.LState) *lua.LTable {
		opened++
		t := L.NewTable()
		t.RawSetString("hello", L.NewFunction(func(L *lua.LState) int {
			c := runtime.CallOf(L)
			L.Push(lua.LString("hello " + c.Metadata("bucket_name")))
			return 1
		}))
		return t
	}}
	e := newEngine(t, runtime.Options{Modules: []runtime.Module{mod}, PoolSize: 1})
	src := `local g = require("greet") print(g.hello()) g.hello = nil print(require("greet") == g)`
	for i := 0; i < 3; i++ {
		res := run(t, e, src, webhook())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Logs[0] != "hello ci" || res.Logs[1] != "true" {
			t.Fatalf("logs = %q", res.Logs)
		}
	}
	if opened != 1 {
		t.Fatalf("engine module opened %d times on one pooled state, want 1", opened)
	}
	// An invocation's own module replaces the engine's.
	own := runtime.Module{Name: "greet", Open: func(L *lua.LState) *lua.LTable {
		t := L.NewTable()
		t.RawSetString("hello", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("mocked")); return 1 }))
		return t
	}}
	in := webhook()
	in.Modules = []runtime.Module{own}
	res := run(t, e, `print(require("greet").hello())`, in)
	if res.Err != nil || res.Logs[0] != "mocked" {
		t.Fatalf("own module: %v %q", res.Err, res.Logs)
	}
	res = run(t, e, `require("nope")`, nil)
	if !strings.Contains(res.Error, `module "nope" not found (available: greet, log)`) {
		t.Fatalf("error = %q", res.Error)
	}
}

func TestResultJSONShape(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	res := run(t, e, `r:SetRequestBody("b") print("x")`, webhook())
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		return sorted(ks)
	}
	golden := filepath.Join("testdata", "result_keys.golden")
	have := strings.Join(keys(got), ",") + "\n" + strings.Join(keys(got["request"]), ",") + "\n" + strings.Join(keys(got["response"]), ",") + "\n"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, []byte(have), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if have != string(want) {
		t.Fatalf("result JSON keys:\n%s\nwant:\n%s", have, want)
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
