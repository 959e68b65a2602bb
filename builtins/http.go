package builtins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/net/http/httpguts"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/runtime"
)

// Defaults for [HTTPOptions] fields left zero.
const (
	DefaultHTTPMaxResponseBytes = 5 << 20
	DefaultHTTPMaxRequests      = 50
	DefaultHTTPTimeout          = 10 * time.Second
	DefaultHTTPUserAgent        = "relayfn"
	DefaultHTTPMaxBatch         = 100
	DefaultHTTPBatchConcurrency = 8
)

// HTTPOptions bound what a function may do with the http module. Zero
// fields take their defaults.
type HTTPOptions struct {
	// MaxResponseBytes caps each response body; a larger one is an error.
	// Default DefaultHTTPMaxResponseBytes (5 MiB).
	MaxResponseBytes int64
	// MaxRequestsPerInvocation caps the requests one invocation sends,
	// batches included. Default DefaultHTTPMaxRequests.
	MaxRequestsPerInvocation int
	// DefaultTimeout bounds a request whose options set no timeout. Every
	// request is also bounded by the invocation's deadline. Default
	// DefaultHTTPTimeout.
	DefaultTimeout time.Duration
	// UserAgent is sent unless the function sets its own User-Agent
	// header. Default DefaultHTTPUserAgent.
	UserAgent string
	// MaxBatchSize caps the requests of one http.request_batch call.
	// Default DefaultHTTPMaxBatch.
	MaxBatchSize int
	// BatchConcurrency is how many requests of a batch are in flight at
	// once. 1 sends them one after another in the batch's order (what a
	// recorder that checks call order wants). Default
	// DefaultHTTPBatchConcurrency.
	BatchConcurrency int
}

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultHTTPMaxResponseBytes
	}
	if o.MaxRequestsPerInvocation <= 0 {
		o.MaxRequestsPerInvocation = DefaultHTTPMaxRequests
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultHTTPTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultHTTPUserAgent
	}
	if o.MaxBatchSize <= 0 {
		o.MaxBatchSize = DefaultHTTPMaxBatch
	}
	if o.BatchConcurrency <= 0 {
		o.BatchConcurrency = DefaultHTTPBatchConcurrency
	}
	return o
}

// HTTP is the "http" module, compatible with Webhook Relay's (which follows
// gluahttp):
//
//	http.request(method, url[, opts]) → resp, err
//	http.get(url[, opts]), http.post, http.put, http.patch, http.delete,
//	http.head                         → resp, err
//	http.request_batch({{method, url[, opts]}, …}) → resps, errs
//
// opts:
//
//	headers  table name → value
//	query    string ("a=1&b=2") or table (name → value or array of values);
//	         appended to the URL's own query
//	body     string
//	form     table (name → value or array of values), sent urlencoded with
//	         Content-Type application/x-www-form-urlencoded; a string is
//	         sent as is (gluahttp's form). body wins when both are given.
//	cookies  table name → value
//	timeout  "5s", "250ms" or a number of seconds; default
//	         HTTPOptions.DefaultTimeout, never past the invocation's deadline
//
// resp: status_code, body, body_size, headers (canonical name → first
// value; looked up case-insensitively), cookies (name → value, from the
// final response), url (the final URL, after redirects). A non-2xx status
// is a response, not an error. An error returns nil and a message: an
// egress denial keeps egress's own message ("denied by egress proxy: …",
// "egress: address … is not allowed (loopback)", "egress: host … denied by
// egress ACL …"); otherwise the message names the method and the target's
// scheme and host (never its path, query or headers, which may hold
// secrets), e.g. "http: GET https://api.example.com: timed out after 5s".
//
// request_batch sends its requests concurrently (HTTPOptions.BatchConcurrency
// at a time) and returns resps[i] for each request i that got a response and,
// when any failed, errs with errs[i] set for each failed request; errs is nil
// when all succeeded. Both are indexed like the input, so they may have holes.
//
// Every request goes through d as the invocation's bucket (its
// "bucket_name" metadata), with the invocation's deadline. Nothing about a
// request is logged.
func HTTP(d egress.Doer, opts HTTPOptions) runtime.Module {
	m := &httpModule{d: d, opts: opts.withDefaults()}
	return runtime.Module{Name: "http", Open: m.open}
}

