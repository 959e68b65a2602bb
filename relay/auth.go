package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TokenHeader is the header a caller may carry a bucket token in, besides
// Authorization and the token query parameter.
const TokenHeader = "X-Relay-Token"

// tokenHashPrefix marks a token secret hashed with SHA-256 (HashToken);
// bcrypt hashes start with "$2".
const tokenHashPrefix = "sha256:"

// NewSecret returns a random 256-bit token secret and its hash
// (HashToken). Only the hash is stored; the secret is shown once.
func NewSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret), nil
}

// HashToken returns the hash a token secret is stored as: its SHA-256.
// Token secrets are 256-bit random values, which no dictionary or brute
// force reaches, so a fast hash protects them as well as bcrypt does and
// lets a relay check one in microseconds whatever callers send it.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return tokenHashPrefix + hex.EncodeToString(sum[:])
}

// tokenMatches reports, in constant time, whether secret is the token
// secret whose HashToken is hash.
func tokenMatches(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(HashToken(secret)), []byte(hash)) == 1
}

// HashSecret returns the bcrypt hash of a password. Passwords are chosen
// by people and need bcrypt's cost; token secrets use HashToken.
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

// isBcrypt reports whether hash is a bcrypt hash, as passwords and the
// token secrets of earlier versions are stored.
func isBcrypt(hash string) bool { return strings.HasPrefix(hash, "$2") }

const (
	// maxVerified bounds how many verified credentials a Verifier remembers.
	maxVerified = 10000
	// bcryptSlots bounds how many bcrypt checks run at once, so that bad
	// credentials cannot take every CPU from the ingress.
	bcryptSlots = 2
	// FailureLimit is how many failed bcrypt verifications one credential
	// id (a token id or a basic-auth user of a bucket) may have within
	// FailureWindow; past it, checks of that id are refused without
	// verifying (429) until the window ends.
	FailureLimit = 5
	// FailureWindow is the period over which failures are counted.
	FailureWindow = time.Minute
	// maxThrottled bounds how many ids the failure counter tracks.
	maxThrottled = 100000
	// maxBcryptWaiting bounds how many bcrypt checks may wait for a slot;
	// past it a check is refused at once (429) rather than queued.
	maxBcryptWaiting = 32
)

// A Verifier checks secrets against stored hashes: SHA-256 hashes of token
// secrets (HashToken), compared in constant time, and bcrypt hashes of
// passwords and of older tokens. It remembers the bcrypt pairs that
// matched (by a SHA-256 of hash and secret, never the secret itself) so
// that a busy client pays bcrypt once rather than on every request, it
// bounds how many bcrypt checks run at once, and it throttles the ids
// whose bcrypt checks keep failing. A Verifier is safe for concurrent use.
type Verifier struct {
	now func() time.Time

	mu       sync.Mutex
	good     map[[32]byte]struct{}
	failures map[string]*failureCount
	sem      chan struct{}
	waiting  atomic.Int64 // bcrypt checks running or waiting for a slot

	dummyOnce sync.Once
	dummy     string // a bcrypt hash of a random value: unknown ids cost as much as known ones
}

type failureCount struct {
	n       int // failed checks since start
	running int // checks under way
	start   time.Time
}

// NewVerifier returns a Verifier that remembers no credentials yet.
func NewVerifier() *Verifier {
	return &Verifier{
		now:      time.Now,
		good:     map[[32]byte]struct{}{},
		failures: map[string]*failureCount{},
		sem:      make(chan struct{}, bcryptSlots),
	}
}

// Check reports whether secret matches hash, as HashToken or HashSecret
// returns it. Check does not throttle; see Verify.
func (v *Verifier) Check(hash, secret string) bool {
	if strings.HasPrefix(hash, tokenHashPrefix) {
		return tokenMatches(hash, secret)
	}
	return isBcrypt(hash) && (v.remembered(hash, secret) || v.bcryptMatch(hash, secret))
}

// goodKey is how the pair hash, secret is remembered once it matched.
func goodKey(hash, secret string) [32]byte {
	return sha256.Sum256([]byte(hash + "\x00" + secret))
}

// bcryptMatch compares secret with the bcrypt hash in one of the bcrypt
// slots, and remembers the pair when it matches.
func (v *Verifier) bcryptMatch(hash, secret string) bool {
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
	v.good[goodKey(hash, secret)] = struct{}{}
	v.mu.Unlock()
	return true
}

