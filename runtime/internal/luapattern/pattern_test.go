package luapattern

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern, msg string
	}{
		{"%", "malformed pattern (ends with '%')"},
		{"a%", "malformed pattern (ends with '%')"},
		{"[a", "malformed pattern (missing ']')"},
		{"[]", "malformed pattern (missing ']')"},
		{"[^]", "malformed pattern (missing ']')"},
		{"[%]", "malformed pattern (missing ']')"},
		{"(a", "unfinished capture"},
		{"((a)", "unfinished capture"},
		{"a)", "invalid pattern capture"},
		{"%1", "invalid capture index"},
		{"(a%1)", "invalid capture index"},
		{"(a)%2", "invalid capture index"},
		{"(a)%0", "invalid capture index"},
		{"%b", "unbalanced pattern"},
		{"%b(", "unbalanced pattern"},
		{"%f", "missing '[' after '%f' in pattern"},
		{"%fa", "missing '[' after '%f' in pattern"},
		{"%f[a", "malformed pattern (missing ']')"},
		{strings.Repeat("()", 33), "too many captures"},
	} {
		_, err := Compile(tc.pattern)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Msg != tc.msg || se.Pattern != tc.pattern {
			t.Errorf("Compile(%q) = %v, want %q", tc.pattern, err, tc.msg)
		}
	}
	for _, ok := range []string{"", "^", "$", "^$", "[]]", "[^]]", "[]-a]", "[%]]", "%b()", "%f[%w]",
		"(a)%1", "()%1", strings.Repeat("()", 32), "%g", "[a-]", "*", "^*", "(a$)", "%z", "\x00"} {
		if _, err := Compile(ok); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, src string
		init         int
		want         []int // nil: no match
	}{
		{"", "", 0, []int{0, 0}},
		{"", "abc", 3, []int{3, 3}},
		{"b", "abc", 0, []int{1, 2}},
		{"^b", "abc", 0, nil},
		{"^b", "abc", 1, []int{1, 2}},
		{"a*", "aaab", 0, []int{0, 3}},
		{"a-b", "aaab", 0, []int{0, 4}},
		{"a-", "aaab", 0, []int{0, 0}},
		{"a+$", "baa", 0, []int{1, 3}},
		{"a?b", "xb", 0, []int{1, 2}},
		{"(a)(b)", "xab", 0, []int{1, 3, 1, 2, 2, 3}},
		{"()a()", "xab", 0, []int{1, 2, 1, 1, 2, 2}},
		{"((a)b)", "ab", 0, []int{0, 2, 0, 2, 0, 1}},
		{"(a+)%1", "aaaa", 0, []int{0, 4, 0, 2}},
		{"()%1", "aa", 0, nil},
		{"%b()", "x(a(b)c)d", 0, []int{1, 8}},
		{"%b''", "'a'b'", 0, []int{0, 3}},
		{"%b()", "x(a(b", 0, nil},
		{"%f[%w]%w+", " ab cd", 0, []int{1, 3}},
		{"%f[%W]", "ab", 0, []int{2, 2}},
		{"%f[%z]", "ab", 0, []int{2, 2}},
		{"[]]", "a]", 0, []int{1, 2}},
		{"[^]]+", "]ab]", 0, []int{1, 3}},
		{"[a-]+", "x-a-", 0, []int{1, 4}},
		{"[%a-z]+", "9x-z", 0, []int{1, 4}},
		{"[a-%%]", "%", 0, nil},
		{"[%]]", "]", 0, []int{0, 1}},
		{"x^", "ax^", 0, []int{1, 3}},
		{"a$b", "a$b", 0, []int{0, 3}},
		{"(a$)", "a$", 0, []int{0, 2, 0, 2}},
		{"%g", "gG", 0, []int{0, 1}},
		{"%G", "gG", 0, []int{1, 2}},
		{"%A+", "ab12", 0, []int{2, 4}},
		{"%z", "a\x00b", 0, []int{1, 2}},
		{"\x00b", "a\x00b", 0, []int{1, 3}},
		{".", "", 0, nil},
		{"b", "abc", 5, nil},
		{"%d+", "ab123c45", 0, []int{2, 5}},
		{"refs/heads/(.+)", "refs/heads/main", 0, []int{0, 15, 11, 15}},
		{"%s*(%S+)%s*$", "  x y  ", 0, []int{3, 7, 4, 5}},
	} {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		caps, ok, err := p.Match(tc.src, tc.init, nil)
		if err != nil {
			t.Errorf("%q in %q: %v", tc.pattern, tc.src, err)
			continue
		}
		if !ok {
			caps = nil
		}
		if !reflect.DeepEqual(caps, tc.want) {
			t.Errorf("%q in %q from %d = %v, want %v", tc.pattern, tc.src, tc.init, caps, tc.want)
		}
	}
}

