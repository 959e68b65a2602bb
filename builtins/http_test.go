package builtins_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/egress/acl"
	"github.com/relayfn/relayfn/runtime"
)

// httpPrelude gives every http test script the module and small asserts
// that fail the function (and so the test) with what differed.
const httpPrelude = `
local http = require("http")
local function eq(got, want, what)
  if got ~= want then error((what or "value") .. ": got " .. tostring(got) .. ", want " .. tostring(want), 2) end
end
local function has(s, sub, what)
  if type(s) ~= "string" or not string.find(s, sub, 1, true) then
    error((what or "value") .. ": " .. tostring(s) .. " does not contain " .. sub, 2)
  end
end
local function ok(resp, err)
  if err then error("unexpected error: " .. err, 2) end
  return resp
end
`

// httpWait bounds how long a test server holds a request; it only keeps a
// broken test from hanging, nothing is measured with it.
const httpWait = 10 * time.Second

// httpEgress is a real egress client; allowLoopback opens 127/8 and ::1
// for the test servers, as an operator's allow_ranges would.
func httpEgress(t *testing.T, allowLoopback bool, mod func(*egress.Config)) *egress.Client {
	t.Helper()
	cfg := egress.Config{Getenv: func(string) string { return "" }}
	if allowLoopback {
		cfg.AllowRanges = []string{"127.0.0.0/8", "::1/128"}
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := egress.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func httpEngine(t *testing.T, d egress.Doer, opts builtins.HTTPOptions) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.HTTP(d, opts)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// httpRun runs src (after the prelude) as bucket "ci" with the given
// invocation timeout (0: the engine's default).
func httpRun(t *testing.T, e *runtime.Engine, src string, timeout time.Duration) *runtime.Result {
	t.Helper()
	return httpRunMeta(t, e, src, timeout, map[string]string{"bucket_name": "ci"})
}

func httpRunMeta(t *testing.T, e *runtime.Engine, src string, timeout time.Duration, meta map[string]string) *runtime.Result {
	t.Helper()
	fn, err := e.Compile("t.lua", []byte(httpPrelude+src))
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	return e.Run(context.Background(), fn, &runtime.Input{
		Request:  runtime.Request{Method: "POST", Path: "/", Header: http.Header{}},
		Metadata: meta,
		Timeout:  timeout,
	})
}

// httpOK runs src and fails the test if the function raised an error.
func httpOK(t *testing.T, e *runtime.Engine, src string) *runtime.Result {
	t.Helper()
	res := httpRun(t, e, src, 0)
	if res.Err != nil {
		t.Fatalf("run: %v\nlogs: %q\n%s", res.Err, res.Logs, src)
	}
	return res
}

// httpServer starts a loopback server and returns its URL.
func httpServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// httpSlow answers after release is closed or the client gives up; close
// release at the end of the test so the server can shut down.
func httpSlow(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(httpWait):
		}
		io.WriteString(w, "late")
	})
	t.Cleanup(func() { close(release) })
	return url
}

func TestHTTPVerbs(t *testing.T) {
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if got := r.Header.Get("User-Agent"); got != "relayfn" {
			t.Errorf("%s: User-Agent %q, want relayfn", r.Method, got)
		}
		w.Header().Set("X-Method", r.Method)
		fmt.Fprintf(w, "%s %s body=%s", r.Method, r.URL.Path, body)
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	httpOK(t, e, fmt.Sprintf(`
local u = %q
eq(ok(http.get(u .. "/g")).body, "GET /g body=", "get")
eq(ok(http.post(u .. "/p", {body = "a"})).body, "POST /p body=a", "post")
eq(ok(http.put(u .. "/p", {body = "b"})).body, "PUT /p body=b", "put")
eq(ok(http.patch(u .. "/p", {body = "c"})).body, "PATCH /p body=c", "patch")
eq(ok(http.delete(u .. "/d")).body, "DELETE /d body=", "delete")
local h = ok(http.head(u .. "/h"))
eq(h.status_code, 200, "head status")
eq(h.body, "", "head body")
eq(h.body_size, 0, "head body_size")
eq(h.headers["X-Method"], "HEAD", "head header")
-- request takes any method, in any case (gluahttp upper-cases it)
eq(ok(http.request("get", u .. "/r")).body, "GET /r body=", "request get")
eq(ok(http.request("OPTIONS", u .. "/r")).body, "OPTIONS /r body=", "request options")
eq(ok(http.request("Post", u .. "/r", {body = "x"})).body, "POST /r body=x", "request post")
`, url))
}

