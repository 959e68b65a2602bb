package builtins_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// The fixtures in testdata/jwt were made with openssl by make.sh.

func jwtFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newJWTEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.JWT()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// runJWT runs src with cfg as the function's configuration and, when
// auth is not empty, that Authorization header.
func runJWT(t *testing.T, e *runtime.Engine, src string, cfg map[string]string, auth string) *runtime.Result {
	t.Helper()
	fn, err := e.Compile("fn.lua", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return e.Run(context.Background(), fn, &runtime.Input{
		Request: runtime.Request{Method: "POST", Header: h},
		Config:  cfg,
	})
}

// checkNoKey fails when msg shows any distinctive part of key.
func checkNoKey(t *testing.T, msg, key string) {
	t.Helper()
	if key == "" {
		return
	}
	if strings.Contains(msg, key) {
		t.Errorf("error shows the key: %s", msg)
		return
	}
	for _, line := range strings.Split(key, "\n") {
		if len(line) >= 12 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line) {
			t.Errorf("error shows part of the key: %s", msg)
		}
	}
}

// tamper rewrites a token's payload, keeping its header and signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = "attacker"
	claims["admin"] = true
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

const jwtValidateSrc = `
local jwt = require("jwt")
local err = jwt.validate(cfg:GetValue("token"), cfg:GetValue("key"))
if err then error(err) end
print("ok")
`

