package builtins_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/runtime"
)

// smtpMessage is one message the test server accepted.
type smtpMessage struct {
	TLS            bool // the session was encrypted when MAIL FROM came
	User, Password string
	From           string
	To             []string
	Data           []byte
}

// smtpServer is a real SMTP server (emersion/go-smtp) on loopback with
// STARTTLS, using httptest's self-signed certificate, and AUTH PLAIN.
type smtpServer struct {
	Addr      string
	Host      string
	Port      int
	ClientTLS *tls.Config // trusts the server's certificate

	mu       sync.Mutex
	messages []smtpMessage
	sessions int
}

func (s *smtpServer) Messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.messages...)
}

func (s *smtpServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

type smtpServerOptions struct {
	noTLS    bool // no STARTTLS offered
	implicit bool // TLS from the first byte
	insecure bool // AUTH offered without TLS
}

const (
	smtpUser     = "relay"
	smtpPassword = "s3cret-pa55"
)

// smtpTLSCert borrows httptest's self-signed certificate (valid for
// 127.0.0.1) and a client config that trusts it.
func smtpTLSCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	server = &tls.Config{Certificates: ts.TLS.Certificates}
	client = &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	return server, client
}

func newSMTPServer(t *testing.T, o smtpServerOptions) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &smtpSession{srv: s, conn: c}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.insecure
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	srv.ErrorLog = smtpDiscardLog{}
	serverTLS, clientTLS := smtpTLSCert(t)
	s.ClientTLS = clientTLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case o.implicit:
		l = tls.NewListener(l, serverTLS)
	case !o.noTLS:
		srv.TLSConfig = serverTLS
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	return s
}

type smtpDiscardLog struct{}

func (smtpDiscardLog) Printf(string, ...any) {}
func (smtpDiscardLog) Println(...any)        {}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	msg  smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != smtpUser || password != smtpPassword {
			return smtp.ErrAuthFailed
		}
		s.msg.User, s.msg.Password = username, password
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.From = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.msg = smtpMessage{User: s.msg.User, Password: s.msg.Password} }
func (s *smtpSession) Logout() error { return nil }

// emailEngine wires the email module to srv through a real egress client.
func emailEngine(t *testing.T, srv *smtpServer, edit func(*builtins.EmailOptions)) *runtime.Engine {
	t.Helper()
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	opts := builtins.EmailOptions{
		Host:      srv.Host,
		Port:      srv.Port,
		Username:  smtpUser,
		Password:  smtpPassword,
		TLSConfig: srv.ClientTLS,
		Dial:      ec.DialContext,
	}
	if edit != nil {
		edit(&opts)
	}
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Email(opts)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// emailRun runs src and returns its log; the function itself must not fail.
func emailRun(t *testing.T, e *runtime.Engine, src string) []string {
	t.Helper()
	res := bqRun(t, e, `local email = require("email")`+"\n"+src, nil, 5*time.Second)
	if res.Err != nil {
		t.Fatalf("run: %v\nlogs: %q", res.Err, res.Logs)
	}
	return res.Logs
}

func TestEmailSendMultipart(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, nil)
	logs := emailRun(t, e, `
local err = email.send{
  from = "Relay Bot <relay@example.com>",
  to = {"ops@example.com", "Dev Team <dev@example.com>"},
  cc = "audit@example.com",
  bcc = {"hidden@example.com"},
  reply_to = "support@example.com",
  subject = "Build failed: ąčę ✓",
  text = "Line 1\nLine 2 — ünïcode",
  html = "<p>Build <b>failed</b> ✓</p>",
}
print(err)
`)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Fatalf("logs %q", logs)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.User != smtpUser || m.Password != smtpPassword {
		t.Errorf("TLS %v, auth %q/%q: want STARTTLS then AUTH PLAIN", m.TLS, m.User, m.Password)
	}
	if m.From != "relay@example.com" {
		t.Errorf("MAIL FROM %q", m.From)
	}
	if want := []string{"ops@example.com", "dev@example.com", "audit@example.com", "hidden@example.com"}; !reflect.DeepEqual(m.To, want) {
		t.Errorf("RCPT TO %q, want %q", m.To, want)
	}
	if bytes.Contains(bytes.ReplaceAll(m.Data, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("message has bare LF line endings")
	}

	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != "Build failed: ąčę ✓" {
		t.Errorf("Subject %q decodes to %q (%v)", h.Get("Subject"), subject, err)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("Subject %q is not Q-encoded", h.Get("Subject"))
	}
	for name, want := range map[string]string{
		"From":         `"Relay Bot" <relay@example.com>`,
		"To":           `<ops@example.com>, "Dev Team" <dev@example.com>`,
		"Cc":           "<audit@example.com>",
		"Reply-To":     "<support@example.com>",
		"Mime-Version": "1.0",
		"Bcc":          "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if strings.Contains(string(m.Data), "hidden@example.com") {
		t.Error("the Bcc address appears in the message")
	}

	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v)", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type")+" | "+strings.ReplaceAll(string(body), "\r\n", "\n"))
	}
	want := []string{
		"text/plain; charset=utf-8 | Line 1\nLine 2 — ünïcode",
		"text/html; charset=utf-8 | <p>Build <b>failed</b> ✓</p>",
	}
	if !reflect.DeepEqual(parts, want) {
		t.Errorf("parts:\n%q\nwant:\n%q", parts, want)
	}
}