func TestClasses(t *testing.T) {
	for cl, members := range map[byte]func(c byte) bool{
		'a': func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' },
		'c': func(c byte) bool { return c < 32 || c == 127 },
		'd': func(c byte) bool { return '0' <= c && c <= '9' },
		'l': func(c byte) bool { return 'a' <= c && c <= 'z' },
		'p': func(c byte) bool {
			return c > 32 && c < 127 && strings.IndexByte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", c) < 0
		},
		's': func(c byte) bool { return strings.IndexByte(" \t\n\v\f\r", c) >= 0 },
		'u': func(c byte) bool { return 'A' <= c && c <= 'Z' },
		'w': func(c byte) bool {
			return strings.IndexByte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", c) >= 0
		},
		'x': func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 },
		'z': func(c byte) bool { return c == 0 },
	} {
		lower, _ := Compile("%" + string(cl))
		upper, _ := Compile("%" + string(cl-32))
		set, _ := Compile("[%" + string(cl) + "]")
		for c := 0; c < 256; c++ {
			s := string([]byte{byte(c)})
			want := members(byte(c))
			if _, ok, _ := lower.Match(s, 0, nil); ok != want {
				t.Errorf("%%%c on %d: %v", cl, c, ok)
			}
			if _, ok, _ := upper.Match(s, 0, nil); ok == want {
				t.Errorf("%%%c on %d: %v", cl-32, c, ok)
			}
			if _, ok, _ := set.Match(s, 0, nil); ok != want {
				t.Errorf("[%%%c] on %d: %v", cl, c, ok)
			}
		}
	}
}

func TestIter(t *testing.T) {
	for _, tc := range []struct {
		pattern, src string
		want         [][]int
	}{
		{"%a+", "one two", [][]int{{0, 3}, {4, 7}}},
		{"", "ab", [][]int{{0, 0}, {1, 1}, {2, 2}}},
		{"%w*", "ab c", [][]int{{0, 2}, {2, 2}, {3, 4}, {4, 4}}},
		{"^a", "aaa", [][]int{{0, 1}}},
		{"^b", "abb", nil},
		{"()", "ab", [][]int{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}}},
	} {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]int
		it := p.Iter(tc.src, 0, nil)
		for it.Next() {
			got = append(got, append([]int(nil), it.Captures()...))
		}
		if it.Err() != nil || it.Next() {
			t.Errorf("%q: Err %v after the end", tc.pattern, it.Err())
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q in %q: %v, want %v", tc.pattern, tc.src, got, tc.want)
		}
	}
}

func TestBudget(t *testing.T) {
	p, err := Compile(".-.-.-.-.-b")
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	b := &Budget{Interval: 1000, Check: func() error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	}}
	_, ok, err := p.Match(strings.Repeat("a", 10000), 0, b)
	if ok || err != stop || b.Err() != stop {
		t.Fatalf("Match = %v, %v; want the check's error", ok, err)
	}
	if calls != 5 {
		t.Errorf("check called %d times, want 5", calls)
	}
	if s := b.Steps(); s < 4000 {
		t.Errorf("Steps = %d, want at least 4 intervals", s)
	}
	// The error sticks: the budget is spent.
	q, _ := Compile("a")
	if _, ok, err := q.Match("a", 0, b); ok || err != stop {
		t.Errorf("Match after the stop = %v, %v", ok, err)
	}
	it := q.Iter("aaa", 0, b)
	if it.Next() || it.Err() != stop {
		t.Errorf("Iter after the stop: %v", it.Err())
	}

	// Without a check the budget only counts.
	var free Budget
	if _, ok, err := q.Match(strings.Repeat("b", 100)+"a", 0, &free); !ok || err != nil {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if free.Steps() == 0 {
		t.Error("no steps counted")
	}
}

func TestDepth(t *testing.T) {
	src := strings.Repeat("a", 1000)
	for _, pat := range []string{
		strings.Repeat("a?", 1000),
		strings.Repeat("a*", 1000) + "b",
		strings.Repeat("a-", 1000) + "$",
		strings.Repeat("(a?)", 32) + strings.Repeat("a?", 500),
	} {
		p, err := Compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Match(src, 0, nil); err != ErrTooComplex {
			t.Errorf("%.20q...: err %v, want ErrTooComplex", pat, err)
		}
	}
	// Items that do not backtrack do not recurse.
	p, _ := Compile(strings.Repeat("a", 1000) + "$")
	if _, ok, err := p.Match(src, 0, nil); !ok || err != nil {
		t.Errorf("long literal: %v, %v", ok, err)
	}
	p, _ = Compile(strings.Repeat("a?", MaxDepth-1))
	if _, ok, err := p.Match(src, 0, nil); !ok || err != nil {
		t.Errorf("%d optional items: %v, %v", MaxDepth-1, ok, err)
	}
}

func TestPatternInfo(t *testing.T) {
	p, err := Compile("^(a)()(b)")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Anchored() || p.NumCaptures() != 3 || p.String() != "^(a)()(b)" {
		t.Errorf("Anchored %v NumCaptures %d String %q", p.Anchored(), p.NumCaptures(), p.String())
	}
	for k, want := range []bool{false, false, true, false, false} {
		if p.IsPosition(k) != want {
			t.Errorf("IsPosition(%d) = %v", k, !want)
		}
	}
}
