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
// removes them from header and query so they are not forwarded.
func (s *Server) authorize(rt *routes, b *Bucket, header http.Header, query url.Values) bool {
	switch b.Auth.Type {
	case "", AuthNone:
		return true
	case AuthBasic:
		user, pass, ok := basicAuth(header)
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(b.Auth.Username)) != 1 || !s.verify.Check(b.Auth.PasswordHash, pass) {
			return false
		}
		header.Del("Authorization")
		return true
	case AuthToken:
		cred, strip := tokenCredential(header, query)
		id, secret, ok := ParseToken(cred)
		if !ok {
			return false
		}
		t := rt.tokens[b.ID][id]
		if t == nil || !s.verify.Check(t.SecretHash, secret) {
			return false
		}
		strip()
		return true
	}
	return false
}

func basicAuth(h http.Header) (user, pass string, ok bool) {
	r := http.Request{Header: h}
	return r.BasicAuth()
}

// tokenCredential finds a bucket token: Authorization Bearer, Authorization
// Basic (token id as user, secret as password), X-Relay-Token, or ?token=.
func tokenCredential(h http.Header, q url.Values) (string, func()) {
	if a := h.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), func() { h.Del("Authorization") }
		}
		if user, pass, ok := basicAuth(h); ok {
			return FormatToken(user, pass), func() { h.Del("Authorization") }
		}
	}
	if t := h.Get(TokenHeader); t != "" {
		return t, func() { h.Del(TokenHeader) }
	}
	if t := q.Get("token"); t != "" {
		return t, func() { q.Del("token") }
	}
	return "", func() {}
}
