package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/runtime"
)

// chunkName is the name a function's source is compiled under, as the
// relay does, so that line numbers in errors match.
func chunkName(name string) string { return name + ".lua" }

// compile checks that source compiles; a syntax error is answered 400
// naming the function and the line.
func (h *handler) compile(name, source string) error {
	if _, err := h.engine.Compile(chunkName(name), []byte(source)); err != nil {
		var se *runtime.SyntaxError
		if errors.As(err, &se) {
			return badRequest("source: %s", se.ForFunction(name))
		}
		return err
	}
	return nil
}

func (h *handler) listFunctions(w http.ResponseWriter, r *http.Request) error {
	fns, err := h.st.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	for _, f := range fns {
		f.Source = ""
	}
	return ok(w, nonNil(fns))
}

func (h *handler) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, err := h.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	return ok(w, f)
}

func (h *handler) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req api.FunctionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name: missing: a name is required")
	}
	if req.Source == nil {
		return badRequest("source: missing: the function's Lua source is required")
	}
	f := &functions.Function{Name: *req.Name, Driver: "lua", Source: *req.Source}
	if req.Timeout != nil {
		f.Timeout = time.Duration(*req.Timeout)
	}
	if err := relay.ValidateFunction(f.Name, f.Timeout); err != nil {
		return invalid("", err)
	}
	for k := range req.Config {
		if strings.TrimSpace(k) == "" {
			return badRequest("config: empty key")
		}
	}
	if err := h.compile(f.Name, f.Source); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.checkSpec(ctx, f.Name, f.Source, req.Spec, f.Timeout); err != nil {
		return err
	}
	if err := h.st.CreateFunction(ctx, f); err != nil {
		return err
	}
	if req.Spec != nil && *req.Spec != "" {
		if err := h.st.SetSpec(ctx, f.ID, []byte(*req.Spec)); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(req.Config)) {
		if err := h.st.SetConfig(ctx, f.ID, k, req.Config[k]); err != nil {
			return err
		}
	}
	h.audit(ctx, "admin: function created", "function", f.Name, "id", f.ID, "version", f.Version)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return created(w, f)
}

// updateFunction renames a function, changes its timeout, or saves a new
// source as its next version (when it differs from the current one).
func (h *handler) updateFunction(w http.ResponseWriter, r *http.Request) error {
	var req api.FunctionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Config != nil {
		return badRequest("config: set configuration variables with PUT …/config")
	}
	ctx := r.Context()
	f, err := h.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	name, timeout := f.Name, f.Timeout
	if req.Name != nil {
		name = *req.Name
	}
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout)
	}
	if err := relay.ValidateFunction(name, timeout); err != nil {
		return invalid("", err)
	}
	newSource := req.Source != nil && *req.Source != f.Source
	if newSource {
		if err := h.compile(name, *req.Source); err != nil {
			return err
		}
	}
	if newSource || req.Spec != nil {
		if err := h.checkStoredSpec(ctx, f, name, req.Source, req.Spec, timeout); err != nil {
			return err
		}
	}
	if name != f.Name || timeout != f.Timeout {
		f.Name, f.Timeout = name, timeout
		if err := h.st.UpdateFunction(ctx, f); err != nil {
			return err
		}
	}
	if newSource {
		nf, err := h.st.AddVersion(ctx, f.ID, *req.Source, "")
		if err != nil {
			return err
		}
		f = nf
	}
	if req.Spec != nil {
		if err := h.st.SetSpec(ctx, f.ID, []byte(*req.Spec)); err != nil {
			return err
		}
	}
	h.audit(ctx, "admin: function updated", "function", f.Name, "id", f.ID, "version", f.Version)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return ok(w, f)
}

func (h *handler) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	f, err := h.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	// Say where it is attached, by name; the store refuses too (ErrConflict,
	// 409) while an input or output uses it.
	if refused, err := h.refuseAttached(r.Context(), w, f.ID, f.Name); refused || err != nil {
		return err
	}
	if err := h.st.DeleteFunction(r.Context(), f.ID); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: function deleted", "function", f.Name, "id", f.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) listVersions(w http.ResponseWriter, r *http.Request) error {
	f, err := h.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	vs, err := h.st.ListVersions(r.Context(), f.ID)
	if err != nil {
		return err
	}
	for _, v := range vs {
		v.Source = ""
	}
	return ok(w, nonNil(vs))
}

func (h *handler) getVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return badRequest("version: %q is not a version number", r.PathValue("n"))
	}
	f, err := h.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	vs, err := h.st.ListVersions(r.Context(), f.ID)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Version == n {
			return ok(w, v)
		}
	}
	return &apiError{http.StatusNotFound, "function " + f.Name + " has no version " + strconv.Itoa(n)}
}

// configOf returns the function named in the path and its configuration.
func (h *handler) configOf(ctx context.Context, r *http.Request) (*functions.Function, map[string]string, error) {
	f, err := h.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return nil, nil, err
	}
	cfg, err := h.st.Config(ctx, f.ID)
	if err != nil {
		return nil, nil, err
	}
	return f, cfg, nil
}

// listConfig lists the keys of a function's configuration variables. The
// values are secrets and are never returned.
func (h *handler) listConfig(w http.ResponseWriter, r *http.Request) error {
	_, cfg, err := h.configOf(r.Context(), r)
	if err != nil {
		return err
	}
	return ok(w, api.ConfigKeys{Keys: nonNil(slices.Sorted(maps.Keys(cfg)))})
}

