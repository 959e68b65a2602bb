package examples_test

import (
	"context"
	"testing"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/functions/spec"
	"github.com/relayfn/relayfn/runtime"
)

// TestExamples runs every example's specs, as `fnctl test examples/` does,
// so `go test ./...` covers them too.
func TestExamples(t *testing.T) {
	paths, err := spec.Discover([]string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 10 {
		t.Fatalf("found %d specs, want the examples' specs", len(paths))
	}
	e, err := runtime.New(runtime.Options{Modules: builtins.Modules(builtins.Deps{})})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			r := spec.RunFile(context.Background(), e, p, spec.Options{Sandbox: spec.NewSandbox(spec.SandboxOptions{})})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			for _, tr := range r.Tests {
				for _, f := range tr.Failures {
					t.Errorf("%s: %s", tr.Name, f)
				}
			}
			if r.Failed() > 0 || r.Passed() == 0 {
				t.Fatalf("%d passed, %d failed", r.Passed(), r.Failed())
			}
		})
	}
}
