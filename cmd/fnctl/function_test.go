package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/api"
)

const tagLua = "testdata/remote/push/tag.lua"

func TestRemoteFunctionLifecycle(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)

	out := r.ok("function", "create", "tag", "-f", tagLua, "--timeout", "3s", "--config", "GREETING=hello-secret-value")
	contains(t, "create", out, "created function tag v1 (")
	lacks(t, "create", out, "hello-secret-value")

	// ls, text and JSON.
	out = r.ok("function", "ls")
	contains(t, "ls", out, "NAME", "VERSION", "TIMEOUT", "tag", "3s")
	var fns []api.Function
	r.okJSON(&fns, "function", "ls")
	if len(fns) != 1 || fns[0].Name != "tag" || fns[0].Version != 1 || fns[0].Source != "" {
		t.Fatalf("function ls -o json = %+v", fns)
	}

	// get: details with config keys but not values; --source; JSON.
	out = r.ok("function", "get", "tag")
	contains(t, "get", out, "Name:", "tag", "Version:", "1", "Timeout:", "3s", "Config:", "GREETING", "ID:", fns[0].ID)
	lacks(t, "get", out, "hello-secret-value", "X-Tagged")
	src, err := os.ReadFile(tagLua)
	if err != nil {
		t.Fatal(err)
	}
	if out := r.ok("function", "get", "tag", "--source"); out != string(src) {
		t.Errorf("get --source = %q, want the file", out)
	}
	var got api.Function
	r.okJSON(&got, "function", "get", fns[0].ID)
	if got.Name != "tag" || got.Source != string(src) {
		t.Errorf("get -o json = %+v", got)
	}

	// update: a new version, then the same source again.
	dir := t.TempDir()
	v2 := filepath.Join(dir, "tag.lua")
	os.WriteFile(v2, append(src, []byte("\nprint('v2')\n")...), 0o644)
	out = r.ok("function", "update", "tag", "-f", v2)
	contains(t, "update", out, "updated function tag: v2 (was v1)")
	out = r.ok("function", "update", "tag", "-f", v2)
	contains(t, "update again", out, "function tag unchanged at v2")
	out = r.ok("function", "update", "tag", "-f", v2, "--timeout", "4s")
	contains(t, "update timeout", out, "source unchanged at v2; timeout now 4s")

	// versions.
	out = r.ok("function", "versions", "tag")
	contains(t, "versions", out, "VERSION", "HASH")
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("versions: %d lines, want a header and 2:\n%s", n, out)
	}
	var vs []api.Version
	r.okJSON(&vs, "function", "versions", "tag")
	if len(vs) != 2 {
		t.Errorf("versions -o json = %+v", vs)
	}

	// config: set (values never echoed), ls (keys only), rm.
	out = r.ok("function", "config", "set", "tag", "TOKEN=t0p-secret-value", "CHANNEL=#ci-secret-value")
	contains(t, "config set", out, "set CHANNEL, TOKEN on function tag")
	var keys api.ConfigKeys
	r.okJSON(&keys, "function", "config", "set", "tag", "OTHER=other-secret-value")
	if strings.Join(keys.Keys, ",") != "OTHER" {
		t.Errorf("config set -o json = %+v", keys)
	}
	out = r.ok("function", "config", "ls", "tag")
	if out != "CHANNEL\nGREETING\nOTHER\nTOKEN\n" {
		t.Errorf("config ls = %q", out)
	}
	r.okJSON(&keys, "function", "config", "ls", "tag")
	if strings.Join(keys.Keys, ",") != "CHANNEL,GREETING,OTHER,TOKEN" {
		t.Errorf("config ls -o json = %+v", keys)
	}
	out = r.ok("function", "config", "rm", "tag", "OTHER", "CHANNEL")
	contains(t, "config rm", out, "deleted OTHER, CHANNEL from function tag")
	out, errOut, code := r.run("function", "config", "rm", "tag", "OTHER")
	wantCode(t, code, 1, out, errOut)
	contains(t, "config rm again", errOut, `function tag has no config variable "OTHER"`)
	if out := r.ok("function", "config", "ls", "tag"); out != "GREETING\nTOKEN\n" {
		t.Errorf("config ls after rm = %q", out)
	}

	// rm.
	out = r.ok("function", "rm", "tag")
	contains(t, "rm", out, "deleted function tag (")
	out, errOut, code = r.run("function", "get", "tag")
	wantCode(t, code, 1, out, errOut)

	var del map[string]string
	r.ok("function", "create", "gone", "-f", tagLua)
	r.okJSON(&del, "function", "rm", "gone")
	if del["kind"] != "function" || del["name"] != "gone" || del["action"] != "deleted" || del["id"] == "" {
		t.Errorf("rm -o json = %v", del)
	}
}

