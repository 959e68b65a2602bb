package builtins

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// Defaults for EmailOptions fields left zero.
const (
	DefaultEmailMaxRecipients   = 50
	DefaultEmailMaxMessageBytes = 10 << 20
)

// Values of EmailOptions.StartTLS.
const (
	StartTLSRequire       = "require"       // STARTTLS or fail (the default)
	StartTLSOpportunistic = "opportunistic" // STARTTLS when the server offers it
	StartTLSNone          = "none"          // never; plain text unless ImplicitTLS
)

// MailSender is the transport behind the email and mailgun modules: what
// they hand a message to once they have checked and built it. The email
// module's default sends over SMTP (EmailOptions), the mailgun module's
// over Mailgun's HTTP API (MailgunOptions); fnctl test's sandbox records
// instead. SendMail is called on the invocation's goroutine with the
// invocation's context (its deadline bounds the exchange) and service, the
// invocation's bucket name. Its error is shown to the function after
// "email.send: " (or "mailgun.send: ") and must never hold credentials.
type MailSender interface {
	SendMail(ctx context.Context, service string, m *Mail) error
}

// Mail is a message a function sends.
type Mail struct {
	// Module is "email" or "mailgun".
	Module string

	// From is the sender as the message shows it ("Name <addr>" or an
	// address). For email it is the function's from, or the operator's
	// sender when the function gave none.
	From string
	// To, Cc and Bcc are the recipients. For email each entry is one
	// address, parsed ("Name <addr>" or addr); for mailgun they are as the
	// function gave them (an entry may be a comma-separated list), and
	// Cc and Bcc are empty.
	To, Cc, Bcc []string
	// ReplyTo is the Reply-To address (email), or empty.
	ReplyTo string
	// Subject, Text and HTML are the subject and the two bodies; Text or
	// HTML may be empty, not both.
	Subject    string
	Text, HTML string

	// EnvelopeFrom and Recipients are the SMTP envelope (email only): the
	// sender's address and every recipient's (To, Cc and Bcc).
	EnvelopeFrom string
	Recipients   []string
	// Raw is the RFC 5322 message with CRLF line endings (email only).
	Raw []byte

	// Mailgun is the account mailgun.initialize set up (mailgun only).
	Mailgun *MailgunAccount
}

// EmailOptions are the operator's SMTP settings for the email module.
type EmailOptions struct {
	// Sender sends the built messages. Nil means SMTP with the settings
	// below; fnctl test passes one that records them instead. The sender
	// policy (From), MaxRecipients and MaxMessageBytes apply either way.
	Sender MailSender

	// Host and Port are the SMTP server (a submission server: Port defaults
	// to 587, or 465 with ImplicitTLS). Empty Host: the SMTP sender fails.
	Host string
	Port int

	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN, which is only ever sent over TLS (or to localhost).
	Username string
	Password string

	// From is the default sender, used when a function gives none. When set
	// it is also the only sender address allowed (the display name may
	// differ), so functions cannot send as anyone else.
	From string

	// StartTLS is StartTLSRequire (the default when empty),
	// StartTLSOpportunistic or StartTLSNone.
	StartTLS string

	// ImplicitTLS speaks TLS from the first byte (port 465) instead of
	// upgrading with STARTTLS.
	ImplicitTLS bool

	// TLSConfig is used for STARTTLS and implicit TLS (nil: system roots);
	// ServerName defaults to Host. Tests use it to trust their server.
	TLSConfig *tls.Config

	// Dial connects to the server on behalf of a service (the invocation's
	// bucket name): the relay passes (*egress.Client).DialContext, so the
	// egress ACL and address guard apply. Required by the SMTP sender.
	Dial func(ctx context.Context, service, network, addr string) (net.Conn, error)

	// HeloName is the name sent with EHLO; default "localhost".
	HeloName string

	// MaxRecipients caps To + Cc + Bcc (default DefaultEmailMaxRecipients);
	// MaxMessageBytes caps the message (default DefaultEmailMaxMessageBytes).
	MaxRecipients   int
	MaxMessageBytes int
}

