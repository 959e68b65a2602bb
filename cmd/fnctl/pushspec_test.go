package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// function push --spec stores the spec that ran (body files inline), and
// the relay then refuses a version that fails it, even one pushed without
// --spec.
func TestPushStoresTheSpec(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	dir := t.TempDir()
	src, _ := os.ReadFile(tagLua)
	os.WriteFile(filepath.Join(dir, "tag.lua"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello"), 0o644)
	spec, _ := os.ReadFile("testdata/remote/push/tag.spec.yaml")
	withFile := strings.Replace(string(spec), "      body: hello\n", "      body_file: hello.txt\n", 1)
	if withFile == string(spec) {
		t.Fatal("the spec's body line was not found")
	}
	os.WriteFile(filepath.Join(dir, "tag.spec.yaml"), []byte(withFile), 0o644)

	r.ok("function", "push", "tag", "-f", filepath.Join(dir, "tag.lua"), "--spec", filepath.Join(dir, "tag.spec.yaml"))
	f, err := r.store.GetFunction(context.Background(), "tag")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := r.store.Spec(context.Background(), f.ID)
	if err != nil || !strings.Contains(string(stored), "body: hello") || strings.Contains(string(stored), "body_file") {
		t.Fatalf("stored spec = %q, %v; want the body inline", stored, err)
	}

	os.WriteFile(filepath.Join(dir, "broken.lua"), []byte("-- tags nothing\n"), 0o644)
	out, errOut, code := r.run("function", "push", "tag", "-f", filepath.Join(dir, "broken.lua"))
	if code == 0 || !strings.Contains(errOut, "the spec failed") || !strings.Contains(errOut, "tags the request") {
		t.Errorf("push of a version failing the stored spec: exit %d\n%s%s", code, out, errOut)
	}
	if f2, _ := r.store.GetFunction(context.Background(), "tag"); f2.Version != 1 {
		t.Errorf("version after a refused push = %d, want 1", f2.Version)
	}
}
