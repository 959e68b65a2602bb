package builtins_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

func loadGitHubPush(b testing.TB) []byte {
	b.Helper()
	payload, err := os.ReadFile("testdata/json/github_push.json")
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// jsonModuleFunc opens the json module on L and returns one of its
// functions.
func jsonModuleFunc(L *lua.LState, name string) lua.LValue {
	return builtins.JSON().Open(L).RawGetString(name)
}

// BenchmarkJSONDecode decodes a GitHub push payload: with json.decode into
// Lua tables (called as Lua calls it), and with encoding/json into a
// map[string]any, the plain Go way.
func BenchmarkJSONDecode(b *testing.B) {
	payload := loadGitHubPush(b)

	b.Run("lua", func(b *testing.B) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		decode := jsonModuleFunc(L, "decode")
		s := lua.LString(payload)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			L.Push(decode)
			L.Push(s)
			L.Call(1, 2)
			if L.Get(-1) != lua.LNil {
				b.Fatal(L.Get(-1))
			}
			L.Pop(2)
		}
	})

	b.Run("encoding_json_map", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
	})

	// engine is a whole invocation that decodes the body and reads a
	// field: what a function pays, with the engine's own overhead.
	b.Run("engine", func(b *testing.B) {
		e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.JSON()}})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		fn, err := e.Compile("bench.lua", []byte(`
local json = require("json")
local p, err = json.decode(r.RequestBody)
if err then error(err) end
if p.head_commit.author.name == "" then error("no author") end
`))
		if err != nil {
			b.Fatal(err)
		}
		in := &runtime.Input{Request: runtime.Request{Method: "POST", Body: payload}}
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if res := e.Run(context.Background(), fn, in); res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	})
}

// BenchmarkJSONEncode encodes the decoded GitHub push payload: json.encode
// from Lua tables, and encoding/json from a map[string]any.
func BenchmarkJSONEncode(b *testing.B) {
	payload := loadGitHubPush(b)

	b.Run("lua", func(b *testing.B) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		mod := builtins.JSON().Open(L)
		L.Push(mod.RawGetString("decode"))
		L.Push(lua.LString(payload))
		L.Call(1, 1)
		v := L.Get(-1)
		L.Pop(1)
		encode := mod.RawGetString("encode")
		b.ReportAllocs()
		for b.Loop() {
			L.Push(encode)
			L.Push(v)
			L.Call(1, 2)
			if L.Get(-1) != lua.LNil {
				b.Fatal(L.Get(-1))
			}
			L.Pop(2)
		}
	})

	b.Run("encoding_json_map", func(b *testing.B) {
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