func TestEmailTextOnlyWithDefaultSender(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, func(o *builtins.EmailOptions) { o.From = "Relay <relay@example.com>" })
	long := strings.Repeat("word ", 40)
	logs := emailRun(t, e, `print(email.send{to = "a@example.com, b@example.com", subject = "`+long+`", text = "hello\n.\nnot the end"})`)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Fatalf("logs %q", logs)
	}
	m := srv.Messages()[0]
	if m.From != "relay@example.com" || !reflect.DeepEqual(m.To, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	for _, line := range strings.Split(string(m.Data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Subject"); got != strings.TrimSpace(long) {
		t.Errorf("unfolded Subject %q", got)
	}
	if got := msg.Header.Get("From"); got != `"Relay" <relay@example.com>` {
		t.Errorf("From %q", got)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Errorf("Content-Transfer-Encoding %q", cte)
	}
	body, _ := io.ReadAll(msg.Body)
	if got := strings.TrimRight(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n"); got != "hello\n.\nnot the end" {
		t.Errorf("body %q", got)
	}
}

func TestEmailHeaderInjectionRefused(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, nil)
	logs := emailRun(t, e, `
print(email.send{from = "a@example.com", to = "b@example.com", subject = "Hi\r\nBcc: victim@example.net", text = "x"})
print(email.send{from = "a@example.com", to = "b@example.com\nBcc: victim@example.net", subject = "Hi", text = "x"})
print(email.send{from = "a@example.com\r\nX-Evil: 1", to = "b@example.com", subject = "Hi", text = "x"})
print(email.send{from = "a@example.com", to = {"b@example.com"}, cc = {"c@example.com\rX: y"}, subject = "Hi", text = "x"})
print(email.send{from = "a@example.com", to = "b@example.com", reply_to = "r@example.com\nX: y", subject = "Hi", text = "x"})
`)
	want := []string{
		"email.send: subject contains a line break (header injection refused)",
		"email.send: to contains a line break (header injection refused)",
		"email.send: from contains a line break (header injection refused)",
		"email.send: cc contains a line break (header injection refused)",
		"email.send: reply_to contains a line break (header injection refused)",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("%d SMTP sessions opened, want none", n)
	}
}

func TestEmailValidation(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, func(o *builtins.EmailOptions) {
		o.From = "relay@example.com"
		o.MaxRecipients = 3
		o.MaxMessageBytes = 2000
	})
	logs := emailRun(t, e, `
print(email.send{from = "ceo@example.com", to = "b@example.com", subject = "s", text = "x"})
print(email.send{to = {"a@example.com", "b@example.com"}, cc = "c@example.com", bcc = "d@example.com", subject = "s", text = "x"})
print(email.send{to = "b@example.com", subject = "s", text = string.rep("x", 3000)})
print(email.send{to = "not an address", subject = "s", text = "x"})
print(email.send{to = "b@exämple.com", subject = "s", text = "x"})
print(email.send{subject = "s", text = "x"})
print(email.send{to = "b@example.com", subject = "s"})
print(email.send{from = "Relay <RELAY@example.com>", to = "b@example.com", subject = "s", html = "<p>ok</p>"})
`)
	want := []string{
		"email.send: sender ceo@example.com is not allowed; this relay sends as relay@example.com",
		"email.send: 4 recipients, at most 3",
		"email.send: message is ",
		`email.send: to: invalid address "not an address": mail: no angle-addr`,
		`email.send: to: address "b@exämple.com" is not ASCII (SMTPUTF8 is not supported)`,
		"email.send: to is required",
		"email.send: text or html is required",
		"nil",
	}
	if len(logs) != len(want) {
		t.Fatalf("logs %q", logs)
	}
	for i := range want {
		if !strings.HasPrefix(logs[i], want[i]) {
			t.Errorf("%d: %q, want %q", i, logs[i], want[i])
		}
	}
	if !strings.HasSuffix(logs[2], "bytes, the limit is 2000") {
		t.Errorf("size error %q", logs[2])
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].From != "RELAY@example.com" {
		t.Errorf("messages %+v, want only the last one", msgs)
	}
}

