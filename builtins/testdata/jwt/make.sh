#!/bin/sh
# make.sh regenerates the jwt module's test fixtures with openssl alone, so
# the tests check the module against tokens made by an independent tool.
# Run it from anywhere; it writes next to itself. Keys are new on every run.
#
#   *.pem, *.b64   keys (private keys in several encodings, public keys,
#                  an X.509 certificate; .b64 is base64 of a PEM file)
#   secret.txt     the HMAC secret (no trailing newline)
#   *.jwt          tokens (one line, no trailing newline)
set -eu
cd "$(dirname "$0")"
rm -f ./*.pem ./*.b64 ./*.jwt ./*.txt

FAR=4102444800 # 2100-01-01
IAT=1700000000

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
seg() { printf '%s' "$1" | b64url; }

# --- keys ---------------------------------------------------------------
printf '%s' 'relayfn-jwt-test-secret-0123456789abcdef' >secret.txt
printf '%s' 'a-different-secret-entirely-9876543210' >secret_other.txt

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa_private.pem 2>/dev/null
openssl rsa -in rsa_private.pem -traditional -out rsa_private_pkcs1.pem 2>/dev/null
openssl rsa -in rsa_private.pem -pubout -out rsa_public.pem 2>/dev/null
openssl rsa -in rsa_private.pem -RSAPublicKey_out -out rsa_public_pkcs1.pem 2>/dev/null
openssl req -new -x509 -key rsa_private.pem -subj /CN=relayfn-jwt-test -days 36500 -out rsa_cert.pem 2>/dev/null
openssl base64 -A -in rsa_public.pem >rsa_public.b64
openssl base64 -A -in rsa_private.pem >rsa_private.b64
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa_other_private.pem 2>/dev/null
openssl rsa -in rsa_other_private.pem -pubout -out rsa_other_public.pem 2>/dev/null

openssl ecparam -name prime256v1 -genkey -noout -out ec256_private_sec1.pem
openssl pkcs8 -topk8 -nocrypt -in ec256_private_sec1.pem -out ec256_private.pem
openssl ec -in ec256_private.pem -pubout -out ec256_public.pem 2>/dev/null
openssl base64 -A -in ec256_public.pem >ec256_public.b64
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec256_other_private.pem
openssl ec -in ec256_other_private.pem -pubout -out ec256_other_public.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384_private.pem
openssl ec -in ec384_private.pem -pubout -out ec384_public.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out ec521_private.pem
openssl ec -in ec521_private.pem -pubout -out ec521_public.pem 2>/dev/null

openssl genpkey -algorithm ED25519 -out ed25519_private.pem
openssl pkey -in ed25519_private.pem -pubout -out ed25519_public.pem
openssl base64 -A -in ed25519_public.pem >ed25519_public.b64
openssl genpkey -algorithm ED25519 -out ed25519_other_private.pem
openssl pkey -in ed25519_other_private.pem -pubout -out ed25519_other_public.pem

# --- signing ------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Each signer reads the signing input (header.payload) from $tmp/in and
# writes the raw signature to stdout.
hmac() { # bits secret-file
	openssl dgst "-sha$1" -mac HMAC -macopt "hexkey:$(xxd -p "$2" | tr -d '\n')" -binary "$tmp/in"
}
rsa() { # bits key
	openssl dgst "-sha$1" -sign "$2" -binary "$tmp/in"
}
pss() { # bits key; JWA: salt length equals the hash length
	openssl dgst "-sha$1" -sign "$2" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:digest -sigopt "rsa_mgf1_md:sha$1" -binary "$tmp/in"
}
ecdsa() { # bits key coordinate-bytes: DER (r, s) to JOSE r||s
	openssl dgst "-sha$1" -sign "$2" -binary "$tmp/in" >"$tmp/der"
	openssl asn1parse -inform DER -in "$tmp/der" | awk -F: '/INTEGER/ {print $NF}' |
		while read -r hex; do
			hex=$(printf '%s' "$hex" | sed 's/^0*//')
			printf "%$(($3 * 2))s" "$hex" | tr ' ' 0
		done | xxd -r -p
}
eddsa() { # key
	openssl pkeyutl -sign -rawin -inkey "$1" -in "$tmp/in"
}