// Email returns the "email" module, which sends mail through the SMTP
// server the operator configured:
//
//	local err = email.send{
//	  from = "Relay <relay@example.com>",     -- optional when the operator set a sender
//	  to = "ops@example.com",                 -- an address, a comma-separated list, or a table
//	  cc = {...}, bcc = {...}, reply_to = "...",   -- optional
//	  subject = "Build failed",
//	  text = "plain text body", html = "<p>HTML body</p>",   -- one or both
//	}
//
// The message is MIME (multipart/alternative when both text and html are
// given), UTF-8 and quoted-printable, with non-ASCII subjects and names
// encoded per RFC 2047. A line break in any header field is refused, so a
// function cannot inject headers. The message goes to EmailOptions.Sender,
// by default the SMTP server; the SMTP exchange is bounded by the
// invocation's deadline.
func Email(opts EmailOptions) runtime.Module {
	m := &emailModule{opts: opts, out: opts.Sender}
	if m.out == nil {
		m.out = &smtpSender{opts: opts}
	}
	return runtime.Module{Name: "email", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{"send": m.send})
	}}
}

type emailModule struct {
	opts EmailOptions
	out  MailSender // where built messages go
}

// emailMessage is what a function asked to send.
type emailMessage struct {
	from, replyTo    string
	to, cc, bcc      []string
	subject          string
	text, html       string
	hasText, hasHTML bool
}

// send is email.send{...} → err.
func (m *emailModule) send(L *lua.LState) int {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.ArgError(1, "email.send takes a table {from=, to=, subject=, text=, html=}, got "+L.Get(1).Type().String())
		return 0
	}
	msg := m.readMessage(L, t)
	call := runtime.CallOf(L)
	if call == nil {
		return errOnly(L, errors.New("email.send: not running in an invocation"))
	}
	if err := m.sendMessage(call.Context(), call.Metadata("bucket_name"), msg); err != nil {
		return errOnly(L, fmt.Errorf("email.send: %w", err))
	}
	return errOnly(L, nil)
}

// readMessage reads the send table; wrong types are Lua errors.
func (m *emailModule) readMessage(L *lua.LState, t *lua.LTable) *emailMessage {
	msg := &emailMessage{}
	t.ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok {
			L.ArgError(1, "email.send: field names must be strings")
		}
		str := func() string {
			s, ok := v.(lua.LString)
			if !ok {
				L.ArgError(1, fmt.Sprintf("email.send: %s must be a string, got %s", key, v.Type()))
			}
			return string(s)
		}
		list := func() []string {
			out, err := mailAddressList(v)
			if err != nil {
				L.ArgError(1, fmt.Sprintf("email.send: %s %v", key, err))
			}
			return out
		}
		switch key {
		case "from":
			msg.from = str()
		case "reply_to":
			msg.replyTo = str()
		case "to":
			msg.to = list()
		case "cc":
			msg.cc = list()
		case "bcc":
			msg.bcc = list()
		case "subject":
			msg.subject = str()
		case "text":
			msg.text, msg.hasText = str(), true
		case "html":
			msg.html, msg.hasHTML = str(), true
		default:
			L.ArgError(1, fmt.Sprintf("email.send: unknown field %q (from, to, cc, bcc, reply_to, subject, text, html)", bqShort(string(key))))
		}
	})
	return msg
}

func (m *emailModule) sendMessage(ctx context.Context, service string, in *emailMessage) error {
	o := m.opts
	// Header injection: no field may hold a line break.
	for _, f := range []struct {
		name string
		vals []string
	}{
		{"from", []string{in.from}}, {"reply_to", []string{in.replyTo}}, {"subject", []string{in.subject}},
		{"to", in.to}, {"cc", in.cc}, {"bcc", in.bcc},
	} {
		for _, v := range f.vals {
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("%s contains a line break (header injection refused)", f.name)
			}
		}
	}

	from, err := m.sender(in.from)
	if err != nil {
		return err
	}
	to, err := emailParseAddresses("to", in.to)
	if err != nil {
		return err
	}
	cc, err := emailParseAddresses("cc", in.cc)
	if err != nil {
		return err
	}
	bcc, err := emailParseAddresses("bcc", in.bcc)
	if err != nil {
		return err
	}
	var replyTo []*mail.Address
	if in.replyTo != "" {
		if replyTo, err = emailParseAddresses("reply_to", []string{in.replyTo}); err != nil {
			return err
		}
	}
	if len(to) == 0 {
		return errors.New("to is required")
	}
	maxRcpt := o.MaxRecipients
	if maxRcpt <= 0 {
		maxRcpt = DefaultEmailMaxRecipients
	}
	if n := len(to) + len(cc) + len(bcc); n > maxRcpt {
		return fmt.Errorf("%d recipients, at most %d", n, maxRcpt)
	}
	if !in.hasText && !in.hasHTML {
		return errors.New("text or html is required")
	}

	raw, err := emailBuild(from, to, cc, replyTo, in)
	if err != nil {
		return err
	}
	maxBytes := o.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = DefaultEmailMaxMessageBytes
	}
	if len(raw) > maxBytes {
		return fmt.Errorf("message is %d bytes, the limit is %d", len(raw), maxBytes)
	}
	msg := &Mail{
		Module:       "email",
		From:         emailShow(from),
		To:           emailStrings(to),
		Cc:           emailStrings(cc),
		Bcc:          emailStrings(bcc),
		Subject:      in.subject,
		Text:         in.text,
		HTML:         in.html,
		EnvelopeFrom: from.Address,
		Raw:          raw,
	}
	if len(replyTo) > 0 {
		msg.ReplyTo = emailShow(replyTo[0])
	}
	for _, list := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range list {
			msg.Recipients = append(msg.Recipients, a.Address)
		}
	}
	return m.out.SendMail(ctx, service, msg)
}