func TestHTTPRequestOptions(t *testing.T) {
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		check := func(what, got, want string) {
			if got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.Method, r.URL.Path, what, got, want)
			}
		}
		switch r.URL.Path {
		case "/headers":
			check("Authorization", r.Header.Get("Authorization"), "Bearer t0k")
			check("X-Number", r.Header.Get("X-Number"), "42")
			check("User-Agent", r.Header.Get("User-Agent"), "custom/1")
			check("Accept", r.Header.Get("Accept"), "*/*")
		case "/query-string":
			check("query", r.URL.RawQuery, "page=2&q=a%20b")
		case "/query-append":
			check("query", r.URL.RawQuery, "keep=1&page=3")
		case "/query-table":
			check("query", r.URL.RawQuery, "n=7&tag=a&tag=b&x=y+z")
		case "/form":
			check("Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
			check("body", string(body), "a=1&b=x+y&list=1&list=2")
		case "/form-string":
			check("Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
			check("body", string(body), "username=bob&password=secret")
		case "/form-override":
			check("Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8")
			check("body", string(body), "a=1")
		case "/body":
			check("Content-Type", r.Header.Get("Content-Type"), "application/json")
			check("Content-Length", fmt.Sprint(r.ContentLength), "13")
			check("body", string(body), `{"name":"x"}`+"\n")
		case "/body-wins":
			check("Content-Type", r.Header.Get("Content-Type"), "")
			check("body", string(body), "raw")
		case "/cookies":
			a, _ := r.Cookie("session")
			b, _ := r.Cookie("theme")
			if a == nil || b == nil {
				t.Errorf("cookies: got %q", r.Header.Get("Cookie"))
				break
			}
			check("session", a.Value, "abc123")
			check("theme", b.Value, "dark")
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		io.WriteString(w, "ok")
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	httpOK(t, e, fmt.Sprintf(`
local u = %q
ok(http.get(u .. "/headers", {headers = {Authorization = "Bearer t0k", ["x-number"] = 42, ["User-Agent"] = "custom/1", Accept = "*/*"}}))
ok(http.get(u .. "/query-string", {query = "page=2&q=a%%20b"}))
ok(http.get(u .. "/query-append?keep=1", {query = "page=3"}))
ok(http.get(u .. "/query-table", {query = {tag = {"a", "b"}, x = "y z", n = 7}}))
ok(http.post(u .. "/form", {form = {a = 1, b = "x y", list = {"1", "2"}}}))
ok(http.post(u .. "/form-string", {form = "username=bob&password=secret"}))
ok(http.post(u .. "/form-override", {form = {a = "1"}, headers = {["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"}}))
ok(http.post(u .. "/body", {body = '{"name":"x"}' .. "\n", headers = {["Content-Type"] = "application/json"}}))
ok(http.post(u .. "/body-wins", {body = "raw", form = {a = "1"}}))
ok(http.get(u .. "/cookies", {cookies = {session = "abc123", theme = "dark"}}))
`, url))
}

func TestHTTPResponseFields(t *testing.T) {
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "first")
		w.Header().Add("X-Multi", "second")
		http.SetCookie(w, &http.Cookie{Name: "session_id", Value: "12345"})
		http.SetCookie(w, &http.Cookie{Name: "other", Value: "v"})
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":1}`)
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	res := httpOK(t, e, fmt.Sprintf(`
local resp = ok(http.get(%[1]q .. "/thing?x=1"))
eq(resp.status_code, 201, "status_code")
eq(resp.body, '{"id":1}', "body")
eq(resp.body_size, 8, "body_size")
eq(resp.url, %[1]q .. "/thing?x=1", "url")
eq(resp.headers["Content-Type"], "application/json", "Content-Type")
eq(resp.headers["content-type"], "application/json", "content-type (any case)")
eq(resp.headers["X-Multi"], "first", "first value of a repeated header")
eq(resp.headers["Content-Length"], "8", "Content-Length")
eq(resp.cookies.session_id, "12345", "cookie")
eq(resp.cookies.other, "v", "cookie")
eq(getmetatable(resp.headers), "locked", "headers metatable")
local names = {}
for k in pairs(resp.headers) do names[#names + 1] = k end
table.sort(names)
print(table.concat(names, ","))
`, url))
	if got, want := res.Logs[0], "Content-Length,Content-Type,Date,Set-Cookie,X-Multi"; got != want {
		t.Errorf("header names %q, want %q", got, want)
	}
}

func TestHTTPRedirect(t *testing.T) {
	var url string
	url = httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/middle?step=2", http.StatusFound)
		case "/middle":
			http.Redirect(w, r, url+"/new", http.StatusMovedPermanently)
		case "/new":
			io.WriteString(w, "arrived")
		case "/keep-body":
			http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.Method, b)
		}
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	httpOK(t, e, fmt.Sprintf(`
local resp = ok(http.get(%[1]q .. "/old"))
eq(resp.status_code, 200, "status")
eq(resp.body, "arrived", "body")
eq(resp.url, %[1]q .. "/new", "final url")
-- 307 repeats the method and the body
resp = ok(http.post(%[1]q .. "/keep-body", {body = "payload"}))
eq(resp.body, "POST payload", "307 body")
eq(resp.url, %[1]q .. "/echo", "final url after 307")
`, url))
}

