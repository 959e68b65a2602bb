package builtins

import (
	"encoding/base64"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// Base64 is the "base64" module (RFC 4648):
//
//	base64.encode(s)            → standard alphabet, padded
//	base64.decode(s)            → value, err (padded or unpadded; CR and LF are ignored)
//	base64.url_encode(s[, pad]) → URL-safe alphabet, padded unless pad is false
//	base64.url_decode(s)        → value, err (padded or unpadded)
//
// crypto.base64_encode and crypto.base64_decode are the same functions as
// encode and decode.
func Base64() runtime.Module {
	return runtime.Module{Name: "base64", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"encode":     base64LuaEncode("base64.encode", base64.StdEncoding),
			"decode":     base64LuaDecode("base64.decode", false),
			"url_encode": base64URLEncode,
			"url_decode": base64LuaDecode("base64.url_decode", true),
		})
	}}
}

// base64LuaEncode returns a Lua function encoding its argument with enc.
func base64LuaEncode(fn string, enc *base64.Encoding) lua.LGFunction {
	return func(L *lua.LState) int {
		s, err := codecArg(L, fn, 1, "data")
		if err != nil {
			return failErr(L, err)
		}
		L.Push(lua.LString(enc.EncodeToString([]byte(s))))
		return 1
	}
}

// base64LuaDecode returns a Lua function decoding its argument from the
// standard (or, with url, the URL-safe) alphabet, padded or not.
func base64LuaDecode(fn string, url bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s, err := codecArg(L, fn, 1, "data")
		if err != nil {
			return failErr(L, err)
		}
		b, err := base64Decode(s, url)
		if err != nil {
			return fail(L, "%s: %v", fn, err)
		}
		L.Push(lua.LString(b))
		return 1
	}
}

func base64URLEncode(L *lua.LState) int {
	s, err := codecArg(L, "base64.url_encode", 1, "data")
	if err != nil {
		return failErr(L, err)
	}
	enc := base64.URLEncoding
	if L.Get(2) == lua.LFalse {
		enc = base64.RawURLEncoding
	}
	L.Push(lua.LString(enc.EncodeToString([]byte(s))))
	return 1
}

// base64Decode decodes s, padded or unpadded, in the standard alphabet or
// (url) the URL-safe one. The error describes the padded form when s has
// padding and the unpadded form otherwise.
func base64Decode(s string, url bool) ([]byte, error) {
	padded, raw := base64.StdEncoding, base64.RawStdEncoding
	if url {
		padded, raw = base64.URLEncoding, base64.RawURLEncoding
	}
	b, err := padded.DecodeString(s)
	if err == nil {
		return b, nil
	}
	if strings.Contains(s, "=") {
		return nil, err
	}
	b, rawErr := raw.DecodeString(s)
	if rawErr != nil {
		return nil, rawErr
	}
	return b, nil
}

// codecArg reads argument n of fn as a string for the codec modules
// (base64, crypto, time, urlencoded, multipart). Numbers are accepted, as
// Lua's own string functions accept them; anything else is an error naming
// the function, the argument and the type received.
func codecArg(L *lua.LState, fn string, n int, what string) (string, error) {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		return v.String(), nil
	default:
		return "", fmt.Errorf("%s: argument #%d (%s) must be a string, got %s", fn, n, what, v.Type())
	}
}
