package runtime

import (
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// gsub is string.gsub built in one pass (gopher-lua's copies the whole
// string per match) and refusing results over max bytes.
func gsub(L *lua.LState, max int) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	matches, err := pm.Find(pat, []byte(src), 0, limit)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	var b strings.Builder
	last := 0
	grow := func(s string) {
		if b.Len()+len(s) > max {
			L.RaiseError("string.gsub: result exceeds the limit of %d bytes", max)
		}
		b.WriteString(s)
	}
	for _, m := range matches {
		start, end := m.Capture(0), m.Capture(1)
		grow(src[last:start])
		whole := src[start:end]
		var out lua.LValue
		switch r := repl.(type) {
		case lua.LString:
			out = lua.LString(expandRepl(L, string(r), m, src))
		case *lua.LTable:
			out = L.GetTable(r, firstCapture(m, src))
		case *lua.LFunction:
			L.Push(r)
			n := pushCaptures(L, m, src)
			L.Call(n, 1)
			out = L.Get(-1)
			L.Pop(1)
		}
		switch v := out.(type) {
		case lua.LString:
			grow(string(v))
		case lua.LNumber:
			grow(v.String())
		case *lua.LNilType:
			grow(whole)
		case lua.LBool:
			if v {
				L.RaiseError("invalid replacement value (a boolean)")
			}
			grow(whole)
		default:
			L.RaiseError("invalid replacement value (a %s)", out.Type().String())
		}
		last = end
	}
	grow(src[last:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(len(matches)))
	return 2
}

func captureValue(m *pm.MatchData, src string, idx int) lua.LValue {
	if m.IsPosCapture(idx) {
		return lua.LNumber(m.Capture(idx))
	}
	return lua.LString(src[m.Capture(idx):m.Capture(idx+1)])
}

func firstCapture(m *pm.MatchData, src string) lua.LValue {
	if m.CaptureLength() > 2 {
		return captureValue(m, src, 2)
	}
	return captureValue(m, src, 0)
}

func pushCaptures(L *lua.LState, m *pm.MatchData, src string) int {
	if m.CaptureLength() <= 2 {
		L.Push(captureValue(m, src, 0))
		return 1
	}
	n := 0
	for i := 2; i < m.CaptureLength(); i += 2 {
		L.Push(captureValue(m, src, i))
		n++
	}
	return n
}

// expandRepl expands %0-%9 and %% in a replacement string.
func expandRepl(L *lua.LState, repl string, m *pm.MatchData, src string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		d := repl[i]
		switch {
		case d == '0':
			b.WriteString(src[m.Capture(0):m.Capture(1)])
		case d >= '1' && d <= '9':
			idx := 2 * int(d-'0')
			if idx >= m.CaptureLength() {
				if idx == 2 { // %1 with no captures is the whole match
					b.WriteString(src[m.Capture(0):m.Capture(1)])
					continue
				}
				L.RaiseError("invalid capture index %%%c", d)
			}
			v := captureValue(m, src, idx)
			if n, ok := v.(lua.LNumber); ok {
				b.WriteString(strconv.Itoa(int(n)))
			} else {
				b.WriteString(string(v.(lua.LString)))
			}
		default:
			b.WriteByte(d)
		}
	}
	return b.String()
}