func TestHTTPNon2xxIsNotAnError(t *testing.T) {
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no such thing", http.StatusNotFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"boom"}`)
		case "/redirect-nowhere":
			w.WriteHeader(http.StatusNotModified)
		}
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	httpOK(t, e, fmt.Sprintf(`
local resp, err = http.get(%[1]q .. "/missing")
eq(err, nil, "err")
eq(resp.status_code, 404, "status")
eq(resp.body, "no such thing\n", "body")
resp, err = http.post(%[1]q .. "/broken")
eq(err, nil, "err")
eq(resp.status_code, 500, "status")
eq(resp.body, '{"error":"boom"}', "body")
resp, err = http.get(%[1]q .. "/redirect-nowhere")
eq(err, nil, "err")
eq(resp.status_code, 304, "status")
`, url))
}

func TestHTTPTimeoutOption(t *testing.T) {
	url := httpSlow(t)
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	res := httpOK(t, e, fmt.Sprintf(`
for _, timeout in ipairs({"50ms", 0.05, "0.05"}) do
  local resp, err = http.get(%q, {timeout = timeout})
  eq(resp, nil, "resp")
  has(err, "timed out", "err")
  print(err)
end
`, url))
	host := strings.TrimPrefix(url, "http://")
	for _, line := range res.Logs {
		if want := "http: GET http://" + host + ": timed out after 50ms"; line != want {
			t.Errorf("err %q, want %q", line, want)
		}
	}
}

func TestHTTPDefaultTimeout(t *testing.T) {
	url := httpSlow(t)
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{DefaultTimeout: 50 * time.Millisecond})
	httpOK(t, e, fmt.Sprintf(`
local resp, err = http.get(%q)
eq(resp, nil, "resp")
has(err, "timed out after 50ms", "err")
`, url))
}

func TestHTTPInvocationDeadline(t *testing.T) {
	url := httpSlow(t)
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	// The request's own timeout (1h) is capped by the invocation's deadline.
	res := httpRun(t, e, fmt.Sprintf(`
local resp, err = http.get(%q, {timeout = "1h"})
print("returned", err)
`, url), 200*time.Millisecond)
	if !errors.Is(res.Err, runtime.ErrTimeout) {
		t.Fatalf("err = %v, want the invocation timeout", res.Err)
	}
	// Had the function gone on, the request's error said why.
	for _, l := range res.Logs {
		if !strings.Contains(l, "timed out") {
			t.Errorf("log %q does not say timed out", l)
		}
	}

	// A batch is cut short the same way.
	res = httpRun(t, e, fmt.Sprintf(`
local resps, errs = http.request_batch({{"GET", %[1]q}, {"GET", %[1]q}})
print("returned")
`, url), 200*time.Millisecond)
	if !errors.Is(res.Err, runtime.ErrTimeout) {
		t.Fatalf("batch: err = %v, want the invocation timeout", res.Err)
	}
}

