package builtins

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// jwtLeeway is the clock skew allowed when checking exp, nbf and iat.
const jwtLeeway = 30 * time.Second

// JWT returns the "jwt" module, compatible with Webhook Relay's:
//
//	local err = jwt.authenticate(key)        -- the request's Authorization: Bearer <token>
//	local err = jwt.validate(token, key)
//	local claims, err = jwt.decode(token, key)   -- validated, as a table
//	local token, err = jwt.sign(claims, key[, alg])
//
// The key decides the algorithms a token may use, never the token's own
// header: a string secret accepts HS256/384/512; an RSA key RS256/384/512
// and PS256/384/512; an EC key the ES algorithm of its curve (P-256 ES256,
// P-384 ES384, P-521 ES512); an Ed25519 key EdDSA. Unsigned tokens
// (alg none) are always refused. Public and private keys are PEM (PKIX,
// PKCS #1, PKCS #8, SEC 1, or an X.509 certificate for verifying) or base64
// of the PEM text; a key that is PEM, or base64 of PEM, is never used as an
// HMAC secret, which defeats algorithm confusion. Verifying accepts a
// private key too; signing needs a private key or a secret. exp, nbf and
// iat are checked when present, with 30 seconds of leeway.
//
// sign's default algorithm is HS256 for a secret, RS256 for an RSA key, the
// curve's ES algorithm for an EC key and EdDSA for Ed25519; pass alg for
// HS384/512, RS384/512 or PS256/384/512. Error messages never hold the key.
func JWT() runtime.Module {
	return runtime.Module{Name: "jwt", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"authenticate": jwtAuthenticate,
			"validate":     jwtValidate,
			"decode":       jwtDecode,
			"sign":         jwtSign,
		})
	}}
}

// jwtAuthenticate is jwt.authenticate(key) → err.
func jwtAuthenticate(L *lua.LState) int {
	key := stringArg(L, 1, "key")
	call := runtime.CallOf(L)
	if call == nil {
		return errOnly(L, errors.New("jwt.authenticate: no request (not running in an invocation)"))
	}
	token, err := bearerToken(call.Header("Authorization"))
	if err != nil {
		return errOnly(L, err)
	}
	_, err = jwtVerify(token, key)
	return errOnly(L, err)
}

// jwtValidate is jwt.validate(token, key) → err.
func jwtValidate(L *lua.LState) int {
	token := stringArg(L, 1, "token")
	key := stringArg(L, 2, "key")
	_, err := jwtVerify(token, key)
	return errOnly(L, err)
}

// jwtDecode is jwt.decode(token, key) → claims, err.
func jwtDecode(L *lua.LState) int {
	token := stringArg(L, 1, "token")
	key := stringArg(L, 2, "key")
	claims, err := jwtVerify(token, key)
	if err != nil {
		return failErr(L, err)
	}
	L.Push(ToLua(L, map[string]any(claims)))
	return 1
}

// jwtSign is jwt.sign(claims, key[, alg]) → token, err.
func jwtSign(L *lua.LState) int {
	tbl := L.CheckTable(1)
	key := stringArg(L, 2, "key")
	alg := stringArg(L, 3, "alg")
	v, err := ToGo(tbl)
	if err != nil {
		return fail(L, "jwt: claims: %v", err)
	}
	claims := jwt.MapClaims{}
	switch x := v.(type) {
	case map[string]any:
		claims = x
	case []any:
		if len(x) > 0 {
			return fail(L, "jwt: claims must be a table of named claims, not a list")
		}
	}
	token, err := jwtSignClaims(claims, key, alg)
	if err != nil {
		return failErr(L, err)
	}
	L.Push(lua.LString(token))
	return 1
}

// bearerToken returns the token of an Authorization: Bearer header value.
func bearerToken(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", errors.New("jwt: missing Authorization header")
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("jwt: Authorization header is not a Bearer token")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errors.New("jwt: Authorization header has an empty Bearer token")
	}
	return token, nil
}

// jwtVerify checks token's signature with key and its time claims, and
// returns its claims.
func jwtVerify(token, key string) (jwt.MapClaims, error) {
	k, err := parseJWTKey(key)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("jwt: token is empty")
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(k.algs),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithIssuedAt(),
	)
	claims := jwt.MapClaims{}
	tok, err := p.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
		return k.verify, nil
	})
	if err != nil {
		if tok != nil && tok.Header != nil {
			alg, _ := tok.Header["alg"].(string)
			if !k.accepts(alg) {
				return nil, k.algError(alg)
			}
		}
		return nil, fmt.Errorf("jwt: %w", err)
	}
	return claims, nil
}

