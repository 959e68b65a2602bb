package runtime_test

import (
	"strings"
	"testing"

	"github.com/relayfn/relayfn/runtime"
)

// TestFormat checks string.format against what Lua 5.1 prints.
func TestFormat(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`string.format("%s-%s", "a", 1)`, "a-1"},
		{`string.format("%5s|%-5s|", "ab", "cd")`, "   ab|cd   |"},
		{`string.format("%.2s", "abcdef")`, "ab"},
		{`string.format("%d %i", 42, -7)`, "42 -7"},
		{`string.format("%d", 3.99)`, "3"},
		{`string.format("%d", "12")`, "12"},
		{`string.format("%05d|%+d|% d", 42, 5, 5)`, "00042|+5| 5"},
		{`string.format("%x %X %o", 255, 255, 8)`, "ff FF 10"},
		{`string.format("%#x", 255)`, "0xff"},
		{`string.format("%c%c", 72, 105)`, "Hi"},
		{`string.format("%f", 3.14159265)`, "3.141593"},
		{`string.format("%.2f", 2.345)`, "2.35"},
		{`string.format("%g", 3.14159265)`, "3.14159"},
		{`string.format("%g", 1e20)`, "1e+20"},
		{`string.format("%g", 100000)`, "100000"},
		{`string.format("%e", 12345.678)`, "1.234568e+04"},
		{`string.format("%10.3f|", 1.5)`, "     1.500|"},
		{`string.format("%q", 'he said "hi"\n\\')`, "\"he said \\\"hi\\\"\\\n\\\\\""},
		{`string.format("%q", "a\0b\r")`, `"a\000b\r"`},
		{`string.format("100%%")`, "100%"},
		{`string.format("%s", setmetatable({}, {__tostring = function() return "obj" end}))`, "obj"},
		{`string.format("%s %s", true, nil)`, "true nil"},
	}
	e := newEngine(t, runtime.Options{})
	for _, tt := range tests {
		res := run(t, e, "print("+tt.expr+")", nil)
		if res.Err != nil {
			t.Errorf("%s: %v", tt.expr, res.Err)
			continue
		}
		if res.Logs[0] != tt.want {
			t.Errorf("%s = %q, want %q", tt.expr, res.Logs[0], tt.want)
		}
	}
	errs := []struct{ expr, want string }{
		{`string.format("%d", "x")`, "number expected"},
		{`string.format("%d")`, "no value"},
		{`string.format("%y", 1)`, "invalid option '%y'"},
		{`string.format("%123d", 1)`, "width or precision too long"},
		{`string.format("%", 1)`, "invalid option"},
	}
	for _, tt := range errs {
		res := run(t, e, tt.expr, nil)
		if res.Err == nil || !strings.Contains(res.Error, tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.expr, res.Error, tt.want)
		}
	}
}
