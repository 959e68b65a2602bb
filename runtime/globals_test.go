package runtime_test

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// TestModulesAsGlobals runs snippets from Webhook Relay's documentation that
// use modules without require, and checks that nothing changes for
// functions that require them or use the names themselves.
func TestModulesAsGlobals(t *testing.T) {
	opened := 0
	counted := runtime.Module{Name: "counted", Open: func(L *lua.LState) *lua.LTable {
		opened++
		return L.NewTable()
	}}
	e := newEngine(t, runtime.Options{Modules: []runtime.Module{builtins.JSON(), builtins.Base64(), counted}, PoolSize: 1})
	for _, tc := range []struct {
		name, src, body string
		want            []string
	}{
		{"json.decode without require", `
local api_response, err = json.decode(r.RequestBody)
if err then error(err) end
print(api_response.firstname)`, `{"firstname":"luke","lastname":"skywalker"}`, []string{"luke"}},
		{"global and require are the same table", `print(json == require("json"), base64.encode("hi"))`, "", []string{"true\taGk="}},
		{"require first, then the global", `local j = require("json") print(j == json)`, "", []string{"true"}},
		{"a local json shadows the module", `local json = {decode = function() return "mine" end} print(json.decode("{}"))`, "", []string{"mine"}},
		{"a global json set by the function wins", `json = {decode = function() return "mine" end} print(json.decode("{}"))`, "", []string{"mine"}},
		{"unknown globals stay nil", `print(nope == nil, http == nil)`, "", []string{"true\ttrue"}},
		{"setmetatable on _G still works", `setmetatable(_G, {__index = function(_, k) return "strict:" .. k end}) print(undefined_thing)`, "", []string{"strict:undefined_thing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := webhook()
			in.Request.Body = []byte(tc.body)
			res := run(t, e, tc.src, in)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if strings.Join(res.Logs, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("logs = %q, want %q", res.Logs, tc.want)
			}
		})
	}
	if opened != 0 {
		t.Errorf("a module no function used was opened %d times", opened)
	}
	if res := run(t, e, `print(counted ~= nil)`, nil); res.Err != nil || res.Logs[0] != "true" || opened != 1 {
		t.Errorf("counted: %v %q opened %d", res.Err, res.Logs, opened)
	}
	// A global module does not leak into the next invocation's globals.
	res := run(t, e, `print(rawget(_G, "json") == nil) local _ = json print(rawget(_G, "json") ~= nil)`, nil)
	if res.Err != nil || strings.Join(res.Logs, " ") != "true true" {
		t.Errorf("rawget: %v %q", res.Err, res.Logs)
	}

	// Changing the globals' metatable reaches no later invocation.
	for _, tamper := range []string{
		`getmetatable(_G).__index = function() return "poisoned" end`,
		`rawset(getmetatable(_G), "__newindex", function() error("poisoned") end)`,
		`getmetatable(_G)[1] = true`,
		`setmetatable(getmetatable(_G), {})`,
		`getmetatable(_G).__index = nil`,
	} {
		if res := run(t, e, tamper, nil); res.Err != nil {
			t.Fatalf("%s: %v", tamper, res.Err)
		}
		res := run(t, e, `x = 1 print(undefined_thing, type(json.decode))`, nil)
		if res.Err != nil || len(res.Logs) != 1 || res.Logs[0] != "nil\tfunction" {
			t.Errorf("after %s: %v %q", tamper, res.Err, res.Logs)
		}
	}
}
