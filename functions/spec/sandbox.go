package spec

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strings"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/runtime"
)

// SandboxOptions configure NewSandbox.
type SandboxOptions struct {
	// Network, when set, sends the HTTP calls that no answer in the spec
	// matches (fnctl test --allow-network). When nil, such a call fails the
	// test and the function gets an error. It is used for the http module
	// only: BigQuery rows and emails are recorded, never sent, either way.
	Network egress.Doer
	// HTTPOptions are the http module's limits.
	HTTPOptions builtins.HTTPOptions
}

// NewSandbox returns an Options.Sandbox that gives each test the real
// http, bigquery, mailgun and email modules, the same code as in the
// relay (argument checks, conversions, error messages), with only their
// transport replaced by one that answers from the test and records every
// call into the test's Calls:
//
//   - http: a call is answered by the first of the test's http entries
//     whose match it meets (method, url and headers); one that none
//     matches fails the test and gets an error, unless Network is set.
//     Calls are made one at a time, so request_batch records in order.
//   - bigquery: initialize accepts any credentials (they are not checked,
//     so a spec needs no key); insert records the row (Calls.AddBigQuery,
//     checked by expect.bigquery) and succeeds; record_exists(table,
//     column, value) is true when a row of the test's bigquery list, or a
//     row the invocation inserted before, is in table with an equal
//     column value (compared as JSON values), and false otherwise.
//   - email and mailgun: the message is checked as in the relay, then
//     recorded (Calls.AddEmail, checked by expect.emails) with the bare
//     addresses of its sender and To recipients, and send succeeds. No
//     operator sender is configured, so email.send needs from, as on a
//     relay whose server.modules.smtp sets none; mailgun.send needs
//     mailgun.initialize with some domain and API key.
func NewSandbox(opts SandboxOptions) func(t *Test) ([]runtime.Module, *Calls) {
	return func(t *Test) ([]runtime.Module, *Calls) {
		calls := &Calls{}
		for i, row := range t.BigQuery {
			if row.Table == "" {
				calls.Fail(fmt.Sprintf("bigquery[%d].table is empty: name the table the row is in", i))
			}
		}
		hopts := opts.HTTPOptions
		hopts.BatchConcurrency = 1 // calls recorded in the order they were made
		doer := &specDoer{test: t, calls: calls, network: opts.Network}
		mails := &specMail{calls: calls}
		return []runtime.Module{
			builtins.HTTP(doer, hopts),
			builtins.BigQuery(builtins.BigQueryOptions{Backend: &specBigQuery{test: t, calls: calls}}),
			builtins.Mailgun(builtins.MailgunOptions{Sender: mails}),
			builtins.Email(builtins.EmailOptions{Sender: mails}),
		}, calls
	}
}

// specDoer answers HTTP calls from a test's http entries.
type specDoer struct {
	test    *Test
	calls   *Calls
	network egress.Doer
}

func (d *specDoer) Do(ctx context.Context, service string, req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	url := req.URL.String()
	d.calls.AddHTTP(HTTPCall{Method: req.Method, URL: url, Header: req.Header.Clone(), Body: string(body)})
	ans, ok := d.test.AnswerRequest(req.Method, url, req.Header)
	if !ok {
		if d.network != nil {
			return d.network.Do(ctx, service, req)
		}
		msg := fmt.Sprintf("unmatched HTTP call %s %s: add an http entry to the test, or run with --allow-network", req.Method, url)
		if why := d.headerMismatch(req.Method, url, req.Header); why != "" {
			msg = fmt.Sprintf("unmatched HTTP call %s %s: %s", req.Method, url, why)
		}
		d.calls.Fail(msg)
		return nil, fmt.Errorf("%s", msg)
	}
	status := ans.Respond.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	for k, v := range ans.Respond.Headers {
		h.Set(k, v)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(ans.Respond.Body)),
		ContentLength: int64(len(ans.Respond.Body)),
		Request:       req,
	}, nil
}

// headerMismatch explains why the first entry that matches a call's method
// and URL did not answer it: a header it asks for. Values are not shown,
// since headers such as Authorization hold secrets (real ones, with
// --allow-network).
func (d *specDoer) headerMismatch(method, url string, h http.Header) string {
	for i := range d.test.HTTP {
		m := d.test.HTTP[i].Match
		if !m.Matches(method, url) {
			continue
		}
		for _, k := range sortedKeys(m.Headers) {
			got := h.Values(k)
			if strings.Join(got, ", ") == m.Headers[k] {
				continue
			}
			if len(got) == 0 {
				return fmt.Sprintf("http[%d] matches its method and URL, but the call has no %s header", i, k)
			}
			return fmt.Sprintf("http[%d] matches its method and URL, but the call's %s header has another value", i, k)
		}
	}
	return ""
}

// specBigQuery is the sandbox's BigQuery: it records inserts and answers
// record_exists from the test's rows and the inserted ones.
type specBigQuery struct {
	test  *Test
	calls *Calls
}

func (b *specBigQuery) Open(_ context.Context, _ string, ds builtins.BigQueryDataset, _ string) (builtins.BigQuerySession, error) {
	return &specBigQuerySession{b: b, ds: ds}, nil
}

type specBigQuerySession struct {
	b  *specBigQuery
	ds builtins.BigQueryDataset
}

func (s *specBigQuerySession) Insert(_ context.Context, table string, row map[string]any) error {
	s.b.calls.AddBigQuery(BigQueryInsert{Project: s.ds.Project, Dataset: s.ds.Dataset, Table: table, Row: row})
	return nil
}

func (s *specBigQuerySession) RecordExists(_ context.Context, table, column string, value any) (bool, error) {
	want := canon(value)
	has := func(row map[string]any) bool {
		v, ok := row[column]
		return ok && jsonEqual(want, canon(roundTrip(v)))
	}
	for _, r := range s.b.test.BigQuery {
		if r.Table == table && has(r.Row) {
			return true, nil
		}
	}
	for _, ins := range s.b.calls.BigQuery() {
		if ins.Project == s.ds.Project && ins.Dataset == s.ds.Dataset && ins.Table == table && has(ins.Row) {
			return true, nil
		}
	}
	return false, nil
}

func (s *specBigQuerySession) Close() error { return nil }

// specMail records the emails the email and mailgun modules send.
type specMail struct{ calls *Calls }

func (m *specMail) SendMail(_ context.Context, _ string, msg *builtins.Mail) error {
	e := Email{Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML}
	if from := bareAddresses([]string{msg.From}); len(from) > 0 {
		e.From = from[0]
	}
	e.To = bareAddresses(msg.To)
	m.calls.AddEmail(e)
	return nil
}

// bareAddresses returns the addresses of entries such as "Ops
// <ops@example.com>" or "a@example.com, b@example.com"; an entry that does
// not parse is kept as it is.
func bareAddresses(entries []string) []string {
	var out []string
	for _, entry := range entries {
		list, err := mail.ParseAddressList(entry)
		if err != nil {
			if s := strings.TrimSpace(entry); s != "" {
				out = append(out, s)
			}
			continue
		}
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return out
}