func TestRemoteFunctionInvoke(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("function", "create", "tag", "-f", tagLua, "--config", "GREETING=hi-secret-value")

	out := r.ok("function", "invoke", "tag", "--path", "hooks", "--query", "a=1", "-H", "X-Event: push", "--body", "hello")
	contains(t, "invoke", out,
		"Forwarded: yes\n",
		"Request:   POST /hooks?a=1\n",
		"Modified:  header\n",
		"    X-Greeting-Set: yes\n",
		"    X-Tagged: yes\n",
		"Logs:\n  tagging /hooks\n",
		"Duration:  ")
	lacks(t, "invoke", out, "hi-secret-value")

	// JSON: the runtime.Result of the API, as fnctl run prints it.
	var res map[string]json.RawMessage
	r.okJSON(&res, "function", "invoke", "tag", "--body", "x")
	for _, k := range []string{"request", "response", "stop_forwarding", "error", "logs", "duration_ms"} {
		if _, ok := res[k]; !ok {
			t.Errorf("invoke -o json lacks %q: %v", k, res)
		}
	}

	// The body from stdin.
	out, errOut, code := r.runStdin("from stdin", "function", "invoke", "tag", "-")
	wantCode(t, code, 0, out, errOut)
	contains(t, "invoke -", out, "Body (10 bytes):\n    from stdin\n")

	// A function that fails: exit 1 with its error.
	out, errOut, code = r.run("function", "invoke", "tag", "--body", "boom")
	wantCode(t, code, 1, out, errOut)
	contains(t, "failed invoke stdout", out, "Forwarded: no (the function failed)")
	contains(t, "failed invoke stderr", errOut, "boom requested")
	out, errOut, code = r.run("function", "invoke", "tag", "--body", "boom", "-o", "json")
	wantCode(t, code, 1, out, errOut)
	var failedRes api.Result
	if err := json.Unmarshal([]byte(out), &failedRes); err != nil || !strings.Contains(failedRes.Error, "boom requested") {
		t.Errorf("failed invoke -o json = %v, %s", err, out)
	}

	out, errOut, code = r.run("function", "invoke", "nope")
	wantCode(t, code, 1, out, errOut)
	contains(t, "invoke nope", errOut, `function "nope": not found`)
}