type httpModule struct {
	d    egress.Doer
	opts HTTPOptions
}

// httpCountKey is where an invocation's request count is kept (Call.Value).
type httpCountKey struct{}

// httpSpec is one request, built on the VM goroutine from Lua values, and
// holding only plain Go values so it can be sent from another goroutine.
type httpSpec struct {
	req     *http.Request
	timeout time.Duration
	label   string // "GET https://host", for error messages
}

// httpResult is one response, read in full, in plain Go values.
type httpResult struct {
	status  int
	body    []byte
	header  http.Header
	cookies []*http.Cookie
	url     string
}

func (m *httpModule) open(L *lua.LState) *lua.LTable {
	// One metatable per state for the headers tables of responses: lookups
	// by any spelling of a name. Locked, so no function can change it for
	// the invocations after it.
	hdrMeta := L.NewTable()
	hdrMeta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		k, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(t.RawGetString(http.CanonicalHeaderKey(string(k))))
		return 1
	}))
	hdrMeta.RawSetString("__metatable", lua.LString("locked"))

	verb := func(method string) lua.LGFunction {
		return func(L *lua.LState) int { return m.single(L, hdrMeta, method, 1) }
	}
	return newModule(L, map[string]lua.LGFunction{
		"request": func(L *lua.LState) int {
			method, ok := L.Get(1).(lua.LString)
			if !ok {
				return fail(L, "http: method must be a string, not a %s", L.Get(1).Type())
			}
			return m.single(L, hdrMeta, string(method), 2)
		},
		"get":    verb(http.MethodGet),
		"post":   verb(http.MethodPost),
		"put":    verb(http.MethodPut),
		"patch":  verb(http.MethodPatch),
		"delete": verb(http.MethodDelete),
		"head":   verb(http.MethodHead),
		"request_batch": func(L *lua.LState) int {
			return m.batch(L, hdrMeta)
		},
	})
}

// single sends one request whose URL is argument at and options at+1.
func (m *httpModule) single(L *lua.LState, hdrMeta *lua.LTable, method string, at int) int {
	call := runtime.CallOf(L)
	if call == nil {
		return fail(L, "http: not called from a function invocation")
	}
	spec, err := m.build(method, L.Get(at), L.Get(at+1))
	if err != nil {
		return failErr(L, err)
	}
	if err := m.reserve(call, 1); err != nil {
		return failErr(L, err)
	}
	res, err := m.do(call.Context(), call.Metadata("bucket_name"), spec)
	if err != nil {
		return failErr(L, err)
	}
	L.Push(m.toLua(L, hdrMeta, res))
	return 1
}

// batch is http.request_batch.
func (m *httpModule) batch(L *lua.LState, hdrMeta *lua.LTable) int {
	call := runtime.CallOf(L)
	list := L.CheckTable(1)
	n := list.Len()
	if n > m.opts.MaxBatchSize {
		L.ArgError(1, fmt.Sprintf("%d requests, at most %d in one batch", n, m.opts.MaxBatchSize))
		return 0
	}
	if call == nil {
		L.RaiseError("http: not called from a function invocation")
		return 0
	}

	// Build every request here, on the VM goroutine: nothing of L may be
	// touched by the goroutines below.
	specs := make([]*httpSpec, n)
	errs := make([]error, n)
	for i := range n {
		item, ok := list.RawGetInt(i + 1).(*lua.LTable)
		if !ok {
			errs[i] = errors.New("http: request must be a table {method, url[, options]}")
			continue
		}
		method, ok := item.RawGetInt(1).(lua.LString)
		if !ok {
			errs[i] = fmt.Errorf("http: method must be a string, not a %s", item.RawGetInt(1).Type())
			continue
		}
		spec, err := m.build(string(method), item.RawGetInt(2), item.RawGetInt(3))
		if err != nil {
			errs[i] = err
			continue
		}
		if err := m.reserve(call, 1); err != nil {
			errs[i] = err
			continue
		}
		specs[i] = spec
	}

	ctx, service := call.Context(), call.Metadata("bucket_name")
	results := make([]*httpResult, n)
	sem := make(chan struct{}, m.opts.BatchConcurrency)
	var wg sync.WaitGroup
	for i, spec := range specs {
		if spec == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = m.do(ctx, service, spec)
		}()
	}
	wg.Wait()

	resps := L.CreateTable(n, 0)
	var errTable *lua.LTable
	for i := range n {
		if errs[i] != nil {
			if errTable == nil {
				errTable = L.CreateTable(n, 0)
			}
			errTable.RawSetInt(i+1, lua.LString(errs[i].Error()))
			continue
		}
		resps.RawSetInt(i+1, m.toLua(L, hdrMeta, results[i]))
	}
	L.Push(resps)
	if errTable == nil {
		L.Push(lua.LNil)
	} else {
		L.Push(errTable)
	}
	return 2
}

