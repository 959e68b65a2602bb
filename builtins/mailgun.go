package builtins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// Mailgun's API hosts.
const (
	MailgunBaseURL   = "https://api.mailgun.net"
	MailgunEUBaseURL = "https://api.eu.mailgun.net"
)

// mailgunMaxRecipients is Mailgun's own limit of recipients per message.
const mailgunMaxRecipients = 1000

// MailgunOptions wire the mailgun module to the outside world.
type MailgunOptions struct {
	// Sender sends the checked messages. Nil means Mailgun's HTTP API
	// through Do; fnctl test passes one that records them instead.
	Sender MailSender

	// Do sends a request on behalf of a service (the invocation's bucket
	// name): the relay passes (*egress.Client).Do, so the egress proxy,
	// address guard and ACL apply. Required by the default sender: without
	// it send fails.
	Do func(ctx context.Context, service string, req *http.Request) (*http.Response, error)

	// BaseURL replaces Mailgun's API host (MailgunBaseURL, or
	// MailgunEUBaseURL for region "eu"), e.g. with a local server in tests.
	BaseURL string
}

// Mailgun returns the "mailgun" module, Webhook Relay's way of sending email
// from a function, over Mailgun's HTTP API:
//
//	local err = mailgun.initialize(domain, api_key[, region])   -- region "us" (default) or "eu"
//	local err = mailgun.send(from, to, subject, text[, html])
//
// to is an address, a comma-separated list, or a table of addresses. send
// POSTs the form fields from, to, subject, text and html to
// {base}/v3/{domain}/messages with basic auth api:api_key, bounded by the
// invocation's deadline. A non-2xx answer is an error that carries Mailgun's
// message, never the key. The arguments are checked here; the message then
// goes to MailgunOptions.Sender, by default Mailgun's API.
func Mailgun(opts MailgunOptions) runtime.Module {
	m := &mailgunModule{opts: opts, out: opts.Sender}
	if m.out == nil {
		m.out = &mailgunHTTPSender{do: opts.Do}
	}
	return runtime.Module{Name: "mailgun", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"initialize": m.initialize,
			"send":       m.send,
		})
	}}
}

type mailgunModule struct {
	opts MailgunOptions
	out  MailSender // where checked messages go
}

type mailgunStateKey struct{}

// MailgunAccount is what mailgun.initialize set up: the sending domain,
// the API key (a secret: never log it) and the API's base URL.
type MailgunAccount struct {
	Domain  string
	APIKey  string
	BaseURL string
}

// mailgunDomainRE is a DNS name: it goes into the request path.
var mailgunDomainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

// initialize is mailgun.initialize(domain, api_key[, region]) → err.
func (m *mailgunModule) initialize(L *lua.LState) int {
	domain := stringArg(L, 1, "domain")
	key := stringArg(L, 2, "api_key")
	region := stringArg(L, 3, "region")
	call := runtime.CallOf(L)
	if call == nil {
		return errOnly(L, errors.New("mailgun.initialize: not running in an invocation"))
	}
	if len(domain) > 253 || !mailgunDomainRE.MatchString(domain) {
		return errOnly(L, fmt.Errorf("mailgun.initialize: invalid domain %q", bqShort(domain)))
	}
	if key == "" {
		return errOnly(L, errors.New("mailgun.initialize: api_key is empty"))
	}
	if strings.ContainsAny(key, "\r\n") {
		return errOnly(L, errors.New("mailgun.initialize: api_key contains a line break"))
	}
	base := MailgunBaseURL
	switch strings.ToLower(region) {
	case "", "us":
	case "eu":
		base = MailgunEUBaseURL
	default:
		return errOnly(L, fmt.Errorf("mailgun.initialize: unknown region %q (use \"us\" or \"eu\")", bqShort(region)))
	}
	if m.opts.BaseURL != "" {
		base = m.opts.BaseURL
	}
	call.SetValue(mailgunStateKey{}, &MailgunAccount{Domain: domain, APIKey: key, BaseURL: strings.TrimRight(base, "/")})
	return errOnly(L, nil)
}

// send is mailgun.send(from, to, subject, text[, html]) → err.
func (m *mailgunModule) send(L *lua.LState) int {
	from := stringArg(L, 1, "from")
	to := mailAddressListArg(L, 2, "to")
	subject := stringArg(L, 3, "subject")
	text := stringArg(L, 4, "text")
	html := stringArg(L, 5, "html")
	call := runtime.CallOf(L)
	if call == nil {
		return errOnly(L, errors.New("mailgun.send: not running in an invocation"))
	}
	st, ok := call.Value(mailgunStateKey{}).(*MailgunAccount)
	if !ok {
		return errOnly(L, errors.New("mailgun.send: call mailgun.initialize first"))
	}
	if err := m.sendMessage(call, *st, from, to, subject, text, html); err != nil {
		return errOnly(L, fmt.Errorf("mailgun.send: %w", err))
	}
	return errOnly(L, nil)
}

func (m *mailgunModule) sendMessage(call *runtime.Call, acct MailgunAccount, from string, to []string, subject, text, html string) error {
	switch {
	case from == "":
		return errors.New("from is required")
	case len(to) == 0:
		return errors.New("to is required")
	case len(to) > mailgunMaxRecipients:
		return fmt.Errorf("%d recipients, at most %d", len(to), mailgunMaxRecipients)
	case text == "" && html == "":
		return errors.New("text or html is required")
	}
	for _, f := range []struct{ name, v string }{{"from", from}, {"subject", subject}} {
		if strings.ContainsAny(f.v, "\r\n") {
			return fmt.Errorf("%s contains a line break", f.name)
		}
	}
	for _, addr := range to {
		if strings.ContainsAny(addr, "\r\n") {
			return errors.New("to contains a line break")
		}
	}
	return m.out.SendMail(call.Context(), call.Metadata("bucket_name"), &Mail{
		Module:  "mailgun",
		From:    from,
		To:      to,
		Subject: subject,
		Text:    text,
		HTML:    html,
		Mailgun: &acct,
	})
}

// mailgunHTTPSender is the mailgun module's default MailSender: Mailgun's
// messages API.
type mailgunHTTPSender struct {
	do func(ctx context.Context, service string, req *http.Request) (*http.Response, error)
}

// SendMail POSTs the message's fields to {base}/v3/{domain}/messages.
func (s *mailgunHTTPSender) SendMail(ctx context.Context, service string, m *Mail) error {
	st := m.Mailgun
	switch {
	case st == nil:
		return errors.New("no Mailgun account: call mailgun.initialize first")
	case s.do == nil:
		return errors.New("no outbound HTTP client is configured for Mailgun")
	}
	form := url.Values{}
	form.Set("from", m.From)
	for _, addr := range m.To {
		form.Add("to", addr)
	}
	form.Set("subject", m.Subject)
	if m.Text != "" {
		form.Set("text", m.Text)
	}
	if m.HTML != "" {
		form.Set("html", m.HTML)
	}
	endpoint := st.BaseURL + "/v3/" + url.PathEscape(st.Domain) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth("api", st.APIKey)
	resp, err := s.do(ctx, service, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	var parsed struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &parsed) == nil && parsed.Message != "" {
		msg = parsed.Message
	}
	// Never echo the key, even if a server were to.
	msg = strings.ReplaceAll(msg, st.APIKey, "[redacted]")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg == "" {
		return fmt.Errorf("%s from Mailgun", resp.Status)
	}
	return fmt.Errorf("%s from Mailgun: %s", resp.Status, msg)
}
