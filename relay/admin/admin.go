package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// Prefix is the path the admin API is mounted under.
const Prefix = api.Prefix

// DefaultMaxBodyBytes caps request bodies when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// Replayer schedules a stored pending delivery, such as a replay made
// through the API. *relay.Server implements it.
type Replayer interface {
	Enqueue(d *relay.Delivery)
}

// Options configure the admin API.
type Options struct {
	// Store is the relay's store. Required.
	Store relay.Store
	// Server is the running relay: it is reloaded after every change and
	// runs invocations. Nil for a store without a running relay; then
	// invoke runs functions on Engine directly.
	Server *relay.Server
	// Engine compiles functions before they are saved. Required.
	Engine *runtime.Engine
	// Replayer schedules replayed deliveries; nil means Server (when set).
	// Without either, a replayed delivery waits in the store until the
	// relay starts.
	Replayer Replayer
	// Logger records changes (never secrets); nil discards.
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Specs runs the specs stored with functions before a new version is
	// saved (spec.Check in the relay). Without it, a function that has a
	// spec gets no new version.
	Specs SpecChecker
	// OfflineEngine runs functions against stored webhooks when the
	// caller did not allow network access: its modules make no calls
	// (the http module refuses them). Nil refuses such runs.
	OfflineEngine *runtime.Engine
	// Retention is the relay's retention purge, whose counts GET
	// /retention shows; nil shows none (policies are still kept).
	Retention *relay.Purger
}

// handler is the admin API.
type handler struct {
	opts     Options
	st       relay.Store
	engine   *runtime.Engine
	log      *slog.Logger
	replayer Replayer
	mux      *http.ServeMux
	auth     *relay.Verifier
	// mu serializes changes, so that checks and writes (and applies) do
	// not interleave.
	mu sync.Mutex
}

// New returns the admin API, to be mounted under Prefix:
//
//	h, err := admin.New(admin.Options{...})
//	mux.Handle(admin.Prefix, h)
//
// Every request must carry an admin token (Authorization: Bearer
// <id>.<secret>); see Bootstrap for the first one. New fails when Store or
// Engine is nil.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil || opts.Engine == nil {
		return nil, errors.New("admin: Options.Store and Options.Engine are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &handler{
		opts:     opts,
		st:       opts.Store,
		engine:   opts.Engine,
		log:      opts.Logger,
		replayer: opts.Replayer,
		mux:      http.NewServeMux(),
		auth:     relay.NewVerifier(),
	}
	if h.replayer == nil && opts.Server != nil {
		h.replayer = opts.Server
	}
	h.routes()
	return h, nil
}

func (h *handler) routes() {
	r := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		method, path, _ := strings.Cut(pattern, " ")
		h.mux.Handle(method+" "+strings.TrimSuffix(Prefix, "/")+path, h.wrap(fn, method != http.MethodGet))
	}
	r("GET /tokens", h.listAdminTokens)
	r("POST /tokens", h.createAdminToken)
	r("DELETE /tokens/{id}", h.deleteToken)

	r("GET /buckets", h.listBuckets)
	r("POST /buckets", h.createBucket)
	r("GET /buckets/{bucket}", h.getBucket)
	r("PATCH /buckets/{bucket}", h.updateBucket)
	r("DELETE /buckets/{bucket}", h.deleteBucket)
	r("GET /buckets/{bucket}/tokens", h.listBucketTokens)
	r("POST /buckets/{bucket}/tokens", h.createBucketToken)

	r("GET /buckets/{bucket}/inputs", h.listInputs)
	r("POST /buckets/{bucket}/inputs", h.createInput)
	r("GET /inputs/{id}", h.getInput)
	r("PATCH /inputs/{id}", h.updateInput)
	r("DELETE /inputs/{id}", h.deleteInput)

	r("GET /buckets/{bucket}/outputs", h.listOutputs)
	r("POST /buckets/{bucket}/outputs", h.createOutput)
	r("GET /outputs/{id}", h.getOutput)
	r("PATCH /outputs/{id}", h.updateOutput)
	r("DELETE /outputs/{id}", h.deleteOutput)

	r("GET /functions", h.listFunctions)
	r("POST /functions", h.createFunction)
	r("GET /functions/{fn}", h.getFunction)
	r("PUT /functions/{fn}", h.updateFunction)
	r("PATCH /functions/{fn}", h.updateFunction)
	r("DELETE /functions/{fn}", h.deleteFunction)
	r("GET /functions/{fn}/versions", h.listVersions)
	r("GET /functions/{fn}/versions/{n}", h.getVersion)
	r("GET /functions/{fn}/config", h.listConfig)
	r("PUT /functions/{fn}/config", h.replaceConfig)
	r("DELETE /functions/{fn}/config", h.clearConfig)
	r("GET /functions/{fn}/config/{key}", h.getConfig)
	r("PUT /functions/{fn}/config/{key}", h.setConfig)
	r("DELETE /functions/{fn}/config/{key}", h.deleteConfig)
	r("GET /functions/{fn}/spec", h.getSpec)

	// invoke changes nothing: it is not serialized with the changes.
	h.mux.Handle("POST "+strings.TrimSuffix(Prefix, "/")+"/functions/{fn}/invoke", h.wrap(h.invoke, false))

	h.retentionRoutes(r)

	r("GET /deliveries", h.listDeliveries)
	r("GET /deliveries/{id}", h.getDelivery)
	r("POST /deliveries/{id}/replay", h.replay)

	r("POST /apply", h.apply)
	h.agentRoutes(r)

	h.webhookRoutes()
}

