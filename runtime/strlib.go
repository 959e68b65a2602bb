package runtime

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// installStringLimits replaces the string functions whose output can grow
// without bound with versions that refuse results over max bytes.
func installStringLimits(L *lua.LState, str *lua.LTable, max int) {
	str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		s := L.CheckString(1)
		n := L.CheckInt(2)
		if n <= 0 || s == "" {
			L.Push(lua.LString(""))
			return 1
		}
		if n > max/len(s) {
			L.RaiseError("string.rep: result of %d bytes exceeds the limit of %d bytes", int64(len(s))*int64(n), max)
		}
		L.Push(lua.LString(strings.Repeat(s, n)))
		return 1
	}))
	str.RawSetString("format", L.NewFunction(func(L *lua.LState) int { return luaFormat(L, max) }))
	installPatternFunctions(L, str, max)
}

// installTableLimits caps table.concat's result.
func installTableLimits(L *lua.LState, tbl *lua.LTable, max int) {
	orig := tbl.RawGetString("concat").(*lua.LFunction).GFunction
	tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		sep := L.OptString(2, "")
		i := L.OptInt(3, 1)
		j := L.OptInt(4, t.Len())
		total := 0
		for k := i; k <= j; k++ {
			switch v := t.RawGetInt(k).(type) {
			case lua.LString:
				total += len(v)
			case lua.LNumber:
				total += 24
			default:
				return orig(L) // it raises the usual "invalid value" error
			}
			if k < j {
				total += len(sep)
			}
			if total > max {
				L.RaiseError("table.concat: result exceeds the limit of %d bytes", max)
			}
		}
		return orig(L)
	}))
}
