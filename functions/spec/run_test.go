package spec

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/runtime"
)

func newEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// failures maps each test's name to its failures as strings.
func failures(r *Report) map[string][]string {
	m := make(map[string][]string, len(r.Tests))
	for _, tr := range r.Tests {
		var s []string
		for _, f := range tr.Failures {
			s = append(s, f.String())
		}
		m[tr.Name] = s
	}
	return m
}

func TestRunPassing(t *testing.T) {
	e := newEngine(t)
	for _, path := range []string{
		"testdata/pass/all.spec.yaml",
		"testdata/pass/passthrough.spec.yaml",
		"testdata/whr/spec.yaml",
	} {
		t.Run(path, func(t *testing.T) {
			r := RunFile(context.Background(), e, path, Options{})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if len(r.Tests) == 0 || !r.OK() || r.Passed() != len(r.Spec.Tests) {
				t.Errorf("passed %d of %d", r.Passed(), len(r.Tests))
			}
			for name, fails := range failures(r) {
				if len(fails) > 0 {
					t.Errorf("%s:\n%s", name, strings.Join(fails, "\n"))
				}
			}
			for _, tr := range r.Tests {
				if tr.Result == nil || tr.Duration <= 0 || tr.Logs == nil {
					t.Errorf("%s: result %v, duration %v, logs %q", tr.Name, tr.Result != nil, tr.Duration, tr.Logs)
				}
			}
		})
	}
}

func TestRunLogsKept(t *testing.T) {
	r := RunFile(context.Background(), newEngine(t), "testdata/pass/all.spec.yaml", Options{})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := []string{"received push", "[info] path /hooks"}
	if got := r.Tests[0].Logs; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logs = %q, want %q", got, want)
	}
}

func TestRunFailing(t *testing.T) {
	e := newEngine(t)
	want := map[string][]string{
		"wrong bodyContains": {
			`expect.request.bodyContains: expected body to contain "pull", got "{\"event\":\"push\",\"channel\":\"#ci\",\"bucket\":\"\",\"query\":\"\",\"size\":2,\"count\":1.0,\"ok\":true,\"tags\":[\"a\",\"b\"],\"nested\":{\"x\":1,\"y\":[1,2.5]},\"none\":null}"`,
		},
		"wrong bodyEquals": {
			`expect.request.bodyEquals: expected body "hello\n", got "hello" (they differ only in leading or trailing whitespace)`,
		},
		"wrong headerEquals": {
			`expect.request.headerEquals.X-Missing: expected header X-Missing to be "1", got no such header`,
			`expect.request.headerEquals.content-type: expected header content-type to be "text/plain", got "application/json"`,
		},
		"wrong methodEquals": {
			`expect.request.methodEquals: expected method "POST", got "PUT"`,
		},
		"wrong modified flags": {
			`expect.request.modified: expected false, got true`,
			`expect.request.bodyModified: expected false, got true`,
			`expect.request.headerModified: expected false, got true`,
			`expect.request.methodModified: expected false, got true`,
			`expect.request.pathModified: expected false, got true`,
			`expect.request.queryModified: expected false, got true`,
		},
		"wrong path and query": {
			`expect.request.pathEquals: expected path "/in", got "/in/forwarded" (first difference at byte 3)`,
			`expect.request.pathContains: expected path to contain "zzz", got "/in/forwarded"`,
			`expect.request.queryEquals: expected query "a=1", got "seen=1&a=1" (first difference at byte 0)`,
			`expect.request.queryContains: expected query to contain "b=2", got "seen=1&a=1"`,
		},
		"wrong json": {
			`expect.request.json.count: expected count to be 2, got 1.0`,
			`expect.request.json["missing.path"]: expected missing.path to be 1, but the body has no such path`,
			`expect.request.json.nested: expected nested to be {"x":1}, got {"x":1,"y":[1,2.5]}`,
			`expect.request.json.ok: expected ok to be "true", got true`,
			`expect.request.json.tags: expected tags to be ["a"], got ["a","b"]`,
		},
		"wrong response": {
			`expect.response.modified: expected false, got true`,
			`expect.response.statusEquals: expected status 200, got 202`,
			`expect.response.bodyContains: expected response body to contain "nope", got "accepted push"`,
			`expect.response.bodyEquals: expected response body "accepted", got "accepted push" (first difference at byte 8)`,
			`expect.response.headerEquals.X-Handled: expected header X-Handled to be "no", got "yes"`,
		},
		"wrong stopForwarding": {
			`expect.stopForwarding: expected true, got false`,
		},
		"wrong logsContain": {
			`expect.logsContain[0]: expected the log to contain "never printed", got ["received push","[info] path /"]`,
		},
		"unexpected error": {
			`error: function failed: testdata/transform.lua:15: cannot handle boom`,
		},
		"expected error missing": {
			`expect.error: expected the function to fail, but it ran to the end`,
		},
		"errorContains mismatch": {
			`expect.errorContains: expected an error containing "other", got "testdata/transform.lua:15: cannot handle boom"`,
		},
		"errorContains without error": {
			`expect.errorContains: expected an error containing "boom", but the function ran to the end`,
		},
		"error false but failed": {
			`expect.error: function failed: testdata/transform.lua:15: cannot handle boom`,
		},
		"json of a body that is not JSON": {
			`expect.request.json: expected a JSON body, got "not json"`,
		},
		"long actual is cut": {
			`expect.request.bodyContains: expected body to contain "y", got "` + strings.Repeat("x", 200) + `"… (500 bytes)`,
		},
		"side effects need a sandbox": {
			`expect.http: not supported by this build: no sandbox for http, bigquery and email calls is wired in, so the function was not run`,
		},
	}
	r := RunFile(context.Background(), e, "testdata/fail/wrong.spec.yaml", Options{})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.Passed() != 0 || r.Failed() != len(want) || r.OK() {
		t.Errorf("passed %d, failed %d, want 0 and %d", r.Passed(), r.Failed(), len(want))
	}
	got := failures(r)
	for name, w := range want {
		if g := got[name]; strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: failures\n%s\nwant\n%s", name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected test %q", name)
		}
	}
	// Expected and actual are kept apart too.
	f := r.Tests[0].Failures[0]
	if f.Assertion != "expect.request.bodyContains" || f.Expected != `"pull"` || !strings.HasPrefix(f.Actual, `"{\"event\"`) {
		t.Errorf("failure = %+v", f)
	}
	// A failed test keeps its logs.
	if logs := r.Tests[0].Logs; len(logs) != 2 || logs[0] != "received push" {
		t.Errorf("logs = %q", logs)
	}

	r = RunFile(context.Background(), e, "testdata/fail/passthrough.spec.yaml", Options{})
	wantPT := []string{
		`expect.response.statusEquals: expected status 200, got 0 (not set)`,
		`expect.response.headerEquals.X-Handled: expected header X-Handled to be "yes", got no such header`,
	}
	if g := failures(r)["response never set"]; strings.Join(g, "\n") != strings.Join(wantPT, "\n") {
		t.Errorf("failures\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(wantPT, "\n"))
	}
}