// reserve counts n more requests against the invocation's limit.
func (m *httpModule) reserve(call *runtime.Call, n int) error {
	count, _ := call.Value(httpCountKey{}).(*int)
	if count == nil {
		count = new(int)
		call.SetValue(httpCountKey{}, count)
	}
	if *count+n > m.opts.MaxRequestsPerInvocation {
		return fmt.Errorf("http: too many HTTP requests: at most %d per invocation", m.opts.MaxRequestsPerInvocation)
	}
	*count += n
	return nil
}

// build turns a method, a URL and options into a request.
func (m *httpModule) build(method string, rawURL, opts lua.LValue) (*httpSpec, error) {
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" {
		return nil, errors.New("http: method is empty")
	}
	us, ok := rawURL.(lua.LString)
	if !ok {
		return nil, fmt.Errorf("http: url must be a string, not a %s", rawURL.Type())
	}
	u, err := url.Parse(strings.TrimSpace(string(us)))
	if err != nil {
		// url.Error repeats the URL, which may hold secrets: keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("http: invalid URL: %v", err)
	}
	switch {
	case u.Scheme == "":
		return nil, errors.New("http: invalid URL: it must start with http:// or https://")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("http: invalid URL: unsupported scheme %q (want http or https)", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("http: invalid URL: it has no host")
	}
	u.Fragment, u.RawFragment = "", ""
	label := method + " " + u.Scheme + "://" + u.Host
	bad := func(format string, args ...any) (*httpSpec, error) {
		return nil, fmt.Errorf("http: %s: %s", label, fmt.Sprintf(format, args...))
	}

	var o *lua.LTable
	switch x := opts.(type) {
	case *lua.LNilType:
	case *lua.LTable:
		o = x
	default:
		return bad("options must be a table, not a %s", opts.Type())
	}

	timeout := m.opts.DefaultTimeout
	var body io.Reader
	header := http.Header{}
	var cookies map[string]string
	var headers map[string]string
	if o != nil {
		switch q := o.RawGetString("query").(type) {
		case *lua.LNilType:
		case lua.LString:
			appendQuery(u, strings.TrimPrefix(string(q), "?"))
		case *lua.LTable:
			vals, err := urlValues(q)
			if err != nil {
				return bad("query: %v", err)
			}
			appendQuery(u, vals.Encode())
		default:
			return bad("query must be a string or a table, not a %s", q.Type())
		}

		switch b := o.RawGetString("body").(type) {
		case *lua.LNilType:
			switch f := o.RawGetString("form").(type) {
			case *lua.LNilType:
			case lua.LString:
				body = strings.NewReader(string(f))
				header.Set("Content-Type", "application/x-www-form-urlencoded")
			case *lua.LTable:
				vals, err := urlValues(f)
				if err != nil {
					return bad("form: %v", err)
				}
				body = strings.NewReader(vals.Encode())
				header.Set("Content-Type", "application/x-www-form-urlencoded")
			default:
				return bad("form must be a table or a string, not a %s", f.Type())
			}
		case lua.LString:
			body = strings.NewReader(string(b))
		case lua.LNumber:
			body = strings.NewReader(b.String())
		default:
			return bad("body must be a string, not a %s (use json.encode for tables)", b.Type())
		}

		switch c := o.RawGetString("cookies").(type) {
		case *lua.LNilType:
		case *lua.LTable:
			if cookies, err = stringMap(c); err != nil {
				return bad("cookies: %v", err)
			}
		default:
			return bad("cookies must be a table, not a %s", c.Type())
		}

		switch h := o.RawGetString("headers").(type) {
		case *lua.LNilType:
		case *lua.LTable:
			if headers, err = stringMap(h); err != nil {
				return bad("headers: %v", err)
			}
			for name, v := range headers {
				if !httpguts.ValidHeaderFieldName(name) {
					return bad("headers: invalid header name %q", name)
				}
				if !httpguts.ValidHeaderFieldValue(v) {
					// The value may be a secret: name it only.
					return bad("headers: invalid value for header %q", name)
				}
			}
		default:
			return bad("headers must be a table, not a %s", h.Type())
		}

		if t := o.RawGetString("timeout"); t != lua.LNil {
			if timeout, err = parseHTTPTimeout(t); err != nil {
				return bad("%v", err)
			}
		}
	}

	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), body)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("%v", err)
	}
	req.Header = header
	req.Header.Set("User-Agent", m.opts.UserAgent)
	for _, name := range sortedKeys(cookies) {
		req.AddCookie(&http.Cookie{Name: name, Value: cookies[name]})
	}
	// Headers last, so the function's own override what is set above.
	for _, name := range sortedKeys(headers) {
		req.Header.Set(name, headers[name])
	}
	return &httpSpec{req: req, timeout: timeout, label: label}, nil
}

