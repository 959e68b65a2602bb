#!/bin/sh
# make-tokens.sh prints the tokens that verify-jwt.spec.yaml sends, made with
# openssl alone. Run it again after changing a claim, and paste its output
# into the spec. The tokens that should pass expire on 2100-01-01
# (exp 4102444800), so the spec keeps passing; the secret is the spec's
# JWT_SECRET, made up for the examples.
set -eu

SECRET='relayfn-example-jwt-secret-do-not-use-9f8e7d6c'
ISSUER='https://auth.example.com'

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# sign HEADER CLAIMS SECRET: an HS256 token (HS256 whatever HEADER says).
sign() {
  h=$(printf '%s' "$1" | b64url)
  c=$(printf '%s' "$2" | b64url)
  s=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -hmac "$3" -binary | b64url)
  printf '%s.%s.%s' "$h" "$c" "$s"
}

HS256='{"alg":"HS256","typ":"JWT"}'

printf 'valid:          %s\n' "$(sign "$HS256" '{"iss":"'"$ISSUER"'","sub":"ci-deployer","aud":"relayfn","iat":1719830400,"exp":4102444800}' "$SECRET")"
printf 'expired:        %s\n' "$(sign "$HS256" '{"iss":"'"$ISSUER"'","sub":"ci-deployer","iat":1577836800,"exp":1577840400}' "$SECRET")"
printf 'not-yet-valid:  %s\n' "$(sign "$HS256" '{"iss":"'"$ISSUER"'","sub":"ci-deployer","nbf":4102444800,"exp":4133980800}' "$SECRET")"
printf 'wrong-secret:   %s\n' "$(sign "$HS256" '{"iss":"'"$ISSUER"'","sub":"ci-deployer","exp":4102444800}' 'some-other-secret')"
printf 'other-issuer:   %s\n' "$(sign "$HS256" '{"iss":"https://login.example.net","sub":"ci-deployer","exp":4102444800}' "$SECRET")"
# Unsigned: header alg none and an empty signature.
printf 'alg-none:       %s.%s.\n' "$(printf '%s' '{"alg":"none","typ":"JWT"}' | b64url)" \
  "$(printf '%s' '{"iss":"'"$ISSUER"'","sub":"ci-deployer","exp":4102444800}' | b64url)"
