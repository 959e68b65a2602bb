package runtime

import (
	"strconv"
	"strings"

	"github.com/relayfn/relayfn/runtime/internal/luapattern"
	lua "github.com/yuin/gopher-lua"
)

// gsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1's semantics. It
// finds the matches one at a time and builds the result in one pass,
// refusing results over the string cap.
func (pl *patternLib) gsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	var tmpl []replPart
	switch r := repl.(type) {
	case lua.LString:
		tmpl = parseRepl(string(r))
	case lua.LNumber:
		tmpl = parseRepl(r.String())
	case *lua.LTable, *lua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected, got "+repl.Type().String())
	}
	if lit, ok := repl.(lua.LString); ok && L.GetTop() < 4 && isPlainPattern(pat) && strings.IndexByte(string(lit), '%') < 0 {
		return pl.gsubLiteral(L, src, pat, string(lit))
	}
	limit := L.OptInt(4, len(src)+1)
	p := pl.compile(L, pat)

	var b strings.Builder
	grow := func(s string) {
		if b.Len()+len(s) > pl.max {
			L.RaiseError("string.gsub: result exceeds the limit of %d bytes", pl.max)
		}
		b.WriteString(s)
	}
	it := p.Iter(src, 0, newBudget(L))
	last, n := 0, 0
	for n < limit && it.Next() {
		caps := it.Captures()
		if n == 0 && tmpl != nil {
			// The result of a string replacement is usually about as
			// long as the subject.
			b.Grow(min(len(src), pl.max))
		}
		n++
		grow(src[last:caps[0]])
		whole := src[caps[0]:caps[1]]
		last = caps[1]
		var out lua.LValue
		switch r := repl.(type) {
		case *lua.LTable:
			k := 0
			if p.NumCaptures() > 0 {
				k = 1
			}
			out = L.GetTable(r, captureValue(p, src, caps, k))
		case *lua.LFunction:
			L.Push(r)
			L.Call(pushCaptures(L, p, src, caps, true), 1)
			out = L.Get(-1)
			L.Pop(1)
		default:
			for _, part := range tmpl {
				if part.ref < 0 {
					grow(part.lit)
					continue
				}
				switch v := replCapture(L, p, src, caps, part.ref).(type) {
				case lua.LString:
					grow(string(v))
				case lua.LNumber:
					grow(strconv.Itoa(int(v)))
				}
			}
			continue
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
	}
	if err := it.Err(); err != nil {
		raiseMatchError(L, err)
	}
	if n == 0 {
		L.Push(lua.LString(src))
	} else {
		grow(src[last:])
		L.Push(lua.LString(b.String()))
	}
	L.Push(lua.LNumber(n))
	return 2
}

// replPart is a piece of a replacement string: literal text, or %ref.
type replPart struct {
	lit string
	ref int // -1 for literal text; 0 for the whole match; 1-9 for a capture
}

// parseRepl splits a replacement string at its %0-%9. A '%' before any other
// character stands for that character, as in Lua 5.1; a '%' at the end
// stands for itself.
func parseRepl(r string) []replPart {
	if strings.IndexByte(r, '%') < 0 {
		return []replPart{{lit: r, ref: -1}}
	}
	var parts []replPart
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, replPart{lit: string(lit), ref: -1})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c != '%' || i+1 == len(r) {
			lit = append(lit, c)
			continue
		}
		i++
		if d := r[i]; '0' <= d && d <= '9' {
			flush()
			parts = append(parts, replPart{ref: int(d - '0')})
		} else {
			lit = append(lit, d)
		}
	}
	flush()
	return parts
}

// replCapture is %k of a replacement string: the whole match for %0, and for
// %1 when the pattern has no captures.
func replCapture(L *lua.LState, p *luapattern.Pattern, src string, caps []int, k int) lua.LValue {
	if k > p.NumCaptures() {
		if k != 1 {
			L.RaiseError("invalid capture index")
		}
		k = 0
	}
	return captureValue(p, src, caps, k)
}

// isPlainPattern reports whether pat matches only itself: no magic
// characters, so gsub is a plain replace.
func isPlainPattern(pat string) bool {
	return pat != "" && !strings.ContainsAny(pat, "^$*+?.([%-")
}

// gsubLiteral is gsub for a plain pattern and a replacement without
// captures: the common escaping case (s:gsub("&", "&amp;")), done without
// the matcher, and without building anything when nothing matches.
func (pl *patternLib) gsubLiteral(L *lua.LState, src, pat, repl string) int {
	n := strings.Count(src, pat)
	if n == 0 {
		if s, ok := L.Get(1).(lua.LString); ok {
			L.Push(s)
		} else {
			L.Push(lua.LString(src))
		}
		L.Push(lua.LNumber(0))
		return 2
	}
	if size := len(src) + n*(len(repl)-len(pat)); size > pl.max {
		L.RaiseError("string.gsub: result exceeds the limit of %d bytes", pl.max)
	}
	L.Push(lua.LString(strings.ReplaceAll(src, pat, repl)))
	L.Push(lua.LNumber(n))
	return 2
}
