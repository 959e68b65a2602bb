package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"

	"github.com/relayfn/relayfn/relay"
)

// redact returns s with the password of a URL hidden.
func redact(s string) string { return relay.RedactURL(s) }

// validator checks a decoded File and reads what it refers to.
type validator struct {
	*decoder
	opts ParseOptions
}

// report records the field errors of a model's Validate under the object
// at base.
func (v *validator) report(base string, err error) {
	for _, fe := range relay.FieldErrors(err) {
		v.errorf(join(base, fe.Field), "%v", fe.Err)
	}
}

func (v *validator) file(f *File) {
	v.server(&f.Server)
	fnames := map[string]int{}
	for i := range f.Functions {
		v.function(&f.Functions[i], fmt.Sprintf("functions[%d]", i), fnames, i)
	}
	bnames := map[string]int{}
	ids := map[string]string{}
	for i := range f.Buckets {
		v.bucket(&f.Buckets[i], fmt.Sprintf("buckets[%d]", i), fnames, bnames, ids, i)
	}
}

func (v *validator) server(s *Server) {
	if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		v.errorf("server.listen", "%q is not a host:port address (such as \":8080\")", s.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf("server.listen", "%q: invalid port %q", s.Listen, port)
	}
	if a := s.Admin.Listen; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil {
			v.errorf("server.admin.listen", "%q is not a host:port address (such as \"127.0.0.1:8081\")", a)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.errorf("server.admin.listen", "%q: invalid port %q", a, port)
		} else if a == s.Listen && n != 0 {
			v.errorf("server.admin.listen", "%q is also server.listen: give the admin API its own address, or leave admin.listen out", a)
		}
	}
	if err := CheckStore(s.Store); err != nil {
		v.errorf("server.store", "%v", err)
	}
	if s.Node != "" {
		if err := CheckNode(s.Node); err != nil {
			v.errorf("server.node", "%v", err)
		}
	}
	if st := s.UnknownInputStatus; st < 100 || st > 599 {
		v.errorf("server.unknown_input_status", "invalid HTTP status %d", st)
	}
	if s.MaxBodyBytes < 0 {
		v.errorf("server.max_body_bytes", "must not be negative")
	}
	if p := s.HTTP.Proxy; p != "" {
		u, err := url.Parse(p)
		switch {
		case err != nil || u.Host == "" || !strings.Contains(p, "://"):
			v.errorf("server.http.proxy", "%q is not a URL (want http://, https:// or socks5://host:port)", redact(p))
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
			v.errorf("server.http.proxy", "unsupported scheme %q (want http, https or socks5)", u.Scheme)
		}
	}
	if h := s.HTTP.ProxyRoleHeader; h != "" && !httpguts.ValidHeaderFieldName(h) {
		v.errorf("server.http.proxy_role_header", "invalid header name %q", h)
	}
	for i, r := range s.Egress.AllowRanges {
		if _, err := netip.ParsePrefix(r); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(r); err == nil {
			continue
		}
		v.errorf(fmt.Sprintf("server.egress.allow_ranges[%d]", i), "%q is not a CIDR prefix or an IP address", r)
	}
	lim := s.Limits
	for _, c := range []struct {
		field string
		bad   bool
	}{
		{"max_connections", lim.MaxConnections < 0},
		{"min_body_rate", lim.MinBodyRate < 0},
		{"min_body_rate_grace", lim.MinBodyRateGrace < 0},
		{"idle_timeout", lim.IdleTimeout < 0},
		{"read_header_timeout", lim.ReadHeaderTimeout < 0},
		{"read_timeout", lim.ReadTimeout < 0},
	} {
		if c.bad {
			v.errorf("server.limits."+c.field, "must not be negative (0 means the default)")
		}
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		v.errorf("server.tls", "cert_file and key_file go together")
	}
	if st := s.Health.DegradedStatus; st != 0 && st != 200 && st != 503 {
		v.errorf("server.health.degraded_status", "invalid status %d (want 200 or 503)", st)
	}
	v.serverRetention(&s.Retention)
	v.smtp(&s.Modules.SMTP)
	v.baseURL("server.modules.bigquery.endpoint", s.Modules.BigQuery.Endpoint)
	v.baseURL("server.modules.mailgun.base_url", s.Modules.Mailgun.BaseURL)
}

