package builtins

import (
	"fmt"
	"net/url"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// URLEncoded is the "urlencoded" module, for application/x-www-form-urlencoded
// bodies such as Twilio's and Slack's:
//
//	urlencoded.decode(s) → table, err
//	urlencoded.encode(t) → string, err
//
// decode maps each key to its value; a key that appears more than once maps
// to an array of its values in order. "+" is a space. A malformed escape or
// a ";" separator is an error.
//
// encode takes a table of string keys to strings, numbers, booleans, or
// arrays of those (the key is repeated for each element). Keys come out
// sorted, so the same table always encodes the same way.
func URLEncoded() runtime.Module {
	return runtime.Module{Name: "urlencoded", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"decode": urlencodedDecode,
			"encode": urlencodedEncode,
		})
	}}
}

func urlencodedDecode(L *lua.LState) int {
	const fn = "urlencoded.decode"
	s, err := codecArg(L, fn, 1, "data")
	if err != nil {
		return failErr(L, err)
	}
	values, err := url.ParseQuery(s)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	L.Push(urlencodedTable(L, values))
	return 1
}

// urlencodedTable converts values: one value is a string, several are an
// array of strings.
func urlencodedTable(L *lua.LState, values map[string][]string) *lua.LTable {
	t := L.CreateTable(0, len(values))
	for _, k := range sortedKeys(values) {
		vs := values[k]
		if len(vs) == 1 {
			t.RawSetString(k, lua.LString(vs[0]))
		} else {
			t.RawSetString(k, ToLua(L, vs))
		}
	}
	return t
}

func urlencodedEncode(L *lua.LState) int {
	const fn = "urlencoded.encode"
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return fail(L, "%s: argument #1 must be a table, got %s", fn, L.Get(1).Type())
	}
	values, err := urlencodedValues(t)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	L.Push(lua.LString(values.Encode()))
	return 1
}

// urlencodedValues reads a table of keys to scalars or arrays of scalars.
func urlencodedValues(t *lua.LTable) (url.Values, error) {
	values := url.Values{}
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch kk := k.(type) {
		case lua.LString:
			key = string(kk)
		case lua.LNumber:
			key = kk.String()
		default:
			err = fmt.Errorf("key %s is a %s, not a string", k.String(), k.Type())
			return
		}
		values[key], err = urlencodedList(key, v)
	})
	return values, err
}

// urlencodedList is the list of values v stands for under key.
func urlencodedList(key string, v lua.LValue) ([]string, error) {
	switch x := v.(type) {
	case lua.LString, lua.LNumber, lua.LBool:
		return []string{x.String()}, nil
	case *lua.LTable:
		n, ok := sequenceLen(x)
		if !ok {
			return nil, fmt.Errorf("value of %q is a table that is not an array", key)
		}
		list := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			switch e := x.RawGetInt(i).(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				list = append(list, e.String())
			default:
				return nil, fmt.Errorf("value %d of %q is a %s, not a string", i, key, e.Type())
			}
		}
		return list, nil
	default:
		return nil, fmt.Errorf("value of %q is a %s, not a string", key, v.Type())
	}
}