// appendQuery adds q to u's query.
func appendQuery(u *url.URL, q string) {
	switch {
	case q == "":
	case u.RawQuery == "":
		u.RawQuery = q
	default:
		u.RawQuery += "&" + q
	}
	u.ForceQuery = false
}

// urlValues reads a table of name → value (string, number, boolean) or
// array of values, for query and form options.
func urlValues(t *lua.LTable) (url.Values, error) {
	vals := url.Values{}
	var err error
	scalar := func(v lua.LValue) (string, bool) {
		switch v.(type) {
		case lua.LString, lua.LNumber, lua.LBool:
			return v.String(), true
		}
		return "", false
	}
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("key %s is not a string", k.String())
			return
		}
		if s, ok := scalar(v); ok {
			vals.Add(string(name), s)
			return
		}
		arr, ok := v.(*lua.LTable)
		if !ok {
			err = fmt.Errorf("value of %q is a %s, not a string", string(name), v.Type())
			return
		}
		n, isSeq := sequenceLen(arr)
		if !isSeq {
			err = fmt.Errorf("value of %q is a table that is not an array", string(name))
			return
		}
		for i := 1; i <= n; i++ {
			s, ok := scalar(arr.RawGetInt(i))
			if !ok {
				err = fmt.Errorf("value %d of %q is a %s, not a string", i, string(name), arr.RawGetInt(i).Type())
				return
			}
			vals.Add(string(name), s)
		}
	})
	return vals, err
}

// parseHTTPTimeout reads the timeout option: a Go duration ("5s", "1m30s"),
// or seconds as a number or a numeric string.
func parseHTTPTimeout(v lua.LValue) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case lua.LNumber:
		d = time.Duration(float64(x) * float64(time.Second))
	case lua.LString:
		s := strings.TrimSpace(string(x))
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil {
				return 0, fmt.Errorf("invalid timeout %q (want a duration such as \"5s\" or a number of seconds)", s)
			}
			d = time.Duration(f * float64(time.Second))
		}
	default:
		return 0, fmt.Errorf("timeout must be a string or a number, not a %s", v.Type())
	}
	if d <= 0 {
		return 0, fmt.Errorf("timeout must be positive, got %s", v.String())
	}
	return d, nil
}