// methods are the methods the API answers, for 405's Allow header.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// ServeHTTP checks the admin token, then routes the request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok, ok, wait := h.authenticate(r)
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeError(w, http.StatusTooManyRequests, "too many failed attempts for this admin token id")
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="relayfn admin"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid admin token (Authorization: Bearer <id>.<secret>)")
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, tok.ID))
	if _, pattern := h.mux.Handler(r); pattern == "" {
		var allow []string
		for _, m := range methods {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, p := h.mux.Handler(r2); p != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// callerKey is the context key of the ID of the admin token in use.
type callerKey struct{}

// caller returns the ID of the admin token the request carried.
func caller(ctx context.Context) string {
	id, _ := ctx.Value(callerKey{}).(string)
	return id
}

// wrap turns a handler returning an error into an http.Handler; changes
// are serialized.
func (h *handler) wrap(fn func(w http.ResponseWriter, r *http.Request) error, change bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if change {
			h.mu.Lock()
			defer h.mu.Unlock()
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// apiError is an error answered with its status and message as they are.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest returns a 400 error.
func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// conflict returns a 409 error.
func conflict(format string, args ...any) error {
	return &apiError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

// invalid returns a 400 error for a failed validation, naming the field:
// "field: problem" (several on separate lines).
func invalid(field string, err error) error {
	if field == "" {
		return &apiError{http.StatusBadRequest, err.Error()}
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = field + ": " + l
	}
	return &apiError{http.StatusBadRequest, strings.Join(lines, "\n")}
}

// fail answers err: its own status for an apiError, 404 and 409 for the
// store's not-found and conflict errors (whose messages name ids and names,
// never values), 400 for a syntax error, and 500 otherwise, with the
// details only in the log.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var se *runtime.SyntaxError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.msg)
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "source: "+se.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	default:
		h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal error (see the relay's log)")
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.ErrorResponse{Error: msg})
}

// writeJSON answers status with the wire form of v.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	v, err := wire(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ok answers 200 with v.
func ok(w http.ResponseWriter, v any) error { return writeJSON(w, http.StatusOK, v) }

// created answers 201 with v.
func created(w http.ResponseWriter, v any) error { return writeJSON(w, http.StatusCreated, v) }

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads the JSON request body into v strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return err
		case errors.Is(err, io.EOF):
			return badRequest("empty request body: send a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("invalid JSON: unexpected end of the request body")
		case errors.As(err, &syn):
			return badRequest("invalid JSON at byte %d: %v", syn.Offset, syn)
		case errors.As(err, &typ) && typ.Type == api.DurationType:
			return badRequest("%s: invalid duration %s (want a Go duration such as \"5s\", or nanoseconds)", typ.Field, typ.Value)
		case errors.As(err, &typ):
			if typ.Field != "" {
				return badRequest("%s: expected %s, got %s", typ.Field, typ.Type, typ.Value)
			}
			return badRequest("expected %s, got %s", typ.Type, typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return badRequest("invalid request body: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if dec.More() {
		return badRequest("invalid request body: more than one JSON value")
	}
	return nil
}

// changed reloads the relay after a change. A failed reload is answered
// 500: the change is saved, but the relay does not route by it yet.
func (h *handler) changed(ctx context.Context) error {
	if h.opts.Server == nil {
		return nil
	}
	if err := h.opts.Server.Reload(context.WithoutCancel(ctx)); err != nil {
		h.log.Error("admin: reload after a change", "error", err)
		return &apiError{http.StatusInternalServerError, "the change was saved, but the relay could not reload; see its log"}
	}
	return nil
}

// audit logs a change with the admin token that made it.
func (h *handler) audit(ctx context.Context, msg string, args ...any) {
	h.log.InfoContext(ctx, msg, append(args, "by_token", caller(ctx))...)
}

// validName checks the name field of a request.
func validName(name string) error {
	if err := relay.ValidateName(name); err != nil {
		return invalid("name", err)
	}
	return nil
}
