package runtime

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// installStringLimits replaces the string functions whose output can grow
// without bound with versions that refuse results over max bytes.
func installStringLimits(L *lua.LState, str *lua.LTable, max int) {
	origFormat := str.RawGetString("format").(*lua.LFunction).GFunction
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
	str.RawSetString("format", L.NewFunction(func(L *lua.LState) int {
		f := L.CheckString(1)
		if err := checkFormat(f); err != nil {
			L.RaiseError("string.format: %v", err)
		}
		// Width and precision are at most two digits, so the result is
		// bounded by the format and the arguments.
		n := origFormat(L)
		if s, ok := L.Get(-1).(lua.LString); ok && len(s) > max {
			L.RaiseError("string.format: result of %d bytes exceeds the limit of %d bytes", len(s), max)
		}
		return n
	}))
	installPatternFunctions(L, str, max)
}

// checkFormat enforces Lua 5.1's own rule: width and precision have at most
// two digits.
func checkFormat(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
			digits++
		}
		if i < len(f) && f[i] == '.' {
			i++
			p := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
				p++
			}
			digits = max(digits, p)
		}
		if digits > 2 {
			return fmt.Errorf("invalid format (width or precision too long)")
		}
	}
	return nil
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