func TestJWTValidate(t *testing.T) {
	e := newJWTEngine(t)
	type tc struct {
		name    string
		token   string // a fixture file when it ends in .jwt, else a literal token
		key     string // fixture file, or a literal key when lit is set
		lit     bool
		tamper  bool
		wantErr string // "" when the token must be accepted
	}
	cases := []tc{
		// Accepted, every family and key encoding.
		{name: "HS256", token: "hs256.jwt", key: "secret.txt"},
		{name: "HS384", token: "hs384.jwt", key: "secret.txt"},
		{name: "HS512", token: "hs512.jwt", key: "secret.txt"},
		{name: "HS256 minimal claims", token: "hs256_minimal.jwt", key: "secret.txt"},
		{name: "RS256 PKIX", token: "rs256.jwt", key: "rsa_public.pem"},
		{name: "RS384", token: "rs384.jwt", key: "rsa_public.pem"},
		{name: "RS512", token: "rs512.jwt", key: "rsa_public.pem"},
		{name: "RS256 PKCS1 public", token: "rs256.jwt", key: "rsa_public_pkcs1.pem"},
		{name: "RS256 certificate", token: "rs256.jwt", key: "rsa_cert.pem"},
		{name: "RS256 base64 of PEM", token: "rs256.jwt", key: "rsa_public.b64"},
		{name: "RS256 PKCS8 private", token: "rs256.jwt", key: "rsa_private.pem"},
		{name: "RS256 PKCS1 private", token: "rs256.jwt", key: "rsa_private_pkcs1.pem"},
		{name: "RS256 base64 of private PEM", token: "rs256.jwt", key: "rsa_private.b64"},
		{name: "PS256", token: "ps256.jwt", key: "rsa_public.pem"},
		{name: "PS384", token: "ps384.jwt", key: "rsa_public.pem"},
		{name: "PS512", token: "ps512.jwt", key: "rsa_cert.pem"},
		{name: "ES256", token: "es256.jwt", key: "ec256_public.pem"},
		{name: "ES256 base64 of PEM", token: "es256.jwt", key: "ec256_public.b64"},
		{name: "ES256 SEC1 private", token: "es256.jwt", key: "ec256_private_sec1.pem"},
		{name: "ES256 PKCS8 private", token: "es256.jwt", key: "ec256_private.pem"},
		{name: "ES384", token: "es384.jwt", key: "ec384_public.pem"},
		{name: "ES512", token: "es512.jwt", key: "ec521_public.pem"},
		{name: "EdDSA", token: "eddsa.jwt", key: "ed25519_public.pem"},
		{name: "EdDSA base64 of PEM", token: "eddsa.jwt", key: "ed25519_public.b64"},
		{name: "EdDSA private", token: "eddsa.jwt", key: "ed25519_private.pem"},

		// Wrong key of the right family.
		{name: "HS256 wrong secret", token: "hs256.jwt", key: "secret_other.txt", wantErr: "signature is invalid"},
		{name: "HS512 wrong secret", token: "hs512.jwt", key: "secret_other.txt", wantErr: "signature is invalid"},
		{name: "RS256 wrong key", token: "rs256.jwt", key: "rsa_other_public.pem", wantErr: "signature is invalid"},
		{name: "PS256 wrong key", token: "ps256.jwt", key: "rsa_other_public.pem", wantErr: "signature is invalid"},
		{name: "ES256 wrong key", token: "es256.jwt", key: "ec256_other_public.pem", wantErr: "signature is invalid"},
		{name: "EdDSA wrong key", token: "eddsa.jwt", key: "ed25519_other_public.pem", wantErr: "signature is invalid"},

		// Payload changed after signing.
		{name: "HS256 tampered", token: "hs256.jwt", key: "secret.txt", tamper: true, wantErr: "signature is invalid"},
		{name: "RS256 tampered", token: "rs256.jwt", key: "rsa_public.pem", tamper: true, wantErr: "signature is invalid"},
		{name: "PS384 tampered", token: "ps384.jwt", key: "rsa_public.pem", tamper: true, wantErr: "signature is invalid"},
		{name: "ES256 tampered", token: "es256.jwt", key: "ec256_public.pem", tamper: true, wantErr: "signature is invalid"},
		{name: "ES512 tampered", token: "es512.jwt", key: "ec521_public.pem", tamper: true, wantErr: "signature is invalid"},
		{name: "EdDSA tampered", token: "eddsa.jwt", key: "ed25519_public.pem", tamper: true, wantErr: "signature is invalid"},

		// alg none, whatever the key.
		{name: "none secret", token: "none_none.jwt", key: "secret.txt", wantErr: "alg none"},
		{name: "None secret", token: "none_None.jwt", key: "secret.txt", wantErr: "alg none"},
		{name: "NONE secret", token: "none_NONE.jwt", key: "secret.txt", wantErr: "alg none"},
		{name: "none with signature", token: "none_signed.jwt", key: "secret.txt", wantErr: "alg none"},
		{name: "none RSA", token: "none_none.jwt", key: "rsa_public.pem", wantErr: "alg none"},
		{name: "none EC", token: "none_none.jwt", key: "ec256_public.pem", wantErr: "alg none"},
		{name: "none Ed25519", token: "none_none.jwt", key: "ed25519_public.pem", wantErr: "alg none"},

		// Algorithm confusion: HS256 keyed with the public key's text.
		{name: "confusion RSA PEM", token: "confusion_hs256_rsa_pem.jwt", key: "rsa_public.pem", wantErr: `"HS256" cannot be used with an RSA public key`},
		{name: "confusion RSA base64", token: "confusion_hs256_rsa_b64.jwt", key: "rsa_public.b64", wantErr: `"HS256" cannot be used with an RSA public key`},
		{name: "confusion EC PEM", token: "confusion_hs256_ec_pem.jwt", key: "ec256_public.pem", wantErr: `"HS256" cannot be used with an EC P-256 public key`},
		{name: "confusion Ed25519 PEM", token: "confusion_hs256_ed_pem.jwt", key: "ed25519_public.pem", wantErr: `"HS256" cannot be used with an Ed25519 public key`},

		// The key's family decides, not the token's header.
		{name: "RS256 vs EC key", token: "rs256.jwt", key: "ec256_public.pem", wantErr: `"RS256" cannot be used with an EC P-256 public key`},
		{name: "PS256 vs EC key", token: "ps256.jwt", key: "ec256_public.pem", wantErr: "cannot be used"},
		{name: "ES256 vs RSA key", token: "es256.jwt", key: "rsa_public.pem", wantErr: `"ES256" cannot be used with an RSA public key`},
		{name: "EdDSA vs RSA key", token: "eddsa.jwt", key: "rsa_public.pem", wantErr: "cannot be used"},
		{name: "RS256 vs Ed25519 key", token: "rs256.jwt", key: "ed25519_public.pem", wantErr: "cannot be used"},
		{name: "HS256 vs RSA key", token: "hs256.jwt", key: "rsa_public.pem", wantErr: "cannot be used"},
		{name: "RS256 vs secret", token: "rs256.jwt", key: "secret.txt", wantErr: `"RS256" cannot be used with an HMAC secret`},
		{name: "ES256 vs P-384 key", token: "es256.jwt", key: "ec384_public.pem", wantErr: `"ES256" cannot be used with an EC P-384 public key`},
		{name: "ES384 vs P-256 key", token: "es384.jwt", key: "ec256_public.pem", wantErr: "cannot be used"},
		{name: "ES512 vs P-256 key", token: "es512.jwt", key: "ec256_public.pem", wantErr: "cannot be used"},

		// Time claims.
		{name: "HS256 expired", token: "hs256_expired.jwt", key: "secret.txt", wantErr: "expired"},
		{name: "RS256 expired", token: "rs256_expired.jwt", key: "rsa_public.pem", wantErr: "expired"},
		{name: "ES256 expired", token: "es256_expired.jwt", key: "ec256_public.pem", wantErr: "expired"},
		{name: "EdDSA expired", token: "eddsa_expired.jwt", key: "ed25519_public.pem", wantErr: "expired"},
		{name: "HS256 nbf future", token: "hs256_nbf_future.jwt", key: "secret.txt", wantErr: "not valid yet"},
		{name: "RS256 nbf future", token: "rs256_nbf_future.jwt", key: "rsa_public.pem", wantErr: "not valid yet"},
		{name: "HS256 iat future", token: "hs256_iat_future.jwt", key: "secret.txt", wantErr: "used before issued"},

		// Bad input.
		{name: "malformed token", token: "not.a-token", key: "secret.txt", wantErr: "malformed"},
		{name: "empty key", token: "hs256.jwt", key: "", lit: true, wantErr: "key is empty"},
		{name: "garbage PEM", token: "rs256.jwt", key: "-----BEGIN PUBLIC KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PUBLIC KEY-----\n", lit: true, wantErr: "cannot parse the PUBLIC KEY PEM block"},
		{name: "encrypted PEM", token: "rs256.jwt", key: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", lit: true, wantErr: "encrypted private keys are not supported"},
		{name: "unknown PEM", token: "rs256.jwt", key: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", lit: true, wantErr: `unsupported PEM block "OPENSSH PRIVATE KEY"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := c.token
			if strings.HasSuffix(token, ".jwt") {
				token = jwtFixture(t, token)
			}
			if c.tamper {
				token = tamper(t, token)
			}
			key := c.key
			if !c.lit {
				key = jwtFixture(t, key)
			}
			res := runJWT(t, e, jwtValidateSrc, map[string]string{"token": token, "key": key}, "")
			checkJWTResult(t, res, c.wantErr, key)
		})
	}
}

