package runtime

import (
	"errors"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/internal/luatable"
)

// Module is a Lua module a function loads with require(Name).
//
// Open builds the module's table. For the engine's modules it runs once per
// Lua state, so the functions it registers must keep no per-invocation data
// in upvalues: they reach the invocation with [CallOf]. Each invocation gets
// a shallow copy of the table, so a function that replaces a field changes
// nothing for the next one.
type Module struct {
	Name string
	Open func(L *lua.LState) *lua.LTable
}

func (m Module) validate() error {
	if m.Name == "" {
		return errors.New("module has no name")
	}
	if m.Open == nil {
		return errors.New("module " + m.Name + " has no Open function")
	}
	return nil
}

// frozen is a library or module table captured once per state. Each
// invocation gets a proxy: an empty table that reads through to the frozen
// fields and keeps its own writes, so a function that replaces
// string.upper changes nothing for the next one. The template itself is
// never given to Lua code, and the proxy's metatable is locked.
type frozen struct {
	template *lua.LTable
	meta     *lua.LTable
}

func freeze(L *lua.LState, t *lua.LTable) *frozen {
	tpl := luatable.Compact(L, t)
	meta := L.CreateTable(0, 2)
	meta.RawSetString("__index", tpl)
	meta.RawSetString("__metatable", lua.LString("locked"))
	return &frozen{template: tpl, meta: meta}
}

// proxy returns a new table reading through to the frozen fields.
func (f *frozen) proxy(L *lua.LState) *lua.LTable {
	t := L.CreateTable(0, 0)
	t.Metatable = f.meta
	return t
}

// clone returns a new table holding a copy of the frozen fields.
func (f *frozen) clone(L *lua.LState) *lua.LTable {
	return luatable.Clone(L, f.template)
}
