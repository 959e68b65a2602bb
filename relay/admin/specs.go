package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/functions/spec"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/runtime"
)

// SpecFailures runs the spec specYAML (the form stored with a function:
// see spec.Parse) against source, the function name's next version, with
// the sandbox of fnctl test (HTTP answered from the spec, BigQuery and
// email recorded), and returns what failed, one line per failure: none
// when every test passed. A spec that cannot be read or whose function
// does not compile is a failure too. timeout is each invocation's
// deadline (0: the engine's).
func SpecFailures(ctx context.Context, e *runtime.Engine, name, source string, specYAML []byte, timeout time.Duration) []string {
	s, err := spec.Parse("spec of "+name, specYAML)
	if err != nil {
		return strings.Split(err.Error(), "\n")
	}
	s.FunctionPath, s.Source = chunkName(name), []byte(source)
	rep := spec.Run(ctx, e, s, spec.Options{Sandbox: spec.NewSandbox(spec.SandboxOptions{}), Timeout: timeout})
	if rep.Err != nil {
		return []string{rep.Err.Error()}
	}
	var out []string
	for _, t := range rep.Tests {
		for _, f := range t.Failures {
			out = append(out, fmt.Sprintf("%s: %s", t.Name, f))
		}
	}
	return out
}

// specFailed is the 422 answer of a save refused by the function's spec.
func specFailed(name string, failures []string) error {
	return &apiError{http.StatusUnprocessableEntity,
		fmt.Sprintf("function %s: the spec failed, nothing was saved:\n%s", name, strings.Join(failures, "\n"))}
}

// checkSpec runs the spec of a new function, when the request has one.
func (h *handler) checkSpec(ctx context.Context, name, source string, specYAML *string, timeout time.Duration) error {
	if specYAML == nil || *specYAML == "" {
		return nil
	}
	if fs := SpecFailures(ctx, h.engine, name, source, []byte(*specYAML), timeout); len(fs) > 0 {
		return specFailed(name, fs)
	}
	return nil
}

// checkStoredSpec runs the spec an update leaves f with (the request's,
// or the stored one) against the source it leaves f with.
func (h *handler) checkStoredSpec(ctx context.Context, f *functions.Function, name string, source, specYAML *string, timeout time.Duration) error {
	src := f.Source
	if source != nil {
		src = *source
	}
	if specYAML != nil {
		return h.checkSpec(ctx, name, src, specYAML, timeout)
	}
	stored, err := h.st.Spec(ctx, f.ID)
	if err != nil || len(stored) == 0 {
		return err
	}
	s := string(stored)
	return h.checkSpec(ctx, name, src, &s, timeout)
}

// getSpec answers a function's stored spec (404 when it has none).
func (h *handler) getSpec(w http.ResponseWriter, r *http.Request) error {
	f, err := h.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	s, err := h.st.Spec(r.Context(), f.ID)
	if err != nil {
		return err
	}
	if len(s) == 0 {
		return &apiError{http.StatusNotFound, "function " + f.Name + " has no spec"}
	}
	return ok(w, api.FunctionSpec{Spec: string(s)})
}