// jwtSignClaims signs claims with key, using alg or the key's default.
func jwtSignClaims(claims jwt.MapClaims, key, alg string) (string, error) {
	k, err := parseJWTKey(key)
	if err != nil {
		return "", err
	}
	if k.sign == nil {
		return "", fmt.Errorf("jwt: cannot sign with %s: signing needs a private key or an HMAC secret", k.kind)
	}
	if alg == "" {
		alg = k.algs[0]
	} else {
		canonical := ""
		for _, a := range k.algs {
			if strings.EqualFold(a, alg) {
				canonical = a
			}
		}
		if canonical == "" {
			return "", k.algError(alg)
		}
		alg = canonical
	}
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(k.sign)
	if err != nil {
		return "", fmt.Errorf("jwt: signing: %w", err)
	}
	return s, nil
}

// jwtKey is a parsed key and what it may be used for.
type jwtKey struct {
	kind   string   // for messages: "an HMAC secret", "an RSA public key", ...
	algs   []string // accepted algorithms; the first is sign's default
	verify any
	sign   any // nil for a public key
}

func (k *jwtKey) accepts(alg string) bool {
	for _, a := range k.algs {
		if a == alg {
			return true
		}
	}
	return false
}

func (k *jwtKey) algError(alg string) error {
	if strings.EqualFold(alg, "none") {
		return errors.New("jwt: unsigned tokens (alg none) are never accepted")
	}
	if alg == "" {
		return errors.New("jwt: token header has no alg")
	}
	return fmt.Errorf("jwt: algorithm %q cannot be used with %s (accepted: %s)",
		alg, k.kind, strings.Join(k.algs, ", "))
}

var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	eddsaAlgs = []string{"EdDSA"}
	ecAlgs    = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
)

// parseJWTKey classifies key: PEM text, or base64 of PEM text, is an
// asymmetric key (and an error when it does not parse); anything else is
// an HMAC secret, used byte for byte.
func parseJWTKey(key string) (*jwtKey, error) {
	if strings.TrimSpace(key) == "" {
		return nil, errors.New("jwt: key is empty")
	}
	text := strings.TrimSpace(key)
	if strings.Contains(text, "-----BEGIN") {
		if !strings.Contains(text, "\n") && strings.Contains(text, `\n`) {
			// A PEM pasted into a single-line setting with escaped newlines.
			text = strings.ReplaceAll(text, `\n`, "\n")
		}
		return parsePEMKey([]byte(text))
	}
	if der, ok := decodeBase64Loose(text); ok && bytes.Contains(der, []byte("-----BEGIN")) {
		return parsePEMKey(der)
	}
	b := []byte(key)
	return &jwtKey{kind: "an HMAC secret", algs: hmacAlgs, verify: b, sign: b}, nil
}

// decodeBase64Loose decodes standard or URL base64, padded or not, ignoring
// whitespace (base64 tools wrap lines).
func decodeBase64Loose(s string) ([]byte, bool) {
	s = strings.Join(strings.Fields(s), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// parsePEMKey parses the first key of a PEM text. Parse errors name the
// block type only, never its content.
func parsePEMKey(data []byte) (*jwtKey, error) {
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			return nil, errors.New("jwt: key looks like PEM but holds no readable PEM block")
		}
		rest = r
		if block.Type == "EC PARAMETERS" {
			continue // openssl ecparam -genkey writes it before the key
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("jwt: encrypted private keys are not supported")
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
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				k = c.PublicKey
			}
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("jwt: unsupported PEM block %q", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("jwt: cannot parse the %s PEM block", block.Type)
		}
		return newAsymmetricKey(k)
	}
}

func newAsymmetricKey(k any) (*jwtKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return &jwtKey{kind: "an RSA public key", algs: rsaAlgs, verify: k}, nil
	case *rsa.PrivateKey:
		return &jwtKey{kind: "an RSA private key", algs: rsaAlgs, verify: &k.PublicKey, sign: k}, nil
	case *ecdsa.PublicKey:
		alg, err := ecAlg(k)
		if err != nil {
			return nil, err
		}
		return &jwtKey{kind: "an EC " + k.Curve.Params().Name + " public key", algs: []string{alg}, verify: k}, nil
	case *ecdsa.PrivateKey:
		alg, err := ecAlg(&k.PublicKey)
		if err != nil {
			return nil, err
		}
		return &jwtKey{kind: "an EC " + k.Curve.Params().Name + " private key", algs: []string{alg}, verify: &k.PublicKey, sign: k}, nil
	case ed25519.PublicKey:
		return &jwtKey{kind: "an Ed25519 public key", algs: eddsaAlgs, verify: k}, nil
	case ed25519.PrivateKey:
		return &jwtKey{kind: "an Ed25519 private key", algs: eddsaAlgs, verify: k.Public(), sign: k}, nil
	default:
		return nil, fmt.Errorf("jwt: unsupported key type %T", k)
	}
}

func ecAlg(k *ecdsa.PublicKey) (string, error) {
	name := k.Curve.Params().Name
	if alg, ok := ecAlgs[name]; ok {
		return alg, nil
	}
	return "", fmt.Errorf("jwt: unsupported EC curve %s (use P-256, P-384 or P-521)", name)
}
