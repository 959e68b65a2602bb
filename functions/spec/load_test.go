package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	s, err := Load("testdata/pass/all.spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "v1" || s.Driver != "lua" || s.Config["CHANNEL"] != "#ci" {
		t.Errorf("version, driver, config = %q, %q, %v", s.Version, s.Driver, s.Config)
	}
	if want := filepath.Join("testdata", "transform.lua"); s.FunctionPath != want {
		t.Errorf("FunctionPath = %q, want %q", s.FunctionPath, want)
	}
	if !strings.Contains(string(s.Source), "SetRequestBody") {
		t.Errorf("Source not read: %q", s.Source)
	}
	push, err := os.ReadFile("testdata/payloads/push.json")
	if err != nil {
		t.Fatal(err)
	}
	t0 := s.Tests[0]
	if t0.Request.Body != string(push) || t0.Request.BodyFile != "../payloads/push.json" {
		t.Errorf("body_file not read: body %q, body_file %q", t0.Request.Body, t0.Request.BodyFile)
	}
	if t0.Expect.Error == nil || *t0.Expect.Error || t0.Expect.Request == nil || t0.Expect.Request.JSON["count"] != 1 {
		t.Errorf("expect decoded wrong: %+v", t0.Expect)
	}
	// tests[1] merges tests[0]'s request with "<<: *push" and overrides header.
	t1 := s.Tests[1].Request
	if len(t1.Header) != 1 || t1.Header["X-Event"] != "ping" || t1.Metadata["bucket_name"] != "ci" || t1.Path != "/hooks" || t1.Body != string(push) {
		t.Errorf("merged request = %+v", t1)
	}
	// A single string stands for a list of one.
	if got := s.Tests[2].Expect.LogsContain; len(got) != 1 || got[0] != "received boom" {
		t.Errorf("logsContain = %q", got)
	}
	if s.Tests[4].Request.Method != "" || s.Tests[4].Expect.Request.JSON["bucket"] != "" {
		t.Errorf("defaults test = %+v", s.Tests[4])
	}
}

