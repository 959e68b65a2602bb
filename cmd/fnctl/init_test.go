package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInitThenTestPasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	out, errOut, code := fnctl(t, "", "init", dir)
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, "Next: fnctl test "+dir) {
		t.Errorf("init output: %s", out)
	}
	for _, f := range []string{"hello.lua", "hello.spec.yaml", "testdata/sample.json", ".luarc.json", ".luacheckrc", "types/relayfn.lua", "types/json.lua", "types/http.lua"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init made no %s: %v", f, err)
		}
	}

	out, errOut, code = fnctl(t, "", "test", dir)
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, "2 passed, 0 failed") || !strings.Contains(out, "PASS "+filepath.Join(dir, "hello.spec.yaml")+": the sample payload") {
		t.Errorf("fnctl test output:\n%s", out)
	}

	// The sample payload goes through fnctl run too.
	out, errOut, code = fnctl(t, "", "run", filepath.Join(dir, "hello.lua"), "--body-file", filepath.Join(dir, "testdata/sample.json"), "-o", "json")
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, `\"received_by\":\"relayfn\"`) {
		t.Errorf("fnctl run output lacks received_by:\n%s", out)
	}

	// A second init refuses to replace the files, and changes nothing.
	edited := []byte("-- mine\n")
	if err := os.WriteFile(filepath.Join(dir, "hello.lua"), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = fnctl(t, "", "init", dir)
	wantCode(t, code, 1, out, errOut)
	if !strings.Contains(errOut, "exists: not replacing it") {
		t.Errorf("stderr: %s", errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "hello.lua")); string(got) != string(edited) {
		t.Errorf("init replaced hello.lua: %q", got)
	}
	out, errOut, code = fnctl(t, "", "init", "--force", dir)
	wantCode(t, code, 0, out, errOut)

	_, errOut, code = fnctl(t, "", "init", filepath.Join(t.TempDir(), "bad name"))
	wantCode(t, code, 2, "", errOut)
}

// TestInitLuacheck runs luacheck over a new function folder with the
// .luacheckrc init wrote: the function, and the definition files, pass.
// It is skipped without luacheck, except in CI (CI=true), where it fails.
func TestInitLuacheck(t *testing.T) {
	luacheck := requireLuacheck(t)
	dir := filepath.Join(t.TempDir(), "hello")
	if out, errOut, code := fnctl(t, "", "init", dir); code != 0 {
		t.Fatalf("init: %s%s", out, errOut)
	}
	run := func() (string, error) {
		out, err := exec.Command(luacheck, "--no-color", "--codes", "--config", filepath.Join(dir, ".luacheckrc"), dir).CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil {
		t.Fatalf("luacheck over a new function: %v\n%s", err, out)
	}
	// And it does catch what the sandbox lacks.
	bad := "local unused = 1\nio.write(\"x\")\nos.execute(\"true\")\nleaked = true\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.lua"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run()
	if err == nil {
		t.Fatalf("luacheck passed a function using io and os.execute:\n%s", out)
	}
	for _, want := range []string{"W211", "W113", "accessing undefined variable 'io'", "undefined field 'execute'", "W111"} {
		if !strings.Contains(out, want) {
			t.Errorf("luacheck output lacks %q:\n%s", want, out)
		}
	}
}

func requireLuacheck(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("luacheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("luacheck is not installed (apt-get install lua-check); CI needs it")
		}
		t.Skip("luacheck is not installed (apt-get install lua-check)")
	}
	return p
}

func TestTypesCommand(t *testing.T) {
	out, errOut, code := fnctl(t, "", "types")
	wantCode(t, code, 0, out, errOut)
	if !strings.HasPrefix(out, "---@meta\n") {
		t.Errorf("types does not start with ---@meta:\n%.200s", out)
	}
	for _, name := range moduleNames(luaModules()) {
		if !strings.Contains(out, "---@class relayfn."+name+"\n") {
			t.Errorf("types lacks module %s", name)
		}
	}
	file := filepath.Join(t.TempDir(), "relayfn.lua")
	_, errOut, code = fnctl(t, "", "types", "--file", file)
	wantCode(t, code, 0, "", errOut)
	if got, _ := os.ReadFile(file); string(got) != out {
		t.Errorf("--file wrote something else than types prints")
	}
	dir := t.TempDir()
	_, errOut, code = fnctl(t, "", "types", "--dir", dir)
	wantCode(t, code, 0, "", errOut)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "relayfn.lua") || !slices.Contains(names, "json.lua") || !slices.Contains(names, "bigquery.lua") {
		t.Errorf("--dir wrote %v", names)
	}
	_, errOut, code = fnctl(t, "", "types", "--file", file, "--dir", dir)
	wantCode(t, code, 2, "", errOut)
}

// TestExamplesEditorFiles checks that the editor and luacheck files shipped
// in examples/ are what fnctl generates today: regenerate them with
// `fnctl types --dir examples/types` after changing a module.
func TestExamplesEditorFiles(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	want := map[string]string{".luarc.json": luarcJSON, ".luacheckrc": luacheckrc()}
	types, err := typeFiles()
	if err != nil {
		t.Fatal(err)
	}
	for f, content := range types {
		want[filepath.Join(typesDir, f)] = content
	}
	for f, content := range want {
		got, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Errorf("examples/%s: %v", f, err)
			continue
		}
		if string(got) != content {
			t.Errorf("examples/%s differs from what fnctl generates (fnctl types --dir examples/types; fnctl init writes .luarc.json and .luacheckrc)", f)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, typesDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := types[e.Name()]; !ok {
			t.Errorf("examples/types/%s is not generated any more: remove it", e.Name())
		}
	}
}