func TestEmailArgumentTypes(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, nil)
	for _, src := range []string{
		`email.send("a@example.com")`,
		`email.send{to = "a@example.com", subject = 1, text = "x"}`,
		`email.send{to = {a = "x"}, text = "x"}`,
		`email.send{to = "a@example.com", text = "x", attachments = {}}`,
	} {
		res := bqRun(t, e, `local email = require("email")`+"\n"+src, nil, 0)
		if res.Err == nil || !strings.Contains(res.Error, "bad argument") {
			t.Errorf("%s: error %q, want a bad argument error", src, res.Error)
		}
	}
}

func TestEmailStartTLSModes(t *testing.T) {
	plain := newSMTPServer(t, smtpServerOptions{noTLS: true, insecure: true})
	send := `print(email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"})`

	// Required (the default): no STARTTLS, no mail, no credentials sent.
	logs := emailRun(t, emailEngine(t, plain, nil), send)
	if len(logs) != 1 || logs[0] != "email.send: STARTTLS: the server does not offer STARTTLS, which is required" {
		t.Errorf("require: %q", logs)
	}
	// Opportunistic without a username: sent in plain text.
	logs = emailRun(t, emailEngine(t, plain, func(o *builtins.EmailOptions) {
		o.StartTLS, o.Username, o.Password = builtins.StartTLSOpportunistic, "", ""
	}), send)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Errorf("opportunistic: %q", logs)
	}
	// net/smtp never sends AUTH PLAIN over plain text to a remote host;
	// 127.0.0.1 counts as local, so this one may authenticate.
	logs = emailRun(t, emailEngine(t, plain, func(o *builtins.EmailOptions) { o.StartTLS = builtins.StartTLSNone }), send)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Errorf("none: %q", logs)
	}
	msgs := plain.Messages()
	if len(msgs) != 2 || msgs[0].TLS || msgs[1].TLS || msgs[0].User != "" {
		t.Errorf("messages %+v", msgs)
	}

	// Opportunistic with a server that offers it: upgraded.
	tlsSrv := newSMTPServer(t, smtpServerOptions{})
	logs = emailRun(t, emailEngine(t, tlsSrv, func(o *builtins.EmailOptions) { o.StartTLS = builtins.StartTLSOpportunistic }), send)
	if len(logs) != 1 || logs[0] != "nil" || !tlsSrv.Messages()[0].TLS {
		t.Errorf("opportunistic with TLS: %q %+v", logs, tlsSrv.Messages())
	}

	// A certificate the client does not trust fails the upgrade.
	logs = emailRun(t, emailEngine(t, tlsSrv, func(o *builtins.EmailOptions) { o.TLSConfig = nil }), send)
	if len(logs) != 1 || !strings.Contains(logs[0], "STARTTLS: tls: failed to verify certificate") {
		t.Errorf("untrusted certificate: %q", logs)
	}

	logs = emailRun(t, emailEngine(t, tlsSrv, func(o *builtins.EmailOptions) { o.StartTLS = "sometimes" }), send)
	if len(logs) != 1 || logs[0] != `email.send: invalid StartTLS setting "sometimes"` {
		t.Errorf("bad mode: %q", logs)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{implicit: true})
	e := emailEngine(t, srv, func(o *builtins.EmailOptions) { o.ImplicitTLS = true })
	logs := emailRun(t, e, `print(email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"})`)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Fatalf("logs %q", logs)
	}
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS || m[0].User != smtpUser {
		t.Errorf("messages %+v", m)
	}
}

