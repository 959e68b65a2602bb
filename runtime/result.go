package runtime

import "net/http"

// Request is the webhook a function reads and rewrites. The engine reads
// Body in place without copying it: it must not be modified while an
// invocation runs, nor while its Result (whose Request.Body may share it)
// is in use.
type Request struct {
	Method   string
	Path     string // the extra path after the input's URL; "/" when none
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Result is what an invocation did, in the JSON shape `fnctl run -o json`
// and the admin API print.
type Result struct {
	Request        RequestResult  `json:"request"`
	Response       ResponseResult `json:"response"`
	StopForwarding bool           `json:"stop_forwarding"`
	// Error is the function's error text ("" when it ran to the end). A
	// failed function's request is not forwarded.
	Error      string   `json:"error"`
	Logs       []string `json:"logs"`
	DurationMS float64  `json:"duration_ms"`
	// Err is the error behind Error, for errors.Is and errors.As.
	Err error `json:"-"`
}

// Forward reports whether the request should be forwarded: the function
// succeeded and did not stop forwarding.
func (r *Result) Forward() bool { return r.Err == nil && !r.StopForwarding }

// RequestResult is the request as the function left it, with what changed.
type RequestResult struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query"`
	Headers  http.Header `json:"headers"`
	// Body is the body to forward.
	Body             string `json:"body"`
	Modified         bool   `json:"modified"`
	BodyModified     bool   `json:"body_modified"`
	MethodModified   bool   `json:"method_modified"`
	PathModified     bool   `json:"path_modified"`
	RawQueryModified bool   `json:"raw_query_modified"`
	HeaderModified   bool   `json:"header_modified"`
}

// ResponseResult is the answer an input function set for the caller.
type ResponseResult struct {
	Modified bool        `json:"modified"`
	Status   int         `json:"status"`
	Headers  http.Header `json:"headers"`
	Body     string      `json:"body"`
}