// replaceConfig makes the function's variables exactly those of the body,
// a JSON object of keys to values.
func (h *handler) replaceConfig(w http.ResponseWriter, r *http.Request) error {
	var want map[string]string
	if err := decode(r, &want); err != nil {
		return err
	}
	for k := range want {
		if strings.TrimSpace(k) == "" {
			return badRequest("config: empty key")
		}
	}
	ctx := r.Context()
	f, have, err := h.configOf(ctx, r)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if old, ok := have[k]; ok && old == want[k] {
			continue
		}
		if err := h.st.SetConfig(ctx, f.ID, k, want[k]); err != nil {
			return err
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := h.st.DeleteConfig(ctx, f.ID, k); err != nil {
				return err
			}
		}
	}
	h.audit(ctx, "admin: function config replaced", "function", f.Name, "keys", len(want))
	if err := h.changed(ctx); err != nil {
		return err
	}
	return ok(w, api.ConfigKeys{Keys: nonNil(slices.Sorted(maps.Keys(want)))})
}

func (h *handler) clearConfig(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, have, err := h.configOf(ctx, r)
	if err != nil {
		return err
	}
	for k := range have {
		if err := h.st.DeleteConfig(ctx, f.ID, k); err != nil {
			return err
		}
	}
	h.audit(ctx, "admin: function config cleared", "function", f.Name)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return noContent(w)
}

// getConfig answers whether a variable is set, without its value.
func (h *handler) getConfig(w http.ResponseWriter, r *http.Request) error {
	f, cfg, err := h.configOf(r.Context(), r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if _, ok := cfg[key]; !ok {
		return &apiError{http.StatusNotFound, "function " + f.Name + " has no config variable " + strconv.Quote(key)}
	}
	return ok(w, api.ConfigKeys{Keys: []string{key}})
}

func (h *handler) setConfig(w http.ResponseWriter, r *http.Request) error {
	var req api.ConfigValue
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	f, err := h.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if strings.TrimSpace(key) == "" {
		return badRequest("config: empty key")
	}
	if err := h.st.SetConfig(ctx, f.ID, key, req.Value); err != nil {
		return err
	}
	h.audit(ctx, "admin: function config set", "function", f.Name, "key", key)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) deleteConfig(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := h.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if err := h.st.DeleteConfig(ctx, f.ID, key); err != nil {
		return err
	}
	h.audit(ctx, "admin: function config deleted", "function", f.Name, "key", key)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return noContent(w)
}

// invoke runs a function once with its stored configuration. The answer is
// the runtime.Result, whether or not the function failed.
func (h *handler) invoke(w http.ResponseWriter, r *http.Request) error {
	var req api.InvokeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	f, err := h.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	res, err := Invoke(ctx, h.opts, f, req)
	if err != nil {
		return err
	}
	return ok(w, res)
}

// Invoke runs f once with its stored configuration and the request req
// describes, as POST /functions/{fn}/invoke does (the web console's dry
// run is this same code): f.Source runs, even when it is an edited draft
// not saved yet (see draft); on the running relay (opts.Server) when there
// is one, on opts.Engine otherwise. Nothing is forwarded or stored. The
// Result tells whether the function failed.
func Invoke(ctx context.Context, opts Options, f *functions.Function, req api.InvokeRequest) (*runtime.Result, error) {
	hr := relay.HTTPRequest{
		Method:   req.Method,
		Path:     req.Path,
		RawQuery: strings.TrimPrefix(req.Query, "?"),
		Header:   http.Header(req.Headers),
		Body:     []byte(req.Body),
	}
	if hr.Method == "" {
		hr.Method = http.MethodPost
	}
	if hr.Path == "" {
		hr.Path = "/"
	} else if !strings.HasPrefix(hr.Path, "/") {
		hr.Path = "/" + hr.Path
	}
	if hr.Header == nil {
		hr.Header = http.Header{}
	}
	md := req.Metadata
	if md == nil {
		md = map[string]string{}
	}
	if opts.Server != nil && !draft(f) {
		return opts.Server.Invoke(ctx, f.ID, hr, md)
	}
	return invokeLocal(ctx, opts, f, hr, md)
}

// draft reports whether f.Source is not the stored version's (f.Hash): an
// edited source that Invoke runs as it is, with f's configuration and
// timeout (the web console's editor runs drafts).
func draft(f *functions.Function) bool {
	sum := sha256.Sum256([]byte(f.Source))
	return f.Hash != "" && f.Hash != hex.EncodeToString(sum[:])
}

// invokeLocal runs f on the engine, for an API without a running relay.
func invokeLocal(ctx context.Context, opts Options, f *functions.Function, req relay.HTTPRequest, md map[string]string) (*runtime.Result, error) {
	cfg, err := opts.Store.Config(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	fn, err := opts.Engine.Compile(chunkName(f.Name), []byte(f.Source))
	if err != nil {
		return nil, err
	}
	return opts.Engine.Run(ctx, fn, &runtime.Input{
		Request:  runtime.Request{Method: req.Method, Path: req.Path, RawQuery: req.RawQuery, Header: req.Header, Body: req.Body},
		Config:   cfg,
		Metadata: md,
		Timeout:  f.Timeout,
	}), nil
}