// errBodyTooLarge is returned when a response body passes MaxResponseBytes.
var errBodyTooLarge = errors.New("response body too large")

// do sends spec and reads its response. It touches no Lua value, so it may
// run on any goroutine; a panic in the egress.Doer becomes an error.
func (m *httpModule) do(parent context.Context, service string, spec *httpSpec) (res *httpResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("http: %s: internal error: %v", spec.label, p)
		}
	}()
	if m.d == nil {
		return nil, fmt.Errorf("http: %s: no HTTP client is configured", spec.label)
	}
	if parent.Err() != nil {
		return nil, m.explain(parent, parent, spec, parent.Err())
	}
	ctx, cancel := context.WithTimeout(parent, spec.timeout)
	defer cancel()
	resp, err := m.d.Do(ctx, service, spec.req.WithContext(ctx))
	if err != nil {
		return nil, m.explain(parent, ctx, spec, err)
	}
	if resp == nil {
		return nil, fmt.Errorf("http: %s: no response", spec.label)
	}
	res = &httpResult{status: resp.StatusCode, header: resp.Header, url: spec.req.URL.String()}
	if resp.Request != nil && resp.Request.URL != nil {
		res.url = resp.Request.URL.String()
	}
	if res.header == nil {
		res.header = http.Header{}
	}
	res.cookies = resp.Cookies()
	if resp.Body == nil {
		return res, nil
	}
	defer resp.Body.Close()
	limit := m.opts.MaxResponseBytes
	if resp.ContentLength > limit && spec.req.Method != http.MethodHead {
		return nil, m.explain(parent, ctx, spec, errBodyTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(body)) > limit {
		err = errBodyTooLarge
	}
	if err != nil {
		return nil, m.explain(parent, ctx, spec, err)
	}
	res.body = body
	return res, nil
}

// explain turns what a request failed with into the message a function
// gets. Denials keep egress's message; the rest name the method and host.
func (m *httpModule) explain(parent, ctx context.Context, spec *httpSpec, err error) error {
	var denied *egress.DeniedError
	if errors.As(err, &denied) {
		return denied
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL, which may hold secrets
	}
	switch {
	case errors.Is(err, errBodyTooLarge):
		return fmt.Errorf("http: %s: response body too large: more than %d bytes", spec.label, m.opts.MaxResponseBytes)
	case errors.Is(err, egress.ErrResponseTooLarge):
		return fmt.Errorf("http: %s: %w", spec.label, err)
	case parent.Err() != nil:
		cause := context.Cause(parent)
		if errors.Is(parent.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("http: %s: timed out: %v", spec.label, cause)
		}
		return fmt.Errorf("http: %s: canceled: %v", spec.label, cause)
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		return fmt.Errorf("http: %s: timed out after %s", spec.label, spec.timeout)
	}
	return fmt.Errorf("http: %s: %w", spec.label, err)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// toLua builds the response table; it runs on the VM goroutine.
func (m *httpModule) toLua(L *lua.LState, hdrMeta *lua.LTable, r *httpResult) *lua.LTable {
	t := L.CreateTable(0, 6)
	t.RawSetString("status_code", lua.LNumber(r.status))
	t.RawSetString("body", lua.LString(r.body))
	t.RawSetString("body_size", lua.LNumber(len(r.body)))
	t.RawSetString("url", lua.LString(r.url))
	h := L.CreateTable(0, len(r.header))
	for name, vals := range r.header {
		if len(vals) > 0 {
			h.RawSetString(http.CanonicalHeaderKey(name), lua.LString(vals[0]))
		}
	}
	h.Metatable = hdrMeta
	t.RawSetString("headers", h)
	c := L.CreateTable(0, len(r.cookies))
	for _, ck := range r.cookies {
		c.RawSetString(ck.Name, lua.LString(ck.Value))
	}
	t.RawSetString("cookies", c)
	return t
}