// Verify checks secret against hash for the credential id key (such as
// "bucket ID/token/token ID"), and throttles keys whose bcrypt checks
// fail: a key may have at most FailureLimit failed or running bcrypt
// checks within FailureWindow; past that, and when more than
// maxBcryptWaiting checks already wait for a bcrypt slot, Verify returns
// false and how long to wait, without checking anything. An empty hash
// stands for an id that does not exist: like any other it is checked,
// against a dummy hash as costly as bcrypt when likeBcrypt and as SHA-256
// otherwise, and counted, so that neither timing nor throttling tells a
// missing id from a known one. SHA-256 checks cost microseconds and are
// never throttled.
func (v *Verifier) Verify(key, hash, secret string, likeBcrypt bool) (ok bool, retryAfter time.Duration) {
	missing := hash == ""
	if missing {
		hash = tokenHashPrefix + strings.Repeat("0", 64)
		if likeBcrypt {
			hash = v.dummyHash()
		}
	}
	if !isBcrypt(hash) {
		return v.Check(hash, secret) && !missing, 0
	}
	if v.remembered(hash, secret) {
		return !missing, 0
	}
	if wait := v.reserve(key); wait > 0 {
		return false, wait
	}
	if v.waiting.Add(1) > maxBcryptWaiting {
		v.waiting.Add(-1)
		v.release(key, false)
		return false, time.Second
	}
	ok = v.bcryptMatch(hash, secret) && !missing
	v.waiting.Add(-1)
	v.release(key, !ok)
	return ok, 0
}

// remembered reports whether the pair matched before.
func (v *Verifier) remembered(hash, secret string) bool {
	key := goodKey(hash, secret)
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.good[key]
	return ok
}

// dummyHash is a bcrypt hash of a random value, made on first use.
func (v *Verifier) dummyHash() string {
	v.dummyOnce.Do(func() {
		b := make([]byte, 32)
		rand.Read(b)
		h, err := HashSecret(hex.EncodeToString(b))
		if err != nil {
			h = "$2a$10$" + strings.Repeat(".", 53)
		}
		v.dummy = h
	})
	return v.dummy
}

// reserve counts a bcrypt check of key about to run, or returns how long
// key must wait when its failed and running checks reach FailureLimit.
func (v *Verifier) reserve(key string) time.Duration {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.failures[key]
	if f != nil && !now.Before(f.start.Add(FailureWindow)) && f.running == 0 {
		delete(v.failures, key)
		f = nil
	}
	if f == nil {
		if len(v.failures) >= maxThrottled {
			for k, old := range v.failures {
				if !now.Before(old.start.Add(FailureWindow)) && old.running == 0 {
					delete(v.failures, k)
				}
			}
		}
		if len(v.failures) >= maxThrottled {
			// Too many ids failing at once to track another: check it
			// untracked (maxBcryptWaiting still bounds the cost).
			return 0
		}
		f = &failureCount{start: now}
		v.failures[key] = f
	}
	if f.n+f.running >= FailureLimit {
		if wait := f.start.Add(FailureWindow).Sub(now); wait > 0 {
			return wait
		}
		// The window is over but checks still run: start a new one.
		f.start, f.n = now, 0
	}
	f.running++
	return 0
}

// release ends a check reserved by reserve, counting it when it failed.
func (v *Verifier) release(key string, failed bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.failures[key]
	if f == nil {
		return
	}
	f.running--
	if failed {
		f.n++
	} else if f.n == 0 && f.running == 0 {
		delete(v.failures, key)
	}
}

// authResult is the outcome of a bucket's credential check.
type authResult struct {
	ok bool
	// retryAfter is set when the credential id is throttled (429).
	retryAfter time.Duration
	// rawQuery is the query to forward: the request's, less every token
	// parameter.
	rawQuery string
}

