package bqfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// jwtBearerGrant is the grant type of a service account's token request
// (RFC 7523).
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

type account struct {
	project string
	key     *rsa.PublicKey
}

// NewServiceAccount makes a service-account key file (the JSON a user
// downloads from Google Cloud) with a fresh RSA key and token_uri set to
// [Server.TokenURL], and registers the account so the token endpoint
// accepts its signed assertions.
func (s *Server) NewServiceAccount(project, email string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	kid := make([]byte, 20)
	if _, err := rand.Read(kid); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.accounts[email] = &account{project: project, key: &key.PublicKey}
	s.mu.Unlock()
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              hex.EncodeToString(kid),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	}, "", "  ")
}

// token is the OAuth 2.0 token endpoint: it checks the RS256 assertion a
// service account signed and issues an access token.
func (s *Server) token(r *http.Request, rec *Request) (int, any) {
	oauthErr := func(code, desc string) (int, any) {
		return http.StatusBadRequest, map[string]string{"error": code, "error_description": desc}
	}
	if err := r.ParseForm(); err != nil {
		return oauthErr("invalid_request", "cannot parse the form")
	}
	if g := r.PostForm.Get("grant_type"); g != jwtBearerGrant {
		return oauthErr("unsupported_grant_type", "Invalid grant_type: "+g)
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		return oauthErr("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return oauthErr("invalid_grant", "Invalid JWT header")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return oauthErr("invalid_grant", "Invalid JWT claims")
	}
	rec.ServiceAccount, rec.Scope = claims.Iss, claims.Scope
	s.mu.Lock()
	acct := s.accounts[claims.Iss]
	s.mu.Unlock()
	if acct == nil {
		return oauthErr("invalid_grant", "Invalid grant: account not found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return oauthErr("invalid_grant", "Invalid JWT Signature.")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(acct.key, crypto.SHA256, sum[:], sig) != nil {
		return oauthErr("invalid_grant", "Invalid JWT Signature.")
	}
	now := time.Now().Unix()
	switch {
	case claims.Aud != s.TokenURL():
		return oauthErr("invalid_grant", "Invalid JWT: audience is not the token endpoint")
	case claims.Exp <= now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600:
		return oauthErr("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	case claims.Scope == "":
		return oauthErr("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
	}
	tok := fmt.Sprintf("ya29.bqfake-%s", s.nextID("token-"))
	s.mu.Lock()
	s.tokens[tok] = claims.Iss
	s.mu.Unlock()
	return http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"}
}

// checkAuth enforces RequireAuth on an API request.
func (s *Server) checkAuth(r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.requireAuth {
		return nil
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return &apiError{Code: http.StatusUnauthorized, Reason: "required", Location: "Authorization",
			Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	if _, known := s.tokens[tok]; !known {
		return &apiError{Code: http.StatusUnauthorized, Reason: "authError", Location: "Authorization",
			Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	return nil
}

// TokensIssued returns how many access tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