func checkJWTResult(t *testing.T, res *runtime.Result, wantErr, key string) {
	t.Helper()
	if wantErr == "" {
		if res.Err != nil {
			t.Fatalf("refused: %v", res.Err)
		}
		return
	}
	if res.Err == nil {
		t.Fatalf("accepted; want error containing %q (logs %q)", wantErr, res.Logs)
	}
	if !strings.Contains(res.Error, wantErr) {
		t.Fatalf("error %q; want it to contain %q", res.Error, wantErr)
	}
	checkNoKey(t, res.Error, key)
}

// A PEM pasted on one line with escaped newlines still reads as the key,
// so the confusion token stays refused and the real token accepted.
func TestJWTEscapedNewlinePEM(t *testing.T) {
	e := newJWTEngine(t)
	key := strings.ReplaceAll(strings.TrimSpace(jwtFixture(t, "rsa_public.pem")), "\n", `\n`)
	res := runJWT(t, e, jwtValidateSrc, map[string]string{"token": jwtFixture(t, "rs256.jwt"), "key": key}, "")
	checkJWTResult(t, res, "", key)
	res = runJWT(t, e, jwtValidateSrc, map[string]string{"token": jwtFixture(t, "confusion_hs256_rsa_pem.jwt"), "key": key}, "")
	checkJWTResult(t, res, "cannot be used with an RSA public key", key)
}

