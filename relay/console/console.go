// Package console is the relay's web console, served under /ui/ on the
// admin listener (the public one in one-port mode): server-rendered
// html/template pages from files embedded in the binary, with a small
// vendored script library (htmx, and CodeMirror 5 with its Lua mode for the
// editor; versions and licences in static/vendor/VERSIONS). Every page
// reads without JavaScript; scripts only enhance (the editor's
// highlighting, Run without a reload, the request log's live updates from
// the relay's event stream, proxied behind the session at /ui/events,
// times in the browser's zone).
//
// # Security
//
// Sign-in exchanges an admin token for a session cookie (HttpOnly,
// SameSite=Strict, Secure over TLS, for /ui/ only) signed with a key the
// relay derives from its seal key. The session names the admin token: it
// is checked against the store on every request, so deleting the token
// (fnctl token rm, DELETE /v1/admin/tokens/{id}) signs its sessions out.
// Sessions expire after Options.SessionTTL. Every state-changing request
// needs the session's CSRF token (a hidden form field, or the X-CSRF-Token
// header) and, from a browser, an Origin of this host; otherwise it is
// answered 403. Every answer carries a strict Content-Security-Policy (no
// inline script or style, no framing). Nothing secret is rendered:
// configuration variables show their names only (values are write-only),
// tokens are never shown, and destinations lose their userinfo.
//
// The console calls the same code as the admin API for what both do (a
// function's dry run, a run against a captured webhook, a webhook's
// detail, a replay, the spec check before a save); its own
// changes are audited in the relay's log with the admin token's ID.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/store"
)

// Prefix is the path the console is mounted under.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every answer.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// DefaultSessionTTL is how long a session lasts when Options.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

//go:embed templates static
var files embed.FS

