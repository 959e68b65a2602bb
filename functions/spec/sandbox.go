package spec

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// SandboxOptions configure NewSandbox.
type SandboxOptions struct {
	// Network, when set, sends the HTTP calls that no answer in the spec
	// matches (fnctl test --allow-network). When nil, such a call fails the
	// test and the function gets an error.
	Network builtins.Doer
	// HTTPOptions are the http module's limits.
	HTTPOptions builtins.HTTPOptions
}

// NewSandbox returns an Options.Sandbox that gives each test the real http
// module over a transport that answers from the test's http entries and
// records every call.
func NewSandbox(opts SandboxOptions) func(t *Test) ([]runtime.Module, *Calls) {
	return func(t *Test) ([]runtime.Module, *Calls) {
		calls := &Calls{}
		hopts := opts.HTTPOptions
		hopts.BatchConcurrency = 1 // calls recorded in the order they were made
		doer := &specDoer{test: t, calls: calls, network: opts.Network}
		return []runtime.Module{builtins.HTTP(doer, hopts)}, calls
	}
}

// specDoer answers HTTP calls from a test's http entries.
type specDoer struct {
	test    *Test
	calls   *Calls
	network builtins.Doer
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
	ans, ok := d.test.Answer(req.Method, url)
	if !ok {
		if d.network != nil {
			return d.network.Do(ctx, service, req)
		}
		msg := fmt.Sprintf("unmatched HTTP call %s %s: add an http entry to the test, or run with --allow-network", req.Method, url)
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
