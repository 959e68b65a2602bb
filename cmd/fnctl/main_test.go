package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fnctl runs the CLI in-process with stdin and returns what it wrote and
// its exit status.
func fnctl(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(string) string { return "" })
	return out.String(), errOut.String(), code
}

func wantCode(t *testing.T, got, want int, stdout, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout, stderr)
	}
}

func TestRunText(t *testing.T) {
	out, errOut, code := fnctl(t, "", "run", "testdata/echo.lua",
		"--method", "put", "--path", "hooks", "--query", "?a=1", "-H", "X-Event: push", "-H", "X-Multi:  two words ",
		"--body", "hello", "--config", "SECRET=s3cret", "--metadata", "bucket_name=ci")
	wantCode(t, code, 0, out, errOut)
	for _, want := range []string{
		"Forwarded: yes\n",
		"Request:   PUT /hooks?a=1\n",
		"Modified:  header, body\n",
		"    X-Echo: 1\n",
		"    X-Multi: two words\n",
		"  Body (49 bytes):\n    PUT /hooks?a=1 bucket=ci secret=s3cret body=hello\n",
		"Logs:\n  event push\n",
		"Duration:  ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Response:") {
		t.Errorf("unmodified response shown:\n%s", out)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestRunTextResponse(t *testing.T) {
	out, errOut, code := fnctl(t, "", "run", "testdata/echo.lua", "-H", "X-Event: ping")
	wantCode(t, code, 0, out, errOut)
	for _, want := range []string{
		"Forwarded: no (the function stopped forwarding)\n",
		"Response:  200 OK\n  Headers:\n    X-Pong: yes\n  Body (4 bytes):\n    pong\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunJSON(t *testing.T) {
	out, errOut, code := fnctl(t, "", "run", "testdata/echo.lua", "-o", "json", "-H", "X-Event: ping", "--body", "<b>&</b>")
	wantCode(t, code, 0, out, errOut)
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var k []string
		for name := range m {
			k = append(k, name)
		}
		slices.Sort(k)
		return k
	}
	if got, want := keys(res), []string{"duration_ms", "error", "logs", "request", "response", "stop_forwarding"}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	var req, resp map[string]json.RawMessage
	json.Unmarshal(res["request"], &req)
	json.Unmarshal(res["response"], &resp)
	if got, want := keys(req), []string{"body", "body_modified", "header_modified", "headers", "method", "method_modified", "modified", "path", "path_modified", "raw_query", "raw_query_modified"}; !slices.Equal(got, want) {
		t.Errorf("request keys %q, want %q", got, want)
	}
	if got, want := keys(resp), []string{"body", "headers", "modified", "status"}; !slices.Equal(got, want) {
		t.Errorf("response keys %q, want %q", got, want)
	}
	var r struct {
		Request struct {
			Body    string              `json:"body"`
			Headers map[string][]string `json:"headers"`
		} `json:"request"`
		Response struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"response"`
		StopForwarding bool     `json:"stop_forwarding"`
		Error          string   `json:"error"`
		Logs           []string `json:"logs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Request.Body != "POST /? bucket= secret= body=<b>&</b>" || r.Request.Headers["X-Echo"][0] != "1" ||
		r.Response.Status != 200 || r.Response.Body != "pong" || !r.StopForwarding || r.Error != "" ||
		!slices.Equal(r.Logs, []string{"event ping"}) {
		t.Errorf("result = %+v", r)
	}
	if !strings.Contains(out, "<b>&</b>") {
		t.Errorf("HTML characters escaped:\n%s", out)
	}
}

func TestRunBody(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"dash reads stdin", "from stdin", []string{"-"}, "body=from stdin"},
		{"body-file dash reads stdin", "piped", []string{"--body-file", "-"}, "body=piped"},
		{"body-file", "", []string{"--body-file", "testdata/body.json"}, `body={"from":"file"}`},
		{"body", "ignored", []string{"--body", "inline"}, "body=inline"},
		{"no body", "ignored", nil, "body=\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "testdata/echo.lua", "-o", "json"}, tc.args...)
			out, errOut, code := fnctl(t, tc.stdin, args...)
			wantCode(t, code, 0, out, errOut)
			var r struct {
				Request struct {
					Body string `json:"body"`
				} `json:"request"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Request.Body+"\n", tc.want) {
				t.Errorf("body %q does not contain %q", r.Request.Body, tc.want)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // must be in stderr
	}{
		{"success", []string{"run", "testdata/echo.lua"}, 0, ""},
		{"function error", []string{"run", "testdata/fail.lua"}, 1, "fnctl: testdata/fail.lua:2: boom\n"},
		{"function error json", []string{"run", "testdata/fail.lua", "-o", "json"}, 1, "testdata/fail.lua:2: boom"},
		{"syntax error", []string{"run", "testdata/syntax.lua"}, 1, "fnctl: testdata/syntax.lua:2: syntax error"},
		{"timeout", []string{"run", "testdata/loop.lua", "--timeout", "50ms"}, 1, "timed out"},
		{"unknown flag", []string{"run", "testdata/echo.lua", "--nope"}, 2, "unknown flag: --nope"},
		{"bad header", []string{"run", "testdata/echo.lua", "-H", "NoColon"}, 2, `invalid -H "NoColon": want 'Name: value'`},
		{"bad header name", []string{"run", "testdata/echo.lua", "-H", "Bad Name: x"}, 2, `invalid -H`},
		{"bad config", []string{"run", "testdata/echo.lua", "--config", "NOVALUE"}, 2, `invalid --config "NOVALUE": want KEY=VALUE`},
		{"bad metadata", []string{"run", "testdata/echo.lua", "--metadata", "=x"}, 2, `invalid --metadata "=x"`},
		{"bad timeout", []string{"run", "testdata/echo.lua", "--timeout", "soon"}, 2, `invalid argument "soon"`},
		{"bad method", []string{"run", "testdata/echo.lua", "--method", "GE T"}, 2, `invalid --method`},
		{"bad output", []string{"run", "testdata/echo.lua", "-o", "yaml"}, 2, `invalid -o "yaml"`},
		{"missing function", []string{"run", "testdata/nope.lua"}, 2, "function file testdata/nope.lua does not exist"},
		{"missing body file", []string{"run", "testdata/echo.lua", "--body-file", "testdata/nope.json"}, 2, "read --body-file"},
		{"two bodies", []string{"run", "testdata/echo.lua", "--body", "x", "-"}, 2, "give the body one way"},
		{"extra argument", []string{"run", "testdata/echo.lua", "more"}, 2, "unexpected arguments"},
		{"no function", []string{"run"}, 2, "missing the function file"},
		{"unknown command", []string{"nope"}, 2, `unknown command "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := fnctl(t, "", tc.args...)
			wantCode(t, code, tc.code, out, errOut)
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.stderr)
			}
			if tc.code == 2 && !strings.Contains(errOut, "--help' for usage") {
				t.Errorf("usage error without a hint: %q", errOut)
			}
		})
	}
}

