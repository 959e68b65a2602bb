package builtins

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// cryptoMaxRandomBytes caps crypto.random_bytes.
const cryptoMaxRandomBytes = 1024

// cryptoHashes are the digests crypto.hmac accepts, by normalized name.
var cryptoHashes = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// Crypto is the "crypto" module, compatible with Webhook Relay's:
//
//	crypto.md5(s[, raw]), crypto.sha1(s[, raw]), crypto.sha256(s[, raw]),
//	crypto.sha512(s[, raw])           → lowercase hex digest
//	crypto.hmac(alg, data, key[, raw]) → lowercase hex, err
//	                                     (alg md5, sha1, sha256 or sha512, in any
//	                                     case; "SHA-256" works too)
//	crypto.crc32(s[, raw])            → CRC-32 (IEEE) as 8 lowercase hex digits
//	                                     (tonumber(h, 16) gives the number)
//	crypto.base64_encode(s)           → standard base64, padded
//	crypto.base64_decode(s)           → value, err
//
// and, beyond Webhook Relay's:
//
//	crypto.base64_url_encode(s), crypto.base64_url_decode(s)
//	crypto.equal(a, b)                → bool, in time that depends only on the lengths
//	crypto.encrypt(alg, key, plaintext)  → base64 ciphertext, err
//	crypto.decrypt(alg, key, ciphertext) → plaintext, err
//	crypto.random_bytes(n[, raw])     → n random bytes as hex (n ≤ 1024)
//
// With raw set to true, the digest functions and random_bytes return the
// bytes themselves instead of hex (crc32: 4 bytes, big-endian).
//
// encrypt and decrypt take alg "aes-256-gcm" or "aes-256-cbc". The key is
// 32 bytes given as the raw 32-character string, as 64 hex digits, or as
// base64 (standard or URL-safe, padded or not) of 32 bytes. A 32-character
// string is always taken as raw bytes. encrypt returns base64 of
// nonce(12) || ciphertext || tag(16) for GCM and of iv(16) || ciphertext
// for CBC, the plaintext padded with PKCS#7; decrypt takes that form (in
// the standard or the URL-safe alphabet, padded or not). Nonce
// and IV are random. CBC has no integrity check: prefer GCM. No error
// message quotes the key.
//
// An argument of the wrong type (a missing header, say) gives nil and an
// error message rather than raising; crypto.equal gives false and the
// message.
func Crypto() runtime.Module {
	return runtime.Module{Name: "crypto", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"md5":               cryptoHashFunc("crypto.md5", md5.New),
			"sha1":              cryptoHashFunc("crypto.sha1", sha1.New),
			"sha256":            cryptoHashFunc("crypto.sha256", sha256.New),
			"sha512":            cryptoHashFunc("crypto.sha512", sha512.New),
			"hmac":              cryptoHMAC,
			"crc32":             cryptoCRC32,
			"base64_encode":     base64LuaEncode("crypto.base64_encode", base64.StdEncoding),
			"base64_decode":     base64LuaDecode("crypto.base64_decode", false),
			"base64_url_encode": base64LuaEncode("crypto.base64_url_encode", base64.URLEncoding),
			"base64_url_decode": base64LuaDecode("crypto.base64_url_decode", true),
			"equal":             cryptoEqual,
			"encrypt":           cryptoEncrypt,
			"decrypt":           cryptoDecrypt,
			"random_bytes":      cryptoRandomBytes,
		})
	}}
}

// cryptoPushBytes pushes b as lowercase hex, or as is when raw.
func cryptoPushBytes(L *lua.LState, b []byte, raw bool) int {
	if raw {
		L.Push(lua.LString(b))
	} else {
		L.Push(lua.LString(hex.EncodeToString(b)))
	}
	return 1
}

// cryptoRaw reports whether argument n is the boolean true.
func cryptoRaw(L *lua.LState, n int) bool { return L.Get(n) == lua.LTrue }

func cryptoHashFunc(fn string, newHash func() hash.Hash) lua.LGFunction {
	return func(L *lua.LState) int {
		s, err := codecArg(L, fn, 1, "data")
		if err != nil {
			return failErr(L, err)
		}
		h := newHash()
		h.Write([]byte(s))
		return cryptoPushBytes(L, h.Sum(nil), cryptoRaw(L, 2))
	}
}

func cryptoHMAC(L *lua.LState) int {
	const fn = "crypto.hmac"
	alg, err := codecArg(L, fn, 1, "algorithm")
	if err != nil {
		return failErr(L, err)
	}
	newHash, ok := cryptoHashes[cryptoNormalize(alg)]
	if !ok {
		return fail(L, "%s: unsupported algorithm %q", fn, alg)
	}
	data, err := codecArg(L, fn, 2, "data")
	if err != nil {
		return failErr(L, err)
	}
	key, err := codecArg(L, fn, 3, "key")
	if err != nil {
		return failErr(L, err)
	}
	m := hmac.New(newHash, []byte(key))
	m.Write([]byte(data))
	return cryptoPushBytes(L, m.Sum(nil), cryptoRaw(L, 4))
}

// cryptoNormalize lowercases an algorithm name and drops '-' and '_', so
// "SHA-256" names sha256.
func cryptoNormalize(alg string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(alg))
}

func cryptoCRC32(L *lua.LState) int {
	s, err := codecArg(L, "crypto.crc32", 1, "data")
	if err != nil {
		return failErr(L, err)
	}
	return cryptoPushBytes(L, binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(s))), cryptoRaw(L, 2))
}

