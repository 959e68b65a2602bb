package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CookieName is the session cookie's name.
const CookieName = "relayfn_console"

// CSRFField is the form field (and CSRFHeader the header) that carries the
// session's CSRF token on every state-changing request.
const (
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// session is what the signed cookie holds: the admin token it was made
// with (checked against the store on every request, so deleting the token
// ends the session), when it expires, and a random nonce the CSRF token
// is derived from.
type session struct {
	TokenID string `json:"t"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
}

// sessions signs and checks session cookies with a key.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// newSession makes a session of the admin token tokenID.
func (s *sessions) newSession(tokenID string) (*session, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	return &session{TokenID: tokenID, Expires: s.now().Add(s.ttl).Unix(), Nonce: base64.RawURLEncoding.EncodeToString(n[:])}, nil
}

func (s *sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// encode returns the cookie value of ss: its JSON and a MAC of it.
func (s *sessions) encode(ss *session) string {
	data, _ := json.Marshal(ss)
	p := base64.RawURLEncoding.EncodeToString(data)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", p))
}

// decode checks a cookie value's MAC and expiry.
func (s *sessions) decode(v string) (*session, error) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errors.New("malformed session")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", p)) {
		return nil, errors.New("bad session signature")
	}
	data, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, errors.New("malformed session")
	}
	var ss session
	if err := json.Unmarshal(data, &ss); err != nil || ss.TokenID == "" || ss.Nonce == "" {
		return nil, errors.New("malformed session")
	}
	if s.now().Unix() >= ss.Expires {
		return nil, errors.New("session expired")
	}
	return &ss, nil
}

// csrf returns the CSRF token of a session.
func (s *sessions) csrf(ss *session) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", ss.Nonce, ss.TokenID))
}

// checkCSRF reports whether r carries the session's CSRF token (form
// field or header).
func (s *sessions) checkCSRF(r *http.Request, ss *session) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrf(ss)))
}

// sameOrigin reports whether a state-changing request may come from the
// page it claims: an Origin header (browsers send it on POST) must name
// this host, and Sec-Fetch-Site, when sent, must not be cross-site.
// Requests with neither are not from a browser page, and CSRF is a
// browser's problem; they still need the CSRF token.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// setCookie sets (or, with ss nil, clears) the session cookie: HttpOnly,
// SameSite=Strict, Secure when the request came over TLS, for /ui/ only.
func (s *sessions) setCookie(w http.ResponseWriter, r *http.Request, ss *session) {
	c := &http.Cookie{
		Name: CookieName, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	}
	if ss == nil {
		c.MaxAge = -1
	} else {
		c.Value = s.encode(ss)
		c.Expires = time.Unix(ss.Expires, 0)
	}
	http.SetCookie(w, c)
}