func TestEmailAuthFailure(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	const wrong = "wrong-Pa55word"
	e := emailEngine(t, srv, func(o *builtins.EmailOptions) { o.Password = wrong })
	logs := emailRun(t, e, `print(email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"})`)
	if len(logs) != 1 || !strings.HasPrefix(logs[0], "email.send: AUTH: 535 ") {
		t.Errorf("logs %q", logs)
	}
	if strings.Contains(logs[0], wrong) {
		t.Error("the error shows the password")
	}
	if len(srv.Messages()) != 0 {
		t.Error("message delivered despite failed authentication")
	}
}

// The dialer is the egress client's: the address guard applies to SMTP.
func TestEmailEgressGuardApplies(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	ec := bqEgress(t, egress.Config{}) // loopback not allowed
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Email(builtins.EmailOptions{
		Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, Dial: ec.DialContext,
	})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	logs := emailRun(t, e, `print(email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"})`)
	if len(logs) != 1 || !strings.Contains(logs[0], "egress: address 127.0.0.1 is not allowed (loopback)") {
		t.Errorf("logs %q", logs)
	}
	if srv.Sessions() != 0 {
		t.Error("a connection reached the server")
	}
}

// A server that accepts and never answers: the invocation's deadline ends
// the exchange.
func TestEmailDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Email(builtins.EmailOptions{
		Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Dial: ec.DialContext,
	})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	start := time.Now()
	res := bqRun(t, e, `local email = require("email")
local err = email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"}
print(err)`, nil, 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want about the 300ms deadline", took)
	}
	if !errors.Is(res.Err, runtime.ErrTimeout) {
		t.Errorf("error %v (logs %q), want a timeout", res.Err, res.Logs)
	}
}

func TestEmailNotConfigured(t *testing.T) {
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Email(builtins.EmailOptions{})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	logs := emailRun(t, e, `print(email.send{from = "a@example.com", to = "b@example.com", subject = "s", text = "x"})`)
	if len(logs) != 1 || logs[0] != "email.send: no SMTP server is configured" {
		t.Errorf("logs %q", logs)
	}
}

// mailgunAPI is a local stand-in for Mailgun's messages endpoint.
type mailgunAPI struct {
	mu       sync.Mutex
	requests []mailgunRequest
	status   int
	body     string
}

type mailgunRequest struct {
	Method, Path, User, Password, ContentType string
	Form                                      url.Values
}

func (m *mailgunAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	_ = r.ParseForm()
	m.mu.Lock()
	m.requests = append(m.requests, mailgunRequest{
		Method: r.Method, Path: r.URL.Path, User: user, Password: pass,
		ContentType: r.Header.Get("Content-Type"), Form: r.PostForm,
	})
	status, body := m.status, m.body
	m.mu.Unlock()
	if status == 0 {
		status, body = http.StatusOK, `{"id": "<20260101.1@mg.example.com>", "message": "Queued. Thank you."}`
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (m *mailgunAPI) Requests() []mailgunRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mailgunRequest(nil), m.requests...)
}

func mailgunEngine(t *testing.T, opts builtins.MailgunOptions) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Mailgun(opts)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestMailgunSend(t *testing.T) {
	api := &mailgunAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	e := mailgunEngine(t, builtins.MailgunOptions{BaseURL: srv.URL, Do: ec.Do})
	logs := bqLogs(t, e, `
local mailgun = require("mailgun")
local err = mailgun.initialize("mg.example.com", "key-123")
if err then error(err) end
print(mailgun.send("Relay <relay@mg.example.com>", "ops@example.com", "Deploy ✓", "text body", "<p>html</p>"))
print(mailgun.send("relay@mg.example.com", {"a@example.com", "b@example.com"}, "Plain", "only text"))
`)
	if strings.Join(logs, ",") != "nil,nil" {
		t.Fatalf("logs %q", logs)
	}
	reqs := api.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v3/mg.example.com/messages" || r.User != "api" || r.Password != "key-123" {
		t.Errorf("request %s %s, basic auth %q:%q", r.Method, r.Path, r.User, r.Password)
	}
	if r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", r.ContentType)
	}
	want := url.Values{
		"from": {"Relay <relay@mg.example.com>"}, "to": {"ops@example.com"},
		"subject": {"Deploy ✓"}, "text": {"text body"}, "html": {"<p>html</p>"},
	}
	if !reflect.DeepEqual(r.Form, want) {
		t.Errorf("form %v, want %v", r.Form, want)
	}
	want2 := url.Values{
		"from": {"relay@mg.example.com"}, "to": {"a@example.com", "b@example.com"},
		"subject": {"Plain"}, "text": {"only text"},
	}
	if !reflect.DeepEqual(reqs[1].Form, want2) {
		t.Errorf("form %v, want %v", reqs[1].Form, want2)
	}
}