func TestHTTPResponseTooLarge(t *testing.T) {
	big := strings.Repeat("x", 2048)
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length": // announced up front
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/chunked": // found while reading
			w.(http.Flusher).Flush()
			io.WriteString(w, big)
		case "/exact":
			io.WriteString(w, big[:1024])
		}
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{MaxResponseBytes: 1024})
	httpOK(t, e, fmt.Sprintf(`
for _, path in ipairs({"/length", "/chunked"}) do
  local resp, err = http.get(%[1]q .. path)
  eq(resp, nil, path)
  has(err, "response body too large: more than 1024 bytes", path)
end
local resp = ok(http.get(%[1]q .. "/exact"))
eq(resp.body_size, 1024, "a body at the cap")
`, url))

	// The egress client's own, smaller cap is reported too.
	small := httpEgress(t, true, func(c *egress.Config) { c.MaxResponseBytes = 100 })
	e = httpEngine(t, small, builtins.HTTPOptions{MaxResponseBytes: 1024})
	httpOK(t, e, fmt.Sprintf(`
for _, path in ipairs({"/length", "/chunked"}) do
  local resp, err = http.get(%[1]q .. path)
  eq(resp, nil, path)
  has(err, "too large", path)
end
`, url))
}

func TestHTTPRequestBatch(t *testing.T) {
	// /barrier answers only once three requests wait on it together, so
	// the batch passes only if they are in flight at the same time.
	const together = 3
	var mu sync.Mutex
	waiting := 0
	all := make(chan struct{})
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/barrier":
			mu.Lock()
			waiting++
			if waiting == together {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
				fmt.Fprintf(w, "barrier %s", r.URL.RawQuery)
			case <-time.After(httpWait):
				http.Error(w, "requests were not concurrent", http.StatusGatewayTimeout)
			}
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "failed")
		default:
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
		}
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	httpOK(t, e, fmt.Sprintf(`
local u = %q
local resps, errs = http.request_batch({
  {"GET", u .. "/barrier", {query = "n=1"}},
  {"post", u .. "/echo", {body = "hello"}},
  {"GET", u .. "/barrier", {query = "n=2"}},
  {"GET", "ftp://example.com/"},
  "not a table",
  {"GET", u .. "/fail"},
  {"GET", u .. "/barrier", {query = "n=3"}},
  {"GET", u .. "/x", "bad options"},
})
eq(resps[1].body, "barrier n=1", "1")
eq(resps[2].body, "POST /echo hello", "2")
eq(resps[3].body, "barrier n=2", "3")
eq(resps[4], nil, "4")
eq(resps[5], nil, "5")
eq(resps[6].status_code, 500, "6: a non-2xx answer is a response")
eq(resps[7].body, "barrier n=3", "7")
eq(resps[8], nil, "8")
eq(errs[1], nil, "errs 1")
eq(errs[2], nil, "errs 2")
eq(errs[3], nil, "errs 3")
has(errs[4], "unsupported scheme", "errs 4")
has(errs[5], "request must be a table", "errs 5")
eq(errs[6], nil, "errs 6")
eq(errs[7], nil, "errs 7")
has(errs[8], "options must be a table", "errs 8")

-- all succeeded: errs is nil, as in gluahttp
resps, errs = http.request_batch({{"GET", u .. "/a"}, {"DELETE", u .. "/b"}})
eq(errs, nil, "errs when all succeed")
eq(resps[1].body, "GET /a ", "a")
eq(resps[2].body, "DELETE /b ", "b")

resps, errs = http.request_batch({})
eq(next(resps), nil, "empty batch")
eq(errs, nil, "empty batch errs")
`, url))
}

