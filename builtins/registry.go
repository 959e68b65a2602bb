package builtins

import (
	"context"
	"net"
	"net/http"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/runtime"
)

// Deps are the outside parts that modules with side effects use. A module
// whose dependency is missing is not offered: require reports it as not
// found, rather than failing later at a call.
type Deps struct {
	// HTTP sends the http module's requests: the egress client in the
	// relay and fnctl run, the spec's answers in fnctl test.
	HTTP        egress.Doer
	HTTPOptions HTTPOptions

	// HTTPClient returns the HTTP client the bigquery module's official
	// client (and its OAuth token exchange) uses for a service, the
	// invocation's bucket: (*egress.Client).HTTPClient. The bigquery module
	// is offered when it is set.
	HTTPClient func(service string) *http.Client
	// Do sends the mailgun module's API requests for a service:
	// (*egress.Client).Do. The mailgun module is offered when it is set.
	Do func(ctx context.Context, service string, req *http.Request) (*http.Response, error)
	// Dial opens the email module's SMTP connections for a service:
	// (*egress.Client).DialContext.
	Dial func(ctx context.Context, service, network, addr string) (net.Conn, error)

	// BigQueryEndpoint overrides BigQuery's API base URL; empty means
	// Google's.
	BigQueryEndpoint string
	// MailgunBaseURL overrides Mailgun's API host (and the region a
	// function picks); empty means Mailgun's.
	MailgunBaseURL string
	// SMTP is the operator's SMTP server for the email module, which is
	// offered only when SMTP is set with a Host and a dialer (SMTP.Dial,
	// or Dial above) exists. SMTP.Sender, when set, replaces the SMTP
	// exchange (and needs no dialer).
	SMTP *EmailOptions
}

// Egress is the outbound client the modules with side effects share:
// *egress.Client.
type Egress interface {
	egress.Doer
	HTTPClient(service string) *http.Client
	DialContext(ctx context.Context, service, network, addr string) (net.Conn, error)
}

// EgressDeps returns Deps whose http, bigquery and mailgun modules, and
// email module's SMTP connections, all go through c. SMTP is left for the
// caller to set.
func EgressDeps(c Egress) Deps {
	return Deps{HTTP: c, HTTPClient: c.HTTPClient, Do: c.Do, Dial: c.DialContext}
}

// Modules returns the modules every function can require, wired to deps.
func Modules(deps Deps) []runtime.Module {
	mods := PureModules()
	if deps.HTTP != nil {
		mods = append(mods, HTTP(deps.HTTP, deps.HTTPOptions))
	}
	if deps.HTTPClient != nil {
		mods = append(mods, BigQuery(BigQueryOptions{
			HTTPClient: deps.HTTPClient,
			Endpoint:   deps.BigQueryEndpoint,
		}))
	}
	if deps.Do != nil {
		mods = append(mods, Mailgun(MailgunOptions{
			Do:      deps.Do,
			BaseURL: deps.MailgunBaseURL,
		}))
	}
	if s := deps.SMTP; s != nil {
		opts := *s
		if opts.Dial == nil {
			opts.Dial = deps.Dial
		}
		if opts.Sender != nil || (opts.Host != "" && opts.Dial != nil) {
			mods = append(mods, Email(opts))
		}
	}
	return mods
}

// PureModules are the modules without side effects: the same in the relay
// and in tests.
func PureModules() []runtime.Module {
	return []runtime.Module{
		JSON(),
		Crypto(),
		Base64(),
		Time(),
		URLEncoded(),
		Multipart(),
		JWT(),
	}
}
