package builtins_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// codecPrelude gives every codec test script hex helpers and the modules.
const codecPrelude = `
local crypto = require("crypto")
local base64 = require("base64")
local time = require("time")
local urlencoded = require("urlencoded")
local multipart = require("multipart")
local function unhex(h) return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end)) end
local function tohex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
`

var (
	codecEngineOnce sync.Once
	codecEngineVal  *runtime.Engine
	codecEngineErr  error
)

// codecEngine is one engine with the codec modules, shared by the tests.
func codecEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	codecEngineOnce.Do(func() {
		codecEngineVal, codecEngineErr = runtime.New(runtime.Options{Modules: []runtime.Module{
			builtins.Crypto(), builtins.Base64(), builtins.Time(), builtins.URLEncoded(), builtins.Multipart(),
		}})
	})
	if codecEngineErr != nil {
		t.Fatal(codecEngineErr)
	}
	return codecEngineVal
}

// codecRun runs src (after the prelude) with body as the request body and
// fails the test if the function raised an error.
func codecRun(t *testing.T, src, body string) *runtime.Result {
	t.Helper()
	e := codecEngine(t)
	fn, err := e.Compile("t.lua", []byte(codecPrelude+src))
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	res := e.Run(context.Background(), fn, &runtime.Input{Request: runtime.Request{
		Method: "POST", Path: "/", Header: http.Header{}, Body: []byte(body),
	}})
	if res.Err != nil {
		t.Fatalf("run: %v\n%s", res.Err, src)
	}
	return res
}

// codecLogs runs src and returns what it printed.
func codecLogs(t *testing.T, src string) []string {
	t.Helper()
	return codecRun(t, src, "").Logs
}

// codecExpect runs src and compares its printed lines with want.
func codecExpect(t *testing.T, src string, want ...string) {
	t.Helper()
	got := codecLogs(t, src)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("script:\n%s\ngot:\n  %s\nwant:\n  %s", src, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// codecTestdata reads a file under testdata, turning LF line ends into
// CRLF when crlf is set (files are kept with LF so checkouts agree).
func codecTestdata(t *testing.T, crlf bool, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	if crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

// codecQuote writes s as a Lua string literal.
func codecQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestBase64RFC4648(t *testing.T) {
	// RFC 4648 §10, plus inputs whose encodings use the characters the two
	// alphabets disagree on (62 and 63).
	cases := []struct{ in, std, url string }{
		{"", "", ""},
		{"66", "Zg==", "Zg=="},
		{"666f", "Zm8=", "Zm8="},
		{"666f6f", "Zm9v", "Zm9v"},
		{"666f6f62", "Zm9vYg==", "Zm9vYg=="},
		{"666f6f6261", "Zm9vYmE=", "Zm9vYmE="},
		{"666f6f626172", "Zm9vYmFy", "Zm9vYmFy"},
		{"fbff", "+/8=", "-_8="},
		{"fbefbe", "++++", "----"},
		{"ffffffff", "/////w==", "_____w=="},
	}
	for _, c := range cases {
		t.Run(c.std, func(t *testing.T) {
			src := `
local s = unhex("` + c.in + `")
print(base64.encode(s))
print(base64.url_encode(s))
print(crypto.base64_encode(s))
print(crypto.base64_url_encode(s))
print(tohex(base64.decode("` + c.std + `")))
print(tohex(base64.url_decode("` + c.url + `")))
print(tohex(crypto.base64_decode("` + c.std + `")))
print(tohex(crypto.base64_url_decode("` + c.url + `")))
-- unpadded forms decode too
print(tohex(base64.decode(("` + c.std + `"):gsub("=", ""))))
print(tohex(base64.url_decode(base64.url_encode(s, false))))
print(base64.url_encode(s, false) == ("` + c.url + `"):gsub("=", ""))
`
			codecExpect(t, src, c.std, c.url, c.std, c.url, c.in, c.in, c.in, c.in, c.in, c.in, "true")
		})
	}
}

func TestBase64Errors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(base64.decode("Zm9v!"))`, "nil\tbase64.decode: illegal base64 data at input byte 4"},
		{`print(base64.decode("Zg="))`, "nil\tbase64.decode: illegal base64 data at input byte 3"},
		{`print(base64.decode("-_8="))`, "nil\tbase64.decode: illegal base64 data at input byte 0"},
		{`print(base64.url_decode("+/8="))`, "nil\tbase64.url_decode: illegal base64 data at input byte 0"},
		{`print(base64.decode(nil))`, "nil\tbase64.decode: argument #1 (data) must be a string, got nil"},
		{`print(base64.encode({}))`, "nil\tbase64.encode: argument #1 (data) must be a string, got table"},
		{`print(base64.url_encode())`, "nil\tbase64.url_encode: argument #1 (data) must be a string, got nil"},
		{`print(crypto.base64_decode("a"))`, "nil\tcrypto.base64_decode: illegal base64 data at input byte 0"},
		// numbers are strings, as in Lua's string library
		{`print(base64.encode(12))`, "MTI="},
		// line breaks inside encoded data are ignored
		{`print(base64.decode("Zm9v\r\nYmFy"))`, "foobar"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}
