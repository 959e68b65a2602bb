package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/config"
)

const applyYAML = "testdata/remote/apply/relay.yaml"

func TestRemoteApply(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.env["FNCTL_TEST_APPLY_PASSWORD"] = "apply-secret-password"
	secrets := []string{"apply-secret-password", "applied-secret-value", "secret-path"}

	// A dry run changes nothing.
	out, errOut, code := r.run("apply", "-f", applyYAML, "--dry-run")
	wantCode(t, code, 0, out, errOut)
	contains(t, "dry run", out, "would create function stamp", "would create bucket applied", "would create input applied/github",
		"6 created, 0 updated, 0 deleted, 0 unchanged (dry run: nothing was changed)")
	lacks(t, "dry run", out+errOut, secrets...)
	if bs, _ := r.store.ListBuckets(t.Context()); len(bs) != 0 {
		t.Fatalf("dry run created %d buckets", len(bs))
	}

	out, errOut, code = r.run("apply", "-f", applyYAML)
	wantCode(t, code, 0, out, errOut)
	contains(t, "apply", out,
		"created function stamp v1",
		"created function inline v1",
		"created config stamp/STAMP",
		"created bucket applied",
		"created input applied/github [7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f]",
		"created output applied/sink",
		", 0 updated, 0 deleted, 0 unchanged\n")
	lacks(t, "apply", out+errOut, secrets...)
	lacks(t, "apply", out, "dry run")

	// What was applied: the basic-auth password read through fnctl's
	// environment, the function files read next to the relay.yaml.
	b, err := r.store.GetBucket(t.Context(), "applied")
	if err != nil {
		t.Fatal(err)
	}
	if b.Auth.Type != "basic" || b.Auth.Username != "hooks" || b.Auth.PasswordHash == "" {
		t.Errorf("bucket = %+v", b)
	}
	fn, err := r.store.GetFunction(t.Context(), "stamp")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("testdata/remote/apply/functions/stamp.lua")
	if fn.Source != string(src) || fn.Timeout.String() != "2s" {
		t.Errorf("function = %+v", fn)
	}

	// Again: every object unchanged.
	var rep api.Report
	r.okJSON(&rep, "apply", "-f", applyYAML)
	if len(rep.Changes) == 0 || rep.Changed() {
		t.Errorf("second apply changed something: %+v", rep.Changes)
	}
	for _, c := range rep.Changes {
		if c.Action != config.Unchanged {
			t.Errorf("second apply: %s", c)
		}
	}
	out = r.ok("apply", "-f", applyYAML)
	contains(t, "third apply", out, "unchanged function stamp v1", "unchanged bucket applied", "0 created, 0 updated, 0 deleted, ")
	n := len(rep.Changes)
	if !strings.HasSuffix(out, "0 created, 0 updated, 0 deleted, "+strconv.Itoa(n)+" unchanged\n") {
		t.Errorf("third apply summary:\n%s", out)
	}

	// The CLI sees what apply made.
	contains(t, "input ls", r.ok("input", "ls", "applied"), "github", "stamp", "static 202")

	// A change: one function's file edited, one output removed.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "functions"), 0o755)
	os.WriteFile(filepath.Join(dir, "functions", "stamp.lua"), append(src, []byte("-- v2\n")...), 0o644)
	doc, _ := os.ReadFile(applyYAML)
	doc = []byte(strings.Split(string(doc), "    outputs:")[0])
	os.WriteFile(filepath.Join(dir, "relay.yaml"), doc, 0o644)
	out = r.ok("apply", "-f", filepath.Join(dir, "relay.yaml"))
	contains(t, "changed apply", out, "updated function stamp v2 (source)", "deleted output applied/sink", "0 created, 1 updated, 1 deleted")
}

func TestRemoteApplyErrors(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	for _, tc := range []struct {
		name   string
		file   string
		env    map[string]string
		stderr []string
	}{
		{"invalid field", "testdata/remote/apply/invalid.yaml", nil,
			[]string{"testdata/remote/apply/invalid.yaml: buckets[0].outputs[0].destination: line 8: ", "is not an http(s) URL"}},
		{"missing password env", applyYAML, nil,
			[]string{"buckets[0].auth.password_env", "FNCTL_TEST_APPLY_PASSWORD"}},
		{"missing file", "testdata/remote/apply/nope.yaml", nil,
			[]string{"testdata/remote/apply/nope.yaml does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.env = tc.env
			out, errOut, code := r.run("apply", "-f", tc.file)
			wantCode(t, code, 2, out, errOut)
			contains(t, "stderr", errOut, tc.stderr...)
		})
	}
	if bs, _ := r.store.ListBuckets(t.Context()); len(bs) != 0 {
		t.Errorf("a refused apply created %d buckets", len(bs))
	}
}