func TestHTTPRequestBatchInOrder(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, r.URL.Path)
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{BatchConcurrency: 1})
	httpOK(t, e, fmt.Sprintf(`
local reqs = {}
for i = 1, 20 do reqs[i] = {"GET", %q .. "/" .. i} end
local resps, errs = http.request_batch(reqs)
eq(errs, nil, "errs")
for i = 1, 20 do eq(resps[i].body, "/" .. i, "resp " .. i) end
`, url))
	want := make([]string, 20)
	for i := range want {
		want[i] = fmt.Sprintf("/%d", i+1)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("with BatchConcurrency 1 the server saw %v, want %v", seen, want)
	}
}

func TestHTTPRequestBatchLimits(t *testing.T) {
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{MaxBatchSize: 3})
	res := httpRun(t, e, fmt.Sprintf(`
local u = %q
http.request_batch({{"GET", u}, {"GET", u}, {"GET", u}, {"GET", u}})
`, url), 0)
	if res.Err == nil || !strings.Contains(res.Error, "at most 3 in one batch") {
		t.Errorf("err = %v, want the batch size error", res.Err)
	}
	res = httpRun(t, e, `http.request_batch("nope")`, 0)
	if res.Err == nil || !strings.Contains(res.Error, "table expected") {
		t.Errorf("err = %v, want a table expected error", res.Err)
	}
}

func TestHTTPRequestLimit(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{MaxRequestsPerInvocation: 4})
	src := fmt.Sprintf(`
local u = %q
for i = 1, 2 do ok(http.get(u)) end
-- the batch gets the two that are left; the third is refused
local resps, errs = http.request_batch({{"GET", u}, {"GET", u}, {"GET", u}})
eq(resps[1].body, "ok", "batch 1")
eq(resps[2].body, "ok", "batch 2")
has(errs[3], "too many HTTP requests", "batch 3")
local resp, err = http.get(u)
eq(resp, nil, "resp")
has(err, "too many HTTP requests: at most 4 per invocation", "err")
`, url)
	httpOK(t, e, src)
	// The count is per invocation: the next one starts again.
	httpOK(t, e, src)
	mu.Lock()
	if hits != 8 {
		t.Errorf("server saw %d requests, want 8", hits)
	}
	mu.Unlock()

	// Invalid requests are not sent and not counted.
	httpOK(t, e, fmt.Sprintf(`
for i = 1, 10 do
  local _, err = http.get("not a url")
  has(err, "invalid URL", "err")
end
for i = 1, 4 do ok(http.get(%q)) end
`, url))
}

func TestHTTPDeniedByAddressGuard(t *testing.T) {
	var hit atomic.Bool
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) { hit.Store(true) })
	// No allow range: loopback is refused at dial time.
	e := httpEngine(t, httpEgress(t, false, nil), builtins.HTTPOptions{})
	res := httpOK(t, e, fmt.Sprintf(`
local resp, err = http.get(%q .. "/secret/path?token=hunter2", {headers = {Authorization = "Bearer hunter2"}})
eq(resp, nil, "resp")
print(err)
local resps, errs = http.request_batch({{"GET", %[1]q}})
eq(resps[1], nil, "batch resp")
print(errs[1])
`, url))
	want := (&egress.DeniedError{By: egress.ByGuard, Target: "127.0.0.1", Reason: "loopback"}).Error()
	for _, l := range res.Logs {
		if l != want {
			t.Errorf("err %q, want %q", l, want)
		}
	}
	if hit.Load() {
		t.Error("the denied request reached the server")
	}
}

func TestHTTPDeniedByACL(t *testing.T) {
	policy, err := acl.Load(strings.NewReader(`
version: v1
services:
  - name: ci
    action: enforce
    allowed_domains: [api.example.com]
default:
  action: open
`))
	if err != nil {
		t.Fatal(err)
	}
	url := httpServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	e := httpEngine(t, httpEgress(t, true, func(c *egress.Config) { c.ACL = policy }), builtins.HTTPOptions{})
	src := fmt.Sprintf(`
local resp, err = http.get(%q)
print(err or resp.body)
`, url)
	// The bucket is the ACL's service: "ci" is enforced, others are open.
	res := httpRun(t, e, src, 0)
	if res.Err != nil || len(res.Logs) != 1 || !strings.HasPrefix(res.Logs[0], `egress: host 127.0.0.1 denied by egress ACL for service "ci"`) {
		t.Errorf("bucket ci: err %v, logs %q", res.Err, res.Logs)
	}
	res = httpRunMeta(t, e, src, 0, map[string]string{"bucket_name": "other"})
	if res.Err != nil || len(res.Logs) != 1 || res.Logs[0] != "ok" {
		t.Errorf("bucket other: err %v, logs %q", res.Err, res.Logs)
	}
}

