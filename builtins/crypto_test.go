package builtins_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func cryptoHex(s string) string { return hex.EncodeToString([]byte(s)) }

func TestCryptoHashVectors(t *testing.T) {
	// FIPS 180 and RFC 1321 examples.
	cases := []struct{ fn, in, want string }{
		{"md5", "", "d41d8cd98f00b204e9800998ecf8427e"},
		{"md5", "abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"md5", "message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"sha1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha512", "", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
		{"sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		// CRC-32/ISO-HDLC check value
		{"crc32", "123456789", "cbf43926"},
		{"crc32", "", "00000000"},
	}
	for _, c := range cases {
		t.Run(c.fn+"/"+c.in, func(t *testing.T) {
			src := fmt.Sprintf(`
local s = unhex(%q)
print(crypto.%[2]s(s))
print(tohex(crypto.%[2]s(s, true)))
print(#crypto.%[2]s(s, true))
`, cryptoHex(c.in), c.fn)
			codecExpect(t, src, c.want, c.want, fmt.Sprint(len(c.want)/2))
		})
	}
}

func TestCryptoCRC32Number(t *testing.T) {
	codecExpect(t, `print(tonumber(crypto.crc32("123456789"), 16) == 0xCBF43926)`, "true")
}

func TestCryptoHMACVectors(t *testing.T) {
	rep := func(b byte, n int) string { return strings.Repeat(hex.EncodeToString([]byte{b}), n) }
	seq := hex.EncodeToString([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25})
	const bigKeyData = "Test Using Larger Than Block-Size Key - Hash Key First"
	cases := []struct{ name, alg, key, data, want string }{
		// RFC 4231 test cases 1-4 and 6
		{"4231/1", "sha256", rep(0x0b, 20), cryptoHex("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"4231/1", "sha512", rep(0x0b, 20), cryptoHex("Hi There"), "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{"4231/2", "sha256", cryptoHex("Jefe"), cryptoHex("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"4231/2", "sha512", cryptoHex("Jefe"), cryptoHex("what do ya want for nothing?"), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		{"4231/3", "sha256", rep(0xaa, 20), rep(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{"4231/3", "sha512", rep(0xaa, 20), rep(0xdd, 50), "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
		{"4231/4", "sha256", seq, rep(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{"4231/4", "sha512", seq, rep(0xcd, 50), "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
		{"4231/6", "sha256", rep(0xaa, 131), cryptoHex(bigKeyData), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"4231/6", "sha512", rep(0xaa, 131), cryptoHex(bigKeyData), "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
		// RFC 2202 test cases 1-4 and 6
		{"2202/1", "md5", rep(0x0b, 16), cryptoHex("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
		{"2202/2", "md5", cryptoHex("Jefe"), cryptoHex("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"},
		{"2202/3", "md5", rep(0xaa, 16), rep(0xdd, 50), "56be34521d144c88dbb8c733f0e8b3f6"},
		{"2202/4", "md5", seq, rep(0xcd, 50), "697eaf0aca3a3aea3a75164746ffaa79"},
		{"2202/6", "md5", rep(0xaa, 80), cryptoHex(bigKeyData), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
		{"2202/1", "sha1", rep(0x0b, 20), cryptoHex("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"2202/2", "sha1", cryptoHex("Jefe"), cryptoHex("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"2202/3", "sha1", rep(0xaa, 20), rep(0xdd, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
		{"2202/4", "sha1", seq, rep(0xcd, 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
		{"2202/6", "sha1", rep(0xaa, 80), cryptoHex(bigKeyData), "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.alg, func(t *testing.T) {
			src := fmt.Sprintf(`
local key, data = unhex(%q), unhex(%q)
print(crypto.hmac(%q, data, key))
print(crypto.hmac(string.upper(%[3]q), data, key))
print(tohex(crypto.hmac(%[3]q, data, key, true)))
`, c.key, c.data, c.alg)
			codecExpect(t, src, c.want, c.want, c.want)
		})
	}
}

func TestCryptoHMACWebhookStyle(t *testing.T) {
	// GitHub-style signature check, as Webhook Relay's docs show it.
	src := `
local secret = "It's a Secret to Everybody"
local sig = "sha256=" .. crypto.hmac("sha256", r.RequestBody, secret)
print(sig)
print(crypto.equal(sig, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"))
print(crypto.hmac("SHA-256", r.RequestBody, secret) == crypto.hmac("sha256", r.RequestBody, secret))
`
	res := codecRun(t, src, "Hello, World!")
	want := []string{"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "true", "true"}
	if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", res.Logs, want)
	}
}

func TestCryptoEqual(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(crypto.equal("abc", "abc"))`, "true"},
		{`print(crypto.equal("", ""))`, "true"},
		{`print(crypto.equal("abc", "abd"))`, "false"},
		{`print(crypto.equal("abc", "ab"))`, "false"},
		{`print(crypto.equal("12", 12))`, "true"},
		{`print(crypto.equal("abc", nil))`, "false\tcrypto.equal: argument #2 (b) must be a string, got nil"},
		{`print(crypto.equal({}, "abc"))`, "false\tcrypto.equal: argument #1 (a) must be a string, got table"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}

// AES-256-GCM test cases 13-15 from the GCM specification (McGrew and
// Viega), as base64 of nonce || ciphertext || tag.
var cryptoGCMVectors = []struct {
	name, key, nonce, pt, ct, tag string
}{
	{"13", strings.Repeat("00", 32), strings.Repeat("00", 12), "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	{"14", strings.Repeat("00", 32), strings.Repeat("00", 12), strings.Repeat("00", 16), "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	{
		"15",
		"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbaddecaf888",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		"b094dac5d93471bdec1a502270e3cc6c",
	},
}

func cryptoB64(hexes ...string) string {
	var b []byte
	for _, h := range hexes {
		d, err := hex.DecodeString(h)
		if err != nil {
			panic(err)
		}
		b = append(b, d...)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestCryptoAESGCMVectors(t *testing.T) {
	for _, v := range cryptoGCMVectors {
		t.Run(v.name, func(t *testing.T) {
			keyBytes, _ := hex.DecodeString(v.key)
			sealed := cryptoB64(v.nonce, v.ct, v.tag)
			// The key as 64 hex digits, as base64, as URL-safe unpadded
			// base64, and as the raw 32 bytes.
			src := fmt.Sprintf(`
local sealed = %q
for _, key in ipairs({%q, %q, %q, unhex(%[2]q)}) do
  local pt, err = crypto.decrypt("aes-256-gcm", key, sealed)
  print(tohex(pt or ""), err)
end
print(crypto.decrypt("AES-256-GCM", %[2]q, sealed) ~= nil)
`, sealed, v.key, base64.StdEncoding.EncodeToString(keyBytes), base64.RawURLEncoding.EncodeToString(keyBytes))
			line := v.pt + "\tnil"
			codecExpect(t, src, line, line, line, line, "true")
		})
	}
}

func TestCryptoAESGCMTamper(t *testing.T) {
	v := cryptoGCMVectors[2]
	sealed, _ := base64.StdEncoding.DecodeString(cryptoB64(v.nonce, v.ct, v.tag))
	wrongKey := strings.Repeat("ab", 32)
	for _, pos := range []int{0, 20, len(sealed) - 1} { // in the nonce, the ciphertext, the tag
		bad := append([]byte(nil), sealed...)
		bad[pos] ^= 1
		src := fmt.Sprintf(`print(crypto.decrypt("aes-256-gcm", %q, %q))`, v.key, base64.StdEncoding.EncodeToString(bad))
		codecExpect(t, src, "nil\tcrypto.decrypt: authentication failed: wrong key, or the ciphertext was modified")
	}
	src := fmt.Sprintf(`print(crypto.decrypt("aes-256-gcm", %q, %q))`, wrongKey, cryptoB64(v.nonce, v.ct, v.tag))
	codecExpect(t, src, "nil\tcrypto.decrypt: authentication failed: wrong key, or the ciphertext was modified")
}

// NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt) and F.2.6 (Decrypt).
const (
	cryptoCBCKey = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
	cryptoCBCIV  = "000102030405060708090a0b0c0d0e0f"
	cryptoCBCPT  = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
	cryptoCBCCT  = "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"
	// cryptoCBCPad is the block PKCS#7 adds to the 64-byte plaintext (16
	// bytes of 0x10), encrypted after the last SP 800-38A block; computed
	// with `openssl enc -aes-256-cbc` on the same key, IV and plaintext.
	cryptoCBCPad = "3f461796d6b0d6b2e0c2a72b4d80e644"
)

func TestCryptoAESCBCVectors(t *testing.T) {
	// The SP 800-38A blocks followed by the padding block decrypt to the
	// SP 800-38A plaintext.
	src := fmt.Sprintf(`
local pt, err = crypto.decrypt("aes-256-cbc", %q, %q)
print(tohex(pt), err)
`, cryptoCBCKey, cryptoB64(cryptoCBCIV, cryptoCBCCT, cryptoCBCPad))
	codecExpect(t, src, cryptoCBCPT+"\tnil")

	// Without the padding block, the last SP 800-38A block is not valid
	// PKCS#7 padding (it ends in 0x10, but the 15 bytes before are not).
	src = fmt.Sprintf(`print(crypto.decrypt("aes-256-cbc", %q, %q))`, cryptoCBCKey, cryptoB64(cryptoCBCIV, cryptoCBCCT))
	codecExpect(t, src, "nil\tcrypto.decrypt: bad padding: wrong key, or the ciphertext was modified")
}

func TestCryptoEncryptRoundTrip(t *testing.T) {
	for _, alg := range []string{"aes-256-gcm", "aes-256-cbc"} {
		t.Run(alg, func(t *testing.T) {
			src := fmt.Sprintf(`
local alg = %q
local key = %q
local overhead = alg == "aes-256-gcm" and function(n) return 12 + n + 16 end
  or function(n) return 16 + (math.floor(n / 16) + 1) * 16 end
for _, pt in ipairs({"", "a", string.rep("x", 15), string.rep("y", 16), string.rep("z", 17), unhex(%q), "\0\1\2\255"}) do
  local ct, err = crypto.encrypt(alg, key, pt)
  assert(err == nil, err)
  local raw = base64.decode(ct)
  assert(#raw == overhead(#pt), alg .. ": length " .. #raw .. " for " .. #pt)
  local again = crypto.encrypt(alg, key, pt)
  assert(again ~= ct, "nonce or IV repeated")
  local back, err = crypto.decrypt(alg, key, ct)
  assert(err == nil, err)
  assert(back == pt, "round trip")
  -- URL-safe unpadded ciphertext is accepted too
  local url = base64.url_encode(raw, false)
  assert(crypto.decrypt(alg, key, url) == pt, "url-safe form")
end
print("ok")
`, alg, cryptoCBCKey, cryptoCBCPT)
			codecExpect(t, src, "ok")
		})
	}
}

func TestCryptoKeyForms(t *testing.T) {
	raw := "0123456789abcdef0123456789ABCDEF" // 32 characters: raw bytes
	b := []byte(raw)
	forms := []string{
		raw,
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
	var list []string
	for _, f := range forms {
		list = append(list, fmt.Sprintf("%q", f))
	}
	src := fmt.Sprintf(`
local keys = {%s}
local ct = assert(crypto.encrypt("aes-256-gcm", keys[1], "secret"))
for i, k in ipairs(keys) do
  local pt, err = crypto.decrypt("aes-256-gcm", k, ct)
  print(i, pt, err)
end
`, strings.Join(list, ", "))
	var want []string
	for i := range forms {
		want = append(want, fmt.Sprintf("%d\tsecret\tnil", i+1))
	}
	codecExpect(t, src, want...)
}

func TestCryptoErrorsKeepKeysOut(t *testing.T) {
	const keyErr = "key must be 32 bytes: a 32-character string, 64 hex digits, or base64 of 32 bytes"
	keys := []string{
		"short-secret-key",
		strings.Repeat("k", 31),
		strings.Repeat("k", 33),
		strings.Repeat("g", 64), // 64 characters, not hex
		base64.StdEncoding.EncodeToString([]byte("16-byte-key-val!")), // base64 of 16 bytes
		"",
	}
	for _, key := range keys {
		for _, fn := range []string{"encrypt", "decrypt"} {
			for _, alg := range []string{"aes-256-gcm", "aes-256-cbc"} {
				src := fmt.Sprintf(`print(crypto.%s(%q, %q, "AAAA"))`, fn, alg, key)
				got := codecLogs(t, src)
				want := "nil\tcrypto." + fn + ": " + keyErr
				if len(got) != 1 || got[0] != want {
					t.Errorf("%s: got %q, want %q", src, got, want)
				}
				if key != "" && strings.Contains(strings.Join(got, ""), key) {
					t.Errorf("%s: error quotes the key", src)
				}
			}
		}
	}

	// Errors after the key was accepted do not quote it either.
	key := strings.Repeat("s3cr3t-k", 4)
	cases := []struct{ src, want string }{
		{`print(crypto.decrypt("aes-256-gcm", KEY, "AAAA"))`, "nil\tcrypto.decrypt: ciphertext too short: 3 bytes, need at least 28 (nonce and tag)"},
		{`print(crypto.decrypt("aes-256-gcm", KEY, "not base64!"))`, "nil\tcrypto.decrypt: ciphertext is not base64"},
		{`print(crypto.decrypt("aes-256-cbc", KEY, base64.encode(string.rep("x", 20))))`, "nil\tcrypto.decrypt: ciphertext must be the 16-byte IV followed by whole 16-byte blocks, got 20 bytes"},
		{`print(crypto.decrypt("aes-256-cbc", KEY, base64.encode(string.rep("x", 16))))`, "nil\tcrypto.decrypt: ciphertext must be the 16-byte IV followed by whole 16-byte blocks, got 16 bytes"},
		{`print(crypto.decrypt("aes-256-cbc", KEY, base64.encode(string.rep("x", 48))))`, "nil\tcrypto.decrypt: bad padding: wrong key, or the ciphertext was modified"},
		{`print(crypto.decrypt("aes-256-cbc", KEY, WRONG_KEY_CIPHERTEXT))`, "nil\tcrypto.decrypt: bad padding: wrong key, or the ciphertext was modified"},
		{`print(crypto.encrypt("aes-128-gcm", KEY, "x"))`, `nil	crypto.encrypt: unsupported algorithm "aes-128-gcm" (use "aes-256-gcm" or "aes-256-cbc")`},
		{`print(crypto.encrypt(nil, KEY, "x"))`, "nil\tcrypto.encrypt: argument #1 (algorithm) must be a string, got nil"},
		{`print(crypto.encrypt("aes-256-gcm", nil, "x"))`, "nil\tcrypto.encrypt: argument #2 (key) must be a string, got nil"},
		{`print(crypto.encrypt("aes-256-gcm", KEY, nil))`, "nil\tcrypto.encrypt: argument #3 (plaintext) must be a string, got nil"},
		{`print(crypto.decrypt("aes-256-gcm", KEY, {}))`, "nil\tcrypto.decrypt: argument #3 (ciphertext) must be a string, got table"},
	}
	for _, c := range cases {
		src := "local KEY = " + fmt.Sprintf("%q", key) + "\nlocal WRONG_KEY_CIPHERTEXT = " + fmt.Sprintf("%q", wrongKeyCiphertext(t, strings.Repeat("o", 32), key)) + "\n" + c.src
		got := codecLogs(t, src)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: got %q, want %q", c.src, got, c.want)
		}
		if strings.Contains(strings.Join(got, ""), key) || strings.Contains(strings.Join(got, ""), "s3cr3t") {
			t.Errorf("%s: error quotes the key", c.src)
		}
	}
}

func TestCryptoErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(crypto.hmac("x", "data", "key"))`, `nil	crypto.hmac: unsupported algorithm "x"`},
		{`print(crypto.hmac("sha384", "data", "key"))`, `nil	crypto.hmac: unsupported algorithm "sha384"`},
		{`print(crypto.hmac(nil, "data", "key"))`, "nil\tcrypto.hmac: argument #1 (algorithm) must be a string, got nil"},
		{`print(crypto.hmac("sha256", nil, "key"))`, "nil\tcrypto.hmac: argument #2 (data) must be a string, got nil"},
		{`print(crypto.hmac("sha256", "data", nil))`, "nil\tcrypto.hmac: argument #3 (key) must be a string, got nil"},
		{`print(crypto.md5(nil))`, "nil\tcrypto.md5: argument #1 (data) must be a string, got nil"},
		{`print(crypto.sha1({}))`, "nil\tcrypto.sha1: argument #1 (data) must be a string, got table"},
		{`print(crypto.sha256(print))`, "nil\tcrypto.sha256: argument #1 (data) must be a string, got function"},
		{`print(crypto.sha512(true))`, "nil\tcrypto.sha512: argument #1 (data) must be a string, got boolean"},
		{`print(crypto.crc32())`, "nil\tcrypto.crc32: argument #1 (data) must be a string, got nil"},
		{`print(crypto.random_bytes(1025))`, "nil\tcrypto.random_bytes: n must be a whole number from 0 to 1024, got 1025"},
		{`print(crypto.random_bytes(-1))`, "nil\tcrypto.random_bytes: n must be a whole number from 0 to 1024, got -1"},
		{`print(crypto.random_bytes(1.5))`, "nil\tcrypto.random_bytes: n must be a whole number from 0 to 1024, got 1.5"},
		{`print(crypto.random_bytes("8"))`, "nil\tcrypto.random_bytes: argument #1 (n) must be a number, got string"},
		{`print(crypto.random_bytes())`, "nil\tcrypto.random_bytes: argument #1 (n) must be a number, got nil"},
		// numbers hash as their string form, as Lua's string functions take them
		{`print(crypto.md5(123) == crypto.md5("123"))`, "true"},
		// only true asks for raw bytes
		{`print(crypto.sha1("abc", 1))`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}

func TestCryptoRandomBytes(t *testing.T) {
	src := `
local a, b = crypto.random_bytes(16), crypto.random_bytes(16)
print(#a, a:match("^%x+$") ~= nil, a ~= b)
print(#crypto.random_bytes(16, true))
print(crypto.random_bytes(0) == "", #crypto.random_bytes(1024))
`
	codecExpect(t, src, "32\ttrue\ttrue", "16", "true\t2048")
}

// wrongKeyCiphertext is "hello" encrypted with AES-256-CBC under key, with
// the first IV (counting up from zero) whose decryption under other has
// invalid padding. A random IV would give valid padding by chance in
// about 1 of 256 runs: the test must not depend on it.
func wrongKeyCiphertext(t *testing.T, key, other string) string {
	t.Helper()
	enc, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := aes.NewCipher([]byte(other))
	if err != nil {
		t.Fatal(err)
	}
	block := []byte("hello" + strings.Repeat("\x0b", 11)) // PKCS#7 padded
	for i := 0; i < 256; i++ {
		iv := make([]byte, aes.BlockSize)
		iv[aes.BlockSize-1] = byte(i)
		ct := make([]byte, aes.BlockSize)
		cipher.NewCBCEncrypter(enc, iv).CryptBlocks(ct, block)
		pt := make([]byte, aes.BlockSize)
		cipher.NewCBCDecrypter(dec, iv).CryptBlocks(pt, ct)
		if n := int(pt[len(pt)-1]); n == 0 || n > aes.BlockSize || !allEqual(pt[len(pt)-n:], pt[len(pt)-1]) {
			return base64.StdEncoding.EncodeToString(append(iv, ct...))
		}
	}
	t.Fatal("no IV gives invalid padding under the other key")
	return ""
}

func allEqual(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}
