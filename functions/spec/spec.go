package spec

import (
	"net/http"
	"strings"
)

// Version is the spec format version this package reads.
const Version = "v1"

// DriverLua is the only driver relayfn runs.
const DriverLua = "lua"

// Spec is a spec file: a function and the tests to run it with.
type Spec struct {
	// Version is the format version: "v1", or empty.
	Version string `yaml:"version"`
	// Filename is the function's file, relative to the spec file.
	Filename string `yaml:"filename"`
	// Driver is the function's language: "lua", or empty.
	Driver string `yaml:"driver"`
	// Config holds the configuration variables cfg:GetValue returns (ext).
	Config map[string]string `yaml:"config"`
	// Tests are the test cases, in file order.
	Tests []Test `yaml:"tests"`

	// Path is the spec file as given to Load.
	Path string `yaml:"-"`
	// FunctionPath is Filename resolved against the spec file's folder.
	// It is the chunk name the function's errors are reported under.
	FunctionPath string `yaml:"-"`
	// Source is the function's source code.
	Source []byte `yaml:"-"`
}

// Test is one test case.
type Test struct {
	// Name identifies the test; names are unique within a spec.
	Name string `yaml:"name"`
	// Request is the webhook the function runs with.
	Request Request `yaml:"request"`
	// HTTP answers the function's outbound HTTP calls (ext).
	HTTP []HTTPAnswer `yaml:"http"`
	// BigQuery lists rows already in BigQuery, which
	// bigquery.record_exists finds (ext). Without them record_exists
	// finds only the rows the invocation itself inserted.
	BigQuery []BigQueryRow `yaml:"bigquery"`
	// Expect is what the result must look like.
	Expect Expect `yaml:"expect"`
}

// Request is the webhook a test sends to the function.
type Request struct {
	// Method defaults to POST.
	Method string `yaml:"method"`
	// Header holds the request headers.
	Header map[string]string `yaml:"header"`
	// Body is the raw body. After Load it also holds body_file's content.
	Body string `yaml:"body"`
	// BodyFile names a file, relative to the spec, whose content is the
	// body (ext).
	BodyFile string `yaml:"body_file"`
	// Path is the extra path after the input's URL; "/" when empty (ext).
	Path string `yaml:"path"`
	// Query is the raw query, without "?" (ext).
	Query string `yaml:"query"`
	// Metadata fills r.Metadata: bucket_name, input_id, … (ext).
	Metadata map[string]string `yaml:"metadata"`
}

// HTTPHeader returns Header as an http.Header.
func (r *Request) HTTPHeader() http.Header {
	h := make(http.Header, len(r.Header))
	for k, v := range r.Header {
		h.Add(k, v)
	}
	return h
}

// HTTPAnswer is a canned answer to the function's HTTP calls that match.
type HTTPAnswer struct {
	// Match selects the calls this answer is for.
	Match HTTPMatch `yaml:"match"`
	// Respond is what those calls receive.
	Respond HTTPResponse `yaml:"respond"`
}

// HTTPMatch selects HTTP calls: the URL must be equal and, when Method is
// set, the method too (case-insensitively), and the call must carry the
// Headers given.
type HTTPMatch struct {
	// Method, when set, is the call's method.
	Method string `yaml:"method"`
	// URL is the call's full URL, query included.
	URL string `yaml:"url"`
	// Headers maps header names (case-insensitive) to the values the call
	// must send, such as {Authorization: "Bearer test-token"} (ext). A call
	// without them is not answered by this entry, so the test fails unless
	// another entry answers it.
	Headers map[string]string `yaml:"headers"`
}

// Matches reports whether a call with method and url matches m, leaving
// m.Headers out.
func (m HTTPMatch) Matches(method, url string) bool {
	return m.URL == url && (m.Method == "" || strings.EqualFold(m.Method, method))
}

// MatchesHeader reports whether h holds every header of m.Headers with its
// value (values of a repeated header compare joined by ", ").
func (m HTTPMatch) MatchesHeader(h http.Header) bool {
	for k, want := range m.Headers {
		if strings.Join(h.Values(k), ", ") != want {
			return false
		}
	}
	return true
}

// HTTPResponse is what a matched HTTP call receives.
type HTTPResponse struct {
	// Status is the response status; 200 when left out.
	Status int `yaml:"status"`
	// Headers are the response headers.
	Headers map[string]string `yaml:"headers"`
	// Body is the response body.
	Body string `yaml:"body"`
}

// Answer returns the first of t's HTTP answers that matches a call with
// method and url, leaving their header conditions out.
func (t *Test) Answer(method, url string) (*HTTPAnswer, bool) {
	for i := range t.HTTP {
		if t.HTTP[i].Match.Matches(method, url) {
			return &t.HTTP[i], true
		}
	}
	return nil, false
}

// AnswerRequest returns the first of t's HTTP answers that matches a call
// with method, url and header h.
func (t *Test) AnswerRequest(method, url string, h http.Header) (*HTTPAnswer, bool) {
	for i := range t.HTTP {
		if m := t.HTTP[i].Match; m.Matches(method, url) && m.MatchesHeader(h) {
			return &t.HTTP[i], true
		}
	}
	return nil, false
}

