package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/api"
)

// upperSpec expects the function to upper-case the body.
const upperSpec = `version: v1
filename: ignored.lua
tests:
  - name: upper-cases the body
    request:
      body: hello
    expect:
      request:
        bodyEquals: HELLO
`

func TestStoredSpecGatesNewVersions(t *testing.T) {
	e := newEnv(t)
	good := `r:SetRequestBody(string.upper(r.RequestBody))`
	bad := `r:SetRequestBody(r.RequestBody .. "!")`

	// A create whose spec fails saves nothing.
	e.fails(http.StatusUnprocessableEntity, "upper-cases the body", "POST", "/v1/admin/functions",
		map[string]any{"name": "up", "source": bad, "spec": upperSpec})
	e.fails(http.StatusNotFound, "", "GET", "/v1/admin/functions/up", nil)

	e.must(http.StatusCreated, "POST", "/v1/admin/functions", map[string]any{"name": "up", "source": good, "spec": upperSpec})
	var got api.FunctionSpec
	e.must(http.StatusOK, "GET", "/v1/admin/functions/up/spec", nil).json(t, &got)
	if got.Spec != upperSpec {
		t.Errorf("stored spec = %q, want %q", got.Spec, upperSpec)
	}

	// A new version is checked against the stored spec.
	e.fails(http.StatusUnprocessableEntity, `bodyEquals`, "PUT", "/v1/admin/functions/up", map[string]any{"source": bad})
	var f api.Function
	e.must(http.StatusOK, "GET", "/v1/admin/functions/up", nil).json(t, &f)
	if f.Version != 1 {
		t.Errorf("version after a refused save = %d, want 1", f.Version)
	}
	// An invalid spec is refused, naming the field.
	e.fails(http.StatusUnprocessableEntity, "tests", "PUT", "/v1/admin/functions/up", map[string]any{"spec": "version: v1\n"})
	// Removing the spec lets any source through.
	e.must(http.StatusOK, "PUT", "/v1/admin/functions/up", map[string]any{"spec": ""})
	e.fails(http.StatusNotFound, "no spec", "GET", "/v1/admin/functions/up/spec", nil)
	e.must(http.StatusOK, "PUT", "/v1/admin/functions/up", map[string]any{"source": bad}).json(t, &f)
	if f.Version != 2 || !strings.Contains(f.Source, `"!"`) {
		t.Errorf("after removing the spec: v%d %q", f.Version, f.Source)
	}
}

func TestApplyRespectsStoredSpecs(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/admin/functions",
		map[string]any{"name": "up", "source": `r:SetRequestBody(string.upper(r.RequestBody))`, "spec": upperSpec})
	doc := "functions:\n  - name: up\n    source: 'r:SetRequestBody(\"nope\")'\n"
	e.fails(http.StatusUnprocessableEntity, "upper-cases the body", "POST", "/v1/admin/apply", doc)
	var f api.Function
	e.must(http.StatusOK, "GET", "/v1/admin/functions/up", nil).json(t, &f)
	if f.Version != 1 {
		t.Errorf("version after a refused apply = %d, want 1", f.Version)
	}
}