// TestLoadWebhookRelayFormat loads a spec written the way Webhook Relay
// documents `relay function test` specs.
func TestLoadWebhookRelayFormat(t *testing.T) {
	s, err := Load("testdata/whr/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := s.Tests[0].Expect.Request
	if s.Version != "v1" || s.Tests[0].Request.Header["foo"] != "bar" || s.Tests[0].Request.Body != "{\n  \"user\": \"jane\"\n}\n" {
		t.Errorf("spec = %+v", s)
	}
	if r.Modified == nil || r.BodyModified == nil || r.HeaderModified == nil || r.MethodModified == nil ||
		r.BodyContains == nil || r.BodyEquals == nil || r.MethodEquals == nil || r.PathEquals == nil ||
		r.PathContains == nil || r.QueryContains == nil || r.HeaderEquals["Authorization"] != "Bearer abc" {
		t.Errorf("expect.request = %+v", r)
	}
	if resp := s.Tests[0].Expect.Response; resp == nil || resp.BodyContains == nil || resp.BodyEquals == nil {
		t.Errorf("expect.response = %+v", resp)
	}
}

func TestLoadErrors(t *testing.T) {
	const head = "version: v1\nfilename: fn.lua\ntests:\n" // lines 1-3
	tests := []struct {
		name string
		yaml string
		want []string // each must be in the error
	}{
		{"unknown top-level key", "version: v1\nfilenam: fn.lua\ntests: [{name: a}]\n",
			[]string{`a.spec.yaml: filenam: line 2: unknown field "filenam" (did you mean "filename"?)`}},
		{"unknown expect key", head + "  - name: a\n    expect:\n      request:\n        bodycontains: x\n",
			[]string{`a.spec.yaml: tests[0].expect.request.bodycontains: line 7: unknown field "bodycontains" (did you mean "bodyContains"?)`}},
		{"snake case key", head + "  - name: a\n    expect:\n      response:\n        status_equals: 200\n",
			[]string{`tests[0].expect.response.status_equals: line 7: unknown field "status_equals" (did you mean "statusEquals"?)`}},
		{"unknown key without suggestion", head + "  - name: a\n    wat: 1\n",
			[]string{`tests[0].wat: line 5: unknown field "wat"`}},
		{"int of the wrong type", head + "  - name: a\n    expect:\n      response:\n        statusEquals: ok\n",
			[]string{`tests[0].expect.response.statusEquals: line 7: expected an integer, got "ok"`}},
		{"bool of the wrong type", head + "  - name: a\n    expect:\n      request:\n        bodyModified: \"yes\"\n",
			[]string{`tests[0].expect.request.bodyModified: line 7: expected true or false, got "yes"`}},
		{"json not a mapping", head + "  - name: a\n    expect:\n      request:\n        json: [1]\n",
			[]string{`a.spec.yaml: tests[0].expect.request.json: line 7: expected a mapping, got a list`}},
		{"string given a mapping", head + "  - name: a\n    request:\n      body: {a: 1}\n",
			[]string{`tests[0].request.body: line 6: expected a string, got a mapping`}},
		{"tests not a list", "filename: fn.lua\ntests: {name: a}\n",
			[]string{`tests: line 2: expected a list, got a mapping`}},
		{"missing function file", "version: v1\nfilename: missing.lua\ntests: [{name: a}]\n",
			[]string{`a.spec.yaml: filename: line 2: open `, `missing.lua: no such file or directory`}},
		{"no filename", "version: v1\ntests: [{name: a}]\n",
			[]string{`a.spec.yaml: filename: line 1: missing: name the function's file`}},
		{"body and body_file", head + "  - name: a\n    request:\n      body: x\n      body_file: body.json\n",
			[]string{`tests[0].request.body_file: line 7: body and body_file are both set`}},
		{"missing body_file", head + "  - name: a\n    request:\n      body_file: nope.json\n",
			[]string{`tests[0].request.body_file: line 6: open `, `nope.json: no such file`}},
		{"empty name", head + "  - name: \" \"\n",
			[]string{`tests[0].name: line 4: empty: every test needs a name`}},
		{"missing name", head + "  - request: {body: x}\n",
			[]string{`tests[0].name: line 4: empty`}},
		{"duplicate names", head + "  - name: a\n  - name: b\n  - name: a\n",
			[]string{`tests[2].name: line 6: duplicate test name "a" (also tests[0])`}},
		{"duplicate key", head + "  - name: a\n    request:\n      method: GET\n      method: PUT\n",
			[]string{`tests[0].request.method: line 7: duplicate key (first at line 6)`}},
		{"javascript driver", "version: v1\nfilename: fn.lua\ndriver: js\ntests: [{name: a}]\n",
			[]string{`driver: line 3: unsupported driver "js": relayfn runs Lua functions only`}},
		{"javascript file", "filename: fn.js\ntests: [{name: a}]\n",
			[]string{`filename: line 1: fn.js is a JavaScript function`}},
		{"unknown version", "version: v2\nfilename: fn.lua\ntests: [{name: a}]\n",
			[]string{`version: line 1: unsupported version "v2" (this build reads "v1")`}},
		{"no tests", "version: v1\nfilename: fn.lua\n",
			[]string{`tests: line 1: no tests`}},
		{"error false with errorContains", head + "  - name: a\n    expect:\n      error: false\n      errorContains: x\n",
			[]string{`tests[0].expect.errorContains: line 7: contradicts error: false`}},
		{"http answer without url", head + "  - name: a\n    http:\n      - match: {method: GET}\n",
			[]string{`tests[0].http[0].match.url: line 6: missing`}},
		{"invalid status", head + "  - name: a\n    expect:\n      response: {statusEquals: 42}\n",
			[]string{`tests[0].expect.response.statusEquals: line 6: invalid status 42`}},
		{"bad header name", head + "  - name: a\n    expect:\n      request:\n        headerEquals: {\"X Y\": z}\n",
			[]string{`tests[0].expect.request.headerEquals["X Y"]: line 7: invalid header name "X Y"`}},
		{"several problems at once", head + "  - name: a\n    foo: 1\n    bar: 2\n",
			[]string{`tests[0].foo: line 5: unknown field "foo"`, `tests[0].bar: line 6: unknown field "bar"`}},
		{"yaml syntax", "version: v1\ntests: [\n", []string{`a.spec.yaml: line 2: did not find expected node content`}},
		{"yaml syntax after a valid line", "version: v1\ntests:\n  - name: a\n    request: {}\n   expect: {}\n", []string{`a.spec.yaml: line 5: `}},
		{"empty file", "", []string{`a.spec.yaml: the spec is empty`}},
		{"not a mapping", "- a\n- b\n", []string{`a.spec.yaml: line 1: expected a mapping, got a list`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range map[string]string{
				"fn.lua":      "print('hi')\n",
				"fn.js":       "console.log('hi')\n",
				"body.json":   "{}",
				"a.spec.yaml": tc.yaml,
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Load(filepath.Join(dir, "a.spec.yaml"))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", s)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, want)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			} else if !strings.HasSuffix(fe.File, "a.spec.yaml") {
				t.Errorf("FieldError.File = %q", fe.File)
			}
		})
	}
}

func TestLoadMissingSpec(t *testing.T) {
	_, err := Load("testdata/nope.spec.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "testdata/nope.spec.yaml") {
		t.Errorf("err = %v", err)
	}
}

func TestDiscover(t *testing.T) {
	got, err := Discover([]string{"testdata/discover/a/notaspec.yaml", "testdata/discover", "testdata/discover/a/x.spec.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"testdata/discover/a/notaspec.yaml", // a file is taken as given
		"testdata/discover/a/b/spec.yaml",
		"testdata/discover/a/x.spec.yaml",
		"testdata/discover/top.spec.yaml",
	}
	for i := range want {
		want[i] = filepath.FromSlash(want[i])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Discover = %q, want %q", got, want)
	}
	if _, err := Discover([]string{"testdata/nope"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: err = %v", err)
	}
	// A hidden folder given by name is searched.
	got, err = Discover([]string{"testdata/discover/.hidden"})
	if err != nil || len(got) != 1 {
		t.Errorf("Discover(.hidden) = %q, %v", got, err)
	}
}