// smtp checks server.modules.smtp and reads its password from the
// environment.
func (v *validator) smtp(s *SMTP) {
	const p = "server.modules.smtp"
	if *s == (SMTP{}) {
		return
	}
	switch h := s.Host; {
	case h == "":
		v.errorf(p+".host", "missing: the SMTP server's host name (or leave out smtp: the email module is then not offered)")
	case strings.Contains(h, "://"):
		v.errorf(p+".host", "%q: give the host name only, without a scheme", truncate(h, 60))
	case strings.ContainsAny(h, " \t\r\n/@[]"):
		v.errorf(p+".host", "%q is not a host name or IP address", truncate(h, 60))
	default:
		if _, port, err := net.SplitHostPort(h); err == nil {
			v.errorf(p+".host", "%q holds a port: give it as port: %s", h, port)
		}
	}
	if s.Port < 0 || s.Port > 65535 {
		v.errorf(p+".port", "%d is not a TCP port (1-65535; leave it out for 587, or 465 with implicit_tls)", s.Port)
	}
	if strings.ContainsAny(s.Username, "\r\n") {
		v.errorf(p+".username", "must not contain line breaks")
	}
	switch {
	case s.Username != "" && !v.has(p+".password_env"):
		v.errorf(p+".password_env", "missing: username is set, so AUTH needs a password: name the environment variable that holds it")
	case s.Username == "" && v.has(p+".password_env"):
		v.errorf(p+".username", "missing: password_env is set: give the user name to authenticate as")
	case s.PasswordEnv == "" && v.has(p+".password_env"):
		v.errorf(p+".password_env", "empty: name the environment variable that holds the password")
	case s.PasswordEnv != "" && v.opts.LookupEnv != nil:
		// Without LookupEnv (a document sent to the admin API), the server
		// section is not used and the password is not read.
		pw, ok := v.opts.LookupEnv(s.PasswordEnv)
		if !ok || pw == "" {
			v.errorf(p+".password_env", "environment variable %q is not set", s.PasswordEnv)
		}
		s.Password = pw
	}
	if s.From != "" {
		a, err := mail.ParseAddress(s.From)
		switch {
		case err != nil:
			v.errorf(p+".from", "%q is not an email address (want relay@example.com or \"Relay <relay@example.com>\")", truncate(s.From, 60))
		case !isASCII(a.Address):
			v.errorf(p+".from", "%q is not ASCII (SMTPUTF8 is not supported)", a.Address)
		}
	}
	switch s.StartTLS {
	case "", "require", "opportunistic", "none": // builtins.StartTLSRequire, …
		if s.StartTLS != "" && s.ImplicitTLS {
			v.errorf(p+".starttls", "not used with implicit_tls: true (the connection is TLS from the start)")
		}
	default:
		v.errorf(p+".starttls", "unknown value %q (want require, opportunistic or none)", truncate(s.StartTLS, 40))
	}
}