# token name header-json payload-json signer args...
token() {
	name=$1 header=$2 payload=$3
	shift 3
	input="$(seg "$header").$(seg "$payload")"
	printf '%s' "$input" >"$tmp/in"
	sig=$("$@" | b64url)
	printf '%s.%s' "$input" "$sig" >"$name.jwt"
}
h() { printf '{"alg":"%s","typ":"JWT"}' "$1"; }
claims() { # sub exp [extra]
	printf '{"sub":"%s","iss":"make.sh","name":"Relay Test","admin":true,"iat":%s,"exp":%s%s}' "$1" "$IAT" "$2" "${3:-}"
}

for b in 256 384 512; do
	token "hs$b" "$(h HS$b)" "$(claims hs$b $FAR)" hmac $b secret.txt
	token "rs$b" "$(h RS$b)" "$(claims rs$b $FAR)" rsa $b rsa_private.pem
	token "ps$b" "$(h PS$b)" "$(claims ps$b $FAR)" pss $b rsa_private.pem
done
token es256 "$(h ES256)" "$(claims es256 $FAR)" ecdsa 256 ec256_private.pem 32
token es384 "$(h ES384)" "$(claims es384 $FAR)" ecdsa 384 ec384_private.pem 48
token es512 "$(h ES512)" "$(claims es512 $FAR)" ecdsa 512 ec521_private.pem 66
token eddsa "$(h EdDSA)" "$(claims eddsa $FAR)" eddsa ed25519_private.pem

# No typ header, claims without exp: still valid.
token hs256_minimal '{"alg":"HS256"}' '{"sub":"minimal"}' hmac 256 secret.txt

# Time claims: long expired, not valid before 2100, issued in 2100.
token hs256_expired "$(h HS256)" "$(claims expired 1000003600)" hmac 256 secret.txt
token rs256_expired "$(h RS256)" "$(claims expired 1000003600)" rsa 256 rsa_private.pem
token es256_expired "$(h ES256)" "$(claims expired 1000003600)" ecdsa 256 ec256_private.pem 32
token eddsa_expired "$(h EdDSA)" "$(claims expired 1000003600)" eddsa ed25519_private.pem
token hs256_nbf_future "$(h HS256)" "$(claims nbf $((FAR + 3600)) ",\"nbf\":$FAR")" hmac 256 secret.txt
token rs256_nbf_future "$(h RS256)" "$(claims nbf $((FAR + 3600)) ",\"nbf\":$FAR")" rsa 256 rsa_private.pem
token hs256_iat_future "$(h HS256)" '{"sub":"iat","iat":4102444800}' hmac 256 secret.txt

# Algorithm confusion: HS256 with the public key's PEM (and its base64) as
# the HMAC secret, the classic attack on libraries that let the token's
# header pick the algorithm.
token confusion_hs256_rsa_pem "$(h HS256)" "$(claims confusion $FAR)" hmac 256 rsa_public.pem
token confusion_hs256_rsa_b64 "$(h HS256)" "$(claims confusion $FAR)" hmac 256 rsa_public.b64
token confusion_hs256_ec_pem "$(h HS256)" "$(claims confusion $FAR)" hmac 256 ec256_public.pem
token confusion_hs256_ed_pem "$(h HS256)" "$(claims confusion $FAR)" hmac 256 ed25519_public.pem

# alg none: unsigned, and with a real signature copied from hs256.
for alg in none None NONE; do
	printf '%s.%s.' "$(seg "$(h $alg)")" "$(seg "$(claims none $FAR)")" >"none_$alg.jwt"
done
printf '%s.%s.%s' "$(seg "$(h none)")" "$(seg "$(claims none $FAR)")" "$(cut -d. -f3 hs256.jwt)" >none_signed.jwt

echo "fixtures written to $(pwd)"