func TestRunFilter(t *testing.T) {
	r := RunFile(context.Background(), newEngine(t), "testdata/pass/all.spec.yaml", Options{Run: regexp.MustCompile("^(ping|error)")})
	var names []string
	for _, tr := range r.Tests {
		names = append(names, tr.Name)
	}
	if strings.Join(names, "|") != "ping is answered and not forwarded|error is expected" || r.Skipped != 3 {
		t.Errorf("ran %q, skipped %d", names, r.Skipped)
	}
}

func TestRunCompileError(t *testing.T) {
	r := RunFile(context.Background(), newEngine(t), "testdata/compile/bad.spec.yaml", Options{})
	var se *runtime.SyntaxError
	if !errors.As(r.Err, &se) || !strings.HasPrefix(r.Err.Error(), "testdata/syntax_error.lua:") {
		t.Fatalf("Err = %v", r.Err)
	}
	if len(r.Tests) != 0 || r.Spec == nil || r.OK() {
		t.Errorf("report = %+v", r)
	}
}

func TestRunFileLoadError(t *testing.T) {
	r := RunFile(context.Background(), newEngine(t), "testdata/nope.spec.yaml", Options{})
	if r.Err == nil || r.Spec != nil || r.Path != "testdata/nope.spec.yaml" || r.OK() {
		t.Errorf("report = %+v", r)
	}
}

// TestRunTimeout: Options.Timeout reaches the invocation.
func TestRunTimeout(t *testing.T) {
	s := &Spec{
		Filename: "loop.lua",
		Source:   []byte("while true do end"),
		Tests:    []Test{{Name: "loops", Expect: Expect{ErrorContains: ptr("timed out")}}},
	}
	r := Run(context.Background(), newEngine(t), s, Options{Timeout: 50 * time.Millisecond})
	if r.Err != nil || !r.OK() {
		t.Errorf("report: err %v, failures %v", r.Err, failures(r))
	}
}

