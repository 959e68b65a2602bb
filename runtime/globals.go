package runtime

import lua "github.com/yuin/gopher-lua"

// newGlobalsIndex is the __index of every invocation's globals. It resolves
// a global that is not set to the module of that name, opened on first
// use, as Webhook Relay's documentation writes them (json.decode(...)
// without require("json")). The module is then stored in the globals, so
// later reads are plain reads; it is the same table require returns. A
// function that requires its modules, or sets a global or a local of the
// same name, never reaches this.
func (s *state) newGlobalsIndex(L *lua.LState) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		env := L.CheckTable(1)
		name, ok := L.Get(2).(lua.LString)
		call := CallOf(L)
		if !ok || call == nil {
			L.Push(lua.LNil)
			return 1
		}
		t := s.module(L, call, string(name))
		if t == nil {
			L.Push(lua.LNil)
			return 1
		}
		env.RawSetString(string(name), t)
		L.Push(t)
		return 1
	})
}

// globalsMeta is the metatable of one invocation's globals: {__index =
// envIndex}. A function may replace it (setmetatable(_G, ...), as
// strict-mode scripts do, giving up modules without require) or change it
// (getmetatable(_G).__index = ...); a changed one is not given to the next
// invocation, which gets a new one. The unchanged one is reused, which
// saves its allocations in every invocation.
func (s *state) globalsMeta(L *lua.LState) *lua.LTable {
	mt := s.envMeta
	if mt != nil && mt.Metatable == lua.LNil && mt.RawGetString("__index") == s.envIndex {
		first, _ := mt.Next(lua.LNil)
		if next, _ := mt.Next(lua.LString("__index")); first == lua.LString("__index") && next == lua.LNil {
			return mt
		}
	}
	mt = L.CreateTable(0, 1)
	mt.RawSetString("__index", s.envIndex)
	s.envMeta = mt
	return mt
}