// BigQueryRow is a row of a table, as the test's BigQuery holds it.
type BigQueryRow struct {
	// Table is the table's ID, as the function names it.
	Table string `yaml:"table"`
	// Row maps columns to values. record_exists(table, column, value)
	// finds the row when its column holds a value equal to value as a JSON
	// value (so 3 equals 3.0, and "3" does not).
	Row map[string]any `yaml:"row"`
}

// Expect is what a test checks. Nil fields are not checked.
type Expect struct {
	// Error, when set, asserts whether the function failed (ext).
	Error *bool `yaml:"error"`
	// ErrorContains asserts that the function failed with an error
	// containing this text (ext).
	ErrorContains *string `yaml:"errorContains"`
	// StopForwarding asserts whether the function called
	// r:StopForwarding() (ext).
	StopForwarding *bool `yaml:"stopForwarding"`
	// Request checks the request as the function left it.
	Request *RequestExpect `yaml:"request"`
	// Response checks the response the function set.
	Response *ResponseExpect `yaml:"response"`
	// LogsContain lists texts the invocation's log must contain (ext).
	LogsContain []string `yaml:"logsContain"`
	// HTTP lists the HTTP calls made, in order (ext). An empty, non-nil
	// list asserts that none were made.
	HTTP []HTTPCallExpect `yaml:"http"`
	// BigQuery lists the rows inserted, in order (ext).
	BigQuery []BigQueryExpect `yaml:"bigquery"`
	// Emails lists the emails sent, in order (ext).
	Emails []EmailExpect `yaml:"emails"`
}

// usesSideEffects reports which keys need a sandbox.
func (t *Test) usesSideEffects() []string {
	var keys []string
	if t.HTTP != nil {
		keys = append(keys, "http")
	}
	if t.BigQuery != nil {
		keys = append(keys, "bigquery")
	}
	if t.Expect.HTTP != nil {
		keys = append(keys, "expect.http")
	}
	if t.Expect.BigQuery != nil {
		keys = append(keys, "expect.bigquery")
	}
	if t.Expect.Emails != nil {
		keys = append(keys, "expect.emails")
	}
	return keys
}

// RequestExpect checks the request to forward. The *Modified fields check
// the modified flags of the function's result (body_modified and so on);
// the others compare the request's values.
type RequestExpect struct {
	Modified       *bool `yaml:"modified"`
	BodyModified   *bool `yaml:"bodyModified"`
	HeaderModified *bool `yaml:"headerModified"`
	MethodModified *bool `yaml:"methodModified"`
	PathModified   *bool `yaml:"pathModified"`  // ext
	QueryModified  *bool `yaml:"queryModified"` // ext

	BodyContains  *string `yaml:"bodyContains"`
	BodyEquals    *string `yaml:"bodyEquals"`
	MethodEquals  *string `yaml:"methodEquals"`
	PathEquals    *string `yaml:"pathEquals"`
	PathContains  *string `yaml:"pathContains"`
	QueryEquals   *string `yaml:"queryEquals"` // ext
	QueryContains *string `yaml:"queryContains"`

	// HeaderEquals maps header names to their expected values.
	HeaderEquals map[string]string `yaml:"headerEquals"`
	// JSON maps gjson paths in the body to expected JSON values (ext).
	JSON map[string]any `yaml:"json"`
}

// ResponseExpect checks the response the function set for the caller.
// StatusEquals compares with 0 when the function set no status.
type ResponseExpect struct {
	Modified     *bool             `yaml:"modified"` // ext
	StatusEquals *int              `yaml:"statusEquals"`
	BodyContains *string           `yaml:"bodyContains"`
	BodyEquals   *string           `yaml:"bodyEquals"`
	HeaderEquals map[string]string `yaml:"headerEquals"` // ext
}

// HTTPCallExpect is an HTTP call the function must have made.
type HTTPCallExpect struct {
	// Method, when set, must be the call's method (case-insensitively).
	Method string `yaml:"method"`
	// URL must be the call's full URL.
	URL string `yaml:"url"`
	// BodyContains, when set, must be in the call's body.
	BodyContains string `yaml:"bodyContains"`
}

// BigQueryExpect is a row the function must have inserted.
type BigQueryExpect struct {
	// Table must be the table inserted into.
	Table string `yaml:"table"`
	// Row holds the columns to check; other columns are not checked.
	Row map[string]any `yaml:"row"`
}

// EmailExpect is an email the function must have sent. Fields left empty
// are not checked.
type EmailExpect struct {
	// To must be one of the recipients.
	To string `yaml:"to"`
	// From must be the sender.
	From string `yaml:"from"`
	// Subject must be the subject.
	Subject string `yaml:"subject"`
	// SubjectContains must be in the subject.
	SubjectContains string `yaml:"subjectContains"`
	// TextContains must be in the plain-text body.
	TextContains string `yaml:"textContains"`
}
