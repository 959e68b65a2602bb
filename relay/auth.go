package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// TokenHeader is the header a caller may carry a bucket token in, besides
// Authorization and the token query parameter.
const TokenHeader = "X-Relay-Token"

// NewSecret returns a random secret and its bcrypt hash. Only the hash is
// stored; the secret is shown once.
func NewSecret() (secret, hash string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	h, err := HashSecret(secret)
	return secret, h, err
}

// HashSecret returns the bcrypt hash of a password or token secret.
func HashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	return string(h), err
}

// FormatToken is the credential a caller presents: "<token id>.<secret>".
func FormatToken(id, secret string) string { return id + "." + secret }

// ParseToken splits a credential made by FormatToken.
func ParseToken(cred string) (id, secret string, ok bool) {
	i := strings.LastIndexByte(cred, '.')
	if i <= 0 || i == len(cred)-1 {
		return "", "", false
	}
	return cred[:i], cred[i+1:], true
}

// maxVerified bounds how many verified credentials a Verifier remembers.
const maxVerified = 10000

// A Verifier checks secrets against bcrypt hashes. It remembers the pairs
// that matched (by a SHA-256 of hash and secret, never the secret itself)
// so that a busy client pays bcrypt once rather than on every request,
// and it bounds how many bcrypt checks run at once so that bad
// credentials cannot take every CPU. A Verifier is safe for concurrent
// use.
type Verifier struct {
	mu   sync.Mutex
	good map[[32]byte]struct{}
	sem  chan struct{}
}

// NewVerifier returns a Verifier that remembers no credentials yet.
func NewVerifier() *Verifier {
	return &Verifier{good: map[[32]byte]struct{}{}, sem: make(chan struct{}, 2)}
}

// Check reports whether secret matches hash, a bcrypt hash such as
// HashSecret returns.
func (v *Verifier) Check(hash, secret string) bool {
	key := sha256.Sum256([]byte(hash + "\x00" + secret))
	v.mu.Lock()
	_, ok := v.good[key]
	v.mu.Unlock()
	if ok {
		return true
	}
	v.sem <- struct{}{}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret))
	<-v.sem
	if err != nil {
		return false
	}
	v.mu.Lock()
	if len(v.good) >= maxVerified {
		clear(v.good)
	}
	v.good[key] = struct{}{}
	v.mu.Unlock()
	return true
}

// authorize checks the caller's credentials for bucket b. On success it
// removes them from header, and returns the raw query to forward: the
// request's, less a token given as ?token=.
func (s *Server) authorize(rt *routes, b *Bucket, header http.Header, u *url.URL) (rawQuery string, ok bool) {
	switch b.Auth.Type {
	case "", AuthNone:
		return u.RawQuery, true
	case AuthBasic:
		user, pass, ok := basicAuth(header)
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(b.Auth.Username)) != 1 || !s.verify.Check(b.Auth.PasswordHash, pass) {
			return "", false
		}
		header.Del("Authorization")
		return u.RawQuery, true
	case AuthToken:
		cred, strip := tokenCredential(header, u)
		id, secret, ok := ParseToken(cred)
		if !ok {
			return "", false
		}
		t := rt.tokens[b.ID][id]
		if t == nil || !s.verify.Check(t.SecretHash, secret) {
			return "", false
		}
		return strip(), true
	}
	return "", false
}

func basicAuth(h http.Header) (user, pass string, ok bool) {
	r := http.Request{Header: h}
	return r.BasicAuth()
}

// tokenCredential finds a bucket token: Authorization Bearer, Authorization
// Basic (token id as user, secret as password), X-Relay-Token, or ?token=.
// strip removes it and returns the raw query to forward.
func tokenCredential(h http.Header, u *url.URL) (cred string, strip func() string) {
	fromHeader := func(name string) func() string {
		return func() string { h.Del(name); return u.RawQuery }
	}
	if a := h.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), fromHeader("Authorization")
		}
		if user, pass, ok := basicAuth(h); ok {
			return FormatToken(user, pass), fromHeader("Authorization")
		}
	}
	if t := h.Get(TokenHeader); t != "" {
		return t, fromHeader(TokenHeader)
	}
	if strings.Contains(u.RawQuery, "token=") {
		q := u.Query()
		if t := q.Get("token"); t != "" {
			return t, func() string { q.Del("token"); return q.Encode() }
		}
	}
	return "", func() string { return u.RawQuery }
}