// sandbox is a stand-in for the real one: fake http, bigquery and email
// modules that record into Calls and answer from the test's http list.
func sandbox(t *Test) ([]runtime.Module, *Calls) {
	calls := &Calls{}
	httpMod := runtime.Module{Name: "http", Open: func(L *lua.LState) *lua.LTable {
		tbl := L.NewTable()
		tbl.RawSetString("get", L.NewFunction(func(L *lua.LState) int {
			url := L.CheckString(1)
			calls.AddHTTP(HTTPCall{Method: "GET", URL: url})
			a, ok := t.Answer("GET", url)
			if !ok {
				calls.Fail("no http answer matches GET " + url)
				L.Push(lua.LNil)
				L.Push(lua.LString("no answer for GET " + url))
				return 2
			}
			resp := L.NewTable()
			status := a.Respond.Status
			if status == 0 {
				status = 200
			}
			resp.RawSetString("status_code", lua.LNumber(status))
			resp.RawSetString("body", lua.LString(a.Respond.Body))
			L.Push(resp)
			return 1
		}))
		return tbl
	}}
	bqMod := runtime.Module{Name: "bigquery", Open: func(L *lua.LState) *lua.LTable {
		tbl := L.NewTable()
		tbl.RawSetString("insert", L.NewFunction(func(L *lua.LState) int {
			row := map[string]any{}
			L.CheckTable(2).ForEach(func(k, v lua.LValue) {
				switch v := v.(type) {
				case lua.LNumber:
					row[k.String()] = float64(v)
				default:
					row[k.String()] = v.String()
				}
			})
			calls.AddBigQuery(BigQueryInsert{Table: L.CheckString(1), Row: row})
			return 0
		}))
		return tbl
	}}
	emailMod := runtime.Module{Name: "email", Open: func(L *lua.LState) *lua.LTable {
		tbl := L.NewTable()
		tbl.RawSetString("send", L.NewFunction(func(L *lua.LState) int {
			m := L.CheckTable(1)
			calls.AddEmail(Email{
				From:    m.RawGetString("from").String(),
				To:      []string{m.RawGetString("to").String()},
				Subject: m.RawGetString("subject").String(),
				Text:    m.RawGetString("text").String(),
			})
			return 0
		}))
		return tbl
	}}
	return []runtime.Module{httpMod, bqMod, emailMod}, calls
}

func TestRunSandbox(t *testing.T) {
	e := newEngine(t)
	want := map[string][]string{
		"calls are recorded": nil,
		"wrong calls": {
			`expect.http[0]: expected POST https://api.example.com/users/2, got GET https://api.example.com/users/1`,
			`expect.http[0].bodyContains: expected the call's body to contain "x", got ""`,
			`expect.bigquery[0].table: expected table "other", got "events"`,
			`expect.bigquery[0].row.id: expected column id to be 42, got "42"`,
			`expect.bigquery[0].row.missing: expected column missing to be "x", but the row has no such column`,
			`expect.emails: expected 2 emails, got 1`,
			`expect.emails[0].to: expected a recipient "dev@example.com", got ["ops@example.com"]`,
			`expect.emails[0].subject: expected subject "build passed", got "build failed" (first difference at byte 6)`,
		},
		"unmatched call": {
			`sandbox: no http answer matches GET https://api.example.com/users/1`,
		},
	}
	r := RunFile(context.Background(), e, "testdata/sidefx/calls.spec.yaml", Options{Sandbox: sandbox})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := failures(r)
	for name, w := range want {
		if g := got[name]; strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: failures\n%s\nwant\n%s", name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}

	// Without a sandbox, none of these tests runs.
	r = RunFile(context.Background(), e, "testdata/sidefx/calls.spec.yaml", Options{})
	for _, tr := range r.Tests {
		if tr.Name == "unmatched call" {
			// Uses no sandbox key: it runs, and the missing module fails it.
			if tr.Passed() {
				t.Errorf("%s passed without an http module", tr.Name)
			}
			continue
		}
		if tr.Result != nil || len(tr.Failures) != 1 || !strings.Contains(tr.Failures[0].Message, "not supported by this build") {
			t.Errorf("%s: ran %v, failures %v", tr.Name, tr.Result != nil, tr.Failures)
		}
	}
}

func TestJSONEqual(t *testing.T) {
	tests := []struct {
		yaml, json string
		equal      bool
	}{
		{"1", "1.0", true},
		{"1.0", "1", true},
		{"1e3", "1000", true},
		{"0.1", "0.1", true},
		{"9007199254740993", "9007199254740993", true},
		{"9007199254740993", "9007199254740992", false},
		{"true", "true", true},
		{"true", `"true"`, false},
		{`"1"`, "1", false},
		{"null", "null", true},
		{"~", "false", false},
		{"[1, 2]", "[1,2.0]", true},
		{"[1, 2]", "[2,1]", false},
		{"{a: 1, b: [x]}", `{"b":["x"],"a":1}`, true},
		{"{a: 1}", `{"a":1,"b":2}`, false},
		{"{1: a}", `{"1":"a"}`, true},
		{"{a: {b: null}}", `{"a":{"b":null}}`, true},
		{".nan", "1", false},
	}
	for _, tc := range tests {
		var y any
		if err := yaml.Unmarshal([]byte(tc.yaml), &y); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(tc.json))
		dec.UseNumber()
		var j any
		if err := dec.Decode(&j); err != nil {
			t.Fatal(err)
		}
		if got := jsonEqual(canon(y), canon(j)); got != tc.equal {
			t.Errorf("jsonEqual(%s, %s) = %v, want %v", tc.yaml, tc.json, got, tc.equal)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := quote("héllo"); got != `"héllo"` {
		t.Errorf("quote = %s", got)
	}
	long := strings.Repeat("é", 150) // 300 bytes
	got := quote(long)
	if !strings.HasSuffix(got, `"… (300 bytes)`) || !strings.HasPrefix(got, `"`+strings.Repeat("é", 100)+`"`) {
		t.Errorf("quote(long) = %s", got)
	}
}

func ptr[T any](v T) *T { return &v }
