package builtins

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

type noDoer struct{}

func (noDoer) Do(context.Context, string, *http.Request) (*http.Response, error) {
	return nil, net.ErrClosed
}

// everyModule is every module constructor of this package.
func everyModule() []runtime.Module {
	return []runtime.Module{
		JSON(), Crypto(), Base64(), Time(), URLEncoded(), Multipart(), JWT(),
		HTTP(noDoer{}, HTTPOptions{}),
		BigQuery(BigQueryOptions{}),
		Mailgun(MailgunOptions{}),
		Email(EmailOptions{Host: "localhost"}),
	}
}

func TestLuaDefinitionsCoverEveryFunction(t *testing.T) {
	mods := everyModule()
	defs, err := LuaDefinitions(mods)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	if _, err := L.LoadString(defs); err != nil {
		t.Fatalf("the definitions are not valid Lua: %v", err)
	}
	for _, m := range mods {
		if !strings.Contains(defs, "---@class relayfn."+m.Name+"\n"+m.Name+" = {}\n") &&
			!strings.Contains(defs, "---@class relayfn."+m.Name+"\n---@field") {
			t.Errorf("no class for module %s", m.Name)
		}
		m.Open(L).ForEach(func(k, v lua.LValue) {
			if _, ok := v.(*lua.LFunction); !ok {
				return
			}
			fn := "function " + m.Name + "." + k.String() + "("
			i := strings.Index(defs, fn)
			if i < 0 {
				t.Errorf("%s.%s is not declared", m.Name, k)
				return
			}
			// Its annotation block precedes it and has a return type.
			block := defs[strings.LastIndex(defs[:i], "\n\n"):i]
			if !strings.Contains(block, "---@return") && k.String() != "unix" {
				t.Errorf("%s.%s has no return type:\n%s", m.Name, k, block)
			}
		})
	}
	for _, want := range []string{
		"---@type relayfn.Request\nr = nil",
		"---@type relayfn.Config\ncfg = nil",
		"function Config:GetValue(key) end",
		"---@field RequestFormData table<string, string[]>",
		"function Request:StopForwarding() end",
		"---@field RFC3339 string",
		"---@param s string\n---@return any value\n---@return string? err\nfunction json.decode(s) end",
		"---@param opts? relayfn.http.Options",
	} {
		if !strings.Contains(defs, want) {
			t.Errorf("definitions lack %q", want)
		}
	}
}

func TestLuaDefinitionsRefuseAFunctionWithoutAnnotation(t *testing.T) {
	extra := runtime.Module{Name: "json", Open: func(L *lua.LState) *lua.LTable {
		t := JSON().Open(L)
		t.RawSetString("pretty", L.NewFunction(func(*lua.LState) int { return 0 }))
		return t
	}}
	_, err := LuaDefinitions([]runtime.Module{extra})
	if err == nil || !strings.Contains(err.Error(), "json.pretty") {
		t.Fatalf("err = %v, want one naming json.pretty", err)
	}
	unknown := runtime.Module{Name: "s3", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{"put": func(*lua.LState) int { return 0 }})
	}}
	if _, err := LuaDefinitions([]runtime.Module{unknown}); err == nil || !strings.Contains(err.Error(), "s3.put") {
		t.Fatalf("err = %v, want one naming s3.put", err)
	}
}

func TestLuaModuleStub(t *testing.T) {
	got := LuaModuleStub("json")
	if !strings.HasPrefix(got, "---@meta json\n") || !strings.HasSuffix(got, "return json\n") {
		t.Errorf("stub = %q", got)
	}
}

// TestLuaDefinitionsMatchTheRuntime checks the hand-written part of the
// definitions (r, cfg, log, os) against a real invocation: every field and
// method they declare exists.
func TestLuaDefinitionsMatchTheRuntime(t *testing.T) {
	var checks []string
	for _, line := range strings.Split(requestAPI, "\n") {
		switch {
		case strings.HasPrefix(line, "---@class "):
			checks = append(checks, "class "+strings.Fields(line)[1])
		case strings.HasPrefix(line, "---@field "):
			checks = append(checks, "field "+strings.Fields(line)[1])
		case strings.HasPrefix(line, "function "):
			name := strings.TrimPrefix(line, "function ")
			checks = append(checks, "func "+name[:strings.Index(name, "(")])
		}
	}
	var lua strings.Builder
	lua.WriteString("local objects = {['relayfn.Request'] = r, ['relayfn.Config'] = cfg, ['relayfn.log'] = log, ['relayfn.os'] = os, ['relayfn.Metadata'] = r.Metadata}\n")
	lua.WriteString("local current\nlocal function has(o, k) if o == nil then return true end return o[k] ~= nil end\n")
	for _, c := range checks {
		kind, name, _ := strings.Cut(c, " ")
		switch kind {
		case "class":
			fmt.Fprintf(&lua, "current = objects[%q]\n", name)
		case "field":
			fmt.Fprintf(&lua, "assert(has(current, %q), %q)\n", strings.TrimSuffix(name, "?"), "missing field "+name)
		case "func":
			obj, method, _ := strings.Cut(strings.ReplaceAll(name, ":", "."), ".")
			target := map[string]string{"Request": "r", "Config": "cfg", "log": "log", "os": "os"}[obj]
			fmt.Fprintf(&lua, "assert(%s[%q] ~= nil, %q)\n", target, method, "missing "+name)
		}
	}
	e, err := runtime.New(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fn, err := e.Compile("check.lua", []byte(lua.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, lua.String())
	}
	res := e.Run(context.Background(), fn, &runtime.Input{})
	if res.Err != nil {
		t.Fatalf("%v", res.Err)
	}
}