func TestHTTPDeniedByProxy(t *testing.T) {
	// A Smokescreen-style proxy that refuses everything.
	proxy := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Smokescreen-Role"); got != "ci" {
			t.Errorf("role header %q, want ci", got)
		}
		w.Header().Set("X-Smokescreen-Error", "host not in allowed_domains")
		w.WriteHeader(http.StatusProxyAuthRequired)
	})
	e := httpEngine(t, httpEgress(t, true, func(c *egress.Config) { c.Proxy = proxy }), builtins.HTTPOptions{})
	res := httpOK(t, e, `
local resp, err = http.get("http://api.example.com/x")
eq(resp, nil, "resp")
print(err)
`)
	if want := "denied by egress proxy: host not in allowed_domains"; len(res.Logs) != 1 || res.Logs[0] != want {
		t.Errorf("logs %q, want %q", res.Logs, want)
	}
}

func TestHTTPErrorMessages(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	e := httpEngine(t, httpEgress(t, true, nil), builtins.HTTPOptions{})
	cases := []struct{ call, want string }{
		{`http.get(CLOSED .. "/hook/s3cret?token=s3cret", {headers = {Authorization = "s3cret"}, body = "s3cret"})`, "http: GET " + closed + ": "},
		{`http.get("example.com/x")`, "http: invalid URL: it must start with http:// or https://"},
		{`http.get("ftp://example.com/x")`, `http: invalid URL: unsupported scheme "ftp" (want http or https)`},
		{`http.get("http:///path")`, "http: invalid URL: it has no host"},
		{`http.get("http://exa mple.com/s3cret")`, "http: invalid URL: invalid character"},
		{`http.get(42)`, "http: url must be a string, not a number"},
		{`http.get()`, "http: url must be a string, not a nil"},
		{`http.request()`, "http: method must be a string, not a nil"},
		{`http.request("", "http://example.com")`, "http: method is empty"},
		{`http.request("G T", "http://example.com")`, `http: G T http://example.com: net/http: invalid method "G T"`},
		{`http.get("http://example.com", "x")`, "http: GET http://example.com: options must be a table, not a string"},
		{`http.get("http://example.com", {timeout = "soon"})`, `http: GET http://example.com: invalid timeout "soon"`},
		{`http.get("http://example.com", {timeout = 0})`, "http: GET http://example.com: timeout must be positive"},
		{`http.get("http://example.com", {timeout = {}})`, "timeout must be a string or a number"},
		{`http.post("http://example.com", {body = {a = 1}})`, "body must be a string, not a table (use json.encode for tables)"},
		{`http.post("http://example.com", {form = true})`, "form must be a table or a string"},
		{`http.post("http://example.com", {form = {a = {b = 1}}})`, `form: value of "a" is a table that is not an array`},
		{`http.get("http://example.com", {headers = "x"})`, "headers must be a table"},
		{`http.get("http://example.com", {headers = {A = {}}})`, `headers: value of "A" is a table, not a string`},
		{`http.get("http://example.com", {cookies = {"x"}})`, "cookies: key 1 is not a string"},
		{`http.get("http://example.com", {query = 5})`, "query must be a string or a table, not a number"},
		{`http.get("http://example.com", {headers = {["Bad Name"] = "x"}})`, `http: GET http://example.com: headers: invalid header name "Bad Name"`},
		{`http.get("http://example.com", {headers = {["X-Token"] = "s3cret\r\nX-Evil: 1"}})`, `http: GET http://example.com: headers: invalid value for header "X-Token"`},
	}
	for _, c := range cases {
		t.Run(c.call, func(t *testing.T) {
			res := httpOK(t, e, fmt.Sprintf(`
local CLOSED = %q
local resp, err = %s
eq(resp, nil, "resp")
print(err)
`, closed, c.call))
			got := res.Logs[0]
			if strings.HasPrefix(c.want, "http: ") && !strings.HasPrefix(got, c.want) || !strings.Contains(got, c.want) {
				t.Errorf("err %q, want it to contain %q", got, c.want)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("err %q shows the URL's path, query, headers or body", got)
			}
		})
	}
}

