package runtime

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// luaFormat is string.format with Lua 5.1's semantics: C conversions
// (c d i o u x X e E f g G q s %), flags "-+ #0", width and precision of
// at most two digits each. gopher-lua hands the format to Go's fmt, whose
// verbs differ (%g's default precision, %q's quoting) and which formats
// every Lua value through an interface method; this writes each directive
// itself. The result is refused past max bytes.
func luaFormat(L *lua.LState, max int) int {
	f := L.CheckString(1)
	arg := 1
	var b []byte
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(f) {
			L.RaiseError("invalid option '%%' to 'format'")
		}
		if f[i] == '%' {
			b = append(b, '%')
			continue
		}
		// Spec: flags, width, precision, conversion.
		start := i
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		flags := f[start:i]
		if len(flags) > 5 {
			L.RaiseError("invalid format (repeated flags)")
		}
		w := i
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
		}
		width := f[w:i]
		prec, hasPrec := "", false
		if i < len(f) && f[i] == '.' {
			i++
			p := i
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
			prec, hasPrec = f[p:i], true
		}
		if len(width) > 2 || len(prec) > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		if i >= len(f) {
			L.RaiseError("invalid option '%%%s' to 'format'", f[start:])
		}
		verb := f[i]
		arg++
		if arg > L.GetTop() && verb != '%' {
			L.ArgError(arg, "no value")
		}
		spec := "%" + flags + width
		if hasPrec {
			spec += "." + prec
		}
		switch verb {
		case 'd', 'i':
			n := formatInt(L, arg)
			if spec == "%" {
				b = strconv.AppendInt(b, n, 10)
			} else {
				b = fmt.Appendf(b, spec+"d", n)
			}
		case 'o', 'u', 'x', 'X':
			n := uint64(formatInt(L, arg))
			v := verb
			if v == 'u' {
				v = 'd'
			}
			b = fmt.Appendf(b, spec+string(v), n)
		case 'c':
			b = append(b, byte(formatInt(L, arg)))
		case 'e', 'E', 'f', 'g', 'G':
			x := float64(L.CheckNumber(arg))
			if !hasPrec {
				spec += ".6"
			}
			if math.IsInf(x, 0) || math.IsNaN(x) {
				b = fmt.Appendf(b, "%"+flags+width+"v", formatSpecial(x))
				continue
			}
			b = fmt.Appendf(b, spec+string(verb), x)
		case 'q':
			b = appendQuoted(b, L.CheckString(arg))
		case 's':
			s := L.ToStringMeta(L.Get(arg)).String()
			if spec == "%" {
				b = append(b, s...)
			} else {
				b = fmt.Appendf(b, spec+"s", s)
			}
		default:
			L.RaiseError("invalid option '%%%c' to 'format'", verb)
		}
		if len(b) > max {
			L.RaiseError("string.format: result exceeds the limit of %d bytes", max)
		}
	}
	if len(b) > max {
		L.RaiseError("string.format: result exceeds the limit of %d bytes", max)
	}
	L.Push(lua.LString(b))
	return 1
}

// formatInt is the integer argument of %d and friends: a number (or a
// numeric string) truncated toward zero, as C's cast in Lua 5.1 does.
func formatInt(L *lua.LState, n int) int64 {
	x := float64(L.CheckNumber(n))
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return math.MinInt64
	}
	return int64(x)
}

func formatSpecial(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case x > 0:
		return "inf"
	}
	return "-inf"
}

// appendQuoted is %q: a Lua string literal that reads back as s.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', '\n')
		case '\r':
			b = append(b, '\\', 'r')
		case 0:
			b = append(b, '\\', '0', '0', '0')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