// authorize checks the caller's credentials for bucket b. On success it
// removes every relay credential from header (see stripCredentials) and
// returns the raw query to forward.
func (s *Server) authorize(rt *routes, b *Bucket, header http.Header, u *url.URL) authResult {
	switch b.Auth.Type {
	case "", AuthNone:
		return authResult{ok: true, rawQuery: u.RawQuery}
	case AuthBasic:
		user, pass, ok := basicAuth(header)
		if !ok {
			return authResult{}
		}
		// The password is checked whatever the user, so that timing does
		// not tell whether the user is the bucket's.
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(b.Auth.Username)) == 1
		passOK, wait := s.verify.Verify(b.ID+"/basic/"+user, b.Auth.PasswordHash, pass, true)
		if wait > 0 {
			return authResult{retryAfter: wait}
		}
		if !userOK || !passOK {
			return authResult{}
		}
	case AuthToken:
		cred := tokenCredential(header, u)
		id, secret, ok := ParseToken(cred)
		if !ok {
			return authResult{}
		}
		hash := ""
		if t := rt.tokens[b.ID][id]; t != nil {
			hash = t.SecretHash
		}
		ok, wait := s.verify.Verify(b.ID+"/token/"+id, hash, secret, rt.legacyTokens[b.ID])
		if wait > 0 {
			return authResult{retryAfter: wait}
		}
		if !ok {
			return authResult{}
		}
	default:
		return authResult{}
	}
	stripCredentials(b, header)
	return authResult{ok: true, rawQuery: stripTokenParams(u.RawQuery)}
}

func basicAuth(h http.Header) (user, pass string, ok bool) {
	r := http.Request{Header: h}
	return r.BasicAuth()
}

// tokenCredential finds a bucket token, the first of: an Authorization
// value that is a relay credential (Bearer "<id>.<secret>", or Basic with
// the token id as user and the secret as password), X-Relay-Token, or the
// token query parameter. Other Authorization values are the destination's
// business and are skipped.
func tokenCredential(h http.Header, u *url.URL) string {
	for _, a := range h.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(a), " ")
		rest = strings.TrimSpace(rest)
		switch {
		case strings.EqualFold(scheme, "bearer"):
			if id, _, ok := ParseToken(rest); ok && looksLikeTokenID(id) {
				return rest
			}
		case strings.EqualFold(scheme, "basic"):
			if user, pass, ok := basicAuth(http.Header{"Authorization": {"Basic " + rest}}); ok && looksLikeTokenID(user) {
				return FormatToken(user, pass)
			}
		}
	}
	if t := h.Get(TokenHeader); t != "" {
		return t
	}
	if u.RawQuery != "" {
		if t := u.Query().Get("token"); t != "" {
			return t
		}
	}
	return ""
}

// stripCredentials removes from header every copy of a relay credential,
// whichever authenticated: every X-Relay-Token, and every Authorization
// value that is a relay credential (a bearer or basic credential in the
// form of a relay token, "<uuid>.<secret>" or user <uuid>; or, for a
// basic-auth bucket, basic auth as the bucket's user). Other
// Authorization values are forwarded.
func stripCredentials(b *Bucket, header http.Header) {
	header.Del(TokenHeader)
	vals := header.Values("Authorization")
	if len(vals) == 0 {
		return
	}
	var keep []string
	for _, a := range vals {
		if !isRelayCredential(b, a) {
			keep = append(keep, a)
		}
	}
	header.Del("Authorization")
	if len(keep) > 0 {
		header["Authorization"] = keep
	}
}

func isRelayCredential(b *Bucket, a string) bool {
	a = strings.TrimSpace(a)
	scheme, rest, _ := strings.Cut(a, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "bearer"):
		id, _, ok := ParseToken(rest)
		return ok && looksLikeTokenID(id)
	case strings.EqualFold(scheme, "basic"):
		user, _, ok := basicAuth(http.Header{"Authorization": {"Basic " + rest}})
		if !ok {
			return false
		}
		return looksLikeTokenID(user) || (b.Auth.Type == AuthBasic && user == b.Auth.Username)
	}
	return false
}

// looksLikeTokenID reports whether id has the form of a token id (a
// UUID), as every relay token's does.
func looksLikeTokenID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// stripTokenParams removes every token parameter from the raw query and
// keeps the rest byte for byte: order, encoding, and parameters without
// "=".
func stripTokenParams(raw string) string {
	if !strings.Contains(raw, "token") {
		return raw
	}
	var b strings.Builder
	first := true
	for part := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "token" {
			continue
		}
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(part)
	}
	return b.String()
}