// emailStrings formats addresses, one string each.
func emailStrings(list []*mail.Address) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = emailShow(a)
	}
	return out
}

// emailShow formats an address: "Name" <addr>, or addr alone when it has
// no name.
func emailShow(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// sender applies the operator's sender policy to the function's from.
func (m *emailModule) sender(from string) (*mail.Address, error) {
	var allowed *mail.Address
	if m.opts.From != "" {
		a, err := mail.ParseAddress(m.opts.From)
		if err != nil {
			return nil, fmt.Errorf("the configured sender %q is invalid: %v", m.opts.From, err)
		}
		allowed = a
	}
	if from == "" {
		if allowed == nil {
			return nil, errors.New("from is required")
		}
		return allowed, nil
	}
	list, err := emailParseAddresses("from", []string{from})
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, errors.New("from must be a single address")
	}
	a := list[0]
	if allowed != nil && !strings.EqualFold(a.Address, allowed.Address) {
		return nil, fmt.Errorf("sender %s is not allowed; this relay sends as %s", a.Address, allowed.Address)
	}
	return a, nil
}

// emailParseAddresses parses RFC 5322 addresses and address lists.
func emailParseAddresses(field string, items []string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, item := range items {
		if strings.TrimSpace(item) == "" {
			continue
		}
		list, err := mail.ParseAddressList(item)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid address %q: %v", field, bqShort(item), err)
		}
		for _, a := range list {
			for _, r := range a.Address {
				if r >= 0x80 {
					return nil, fmt.Errorf("%s: address %q is not ASCII (SMTPUTF8 is not supported)", field, a.Address)
				}
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// emailBuild writes the RFC 5322 message with CRLF line endings.
func emailBuild(from *mail.Address, to, cc, replyTo []*mail.Address, in *emailMessage) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) error { return emailHeader(&b, name, value) }
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := "relayfn.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	headers := [][2]string{
		{"From", from.String()},
		{"To", emailJoin(to)},
	}
	if len(cc) > 0 {
		headers = append(headers, [2]string{"Cc", emailJoin(cc)})
	}
	if len(replyTo) > 0 {
		headers = append(headers, [2]string{"Reply-To", emailJoin(replyTo)})
	}
	headers = append(headers,
		[2]string{"Subject", mime.QEncoding.Encode("utf-8", in.subject)},
		[2]string{"Date", time.Now().Format(time.RFC1123Z)},
		[2]string{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		[2]string{"MIME-Version", "1.0"},
	)
	for _, h := range headers {
		if err := header(h[0], h[1]); err != nil {
			return nil, err
		}
	}

	if in.hasText && in.hasHTML {
		mw := multipart.NewWriter(&b)
		if err := header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})); err != nil {
			return nil, err
		}
		b.WriteString("\r\n")
		for _, part := range []struct{ ctype, body string }{{"text/plain", in.text}, {"text/html", in.html}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {part.ctype + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, err
			}
			if err := emailQP(w, part.body); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		b.WriteString("\r\n")
		return b.Bytes(), nil
	}
	ctype, body := "text/plain", in.text
	if in.hasHTML {
		ctype, body = "text/html", in.html
	}
	if err := header("Content-Type", ctype+"; charset=utf-8"); err != nil {
		return nil, err
	}
	if err := header("Content-Transfer-Encoding", "quoted-printable"); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	if err := emailQP(&b, body); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

func emailJoin(list []*mail.Address) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// emailQP writes body quoted-printable, with CRLF line breaks.
func emailQP(w interface{ Write([]byte) (int, error) }, body string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(body)); err != nil {
		return err
	}
	return qp.Close()
}