// baseURL checks an optional http(s) base URL at path.
func (v *validator) baseURL(path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.errorf(path, "%q is not an http(s) URL", redact(s))
	case u.User != nil:
		v.errorf(path, "%q holds credentials: functions pass their own", redact(s))
	case u.RawQuery != "" || u.Fragment != "":
		v.errorf(path, "%q has a query or fragment: give the base URL only", redact(s))
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (v *validator) function(fn *Function, p string, names map[string]int, i int) {
	if err := relay.ValidateName(fn.Name); err != nil {
		v.errorf(p+".name", "%v", err)
	} else if first, dup := names[fn.Name]; dup {
		v.errorf(p+".name", "duplicate function %q (also functions[%d])", fn.Name, first)
	} else {
		names[fn.Name] = i
	}
	hasFile, hasSource := v.has(p+".file"), v.has(p+".source")
	switch {
	case hasFile && hasSource:
		v.errorf(p+".source", "file and source are both set: use one of them")
	case !hasFile && !hasSource:
		// A reference to a function pushed separately; Apply checks that
		// it exists.
		fn.Reference = true
	case hasFile && fn.File == "":
		v.errorf(p+".file", "empty path")
	case hasFile && v.opts.ReadFile == nil:
		v.errorf(p+".file", "not allowed here: give the function's source inline (source: |)")
	case hasFile:
		src, err := v.opts.ReadFile(fn.File)
		if err != nil {
			v.errorf(p+".file", "%v", err)
		}
		fn.Source = string(src)
	}
	for k := range fn.Config {
		if strings.TrimSpace(k) == "" {
			v.errorf(p+".config", "empty key")
		}
	}
	v.functionSpecs(fn, p, hasFile)
}

func (v *validator) has(path string) bool {
	_, ok := v.lines[path]
	return ok
}

func (v *validator) bucket(b *Bucket, p string, fnames, names map[string]int, ids map[string]string, i int) {
	if err := relay.ValidateName(b.Name); err != nil {
		v.errorf(p+".name", "%v", err)
	} else if first, dup := names[b.Name]; dup {
		v.errorf(p+".name", "duplicate bucket %q (also buckets[%d])", b.Name, first)
	} else {
		names[b.Name] = i
	}
	v.auth(&b.Auth, p+".auth")
	v.retention(b.Retention, p+".retention")

	inames := map[string]int{}
	for j := range b.Inputs {
		in := &b.Inputs[j]
		ip := fmt.Sprintf("%s.inputs[%d]", p, j)
		v.report(ip, (&relay.Input{Name: in.Name, ID: in.ID, Response: in.Response.model()}).Validate())
		if first, dup := inames[in.Name]; dup && in.Name != "" {
			v.errorf(ip+".name", "duplicate input %q (also inputs[%d])", in.Name, first)
		} else {
			inames[in.Name] = j
		}
		if in.ID != "" {
			if id, err := uuid.Parse(in.ID); err == nil {
				in.ID = id.String()
				if other, dup := ids[in.ID]; dup {
					v.errorf(ip+".id", "duplicate input id %s (also %s)", in.ID, other)
				} else {
					ids[in.ID] = ip
				}
			}
		}
		v.ref(fnames, ip+".function", in.Function)
	}
	onames := map[string]int{}
	for j := range b.Outputs {
		out := &b.Outputs[j]
		op := fmt.Sprintf("%s.outputs[%d]", p, j)
		v.report(op, (&relay.Output{
			Name: out.Name, Destination: out.Destination, Timeout: time.Duration(out.Timeout),
			Retries: out.Retries.model(), Internal: out.Internal, MaxInFlight: out.MaxInFlight,
			AgentWindow: time.Duration(out.AgentWindow),
		}).Validate())
		if first, dup := onames[out.Name]; dup && out.Name != "" {
			v.errorf(op+".name", "duplicate output %q (also outputs[%d])", out.Name, first)
		} else {
			onames[out.Name] = j
		}
		v.ref(fnames, op+".function", out.Function)
		v.ref(fnames, op+".response_function", out.ResponseFunction)
	}
}

// ref checks a reference to a function by name.
func (v *validator) ref(fnames map[string]int, path, name string) {
	if name == "" {
		return
	}
	if _, ok := fnames[name]; !ok {
		v.errorf(path, "unknown function %q (list it under functions)", name)
	}
}

func (v *validator) auth(a *Auth, p string) {
	switch a.Type {
	case relay.AuthNone, relay.AuthToken:
		for _, k := range []string{"username", "password", "password_env"} {
			if v.has(p + "." + k) {
				v.errorf(p+"."+k, "only used with type: basic")
			}
		}
	case relay.AuthBasic:
		if err := relay.ValidateUsername(a.Username); err != nil {
			v.errorf(p+".username", "%v", err)
		}
		hasPw, hasEnv := v.has(p+".password"), v.has(p+".password_env")
		switch {
		case hasPw && hasEnv:
			v.errorf(p+".password_env", "password and password_env are both set: use one of them")
		case hasEnv && v.opts.LookupEnv == nil:
			v.errorf(p+".password_env", "not allowed here: give the password itself")
		case hasEnv:
			pw, ok := v.opts.LookupEnv(a.PasswordEnv)
			if !ok || pw == "" {
				v.errorf(p+".password_env", "environment variable %q is not set", a.PasswordEnv)
			} else if err := relay.ValidatePassword(pw); err != nil {
				v.errorf(p+".password_env", "the password in %s is %v", a.PasswordEnv, err)
			}
			a.Password = pw
		case !hasPw || a.Password == "":
			v.errorf(p+".password", "missing: basic auth needs a password (or password_env)")
		default:
			if err := relay.ValidatePassword(a.Password); err != nil {
				v.errorf(p+".password", "%v", err)
			}
		}
	default:
		v.errorf(p+".type", "%v", a.Type.Validate())
	}
}

// model returns r as the relay stores it.
func (r Response) model() relay.ResponseConfig {
	return relay.ResponseConfig{
		Mode: r.Mode, Status: r.Status, Headers: r.Headers, Body: r.Body, Timeout: time.Duration(r.Timeout),
	}
}

// model returns r as the relay stores it.
func (r Retries) model() relay.RetryPolicy {
	return relay.RetryPolicy{
		MaxAttempts: r.MaxAttempts, Backoff: relay.Backoff(r.Backoff),
		InitialInterval: time.Duration(r.InitialInterval), MaxInterval: time.Duration(r.MaxInterval),
	}
}
