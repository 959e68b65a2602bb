package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// SpecChecker runs a spec stored with a function against a source, the
// function name's next version, and returns what failed (none when every
// test passed). spec.Check is the relay's; it is injected (Options.Specs)
// because the spec sandbox links the modules, which the admin API does not.
type SpecChecker func(ctx context.Context, e *runtime.Engine, name, source string, spec []byte, timeout time.Duration) []string

// SpecFailures checks a spec as the admin API does before a save, with
// opts.Specs; without a checker every spec fails, saying so.
func SpecFailures(ctx context.Context, opts Options, name, source string, spec []byte, timeout time.Duration) []string {
	if opts.Specs == nil {
		return []string{"this relay cannot run specs (no spec checker is wired in), so nothing is saved while the function has one"}
	}
	return opts.Specs(ctx, opts.Engine, name, source, spec, timeout)
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
	if fs := SpecFailures(ctx, h.opts, name, source, []byte(*specYAML), timeout); len(fs) > 0 {
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

// checkApplySpecs runs the stored spec of each function whose source an
// apply of f would change, so that applying a relay.yaml cannot save a
// version that its function's stored spec refuses.
func (h *handler) checkApplySpecs(ctx context.Context, f *config.File) error {
	for _, fn := range f.Functions {
		if fn.Reference {
			continue
		}
		old, err := h.st.GetFunction(ctx, fn.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if old.Source == fn.Source {
			continue
		}
		src := fn.Source
		if err := h.checkStoredSpec(ctx, old, fn.Name, &src, nil, time.Duration(fn.Timeout)); err != nil {
			return err
		}
	}
	return nil
}
