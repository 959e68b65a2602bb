package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInlineThenParse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "push.json"), []byte(`{"ref":"main"}`), 0o644)
	spec := "version: v1\nfilename: fn.lua # not read when stored\ntests:\n  - name: push\n    request:\n      body_file: push.json\n    expect:\n      request:\n        bodyContains: main\n"
	os.WriteFile(filepath.Join(dir, "fn.spec.yaml"), []byte(spec), 0o644)
	data, err := Inline(filepath.Join(dir, "fn.spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "body_file") || !strings.Contains(string(data), "not read when stored") {
		t.Errorf("inlined spec:\n%s", data)
	}
	s, err := Parse("stored", data)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Tests[0].Request.Body; got != `{"ref":"main"}` {
		t.Errorf("body = %q", got)
	}

	for _, tc := range []struct{ name, doc, want string }{
		{"body_file", "tests:\n  - name: a\n    request: {body_file: x.json}\n    expect: {error: false}\n", "inline"},
		{"no tests", "version: v1\n", "no tests"},
		{"syntax", "tests: [\n", "stored"},
		{"unknown key", "tests:\n  - name: a\n    expect: {eror: true}\n", "eror"},
	} {
		if _, err := Parse("stored", []byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