func TestRemoteFunctionPush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		stderr  []string
		version int // the function's version after; 0: not pushed
	}{
		{
			name:    "no specs",
			args:    []string{"-f", tagLua},
			stdout:  []string{"created function tag v1 ("},
			version: 1,
		},
		{
			name:    "passing spec file",
			args:    []string{"-f", tagLua, "--spec", "testdata/remote/push/tag.spec.yaml"},
			stdout:  []string{"PASS testdata/remote/push/tag.spec.yaml: tags the request", "2 passed, 0 failed\n", "created function tag v1"},
			version: 1,
		},
		{
			name: "folder: only the specs of the pushed file",
			args: []string{"-f", tagLua, "--spec", "testdata/remote/push", "--timeout", "2s"},
			// other.spec.yaml tests other.lua: left out.
			stdout:  []string{"2 passed, 0 failed\n", "created function tag v1"},
			version: 1,
		},
		{
			name:   "failing spec",
			args:   []string{"-f", tagLua, "--spec", "testdata/remote/failing/tag_wrong.spec.yaml"},
			code:   1,
			stdout: []string{"FAIL testdata/remote/failing/tag_wrong.spec.yaml: expects another tag", `expected header X-Tagged to be "no", got "yes"`, "1 passed, 1 failed\n"},
			stderr: []string{"fnctl: 1 test failed: not pushed"},
		},
		{
			name:   "failing folder",
			args:   []string{"-f", tagLua, "--spec", "testdata/remote/push", "--spec", "testdata/remote/failing"},
			code:   1,
			stdout: []string{"3 passed, 1 failed\n"},
			stderr: []string{"not pushed"},
		},
		{
			name:   "explicit spec of another file runs against FILE",
			args:   []string{"-f", tagLua, "--spec", "testdata/remote/push/other.spec.yaml"},
			code:   1,
			stdout: []string{"FAIL testdata/remote/push/other.spec.yaml: fails against tag.lua"},
			stderr: []string{"note: testdata/remote/push/other.spec.yaml names other.lua; running it against " + tagLua, "not pushed"},
		},
		{
			name:   "no spec for the file",
			args:   []string{"-f", "testdata/remote/apply/functions/stamp.lua", "--spec", "testdata/remote/push"},
			code:   2,
			stderr: []string{"no spec in testdata/remote/push tests testdata/remote/apply/functions/stamp.lua"},
		},
		{
			name:   "unreadable spec",
			args:   []string{"-f", "testdata/echo.lua", "--spec", "testdata/specs/broken/broken.spec.yaml"},
			code:   2,
			stdout: []string{"ERROR testdata/specs/broken/broken.spec.yaml"},
			stderr: []string{"a spec could not be run: not pushed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newAdminRelay(t)
			out, errOut, code := r.run(append([]string{"function", "push", "tag"}, tc.args...)...)
			wantCode(t, code, tc.code, out, errOut)
			contains(t, "stdout", out, tc.stdout...)
			contains(t, "stderr", errOut, tc.stderr...)
			fns, err := r.store.ListFunctions(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.version == 0 && len(fns) != 0:
				t.Errorf("pushed although refused: %+v", fns[0])
			case tc.version != 0 && (len(fns) != 1 || fns[0].Version != tc.version):
				t.Errorf("functions after push = %+v, want tag v%d", fns, tc.version)
			}
		})
	}
}

func TestRemoteFunctionPushVersions(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	spec := "testdata/remote/push/tag.spec.yaml"
	contains(t, "first push", r.ok("function", "push", "tag", "-f", tagLua, "--spec", spec, "--timeout", "2s"), "created function tag v1")
	contains(t, "same push", r.ok("function", "push", "tag", "-f", tagLua, "--spec", spec), "function tag unchanged at v1")

	// A changed file, pushed with a spec pointing at it.
	dir := t.TempDir()
	src, _ := os.ReadFile(tagLua)
	os.WriteFile(filepath.Join(dir, "tag.lua"), append(src, []byte("\n-- v2\n")...), 0o644)
	specSrc, _ := os.ReadFile(spec)
	os.WriteFile(filepath.Join(dir, "tag.spec.yaml"), specSrc, 0o644)
	out := r.ok("function", "push", "tag", "-f", filepath.Join(dir, "tag.lua"), "--spec", dir)
	contains(t, "changed push", out, "2 passed, 0 failed", "pushed function tag: v2 (was v1)")

	// -o json: the function on stdout, the spec results on stderr.
	out, errOut, code := r.run("function", "push", "tag", "-f", tagLua, "--spec", spec, "-o", "json")
	wantCode(t, code, 0, out, errOut)
	var f api.Function
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Version != 3 || f.Timeout.String() != "2s" {
		t.Errorf("push -o json = %v, %+v\n%s", err, f, out)
	}
	contains(t, "push -o json stderr", errOut, "2 passed, 0 failed")
}