// fakeDoer records the calls it gets and answers from answer.
type fakeDoer struct {
	mu     sync.Mutex
	calls  []fakeCall
	answer func(req *http.Request) (*http.Response, error)
}

type fakeCall struct {
	service, method, url, userAgent string
	hasDeadline                     bool
}

func (f *fakeDoer) Do(ctx context.Context, service string, req *http.Request) (*http.Response, error) {
	_, ok := ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{service, req.Method, req.URL.String(), req.Header.Get("User-Agent"), ok})
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(req)
	}
	return &http.Response{StatusCode: 202, Header: http.Header{"X-Fake": {"yes"}}, Body: io.NopCloser(strings.NewReader("fake"))}, nil
}

func TestHTTPFakeDoerGetsService(t *testing.T) {
	d := &fakeDoer{}
	e := httpEngine(t, d, builtins.HTTPOptions{UserAgent: "relayfn-test"})
	src := `
local resp = ok(http.post("https://api.example.com/v1/things?x=1", {body = "b"}))
eq(resp.status_code, 202, "status")
eq(resp.body, "fake", "body")
eq(resp.headers["x-fake"], "yes", "header")
-- no Request on the response: the URL asked for
eq(resp.url, "https://api.example.com/v1/things?x=1", "url")
local resps, errs = http.request_batch({{"GET", "https://api.example.com/a"}})
eq(errs, nil, "errs")
`
	if res := httpRun(t, e, src, 0); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := httpRunMeta(t, e, src, 0, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []fakeCall{
		{"ci", "POST", "https://api.example.com/v1/things?x=1", "relayfn-test", true},
		{"ci", "GET", "https://api.example.com/a", "relayfn-test", true},
		{"", "POST", "https://api.example.com/v1/things?x=1", "relayfn-test", true},
		{"", "GET", "https://api.example.com/a", "relayfn-test", true},
	}
	if !slices.Equal(d.calls, want) {
		t.Errorf("calls\n%v\nwant\n%v", d.calls, want)
	}
}

func TestHTTPDoerPanicsAndErrors(t *testing.T) {
	d := &fakeDoer{answer: func(req *http.Request) (*http.Response, error) {
		switch req.URL.Path {
		case "/panic":
			panic("doer exploded")
		case "/nil":
			return nil, nil
		case "/nobody":
			return &http.Response{StatusCode: 204}, nil
		case "/denied":
			return nil, &egress.DeniedError{By: egress.ByProxy, Reason: "nope"}
		}
		return nil, errors.New("mock: no match")
	}}
	e := httpEngine(t, d, builtins.HTTPOptions{})
	httpOK(t, e, `
local u = "https://api.example.com"
local resp, err = http.get(u .. "/panic")
eq(resp, nil, "resp")
has(err, "http: GET https://api.example.com: internal error: doer exploded", "single panic")
local resps, errs = http.request_batch({{"GET", u .. "/panic"}, {"GET", u .. "/nobody"}, {"GET", u .. "/nil"}, {"GET", u .. "/denied"}, {"GET", u .. "/other"}})
has(errs[1], "internal error: doer exploded", "batch panic")
eq(resps[2].status_code, 204, "no body")
eq(resps[2].body, "", "no body")
has(errs[3], "no response", "nil response")
eq(errs[4], "denied by egress proxy: nope", "denial")
eq(errs[5], "http: GET https://api.example.com: mock: no match", "other error")
`)
}

func TestHTTPNoDoer(t *testing.T) {
	e := httpEngine(t, nil, builtins.HTTPOptions{})
	httpOK(t, e, `
local resp, err = http.get("https://api.example.com")
eq(resp, nil, "resp")
has(err, "no HTTP client is configured", "err")
`)
}
