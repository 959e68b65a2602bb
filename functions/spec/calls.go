package spec

import (
	"net/http"
	"slices"
	"sync"
)

// Calls records the side effects of one test's invocation: the modules a
// sandbox gives the function record into it instead of reaching the
// network, and the runner checks expect.http, expect.bigquery and
// expect.emails against it. It is safe for concurrent use (http
// request_batch calls concurrently). The zero value is ready to use.
type Calls struct {
	mu       sync.Mutex
	http     []HTTPCall
	bigquery []BigQueryInsert
	emails   []Email
	problems []string
}

// HTTPCall is an HTTP request the function made.
type HTTPCall struct {
	Method string
	// URL is the full URL, query included.
	URL    string
	Header http.Header
	Body   string
}

// BigQueryInsert is a row the function inserted.
type BigQueryInsert struct {
	Project string
	Dataset string
	Table   string
	// Row maps columns to values; they compare with expect.bigquery as
	// JSON values.
	Row map[string]any
}

// Email is an email the function sent.
type Email struct {
	From    string
	To      []string
	Subject string
	Text    string
	HTML    string
}

// AddHTTP records an HTTP call.
func (c *Calls) AddHTTP(call HTTPCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.http = append(c.http, call)
}

// AddBigQuery records an inserted row.
func (c *Calls) AddBigQuery(ins BigQueryInsert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bigquery = append(c.bigquery, ins)
}

// AddEmail records a sent email.
func (c *Calls) AddEmail(e Email) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emails = append(c.emails, e)
}

// Fail records a problem that fails the test whatever it expects, such as
// an HTTP call that no answer of the spec matches. msg should show the call.
func (c *Calls) Fail(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, msg)
}

// HTTP returns the recorded HTTP calls, in order.
func (c *Calls) HTTP() []HTTPCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.http)
}

// BigQuery returns the recorded inserts, in order.
func (c *Calls) BigQuery() []BigQueryInsert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bigquery)
}

// Emails returns the recorded emails, in order.
func (c *Calls) Emails() []Email {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.emails)
}

// Problems returns what Fail recorded, in order.
func (c *Calls) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.problems)
}