func TestTestPassing(t *testing.T) {
	out, errOut, code := fnctl(t, "", "test", "testdata/specs/pass")
	wantCode(t, code, 0, out, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	spec := filepath.FromSlash("testdata/specs/pass/echo.spec.yaml")
	if !strings.HasPrefix(lines[0], "PASS "+spec+": echo (") || !strings.HasSuffix(lines[0], "ms)") ||
		!strings.HasPrefix(lines[1], "PASS "+spec+": ping (") {
		t.Errorf("output:\n%s", out)
	}
	if lines[2] != "2 passed, 0 failed" {
		t.Errorf("summary %q", lines[2])
	}
	if strings.Contains(out, "logs:") {
		t.Errorf("logs of passing tests shown without -v:\n%s", out)
	}
}

func TestTestDefaultsToCurrentFolder(t *testing.T) {
	t.Chdir("testdata/specs/pass")
	out, errOut, code := fnctl(t, "", "test")
	wantCode(t, code, 0, out, errOut)
	if !strings.HasSuffix(out, "\n2 passed, 0 failed\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTestFailing(t *testing.T) {
	out, errOut, code := fnctl(t, "", "test", "testdata/specs/fail")
	wantCode(t, code, 1, out, errOut)
	spec := filepath.FromSlash("testdata/specs/fail/fail.spec.yaml")
	for _, want := range []string{
		"PASS " + spec + ": passes (",
		"FAIL " + spec + ": wrong body (",
		"ms)\n    expect.request.bodyContains: expected body to contain \"body=bye\", got \"POST /? bucket= secret= body=hi\"\n    logs:\n      event push\n",
		"\n1 passed, 1 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "logs:") != 1 {
		t.Errorf("only the failed test's logs are shown:\n%s", out)
	}
}

func TestTestVerboseAndRun(t *testing.T) {
	out, errOut, code := fnctl(t, "", "test", "-v", "--run", "^ping$", "-f", "testdata/specs/pass/echo.spec.yaml")
	wantCode(t, code, 0, out, errOut)
	if strings.Contains(out, ": echo (") || !strings.Contains(out, ": ping (") ||
		!strings.Contains(out, "    logs:\n      event ping\n") || !strings.HasSuffix(out, "\n1 passed, 0 failed, 1 skipped\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTestSpecErrors(t *testing.T) {
	// Broken specs are reported and the others still run.
	out, errOut, code := fnctl(t, "", "test", "testdata/specs/broken", "testdata/specs/pass")
	wantCode(t, code, 2, out, errOut)
	for _, want := range []string{
		"ERROR " + filepath.FromSlash("testdata/specs/broken/broken.spec.yaml") + "\n    ",
		`tests[0].expect.stopforwarding: line 6: unknown field "stopforwarding" (did you mean "stopForwarding"?)`,
		"ERROR " + filepath.FromSlash("testdata/specs/broken/syntax.spec.yaml") + "\n    " + filepath.FromSlash("testdata/syntax.lua") + ":2: syntax error",
		"PASS " + filepath.FromSlash("testdata/specs/pass/echo.spec.yaml") + ": echo (",
		"\n2 passed, 0 failed; 2 specs could not be run\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTestJUnit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.xml")
	out, errOut, code := fnctl(t, "", "test", "--junit", path, "testdata/specs/pass", "testdata/specs/fail")
	wantCode(t, code, 1, out, errOut)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, data)
	}
	if doc.Tests != 4 || doc.Failures != 1 || len(doc.Suites) != 2 {
		t.Fatalf("junit:\n%s", data)
	}
	c := doc.Suites[1].Cases[1]
	if c.Name != "wrong body" || c.Failure == nil || !strings.Contains(c.Failure.Text, "expect.request.bodyContains") || c.SystemOut != "event push" {
		t.Errorf("failed case = %+v", c)
	}

	// A report that cannot be written is exit status 2.
	_, errOut, code = fnctl(t, "", "test", "--junit", filepath.Join(t.TempDir(), "no", "dir.xml"), "testdata/specs/pass")
	wantCode(t, code, 2, "", errOut)
}

func TestTestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing path", []string{"test", "testdata/specs/none"}, "no such file or directory"},
		{"bad run expression", []string{"test", "-f", "testdata/specs/pass/echo.spec.yaml", "--run", "("}, "invalid --run"},
		{"empty folder", []string{"test", t.TempDir()}, "no spec files"},
		{"unknown flag", []string{"test", "--nope"}, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := fnctl(t, "", tc.args...)
			wantCode(t, code, 2, out, errOut)
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.stderr)
			}
		})
	}
}

