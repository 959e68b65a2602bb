package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/api"
)

// completions runs `fnctl __complete args...` against r and returns the
// values offered, without the directive line.
func completions(t *testing.T, r *adminRelay, args ...string) []string {
	t.Helper()
	out, errOut, code := r.run(append([]string{"__complete"}, args...)...)
	wantCode(t, code, 0, out, errOut)
	var vals []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		vals = append(vals, line)
	}
	return vals
}

func TestCompletion(t *testing.T) {
	r := newAdminRelay(t)
	fn := filepath.Join(t.TempDir(), "tag.lua")
	if err := os.WriteFile(fn, []byte(`r:SetRequestHeader("X-Tag", "1")`), 0o644); err != nil {
		t.Fatal(err)
	}
	r.ok("function", "push", "tag", "-f", fn)
	r.ok("function", "push", "audit", "-f", fn)
	r.ok("bucket", "create", "ci")
	r.ok("bucket", "create", "staging")
	var in api.Input
	r.okJSON(&in, "input", "create", "ci", "github", "--function", "tag")
	var out api.Output
	r.okJSON(&out, "output", "create", "ci", "sink", "--destination", "http://127.0.0.1:9/hook")

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"bucket", "get", ""}, []string{"ci", "staging"}},
		{[]string{"bucket", "get", "st"}, []string{"staging"}},
		{[]string{"bucket", "get", "ci", ""}, nil}, // one argument only
		{[]string{"input", "create", ""}, []string{"ci", "staging"}},
		{[]string{"function", "push", ""}, []string{"audit", "tag"}},
		{[]string{"function", "config", "set", "t"}, []string{"tag"}},
		{[]string{"attach", ""}, []string{"audit", "tag"}},
		{[]string{"attach", "tag", "--input", ""}, []string{in.ID + "\tci/github"}},
		{[]string{"input", "get", ""}, []string{in.ID + "\tci/github"}},
		{[]string{"output", "rm", ""}, []string{out.ID + "\tci/sink"}},
		{[]string{"detach", "--output-id", ""}, []string{out.ID + "\tci/sink"}},
		{[]string{"deliveries", "ls", "--bucket", "ci", "--output-id", ""}, []string{"sink\thttp://127.0.0.1:9/hook"}},
		{[]string{"deliveries", "ls", "--bucket", ""}, []string{"ci", "staging"}},
		{[]string{"input", "create", "ci", "x", "--function", ""}, []string{"audit", "tag"}},
		{[]string{"deliveries", "ls", "--state", ""}, []string{"pending", "succeeded", "failed", "stopped"}},
		{[]string{"input", "create", "ci", "x", "--response", ""}, []string{"default", "static", "function", "destination"}},
		{[]string{"bucket", "ls", "-o", ""}, []string{"text", "json"}},
		{[]string{"run", "fn.lua", "--output", ""}, []string{"text", "json"}},
	} {
		got := completions(t, r, tc.args...)
		if strings.Join(sortedCopy(got), "|") != strings.Join(sortedCopy(tc.want), "|") {
			t.Errorf("__complete %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	// A delivery's ID completes once there is one.
	var ds []api.Delivery
	r.okJSON(&ds, "deliveries", "ls")
	got := completions(t, r, "deliveries", "show", "")
	if len(got) != len(ds) {
		t.Errorf("deliveries show completes %q, want the %d deliveries", got, len(ds))
	}

	// An unreachable relay completes nothing, quietly.
	out2, errOut, code := r.run("__complete", "bucket", "get", "--server", "http://127.0.0.1:1", "")
	wantCode(t, code, 0, out2, errOut)
	if strings.Contains(out2, "ci") {
		t.Errorf("unreachable relay completed %q", out2)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}
