package runtime

import (
	"errors"

	lua "github.com/yuin/gopher-lua"
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
// invocation can get its own copy cheaply.
type frozen struct {
	keys []string
	vals []lua.LValue
}

func freeze(t *lua.LTable) *frozen {
	f := &frozen{}
	t.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			f.keys = append(f.keys, string(s))
			f.vals = append(f.vals, v)
		}
	})
	return f
}

// table returns a new table holding the frozen fields.
func (f *frozen) table(L *lua.LState) *lua.LTable {
	t := L.CreateTable(0, len(f.keys))
	for i, k := range f.keys {
		t.RawSetString(k, f.vals[i])
	}
	return t
}
