package builtins

import (
	"errors"
	"fmt"
	"math"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// newModule returns a table holding funcs.
func newModule(L *lua.LState, funcs map[string]lua.LGFunction) *lua.LTable {
	t := L.CreateTable(0, len(funcs))
	for name, fn := range funcs {
		t.RawSetString(name, L.NewFunction(fn))
	}
	return t
}

// fail pushes nil and an error message: the `value, err` convention.
func fail(L *lua.LState, format string, args ...any) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(fmt.Sprintf(format, args...)))
	return 2
}

// failErr is fail for an error value.
func failErr(L *lua.LState, err error) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(err.Error()))
	return 2
}

// errOnly pushes err's message, or nil: for calls that return only err.
func errOnly(L *lua.LState, err error) int {
	if err != nil {
		L.Push(lua.LString(err.Error()))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// stringArg reads argument n as a string; nil (or no argument) reads as
// "". Any other type is an argument error, naming the argument what.
func stringArg(L *lua.LState, n int, what string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case *lua.LNilType:
		return ""
	default:
		L.ArgError(n, what+" must be a string, got "+v.Type().String())
		return ""
	}
}

// errCycle is returned when a table contains itself.
var errCycle = errors.New("table contains a cycle")

// ToGo converts a Lua value to plain Go: nil, bool, float64 (or int64 for
// integral numbers), string, []any for sequences (keys 1..n, or an empty
// table), map[string]any otherwise. Functions, userdata and cycles are
// errors.
func ToGo(v lua.LValue) (any, error) {
	return toGo(v, map[*lua.LTable]bool{})
}

func toGo(v lua.LValue, seen map[*lua.LTable]bool) (any, error) {
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	case lua.LString:
		return string(x), nil
	case *lua.LTable:
		if seen[x] {
			return nil, errCycle
		}
		seen[x] = true
		defer delete(seen, x)
		if n, ok := sequenceLen(x); ok {
			arr := make([]any, n)
			for i := 1; i <= n; i++ {
				e, err := toGo(x.RawGetInt(i), seen)
				if err != nil {
					return nil, err
				}
				arr[i-1] = e
			}
			return arr, nil
		}
		m := make(map[string]any)
		var err error
		x.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			var ks string
			switch kk := k.(type) {
			case lua.LString:
				ks = string(kk)
			case lua.LNumber:
				ks = kk.String()
			default:
				err = fmt.Errorf("table key of type %s cannot be converted", k.Type())
				return
			}
			var e any
			e, err = toGo(val, seen)
			m[ks] = e
		})
		if err != nil {
			return nil, err
		}
		return m, nil
	default:
		return nil, fmt.Errorf("a %s cannot be converted", v.Type())
	}
}

// sequenceLen reports whether t's keys are exactly 1..n (n may be 0 for an
// empty table) and returns n.
func sequenceLen(t *lua.LTable) (int, bool) {
	n := t.Len()
	count := 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		count++
		if num, isNum := k.(lua.LNumber); !isNum || float64(num) != math.Trunc(float64(num)) || int(num) < 1 || int(num) > n {
			ok = false
		}
	})
	return n, ok && count == n
}

// ToLua converts plain Go values (as produced by encoding/json, yaml, or
// ToGo) to Lua values.
func ToLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case []byte:
		return lua.LString(x)
	case int:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case []string:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, lua.LString(e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, ToLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, lua.LString(e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(x))
	}
}

// stringMap reads a Lua table of string keys to string values (numbers
// and booleans are turned into strings), as http headers or form fields.
func stringMap(t *lua.LTable) (map[string]string, error) {
	m := make(map[string]string)
	var err error
	t.ForEach(func(k, v lua.LValue) {
		ks, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("key %s is not a string", k.String())
			return
		}
		switch v.(type) {
		case lua.LString, lua.LNumber, lua.LBool:
			m[string(ks)] = v.String()
		default:
			err = fmt.Errorf("value of %q is a %s, not a string", string(ks), v.Type())
		}
	})
	return m, err
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