func TestBenchJSON(t *testing.T) {
	out, errOut, code := fnctl(t, "", "bench", "testdata/echo.lua", "--duration", "50ms", "--concurrency", "2", "-o", "json", "--body", "hi")
	wantCode(t, code, 0, out, errOut)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"errors", "invocations", "invocations_per_second", "p50_us", "p90_us", "p99_us"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Invocations <= 0 || r.Errors != 0 || r.PerSecond <= 0 || r.P50 <= 0 || r.P50 > r.P90 || r.P90 > r.P99 {
		t.Errorf("result = %+v", r)
	}
}

func TestBenchText(t *testing.T) {
	out, errOut, code := fnctl(t, "", "bench", "testdata/echo.lua", "--duration", "50ms")
	wantCode(t, code, 0, out, errOut)
	for _, want := range []string{"Function:     testdata/echo.lua\n", "Ran:          50ms on 1 goroutine(s)\n", "Invocations:  ", "Latency:      p50 ", "Errors:       0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"failing function", []string{"bench", "testdata/fail.lua", "--duration", "20ms"}, 1, "stopped before measuring: every invocation failed (3 of 3); the first: testdata/fail.lua:2: boom"},
		{"syntax error", []string{"bench", "testdata/syntax.lua"}, 1, "testdata/syntax.lua:2:"},
		{"zero concurrency", []string{"bench", "testdata/echo.lua", "--concurrency", "0"}, 2, "invalid --concurrency 0"},
		{"zero duration", []string{"bench", "testdata/echo.lua", "--duration", "0s"}, 2, "invalid --duration"},
		{"bad header", []string{"bench", "testdata/echo.lua", "-H", "x"}, 2, "invalid -H"},
		{"missing function", []string{"bench", "testdata/nope.lua"}, 2, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := fnctl(t, "", tc.args...)
			wantCode(t, code, tc.code, out, errOut)
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, errOut, code := fnctl(t, "", "version")
	wantCode(t, code, 0, out, errOut)
	if !strings.HasPrefix(out, "fnctl ") || !strings.Contains(out, "go1.") {
		t.Errorf("version = %q", out)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
	// 1µs, 2µs, … 1000µs: the q-quantile is q*1000 µs.
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	var other histogram
	other.record(5 * time.Second)
	h.merge(&other)
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{1, 5 * time.Second},
	} {
		got := h.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.02 || diff > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", tc.q, got, tc.want)
		}
	}
	for _, ns := range []uint64{0, 1, 63, 64, 127, 128, 1000, 1 << 40, 1<<64 - 1} {
		b := bucketOf(ns)
		if b < 0 || b >= len(h.counts) {
			t.Fatalf("bucketOf(%d) = %d out of range", ns, b)
		}
		if v := bucketValue(b); ns < 128 && v != ns {
			t.Errorf("bucketValue(bucketOf(%d)) = %d, want exact", ns, v)
		}
	}
}
