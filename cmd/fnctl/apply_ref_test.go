package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestApplyReferencesAPushedFunction: relay.yaml attaches a function pushed
// with fnctl function push by naming it, and apply leaves its source alone.
func TestApplyReferencesAPushedFunction(t *testing.T) {
	r := newAdminRelay(t)
	dir := t.TempDir()
	fn := filepath.Join(dir, "tag.lua")
	os.WriteFile(fn, []byte(`r:SetRequestHeader("X-Tag", "pushed")`), 0o644)
	doc := filepath.Join(dir, "relay.yaml")
	os.WriteFile(doc, []byte(`functions:
  - name: tag
    config: {LEVEL: high}
buckets:
  - name: ci
    inputs:
      - name: github
        function: tag
`), 0o644)

	// Not pushed yet: refused, naming the function.
	out, errOut, code := r.run("apply", "-f", doc)
	wantCode(t, code, 2, out, errOut)
	contains(t, "apply before push", errOut, `functions[0]: line 2: function "tag" is not on the relay: push it first`)

	r.ok("function", "push", "tag", "-f", fn)
	out = r.ok("apply", "-f", doc)
	contains(t, "apply", out, "unchanged function tag v1", "created config tag/LEVEL", "created input ci/github")
	f, err := r.store.GetFunction(t.Context(), "tag")
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || f.Source != `r:SetRequestHeader("X-Tag", "pushed")` {
		t.Errorf("apply changed the pushed function: v%d %q", f.Version, f.Source)
	}
	ins, _ := r.store.ListInputs(t.Context(), "")
	if len(ins) != 1 || ins[0].FunctionID != f.ID {
		t.Errorf("input not attached to the pushed function: %+v", ins)
	}
	// A new push is not undone by applying again.
	os.WriteFile(fn, []byte(`r:SetRequestHeader("X-Tag", "v2")`), 0o644)
	r.ok("function", "push", "tag", "-f", fn)
	contains(t, "apply again", r.ok("apply", "-f", doc), "unchanged function tag v2")
}

// TestApplyRunsSpecs: apply runs the specs a function names and refuses,
// changing nothing, when one fails.
func TestApplyRunsSpecs(t *testing.T) {
	r := newAdminRelay(t)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tag.lua", `r:SetRequestHeader("X-Tag", "yes")`)
	write("tag.spec.yaml", `version: v1
filename: tag.lua
tests:
  - name: tags
    request: {body: x}
    expect: {request: {headerEquals: {X-Tag: "yes"}}}
`)
	write("relay.yaml", `functions:
  - name: tag
    file: tag.lua
    spec: [tag.spec.yaml]
`)
	doc := filepath.Join(dir, "relay.yaml")
	out := r.ok("apply", "-f", doc)
	contains(t, "passing specs", out, "PASS", "1 passed, 0 failed", "created function tag v1")

	write("tag.lua", `r:SetRequestHeader("X-Tag", "no")`)
	out, errOut, code := r.run("apply", "-f", doc)
	wantCode(t, code, 1, out, errOut)
	contains(t, "failing spec", out, "FAIL")
	contains(t, "failing spec", errOut, "function tag: 1 test failed: nothing applied")
	f, _ := r.store.GetFunction(t.Context(), "tag")
	if f.Version != 1 {
		t.Errorf("a failing spec still applied version %d", f.Version)
	}
	out, errOut, code = r.run("apply", "-f", doc, "--dry-run")
	wantCode(t, code, 1, out, errOut)

	write("relay.yaml", "functions:\n  - name: tag\n    file: tag.lua\n    spec: [missing.spec.yaml]\n")
	out, errOut, code = r.run("apply", "-f", doc)
	wantCode(t, code, 2, out, errOut)
}
