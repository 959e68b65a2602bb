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

// frozen is a library or module table captured once per state, so each
// invocation can get its own copy cheaply. The template itself is never
// given to Lua code.
type frozen struct {
	template *lua.LTable
}

func freeze(L *lua.LState, t *lua.LTable) *frozen {
	return &frozen{template: luatable.Compact(L, t)}
}

// table returns a new table holding the frozen fields.
func (f *frozen) table(L *lua.LState) *lua.LTable {
	return luatable.Clone(L, f.template)
}