func TestMailgunErrors(t *testing.T) {
	api := &mailgunAPI{status: http.StatusUnauthorized, body: "Forbidden"}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	e := mailgunEngine(t, builtins.MailgunOptions{BaseURL: srv.URL, Do: ec.Do})
	src := `
local mailgun = require("mailgun")
print(mailgun.send("a@mg.example.com", "b@example.com", "s", "t"))
print(mailgun.initialize("mg.example.com/../../v4", "key-123"))
print(mailgun.initialize("mg.example.com", ""))
print(mailgun.initialize("mg.example.com", "key-123", "apac"))
assert(mailgun.initialize("mg.example.com", "key-123") == nil)
print(mailgun.send("a@mg.example.com", "b@example.com", "s", "t"))
print(mailgun.send("a@mg.example.com", "b@example.com", "s\r\nBcc: x@example.net", "t"))
print(mailgun.send("a@mg.example.com", nil, "s", "t"))
print(mailgun.send("a@mg.example.com", "b@example.com", "s", ""))
`
	logs := bqLogs(t, e, src)
	want := []string{
		"mailgun.send: call mailgun.initialize first",
		`mailgun.initialize: invalid domain "mg.example.com/../../v4"`,
		"mailgun.initialize: api_key is empty",
		`mailgun.initialize: unknown region "apac" (use "us" or "eu")`,
		"mailgun.send: 401 Unauthorized from Mailgun: Forbidden",
		"mailgun.send: subject contains a line break",
		"mailgun.send: to is required",
		"mailgun.send: text or html is required",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if n := len(api.Requests()); n != 1 {
		t.Errorf("%d requests reached the API, want 1", n)
	}

	api.mu.Lock()
	api.status, api.body = http.StatusBadRequest, `{"message": "'to' parameter is not a valid address. please check documentation"}`
	api.mu.Unlock()
	logs = bqLogs(t, e, `
local mailgun = require("mailgun")
mailgun.initialize("mg.example.com", "key-123")
print(mailgun.send("a@mg.example.com", "nope", "s", "t"))`)
	if len(logs) != 1 || logs[0] != "mailgun.send: 400 Bad Request from Mailgun: 'to' parameter is not a valid address. please check documentation" {
		t.Errorf("logs %q", logs)
	}
}

// Regions map to Mailgun's hosts; the request goes to the Do the relay
// gave, with the bucket as the service.
func TestMailgunRegions(t *testing.T) {
	var got []string
	do := func(ctx context.Context, service string, req *http.Request) (*http.Response, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("request without the invocation's deadline")
		}
		got = append(got, service+" "+req.URL.String())
		return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(strings.NewReader("{}"))}, nil
	}
	e := mailgunEngine(t, builtins.MailgunOptions{Do: do})
	bqLogs(t, e, `
local mailgun = require("mailgun")
for _, region in ipairs({"", "us", "EU"}) do
  assert(mailgun.initialize("mg.example.com", "key-1", region ~= "" and region or nil) == nil)
  assert(mailgun.send("a@mg.example.com", "b@example.com", "s", "t") == nil)
end`)
	want := []string{
		"ci https://api.mailgun.net/v3/mg.example.com/messages",
		"ci https://api.mailgun.net/v3/mg.example.com/messages",
		"ci https://api.eu.mailgun.net/v3/mg.example.com/messages",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestEmailLongEncodedSubject(t *testing.T) {
	srv := newSMTPServer(t, smtpServerOptions{})
	e := emailEngine(t, srv, nil)
	subject := strings.Repeat("Užsakymas ąčę ", 12) + "✓"
	logs := emailRun(t, e, `print(email.send{from = "a@example.com", to = "b@example.com", subject = "`+subject+`", text = "x"})`)
	if len(logs) != 1 || logs[0] != "nil" {
		t.Fatalf("logs %q", logs)
	}
	data := srv.Messages()[0].Data
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d characters", len(line))
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || got != subject {
		t.Errorf("Subject decodes to %q (%v), want %q", got, err, subject)
	}
}

// mailRecorder is a MailSender that keeps the messages.
type mailRecorder struct {
	mu       sync.Mutex
	services []string
	msgs     []*builtins.Mail
	err      error
}

func (r *mailRecorder) SendMail(_ context.Context, service string, m *builtins.Mail) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services = append(r.services, service)
	r.msgs = append(r.msgs, m)
	return r.err
}