func TestJWTAuthenticate(t *testing.T) {
	e := newJWTEngine(t)
	// authenticate returns err rather than raising: print what it returned.
	src := `
local jwt = require("jwt")
local err = jwt.authenticate(cfg:GetValue("key"))
print(tostring(err))
`
	hs := jwtFixture(t, "hs256.jwt")
	cases := []struct {
		name, auth, key, want string
	}{
		{"valid HS256", "Bearer " + hs, "secret.txt", "nil"},
		{"lower-case scheme", "bearer " + hs, "secret.txt", "nil"},
		{"extra spaces", "Bearer   " + hs + "  ", "secret.txt", "nil"},
		{"valid RS256", "Bearer " + jwtFixture(t, "rs256.jwt"), "rsa_public.b64", "nil"},
		{"valid ES384", "Bearer " + jwtFixture(t, "es384.jwt"), "ec384_public.pem", "nil"},
		{"valid PS512", "Bearer " + jwtFixture(t, "ps512.jwt"), "rsa_public.pem", "nil"},
		{"valid EdDSA", "Bearer " + jwtFixture(t, "eddsa.jwt"), "ed25519_public.pem", "nil"},
		{"missing header", "", "secret.txt", "jwt: missing Authorization header"},
		{"basic auth", "Basic dXNlcjpwYXNz", "secret.txt", "jwt: Authorization header is not a Bearer token"},
		{"bare token", hs, "secret.txt", "jwt: Authorization header is not a Bearer token"},
		{"empty bearer", "Bearer ", "secret.txt", "jwt: Authorization header has an empty Bearer token"},
		{"garbage bearer", "Bearer abc", "secret.txt", "jwt: token is malformed"},
		{"wrong secret", "Bearer " + hs, "secret_other.txt", "signature is invalid"},
		{"expired", "Bearer " + jwtFixture(t, "hs256_expired.jwt"), "secret.txt", "expired"},
		{"nbf future", "Bearer " + jwtFixture(t, "rs256_nbf_future.jwt"), "rsa_public.pem", "not valid yet"},
		{"alg none", "Bearer " + jwtFixture(t, "none_none.jwt"), "secret.txt", "alg none"},
		{"confusion", "Bearer " + jwtFixture(t, "confusion_hs256_rsa_pem.jwt"), "rsa_public.pem", "cannot be used"},
		{"RS vs EC key", "Bearer " + jwtFixture(t, "rs256.jwt"), "ec256_public.pem", "cannot be used"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := jwtFixture(t, c.key)
			res := runJWT(t, e, src, map[string]string{"key": key}, c.auth)
			if res.Err != nil {
				t.Fatalf("function failed: %v", res.Err)
			}
			if len(res.Logs) != 1 {
				t.Fatalf("logs %q", res.Logs)
			}
			got := res.Logs[0]
			if c.want == "nil" {
				if got != "nil" {
					t.Fatalf("err = %q; want nil", got)
				}
				return
			}
			if !strings.HasPrefix(got, "jwt: ") || !strings.Contains(got, c.want) {
				t.Fatalf("err = %q; want it to contain %q", got, c.want)
			}
			checkNoKey(t, got, key)
		})
	}
}