// emailHeader writes "Name: value" folded at spaces to lines of at most 78
// characters where it can (RFC 5322 §2.2.3); no line may pass 998.
func emailHeader(b *bytes.Buffer, name, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("header %s contains a line break", name)
	}
	line := name + ":"
	for i, word := range strings.Split(value, " ") {
		switch {
		case i == 0:
			line += " " + word
		case len(line)+1+len(word) > 78 && strings.TrimSpace(line) != "":
			if len(line) > 998 {
				return fmt.Errorf("header %s has a word too long for one line", name)
			}
			b.WriteString(line + "\r\n")
			line = " " + word
		default:
			line += " " + word
		}
	}
	if len(line) > 998 {
		return fmt.Errorf("header %s has a word too long for one line", name)
	}
	b.WriteString(line + "\r\n")
	return nil
}

// smtpSender is the email module's default MailSender: the operator's SMTP
// server.
type smtpSender struct{ opts EmailOptions }

// SendMail sends m.Raw to m.Recipients from m.EnvelopeFrom.
func (s *smtpSender) SendMail(ctx context.Context, service string, m *Mail) error {
	o := s.opts
	if o.Host == "" {
		return errors.New("no SMTP server is configured")
	}
	if o.Dial == nil {
		return errors.New("no outbound dialer is configured for SMTP")
	}
	mode := o.StartTLS
	switch mode {
	case "":
		mode = StartTLSRequire
	case StartTLSRequire, StartTLSOpportunistic, StartTLSNone:
	default:
		return fmt.Errorf("invalid StartTLS setting %q", mode)
	}
	if m.EnvelopeFrom == "" || len(m.Recipients) == 0 || len(m.Raw) == 0 {
		return errors.New("the message has no envelope or no content")
	}
	return s.deliver(ctx, service, mode, m.EnvelopeFrom, m.Recipients, m.Raw)
}

// deliver runs the SMTP exchange.
func (s *smtpSender) deliver(ctx context.Context, service, mode, envFrom string, rcpts []string, raw []byte) (err error) {
	o := s.opts
	port := o.Port
	if port == 0 {
		port = 587
		if o.ImplicitTLS {
			port = 465
		}
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(port))
	stage := "connect to " + addr
	// A failure after the deadline is reported as the deadline.
	defer func() {
		if err != nil {
			var ne net.Error
			if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
				// The connection's deadline is the context's: let the
				// context catch up so the cause is reported.
				<-ctx.Done()
			}
			if cause := context.Cause(ctx); cause != nil {
				err = fmt.Errorf("%s: %w", stage, cause)
			} else {
				err = fmt.Errorf("%s: %w", stage, err)
			}
		}
	}()

	conn, err := o.Dial(ctx, service, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The deadline bounds every read and write, and ending the invocation
	// closes the connection.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	tlsConfig := &tls.Config{}
	if o.TLSConfig != nil {
		tlsConfig = o.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = o.Host
	}
	if o.ImplicitTLS {
		stage = "TLS handshake with " + addr
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}

	stage = "SMTP greeting from " + addr
	c, err := smtp.NewClient(conn, o.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	helo := o.HeloName
	if helo == "" {
		helo = "localhost"
	}
	stage = "EHLO"
	if err := c.Hello(helo); err != nil {
		return err
	}
	if !o.ImplicitTLS && mode != StartTLSNone {
		stage = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return err
			}
		} else if mode == StartTLSRequire {
			return errors.New("the server does not offer STARTTLS, which is required")
		}
	}
	if o.Username != "" {
		stage = "AUTH"
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", o.Username, o.Password, o.Host)); err != nil {
			return err
		}
	}
	stage = "MAIL FROM"
	if err := c.Mail(envFrom); err != nil {
		return err
	}
	for _, r := range rcpts {
		stage = "RCPT TO " + r
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	stage = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	stage = "QUIT"
	_ = c.Quit()
	return nil
}

// mailAddressListArg reads an address or a table of addresses.
func mailAddressListArg(L *lua.LState, n int, what string) []string {
	out, err := mailAddressList(L.Get(n))
	if err != nil {
		L.ArgError(n, what+" "+err.Error())
	}
	return out
}

// mailAddressList reads a string (one address or a comma-separated list)
// or a sequence of strings.
func mailAddressList(v lua.LValue) ([]string, error) {
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LString:
		if strings.TrimSpace(string(x)) == "" {
			return nil, nil
		}
		return []string{string(x)}, nil
	case *lua.LTable:
		n, ok := sequenceLen(x)
		if !ok {
			return nil, errors.New("must be a list of addresses")
		}
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			s, ok := x.RawGetInt(i).(lua.LString)
			if !ok {
				return nil, fmt.Errorf("item %d must be a string, got %s", i, x.RawGetInt(i).Type())
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a string or a list of strings, got %s", v.Type())
}