// cryptoEqual compares two strings in time that depends only on their
// lengths. A missing or non-string argument compares unequal and comes
// with an error message.
func cryptoEqual(L *lua.LState) int {
	const fn = "crypto.equal"
	a, err := codecArg(L, fn, 1, "a")
	if err == nil {
		var b string
		if b, err = codecArg(L, fn, 2, "b"); err == nil {
			L.Push(lua.LBool(subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1))
			return 1
		}
	}
	L.Push(lua.LFalse)
	L.Push(lua.LString(err.Error()))
	return 2
}

func cryptoRandomBytes(L *lua.LState) int {
	const fn = "crypto.random_bytes"
	num, ok := L.Get(1).(lua.LNumber)
	if !ok {
		return fail(L, "%s: argument #1 (n) must be a number, got %s", fn, L.Get(1).Type())
	}
	n := float64(num)
	if n != math.Trunc(n) || n < 0 || n > cryptoMaxRandomBytes {
		return fail(L, "%s: n must be a whole number from 0 to %d, got %s", fn, cryptoMaxRandomBytes, num.String())
	}
	b := make([]byte, int(n))
	if _, err := rand.Read(b); err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	return cryptoPushBytes(L, b, cryptoRaw(L, 2))
}

// Cipher names crypto.encrypt and crypto.decrypt accept.
const (
	cryptoAES256GCM = "aes-256-gcm"
	cryptoAES256CBC = "aes-256-cbc"
)

var (
	errCryptoKey = errors.New("key must be 32 bytes: a 32-character string, 64 hex digits, or base64 of 32 bytes")
	errCryptoGCM = errors.New("authentication failed: wrong key, or the ciphertext was modified")
	errCryptoPad = errors.New("bad padding: wrong key, or the ciphertext was modified")
)

// cryptoCipherArgs reads (alg, key, data) for encrypt and decrypt.
func cryptoCipherArgs(L *lua.LState, fn string) (alg string, key []byte, data string, err error) {
	name, err := codecArg(L, fn, 1, "algorithm")
	if err != nil {
		return "", nil, "", err
	}
	alg = strings.ToLower(name)
	if alg != cryptoAES256GCM && alg != cryptoAES256CBC {
		return "", nil, "", fmt.Errorf("%s: unsupported algorithm %q (use %q or %q)", fn, name, cryptoAES256GCM, cryptoAES256CBC)
	}
	// The key's own value must never reach a message: only its type.
	k, err := codecArg(L, fn, 2, "key")
	if err != nil {
		return "", nil, "", err
	}
	if key, err = cryptoKey(k); err != nil {
		return "", nil, "", fmt.Errorf("%s: %w", fn, err)
	}
	what := "plaintext"
	if fn == "crypto.decrypt" {
		what = "ciphertext"
	}
	data, err = codecArg(L, fn, 3, what)
	return alg, key, data, err
}

// cryptoKey reads a 32-byte AES-256 key given raw, as hex, or as base64.
// Its errors say nothing about the key's content.
func cryptoKey(s string) ([]byte, error) {
	switch {
	case len(s) == 32:
		return []byte(s), nil
	case len(s) == 64:
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
		return nil, errCryptoKey
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errCryptoKey
}

func cryptoEncrypt(L *lua.LState) int {
	const fn = "crypto.encrypt"
	alg, key, plaintext, err := cryptoCipherArgs(L, fn)
	if err != nil {
		return failErr(L, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	var out []byte
	switch alg {
	case cryptoAES256GCM:
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fail(L, "%s: %v", fn, err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return fail(L, "%s: %v", fn, err)
		}
		out = aead.Seal(nonce, nonce, []byte(plaintext), nil)
	case cryptoAES256CBC:
		pad := aes.BlockSize - len(plaintext)%aes.BlockSize
		out = make([]byte, aes.BlockSize+len(plaintext)+pad)
		iv := out[:aes.BlockSize]
		if _, err := rand.Read(iv); err != nil {
			return fail(L, "%s: %v", fn, err)
		}
		body := out[aes.BlockSize:]
		copy(body, plaintext)
		for i := len(plaintext); i < len(body); i++ {
			body[i] = byte(pad)
		}
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	}
	L.Push(lua.LString(base64.StdEncoding.EncodeToString(out)))
	return 1
}

func cryptoDecrypt(L *lua.LState) int {
	const fn = "crypto.decrypt"
	alg, key, encoded, err := cryptoCipherArgs(L, fn)
	if err != nil {
		return failErr(L, err)
	}
	data, err := base64Decode(encoded, false)
	if err != nil {
		if data, err = base64Decode(encoded, true); err != nil {
			return fail(L, "%s: ciphertext is not base64", fn)
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	switch alg {
	case cryptoAES256GCM:
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fail(L, "%s: %v", fn, err)
		}
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return fail(L, "%s: ciphertext too short: %d bytes, need at least %d (nonce and tag)", fn, len(data), aead.NonceSize()+aead.Overhead())
		}
		nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, nil)
		if err != nil {
			return failErr(L, fmt.Errorf("%s: %w", fn, errCryptoGCM))
		}
		L.Push(lua.LString(plain))
	case cryptoAES256CBC:
		if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
			return fail(L, "%s: ciphertext must be the 16-byte IV followed by whole 16-byte blocks, got %d bytes", fn, len(data))
		}
		iv, body := data[:aes.BlockSize], data[aes.BlockSize:]
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
		n, ok := cryptoUnpad(body)
		if !ok {
			return failErr(L, fmt.Errorf("%s: %w", fn, errCryptoPad))
		}
		L.Push(lua.LString(body[:len(body)-n]))
	}
	return 1
}

// cryptoUnpad checks PKCS#7 padding on b (a non-empty whole number of
// blocks) without branching on the padding bytes, and returns its length.
func cryptoUnpad(b []byte) (int, bool) {
	n := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, n)
		same := subtle.ConstantTimeByteEq(b[len(b)-i], byte(n))
		// A byte inside the padding must equal n.
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	return n, good == 1
}