// authenticate reads the request as the function left it.
func TestJWTAuthenticateRewrittenHeader(t *testing.T) {
	e := newJWTEngine(t)
	src := `
local jwt = require("jwt")
r:SetRequestHeader("Authorization", "Bearer " .. cfg:GetValue("token"))
local err = jwt.authenticate(cfg:GetValue("key"))
if err then error(err) end
`
	res := runJWT(t, e, src, map[string]string{"token": jwtFixture(t, "hs384.jwt"), "key": jwtFixture(t, "secret.txt")}, "Basic x")
	checkJWTResult(t, res, "", "")
}

func TestJWTDecodeFixture(t *testing.T) {
	e := newJWTEngine(t)
	src := `
local jwt = require("jwt")
local claims, err = jwt.decode(cfg:GetValue("token"), cfg:GetValue("key"))
if err then error(err) end
print(claims.sub, claims.iss, claims.name, claims.admin, claims.iat, claims.exp)
local none, err = jwt.decode(cfg:GetValue("expired"), cfg:GetValue("key"))
print(tostring(none), err)
`
	for _, c := range []struct{ token, expired, key string }{
		{"hs512.jwt", "hs256_expired.jwt", "secret.txt"},
		{"ps256.jwt", "rs256_expired.jwt", "rsa_public_pkcs1.pem"},
		{"es256.jwt", "es256_expired.jwt", "ec256_public.pem"},
		{"eddsa.jwt", "eddsa_expired.jwt", "ed25519_public.b64"},
	} {
		t.Run(c.token, func(t *testing.T) {
			res := runJWT(t, e, src, map[string]string{
				"token": jwtFixture(t, c.token), "expired": jwtFixture(t, c.expired), "key": jwtFixture(t, c.key),
			}, "")
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			sub := strings.TrimSuffix(c.token, ".jwt")
			want := []string{
				sub + "\tmake.sh\tRelay Test\ttrue\t1700000000\t4102444800",
				"nil\tjwt: token has invalid claims: token is expired",
			}
			if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
				t.Fatalf("logs %q; want %q", res.Logs, want)
			}
		})
	}
}

func TestJWTSignDecodeRoundTrip(t *testing.T) {
	e := newJWTEngine(t)
	src := `
local jwt = require("jwt")
local alg = cfg:GetValue("alg")
if alg == "" then alg = nil end
local tok, err = jwt.sign({sub = "round", n = 42, f = 1.5, ok = true,
	list = {"a", "b"}, nested = {k = {1, 2, 3}}, exp = 4102444800}, cfg:GetValue("priv"), alg)
if err then error(err) end
local claims, err = jwt.decode(tok, cfg:GetValue("pub"))
if err then error(err) end
print(claims.sub, claims.n, claims.f, claims.ok, claims.list[2], claims.nested.k[3], claims.exp)
err = jwt.validate(tok, cfg:GetValue("pub"))
if err then error(err) end
print(tok)
`
	cases := []struct {
		priv, pub, alg, wantAlg string
	}{
		{"secret.txt", "secret.txt", "", "HS256"},
		{"secret.txt", "secret.txt", "HS384", "HS384"},
		{"secret.txt", "secret.txt", "hs512", "HS512"},
		{"rsa_private.pem", "rsa_public.pem", "", "RS256"},
		{"rsa_private_pkcs1.pem", "rsa_cert.pem", "RS384", "RS384"},
		{"rsa_private.b64", "rsa_public.b64", "RS512", "RS512"},
		{"rsa_private.pem", "rsa_public_pkcs1.pem", "PS256", "PS256"},
		{"rsa_private.pem", "rsa_public.pem", "PS384", "PS384"},
		{"rsa_private.pem", "rsa_public.pem", "PS512", "PS512"},
		{"ec256_private.pem", "ec256_public.pem", "", "ES256"},
		{"ec256_private_sec1.pem", "ec256_public.b64", "", "ES256"},
		{"ec384_private.pem", "ec384_public.pem", "", "ES384"},
		{"ec521_private.pem", "ec521_public.pem", "ES512", "ES512"},
		{"ed25519_private.pem", "ed25519_public.pem", "", "EdDSA"},
		{"ed25519_private.pem", "ed25519_public.b64", "EdDSA", "EdDSA"},
	}
	for _, c := range cases {
		t.Run(c.priv+"/"+c.wantAlg, func(t *testing.T) {
			res := runJWT(t, e, src, map[string]string{
				"priv": jwtFixture(t, c.priv), "pub": jwtFixture(t, c.pub), "alg": c.alg,
			}, "")
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if len(res.Logs) != 2 || res.Logs[0] != "round\t42\t1.5\ttrue\tb\t3\t4102444800" {
				t.Fatalf("logs %q", res.Logs)
			}
			tok := res.Logs[1]
			verifyWithStdlib(t, tok, c.wantAlg, jwtFixture(t, c.pub))
			// The other key of the same family refuses it.
			other := map[string]string{
				"secret.txt": "secret_other.txt", "rsa_public.pem": "rsa_other_public.pem",
				"ec256_public.pem": "ec256_other_public.pem", "ed25519_public.pem": "ed25519_other_public.pem",
			}[c.pub]
			if other != "" {
				res := runJWT(t, e, jwtValidateSrc, map[string]string{"token": tok, "key": jwtFixture(t, other)}, "")
				checkJWTResult(t, res, "signature is invalid", "")
			}
		})
	}
}

