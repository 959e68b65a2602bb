package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerThatIsNotARelay: --server pointing at another web server says
// so, instead of a JSON decoding error.
func TestServerThatIsNotARelay(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>other app</html>")
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"bucket", "ls", "--server", srv.URL, "--token", "x.y"},
		strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	wantCode(t, code, 1, out.String(), errOut.String())
	for _, want := range []string{srv.URL + " is not a relayfn admin API", "check --server"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "invalid character") {
		t.Errorf("stderr shows the decoding error:\n%s", errOut.String())
	}
}

// TestDeleteAttachedFunction: removing a function still attached names it
// and where it is attached, by name.
func TestDeleteAttachedFunction(t *testing.T) {
	r := newAdminRelay(t)
	fn := filepath.Join(t.TempDir(), "tag.lua")
	if err := os.WriteFile(fn, []byte(`r:SetRequestHeader("X-Tag", "1")`), 0o644); err != nil {
		t.Fatal(err)
	}
	r.ok("function", "push", "tag", "-f", fn)
	r.ok("bucket", "create", "ci")
	r.ok("input", "create", "ci", "github", "--function", "tag")
	out, errOut, code := r.run("function", "rm", "tag")
	wantCode(t, code, 1, out, errOut)
	want := `function "tag" is attached to input "github" of bucket "ci": detach it first`
	if !strings.Contains(errOut, want) || strings.Contains(errOut, "already exists") {
		t.Errorf("stderr = %q, want it to contain %q", errOut, want)
	}
}

// TestPushSyntaxErrorNamesTheFunction: a syntax error the relay reports
// names the function and the line, not a file name the user never wrote.
func TestPushSyntaxErrorNamesTheFunction(t *testing.T) {
	r := newAdminRelay(t)
	fn := filepath.Join(t.TempDir(), "fn.lua")
	if err := os.WriteFile(fn, []byte("local x = 1\nlocal y = = 2\nreturn x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := r.run("function", "push", "github-to-slack", "-f", fn)
	if code == 0 {
		t.Fatalf("push of a broken function succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, `function "github-to-slack": line 2`) || strings.Contains(errOut, "github-to-slack.lua") {
		t.Errorf("stderr = %q", errOut)
	}
}

// TestTestAssertsNothingAndLuaErrors: through fnctl test, a test without
// expect fails as asserting nothing, and in JUnit a Lua error is an
// <error>, not a <failure>.
func TestTestAssertsNothingAndLuaErrors(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"fn.lua": "if r.RequestBody == \"boom\" then local t = nil; print(t.x) end\n",
		"fn.spec.yaml": `version: v1
filename: fn.lua
tests:
  - name: no expect
    request: {body: ok}
  - name: raises
    request: {body: boom}
    expect: {stopForwarding: false}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	junit := filepath.Join(dir, "junit.xml")
	out, errOut, code := fnctl(t, "", "test", "--junit", junit, dir)
	wantCode(t, code, 1, out, errOut)
	if !strings.Contains(out, "the test asserts nothing") {
		t.Errorf("output lacks asserts nothing:\n%s", out)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	xml := string(x)
	for _, want := range []string{`tests="2" failures="1" errors="1"`, `type="LuaError"`, `type="AssertionFailure"`} {
		if !strings.Contains(xml, want) {
			t.Errorf("junit lacks %s:\n%s", want, xml)
		}
	}
}

// TestBenchStopsWhenEveryInvocationFails: with a long --duration, a
// function that always fails ends bench at once instead of running on.
func TestBenchStopsWhenEveryInvocationFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a guard only
	defer cancel()
	var out, errOut bytes.Buffer
	code := execute(ctx, []string{"bench", "testdata/fail.lua", "--duration", "1h"}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	wantCode(t, code, 1, out.String(), errOut.String())
	if !strings.Contains(errOut.String(), "stopped before measuring: every invocation failed") {
		t.Errorf("stderr = %q", errOut.String())
	}
	if ctx.Err() != nil {
		t.Errorf("bench ran until the guard's deadline")
	}
	if out.Len() != 0 {
		t.Errorf("bench printed measurements:\n%s", out.String())
	}
}