// Options configure the console.
type Options struct {
	// Admin gives the store, the running relay and the engine: the console
	// uses them as the admin API does. Admin.Store and Admin.Engine are
	// required.
	Admin admin.Options
	// Key signs the session cookies (32 bytes or more). Required: the
	// relay derives it from its seal key, so sessions survive a restart.
	Key []byte
	// SessionTTL is how long a session lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// PublicURL is the base of the inputs' public URLs shown on the
	// overview ("http://host:port"); empty means the console's own scheme
	// and host (one-port mode).
	PublicURL string
	// PublicPort, when PublicURL is empty, is the public listener's port:
	// the public URLs are then the console's scheme and host name with
	// this port (a separate admin listener on every interface).
	PublicPort string
	// Logger records sign-ins and changes (never secrets); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console is the web console's handler, to be mounted under Prefix.
type Console struct {
	opts     Options
	st       relay.Store
	log      *slog.Logger
	sess     *sessions
	auth     *relay.Verifier
	pages    map[string]*template.Template
	static   http.Handler
	mux      *http.ServeMux
	replayer admin.Replayer

	// The overview's delivery counts, kept for statsMaxAge: counting
	// scans every delivery.
	statsMu sync.Mutex
	statsAt time.Time
	stats   map[string]relay.OutputStats
}

// statsMaxAge is how old the overview's delivery counts may be.
const statsMaxAge = 5 * time.Second

// New returns the console.
func New(opts Options) (*Console, error) {
	if opts.Admin.Store == nil || opts.Admin.Engine == nil {
		return nil, errors.New("console: Options.Admin.Store and Options.Admin.Engine are required")
	}
	if len(opts.Key) < 32 {
		return nil, errors.New("console: Options.Key must be at least 32 bytes")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	c := &Console{
		opts: opts,
		st:   opts.Admin.Store,
		log:  opts.Logger,
		sess: &sessions{key: opts.Key, ttl: opts.SessionTTL, now: opts.Now},
		auth: relay.NewVerifier(),
		mux:  http.NewServeMux(),
	}
	c.replayer = opts.Admin.Replayer
	if c.replayer == nil && opts.Admin.Server != nil {
		c.replayer = opts.Admin.Server
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	if c.static, err = newStaticHandler(static); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// parse parses each page with the layout.
func (c *Console) parse() error {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return nil
}

// sessionKey is the context key of the request's session.
type sessionKey struct{}

func (c *Console) routes() {
	m := c.mux
	m.Handle("GET "+Prefix+"static/", c.static)
	m.HandleFunc("GET "+Prefix+"login", c.loginPage)
	m.HandleFunc("POST "+Prefix+"login", c.login)
	page := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		m.Handle(pattern, c.authed(fn))
	}
	page("POST "+Prefix+"logout", c.logout)
	page("GET "+Prefix+"{$}", c.overview)
	page("GET "+Prefix+"functions", c.functionsPage)
	page("POST "+Prefix+"functions", c.createFunction)
	page("GET "+Prefix+"functions/{fn}", c.editor)
	page("POST "+Prefix+"functions/{fn}", c.editorPost)
	page("POST "+Prefix+"functions/{fn}/config", c.setConfig)
	page("POST "+Prefix+"functions/{fn}/config/delete", c.deleteConfig)
	page("POST "+Prefix+"functions/{fn}/attach", c.attach)
	page("GET "+Prefix+"deliveries", c.deliveriesPage)
	page("POST "+Prefix+"deliveries/{id}/replay", c.replayOne)
	page("GET "+Prefix+"deliveries/replay", c.replayAllPage)
	page("POST "+Prefix+"deliveries/replay", c.replayAll)
	page("GET "+Prefix+"webhooks", c.requestLog)
	page("GET "+Prefix+"webhooks/{id}", c.webhookDetail)
	page("GET "+Prefix+"events", c.events)
}

// ServeHTTP sets the security headers of every answer, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // not no-referrer: it makes browsers send "Origin: null" on POST
	if !strings.HasPrefix(r.URL.Path, Prefix+"static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusFound)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// authed runs fn for a request with a valid session whose admin token
// still exists; a state-changing request must also pass the origin and
// CSRF checks (403 otherwise). Without a session, a GET goes to the
// sign-in page and anything else is answered 401.
func (c *Console) authed(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := c.session(r)
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, c.maxBody())
			if !sameOrigin(r) {
				http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
				return
			}
			if !c.sess.checkCSRF(r, ss) {
				http.Error(w, "forbidden: missing or wrong CSRF token (reload the page)", http.StatusForbidden)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, ss))
		if err := fn(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

func (c *Console) maxBody() int64 {
	if c.opts.Admin.MaxBodyBytes > 0 {
		return c.opts.Admin.MaxBodyBytes
	}
	return admin.DefaultMaxBodyBytes
}

// session returns the request's session when its cookie is valid and its
// admin token still exists, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	ss, err := c.sess.decode(ck.Value)
	if err != nil {
		return nil
	}
	t, err := c.st.GetToken(r.Context(), ss.TokenID)
	if err != nil || t.BucketID != "" {
		return nil
	}
	return ss
}

// fail shows an error page: 404 for what does not exist, 500 with the
// details only in the log otherwise.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal error (see the relay's log)"
	switch {
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	default:
		c.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	c.render(w, r, "error", "Error", map[string]any{"Status": status, "Message": msg})
}

// page is what the layout renders around a page's content.
type page struct {
	Title  string
	Nav    string
	CSRF   string
	Signed bool
	Data   any
}

// render renders a page into w.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name, title string, data any) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %s", name)
	}
	p := page{Title: title, Nav: name, Data: data}
	if ss, ok := r.Context().Value(sessionKey{}).(*session); ok {
		p.CSRF, p.Signed = c.sess.csrf(ss), true
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	return t.ExecuteTemplate(w, "layout", p)
}

// outputStats returns the store's OutputStats, at most statsMaxAge old.
func (c *Console) outputStats(ctx context.Context) (map[string]relay.OutputStats, error) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	now := c.opts.Now()
	if c.stats != nil && now.Sub(c.statsAt) < statsMaxAge {
		return c.stats, nil
	}
	st, err := c.st.OutputStats(ctx)
	if err != nil {
		return nil, err
	}
	c.stats, c.statsAt = st, now
	return st, nil
}

// changed reloads the relay after a change.
func (c *Console) changed(ctx context.Context) error {
	if c.opts.Admin.Server == nil {
		return nil
	}
	if err := c.opts.Admin.Server.Reload(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("the change was saved, but the relay could not reload: %w", err)
	}
	return nil
}

// audit logs a change with the admin token of the session.
func (c *Console) audit(r *http.Request, msg string, args ...any) {
	ss, _ := r.Context().Value(sessionKey{}).(*session)
	tok := ""
	if ss != nil {
		tok = ss.TokenID
	}
	c.log.InfoContext(r.Context(), msg, append(args, "by_token", tok, "via", "console")...)
}