// verifyWithStdlib checks a token made by jwt.sign with the standard
// library alone: its header names wantAlg and its signature verifies.
func verifyWithStdlib(t *testing.T, tok, wantAlg, pubText string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var header map[string]any
	if err := json.Unmarshal(hb, &header); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != wantAlg || header["typ"] != "JWT" {
		t.Fatalf("header %s; want alg %s", hb, wantAlg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	input := []byte(parts[0] + "." + parts[1])
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	var h crypto.Hash
	if wantAlg != "EdDSA" {
		h = hashes[wantAlg[2:]]
	}
	digest := func() []byte {
		hh := h.New()
		hh.Write(input)
		return hh.Sum(nil)
	}
	if strings.HasPrefix(wantAlg, "HS") {
		m := hmac.New(h.New, []byte(pubText))
		m.Write(input)
		if !hmac.Equal(m.Sum(nil), sig) {
			t.Fatal("HMAC does not verify")
		}
		return
	}
	pub := stdlibPublicKey(t, pubText)
	switch wantAlg[:2] {
	case "RS":
		if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), h, digest(), sig); err != nil {
			t.Fatal(err)
		}
	case "PS":
		if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), h, digest(), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatal(err)
		}
	case "ES":
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest(), r, s) {
			t.Fatal("ECDSA does not verify")
		}
	case "Ed":
		if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			t.Fatal("Ed25519 does not verify")
		}
	}
}