func TestEmailSender(t *testing.T) {
	rec := &mailRecorder{}
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.Email(builtins.EmailOptions{
		Sender: rec, From: "Relay <relay@example.com>", MaxRecipients: 3,
	})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	logs := emailRun(t, e, `
print(email.send{to = {"Ops <ops@example.com>", "dev@example.com"}, cc = "lead@example.com",
  reply_to = "noreply@example.com", subject = "Build failed", text = "see the logs", html = "<p>see</p>"})
print(email.send{from = "other@example.com", to = "ops@example.com", subject = "s", text = "x"})
print(email.send{to = "a@example.com, b@example.com", cc = "c@example.com", bcc = "d@example.com", subject = "s", text = "x"})
print(email.send{to = "ops@example.com", subject = "evil\r\nBcc: x@example.com", text = "x"})
`)
	want := []string{
		"nil",
		"email.send: sender other@example.com is not allowed; this relay sends as relay@example.com",
		"email.send: 4 recipients, at most 3",
		"email.send: subject contains a line break (header injection refused)",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs\n%s\nwant\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if len(rec.msgs) != 1 {
		t.Fatalf("%d messages sent, want 1", len(rec.msgs))
	}
	m := rec.msgs[0]
	if m.Module != "email" || rec.services[0] != "ci" {
		t.Errorf("module %q, service %q", m.Module, rec.services[0])
	}
	if m.From != `"Relay" <relay@example.com>` || m.EnvelopeFrom != "relay@example.com" {
		t.Errorf("from %q, envelope %q", m.From, m.EnvelopeFrom)
	}
	if !reflect.DeepEqual(m.To, []string{`"Ops" <ops@example.com>`, "dev@example.com"}) || !reflect.DeepEqual(m.Cc, []string{"lead@example.com"}) {
		t.Errorf("to %q, cc %q", m.To, m.Cc)
	}
	if !reflect.DeepEqual(m.Recipients, []string{"ops@example.com", "dev@example.com", "lead@example.com"}) {
		t.Errorf("recipients %q", m.Recipients)
	}
	if m.Subject != "Build failed" || m.Text != "see the logs" || m.HTML != "<p>see</p>" || m.ReplyTo != "noreply@example.com" {
		t.Errorf("message %+v", m)
	}
	// Raw is the message SMTP would carry.
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header.Get("Subject") != "Build failed" || !strings.HasPrefix(parsed.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("raw headers %v", parsed.Header)
	}

	// The sender's error is the function's err.
	rec.err = errors.New("mailbox unavailable")
	logs = emailRun(t, e, `print(email.send{to = "ops@example.com", subject = "s", text = "x"})`)
	if len(logs) != 1 || logs[0] != "email.send: mailbox unavailable" {
		t.Errorf("logs %q", logs)
	}
}

func TestMailgunSender(t *testing.T) {
	rec := &mailRecorder{}
	e := mailgunEngine(t, builtins.MailgunOptions{Sender: rec, BaseURL: "https://mailgun.test/"})
	logs := bqLogs(t, e, `
local mailgun = require("mailgun")
print(mailgun.send("a@mg.example.com", "b@example.com", "s", "t"))
assert(mailgun.initialize("mg.example.com", "key-123", "eu") == nil)
print(mailgun.send("Relay <relay@mg.example.com>", {"a@example.com", "b@example.com"}, "Deploy", "text", "<p>html</p>"))
print(mailgun.send("relay@mg.example.com", "a@example.com", "Deploy"))
`)
	want := []string{"mailgun.send: call mailgun.initialize first", "nil", "mailgun.send: text or html is required"}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs %q, want %q", logs, want)
	}
	if len(rec.msgs) != 1 {
		t.Fatalf("%d messages sent, want 1", len(rec.msgs))
	}
	m := rec.msgs[0]
	wantMsg := &builtins.Mail{
		Module: "mailgun", From: "Relay <relay@mg.example.com>", To: []string{"a@example.com", "b@example.com"},
		Subject: "Deploy", Text: "text", HTML: "<p>html</p>",
		Mailgun: &builtins.MailgunAccount{Domain: "mg.example.com", APIKey: "key-123", BaseURL: "https://mailgun.test"},
	}
	if !reflect.DeepEqual(m, wantMsg) {
		t.Errorf("message %+v (account %+v), want %+v", m, m.Mailgun, wantMsg)
	}
}
