package luapattern

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/yuin/gopher-lua/pm"
)

// pmFind runs gopher-lua's matcher, turning its panics into errors.
func pmFind(pattern, src string) (ms []*pm.MatchData, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return pm.Find(pattern, []byte(src), 0, -1)
}

// pmDiffers matches patterns on which gopher-lua's pm departs from Lua 5.1,
// so that the two matchers cannot be compared (the matcher follows Lua):
//   - %f (frontier) is not supported by pm;
//   - a back-reference to a position capture matches the empty string in pm
//     and never matches in Lua;
//   - pm reads some sets with '-' differently: Lua takes any byte followed
//     by a '-' that is not the last in the set as the start of a range
//     ("[%a-z]" is %a, '-' and 'z'; "[a--]" is the empty range 'a'-'-'),
//     and a '-' right after a range as itself ("[a-c-e]").
var pmDiffers = regexp.MustCompile(`%f|\(\).*%[1-9]|\[\^?\]?[^]]*(-%|--|%.-|.-.-)`)

func FuzzPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"(%w+)=(%w+)", "a=b, cc=dd"},
		{"^refs/heads/(.+)$", "refs/heads/main"},
		{"%s*(.-)%s*$", "  trim me  "},
		{"()a()", "banana"},
		{"(a*(.)%w(%s*))", "aaab c"},
		{"[^%]]+", "ab]cd"},
		{"[%a_][%w_]*", "9 _x1 y"},
		{"%b()", "f(a(b)c)(d"},
		{"(.)%1", "abccd"},
		{"a-b", "aaab"},
		{".-$", "xyz"},
		{"[a-c]+", "xabcabx"},
		{"^(%d+)%.(%d+)", "12.34"},
		{"", "abc"},
		{"%w*", "ab c"},
		{"x?y?z?$", "xyz"},
		{"[]]", "]]"},
		{"%%%d", "5%3"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, src string) {
		if len(pattern) > 40 || len(src) > 100 {
			return
		}
		p, err := Compile(pattern)
		if err == nil {
			// Whatever pm does, the matcher must not panic.
			for it := p.Iter(src, 0, nil); it.Next(); {
			}
		}
		want, pmErr := pmFind(pattern, src)
		if err != nil || pmErr != nil || pmDiffers.MatchString(pattern) {
			return
		}
		var got [][]int
		for it := p.Iter(src, 0, nil); it.Next(); {
			got = append(got, append([]int(nil), it.Captures()...))
		}
		if len(got) != len(want) {
			t.Fatalf("%q in %q: %d matches, pm %d", pattern, src, len(got), len(want))
		}
		for i, md := range want {
			caps := got[i]
			if md.CaptureLength() != len(caps) {
				t.Fatalf("%q in %q, match %d: %v, pm has %d offsets", pattern, src, i, caps, md.CaptureLength())
			}
			for k := 0; 2*k < len(caps); k++ {
				start, end := md.Capture(2*k), md.Capture(2*k+1)
				if p.IsPosition(k) {
					if !md.IsPosCapture(2 * k) {
						t.Fatalf("%q: capture %d is a position capture, not in pm", pattern, k)
					}
					start-- // pm reports Lua's 1-based position
					end--
				}
				if caps[2*k] != start || caps[2*k+1] != end {
					t.Fatalf("%q in %q, match %d: capture %d is %v, pm [%d %d]", pattern, src, i, k, caps[2*k:2*k+2], start, end)
				}
			}
		}
		// Match from every offset agrees with the iteration's first match.
		for init := 0; init <= len(src); init++ {
			caps, ok, err := p.Match(src, init, nil)
			if err != nil {
				t.Fatal(err)
			}
			first, pmErr := pm.Find(pattern, []byte(src), init, 1)
			if pmErr != nil || len(first) > 0 != ok {
				t.Fatalf("%q in %q from %d: %v, pm %d matches (%v)", pattern, src, init, ok, len(first), pmErr)
			}
			if ok && (caps[0] != first[0].Capture(0) || caps[1] != first[0].Capture(1)) {
				t.Fatalf("%q in %q from %d: %v, pm [%d %d]", pattern, src, init, caps[:2], first[0].Capture(0), first[0].Capture(1))
			}
		}
	})
}