func stdlibPublicKey(t *testing.T, text string) any {
	t.Helper()
	if !strings.Contains(text, "-----BEGIN") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			t.Fatal(err)
		}
		text = string(b)
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		t.Fatal("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		c, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			k = c.PublicKey
		}
	default:
		t.Fatalf("unexpected PEM block %s", block.Type)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTSignErrors(t *testing.T) {
	e := newJWTEngine(t)
	src := `
local jwt = require("jwt")
local claims = {sub = "x"}
if cfg:GetValue("claims") == "list" then claims = {1, 2} end
if cfg:GetValue("claims") == "func" then claims = {f = print} end
local alg = cfg:GetValue("alg")
if alg == "" then alg = nil end
local tok, err = jwt.sign(claims, cfg:GetValue("key"), alg)
print(tostring(tok), err)
`
	cases := []struct {
		name, key, alg, claims, want string
	}{
		{"public RSA key", "rsa_public.pem", "", "", "cannot sign with an RSA public key"},
		{"certificate", "rsa_cert.pem", "", "", "cannot sign with an RSA public key"},
		{"public EC key", "ec256_public.pem", "", "", "cannot sign with an EC P-256 public key"},
		{"public Ed25519 key", "ed25519_public.b64", "", "", "cannot sign with an Ed25519 public key"},
		{"RS256 with EC key", "ec256_private.pem", "RS256", "", `"RS256" cannot be used with an EC P-256 private key`},
		{"ES384 with P-256 key", "ec256_private.pem", "ES384", "", `"ES384" cannot be used`},
		{"HS256 with RSA key", "rsa_private.pem", "HS256", "", `"HS256" cannot be used with an RSA private key`},
		{"RS256 with secret", "secret.txt", "RS256", "", `"RS256" cannot be used with an HMAC secret`},
		{"EdDSA with RSA key", "rsa_private.pem", "EdDSA", "", "cannot be used"},
		{"alg none", "secret.txt", "none", "", "alg none"},
		{"list claims", "secret.txt", "", "list", "named claims"},
		{"function claim", "secret.txt", "", "func", "jwt: claims:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := jwtFixture(t, c.key)
			res := runJWT(t, e, src, map[string]string{"key": key, "alg": c.alg, "claims": c.claims}, "")
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if len(res.Logs) != 1 || !strings.HasPrefix(res.Logs[0], "nil\tjwt: ") || !strings.Contains(res.Logs[0], c.want) {
				t.Fatalf("logs %q; want nil and an error containing %q", res.Logs, c.want)
			}
			checkNoKey(t, res.Logs[0], key)
		})
	}
}

// exp, nbf and iat allow 30 seconds of clock skew, no more.
func TestJWTLeeway(t *testing.T) {
	e := newJWTEngine(t)
	src := `
local jwt = require("jwt")
local claims = {sub = "leeway"}
claims[cfg:GetValue("claim")] = tonumber(cfg:GetValue("at"))
local tok, err = jwt.sign(claims, cfg:GetValue("key"))
if err then error(err) end
local _, err = jwt.decode(tok, cfg:GetValue("key"))
if err then error(err) end
`
	now := time.Now().Unix()
	cases := []struct {
		claim   string
		offset  int64
		wantErr string
	}{
		{"exp", -10, ""},
		{"exp", -120, "expired"},
		{"exp", 120, ""},
		{"nbf", 10, ""},
		{"nbf", 120, "not valid yet"},
		{"iat", 10, ""},
		{"iat", 120, "used before issued"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%+d", c.claim, c.offset), func(t *testing.T) {
			res := runJWT(t, e, src, map[string]string{
				"claim": c.claim, "at": strconv.FormatInt(now+c.offset, 10), "key": "leeway-secret",
			}, "")
			checkJWTResult(t, res, c.wantErr, "leeway-secret")
		})
	}
}

func TestJWTArgumentTypes(t *testing.T) {
	e := newJWTEngine(t)
	for _, c := range []struct{ src, want string }{
		{`require("jwt").validate("a.b.c", {})`, "key must be a string, got table"},
		{`require("jwt").validate(42, "k")`, "token must be a string, got number"},
		{`require("jwt").authenticate(true)`, "key must be a string, got boolean"},
		{`require("jwt").sign("x", "k")`, "table expected"},
		{`require("jwt").sign({}, "k", {})`, "alg must be a string, got table"},
		{`local err = require("jwt").validate(nil, "k") error(err)`, "jwt: token is empty"},
		{`local err = require("jwt").validate("a.b.c", nil) error(err)`, "jwt: key is empty"},
	} {
		res := runJWT(t, e, c.src, nil, "")
		if res.Err == nil || !strings.Contains(res.Error, c.want) {
			t.Errorf("%s: error %q; want %q", c.src, res.Error, c.want)
		}
	}
}
