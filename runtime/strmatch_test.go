package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/runtime"
)

// patternPrelude formats values for the conformance cases: show(...) joins
// all its arguments (strings quoted), collect(iter) every result of an
// iterator such as string.gmatch's.
const patternPrelude = `
local function show(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" then out[i] = '"' .. v .. '"' else out[i] = tostring(v) end
  end
  return table.concat(out, ",")
end
local function collect(it)
  local out = {}
  for i = 1, 100 do
    local r = {it()}
    if r[1] == nil then break end
    out[#out + 1] = "[" .. show(unpack(r)) .. "]"
  end
  return table.concat(out)
end
`

// runPattern runs src and returns what it printed, or the error.
func runPattern(t *testing.T, e *runtime.Engine, src string, timeout time.Duration) (*runtime.Result, string) {
	t.Helper()
	fn, err := e.Compile("t.lua", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	res := e.Run(context.Background(), fn, &runtime.Input{Timeout: timeout})
	return res, strings.Join(res.Logs, "\n")
}

func patternEngine(t *testing.T, opts runtime.Options) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// TestPatternConformance checks string.find, match, gmatch and gsub against
// Lua 5.1. A want starting with "error: " is a substring of the error.
func TestPatternConformance(t *testing.T) {
	e := patternEngine(t, runtime.Options{})
	for _, tc := range []struct{ expr, want string }{
		// find: plain search, init, anchors, captures.
		{`string.find("hello world", "o w")`, `5,7`},
		{`string.find("hello", "l")`, `3,3`},
		{`string.find("hello", "xyz")`, `nil`},
		{`string.find("hello", "")`, `1,0`},
		{`string.find("", "")`, `1,0`},
		{`string.find("hello", "", 10)`, `6,5`},
		{`string.find("hello", "l", -2)`, `4,4`},
		{`string.find("hello", "h", -100)`, `1,1`},
		{`string.find("hello", "o", 5)`, `5,5`},
		{`string.find("a.b", ".", 1, true)`, `2,2`},
		{`string.find("a.b", ".")`, `1,1`},
		{`string.find("a+b", "+", 1, true)`, `2,2`},
		{`string.find("a+b", "a+", 1, 1)`, `1,2`},
		{`string.find("a+b", "a+", 1, nil)`, `1,1`},
		{`string.find("abc", "b", 1, false)`, `2,2`},
		{`string.find("abc", "b", nil)`, `2,2`},
		{`string.find("hello", "(l)(l)")`, `3,4,"l","l"`},
		{`string.find("hello", "()ll()")`, `3,4,3,5`},
		{`string.find("refs/heads/main", "^refs/heads/(.+)$")`, `1,15,"main"`},
		{`string.find("abc", "^b")`, `nil`},
		{`string.find("abc", "^b", 2)`, `2,2`},
		{`string.find("  x", "^%s*")`, `1,2`},
		{`string.find(12345, 3)`, `3,3`},
		{`("x-y"):find("-", 1, true)`, `2,2`},
		{`("key: value"):find(":%s*(%a+)")`, `4,10,"value"`},
		// match
		{`string.match("key=value", "(%w+)=(%w+)")`, `"key","value"`},
		{`string.match("hello", "l+")`, `"ll"`},
		{`string.match("hello", "z")`, `nil`},
		{`string.match("hello", "()ll()")`, `3,5`},
		{`string.match("hello", ".", -1)`, `"o"`},
		{`string.match("hello world", "%a+", 6)`, `"world"`},
		{`string.match("hello", "", 10)`, `""`},
		{`string.match("  trim  ", "^%s*(.-)%s*$")`, `"trim"`},
		{`string.match("2024-01-15", "(%d+)-(%d+)-(%d+)")`, `"2024","01","15"`},
		{`string.match("[[x]]", "%[(%b[])%]")`, `"[x]"`},
		{`string.match("f(a(b)c)d", "%b()")`, `"(a(b)c)"`},
		{`string.match("THE (quick) fox", "%f[%a]%a+", 2)`, `"quick"`},
		{`string.match("hello", ".-")`, `""`},
		{`string.match("abab", "(ab)%1")`, `"ab"`},
		{`string.match("xabab", "()%1")`, `nil`},
		{`string.match("a]b", "[]]")`, `"]"`},
		{`string.match("ba-b", "[a-]+")`, `"a-"`},
		{`string.match("9x-z", "[%a-z]+")`, `"x-z"`},
		{`string.match("%", "[%%]")`, `"%"`},
		{`string.match("x^y", "x^y")`, `"x^y"`},
		{`string.match("a$b", "a$b")`, `"a$b"`},
		{`string.match("ab", "b$")`, `"b"`},
		{`string.match("ab$", "(b$)")`, `"b$"`},
		{`string.byte(string.match("a\0b", "%z"))`, `0`},
		{`string.match("a\0b", "a\0b") == "a\0b"`, `true`},
		{`string.match("hello", "(h)(e)(l)(l)(o)")`, `"h","e","l","l","o"`},
		{`string.match("AbC", "%u+")`, `"A"`},
		{`string.match("AbC", "%U+")`, `"b"`},
		{`string.match("a.b", "%.")`, `"."`},
		{`#string.match(" \t\n\v\f\r", "%s+")`, `6`},
		{`string.match("a1_", "%W")`, `"_"`},
		{`string.match("0x1F", "0x(%x+)")`, `"1F"`},
		{`string.match("hello!", "%p")`, `"!"`},
		{`#string.match("\1\127a", "%c+")`, `2`},
		{`string.match("abc", "%g")`, `nil`},
		{`string.match("aaab", "a-b")`, `"aaab"`},
		{`string.match("b", "a?b")`, `"b"`},
		{`string.match("", ".*")`, `""`},
		{`string.match("[x]", "^%[(.*)%]$")`, `"x"`},
		{`string.match("x = 1", "^(%w+)%s*=%s*(%d+)$")`, `"x","1"`},
		// gmatch
		{`collect(string.gmatch("one two three", "%a+"))`, `"["one"]["two"]["three"]"`},
		{`collect(string.gmatch("k1=v1, k2=v2", "(%w+)=(%w+)"))`, `"["k1","v1"]["k2","v2"]"`},
		{`collect(string.gmatch("abc", ""))`, `"[""][""][""][""]"`},
		{`collect(string.gmatch("abc", "%w*"))`, `"["abc"][""]"`},
		{`collect(string.gmatch("abc", "()"))`, `"[1][2][3][4]"`},
		{`collect(string.gmatch("^a^a", "^a"))`, `"["^a"]["^a"]"`},
		{`collect(string.gmatch("a,b,,c", "([^,]*)"))`, `"["a"][""]["b"][""][""]["c"][""]"`},
		{`collect(("x1y22z333"):gmatch("%d+"))`, `"["1"]["22"]["333"]"`},
		{`type(string.gmatch("", ""))`, `"function"`},
		{`(function() local it = string.gmatch("a", "a") it() return it() end)()`, ``},
		{`string.gfind == string.gmatch`, `true`},
		// gsub
		{`string.gsub("hello world", "o", "0")`, `"hell0 w0rld",2`},
		{`string.gsub("hello", "", "-")`, `"-h-e-l-l-o-",6`},
		{`string.gsub("abc", "%w*", "-")`, `"--",2`},
		{`string.gsub("hello world", "(%w+)", "<%1>")`, `"<hello> <world>",2`},
		{`string.gsub("hello world", "%w+", "%0 %0", 1)`, `"hello hello world",1`},
		{`string.gsub("abc", "%w", "%%")`, `"%%%",3`},
		{`string.gsub("abc", "b", "%x")`, `"axc",1`},
		{`string.gsub("abc", "b", "%1")`, `"abc",1`},
		{`string.gsub("abc", "x", "%2")`, `"abc",0`},
		{`string.gsub("abc", "()", "%1")`, `"1a2b3c4",4`},
		{`string.gsub("abc", "^", ">")`, `">abc",1`},
		{`string.gsub("abc", "$", "<")`, `"abc<",1`},
		{`string.gsub("aaa", "^a", "b")`, `"baa",1`},
		{`string.gsub("hello world", "o", "0", 0)`, `"hello world",0`},
		{`string.gsub("hello world", "o", "0", -1)`, `"hello world",0`},
		{`string.gsub("hello world", "o", "0", 5)`, `"hell0 w0rld",2`},
		{`string.gsub("abc", "b", 5)`, `"a5c",1`},
		{`string.gsub("a,b,,c", ",", ";")`, `"a;b;;c",3`},
		{`string.gsub("x = 1, y = 2", "(%w+) = (%w+)", "%2 = %1")`, `"1 = x, 2 = y",2`},
		{`string.gsub("hello", "l", {l = "L"})`, `"heLLo",2`},
		{`string.gsub("hello", ".", {h = 1})`, `"1ello",5`},
		{`string.gsub("hello", ".", {h = false})`, `"hello",5`},
		{`string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 42})`, `"bob is 42",2`},
		{`string.gsub("abc", "()", {[2] = "x"})`, `"axbc",4`},
		{`string.gsub("abc", "%w", function(c) return c:upper() .. "." end)`, `"A.B.C.",3`},
		{`string.gsub("abc", "%w", function() end)`, `"abc",3`},
		{`string.gsub("abc", "%w", function() return false end)`, `"abc",3`},
		{`string.gsub("abc", "%w", function() return 1.5 end)`, `"1.51.51.5",3`},
		{`string.gsub("a=1, b=2", "(%w+)=(%w+)", function(k, v) return v .. "=" .. k end)`, `"1=a, 2=b",2`},
		{`string.gsub("abc", "()b()", function(i, j) return i .. j end)`, `"a23c",1`},
		{`("abc"):gsub("b", "[%0]")`, `"a[b]c",1`},
		{`string.gsub("abc", "", "")`, `"abc",4`},
		// errors
		{`string.find("x", "[")`, `error: malformed pattern (missing ']')`},
		{`string.find("x", "%")`, `error: malformed pattern (ends with '%')`},
		{`string.match("x", "(x")`, `error: unfinished capture`},
		{`string.match("x", "x)")`, `error: invalid pattern capture`},
		{`string.find("x", "%1")`, `error: invalid capture index`},
		{`string.find("x", "%b(")`, `error: unbalanced pattern`},
		{`string.find("x", "%fx")`, `error: missing '[' after '%f' in pattern`},
		{`string.find("x", string.rep("()", 33))`, `error: too many captures`},
		{`string.gmatch("x", "(")`, `error: unfinished capture`},
		{`string.gsub("abc", "(b)", "%2")`, `error: invalid capture index`},
		{`string.gsub("hello", ".", {e = true})`, `error: invalid replacement value (a boolean)`},
		{`string.gsub("abc", "%w", function() return {} end)`, `error: invalid replacement value (a table)`},
		{`string.gsub("abc", "b", true)`, `error: bad argument #3`},
		{`string.gsub("abc", "b")`, `error: bad argument #3`},
		{`string.find(nil, "x")`, `error: bad argument #1`},
		{`string.match("x")`, `error: bad argument #2`},
	} {
		res, out := runPattern(t, e, patternPrelude+"print(show("+tc.expr+"))", 0)
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			if res.Err == nil || !strings.Contains(res.Error, want) {
				t.Errorf("%s: error %q (printed %q), want %q", tc.expr, res.Error, out, want)
			}
			continue
		}
		if res.Err != nil {
			t.Errorf("%s: %v", tc.expr, res.Err)
			continue
		}
		if out != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, out, tc.want)
		}
	}
}

// TestPatternLua51Suite runs Lua 5.1's own pattern-matching tests.
func TestPatternLua51Suite(t *testing.T) {
	e := patternEngine(t, runtime.Options{})
	res, out := runPattern(t, e, lua51PatternTests, 0)
	if res.Err != nil {
		t.Fatalf("%v (printed %q)", res.Err, out)
	}
	if !strings.HasSuffix(out, "OK") {
		t.Fatalf("printed %q", out)
	}
}

// TestPatternTimeout runs pathological matches: the function's deadline
// ends them.
func TestPatternTimeout(t *testing.T) {
	e := patternEngine(t, runtime.Options{})
	for _, src := range []string{
		`string.find(string.rep("a", 300000), ".-.-.-.-.-.-b")`,
		`string.match(string.rep("a", 300000), "(.-)(.-)(.-)(.-)(.-)%1b")`,
		`string.gsub(string.rep("a", 300000), ".-.-.-.-.-.-b", "")`,
		`for x in string.gmatch(string.rep("a", 300000), "a*a*a*a*a*a*b") do end`,
		`pcall(string.find, string.rep("a", 300000), ".-.-.-.-.-.-b") while true do end`,
	} {
		start := time.Now()
		res, _ := runPattern(t, e, src, 200*time.Millisecond)
		if !errors.Is(res.Err, runtime.ErrTimeout) {
			t.Errorf("%s: error %v, want a timeout", src, res.Err)
		}
		if !strings.Contains(res.Error, "timed out") {
			t.Errorf("%s: error %q does not say it timed out", src, res.Error)
		}
		// A guard against hanging, not a performance assertion.
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("%s: took %v", src, d)
		}
	}
}

// TestPatternTooComplex checks that deep backtracking ends with an error
// instead of growing the stack.
func TestPatternTooComplex(t *testing.T) {
	e := patternEngine(t, runtime.Options{})
	for _, src := range []string{
		`string.find(string.rep("a", 1000), string.rep("a?", 1000))`,
		`string.match(string.rep("a", 100000), string.rep("a*", 100000) .. "b")`,
		`string.gsub(string.rep("a", 1000), string.rep("a-", 1000) .. "$", "")`,
		`for x in string.gmatch(string.rep("a", 1000), string.rep("a?", 1000)) do end`,
	} {
		res, _ := runPattern(t, e, src, 10*time.Second)
		if res.Err == nil || !strings.Contains(res.Error, "pattern too complex") {
			t.Errorf("%.60s...: error %q, want pattern too complex", src, res.Error)
		}
	}
	// Long patterns that do not backtrack are fine, and pcall catches the
	// error like any other.
	res, out := runPattern(t, e, `
local s = string.rep("ab", 50000)
print(string.find(s, string.rep("ab", 50000) .. "$"))
print(pcall(string.find, string.rep("a", 1000), string.rep("a?", 1000)))
`, 10*time.Second)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if want := "1\t100000\nfalse\tt.lua:4: pattern too complex"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
}

// TestGsubLargeBody runs gsub over a 3 MB string: matches are found one at a
// time and the result is built in one pass, so the allocation stays a small
// multiple of the string.
func TestGsubLargeBody(t *testing.T) {
	e := patternEngine(t, runtime.Options{})
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	res, out := runPattern(t, e, `
local s = string.rep("abc ", 768 * 1024)
local r, n = string.gsub(s, ".", "x")
assert(n == #s and #r == #s and r == string.rep("x", #s), "gsub .")
r, n = string.gsub(s, "%s", "")
assert(n == #s / 4 and #r == #s * 3 / 4, "gsub %s")
local count = 0
for w in string.gmatch(s, "%a+") do count = count + 1 end
assert(count == #s / 4, "gmatch")
print(#s, n)
`, 30*time.Second)
	goruntime.ReadMemStats(&after)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if out != "3145728\t786432" {
		t.Errorf("printed %q", out)
	}
	// 3 MB subjects and results, each built by doubling; materialised
	// matches would take hundreds of MB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB in %.0f ms", alloc>>20, res.DurationMS)
	if alloc > 96<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}

// TestGsubResultCap checks that gsub refuses results over MaxStringBytes.
func TestGsubResultCap(t *testing.T) {
	e := patternEngine(t, runtime.Options{MaxStringBytes: 4 << 20})
	res, _ := runPattern(t, e, `string.gsub(string.rep("x", 3 * 1024 * 1024), ".", "%0%0")`, 0)
	if res.Err == nil || !strings.Contains(res.Error, "string.gsub: result exceeds the limit of 4194304 bytes") {
		t.Fatalf("error %q", res.Error)
	}
	res, out := runPattern(t, e, `print(#string.gsub(string.rep("x", 3 * 1024 * 1024), "x", "yz", 1000))`, 0)
	if res.Err != nil || out != "3146728" {
		t.Fatalf("%v, printed %q", res.Err, out)
	}
}

// lua51PatternTests is pm.lua from the Lua 5.1 test suite, with non-ASCII
// bytes written as escapes, the tests gopher-lua disables (sets starting
// with ']', a '-' ending a set, %f) enabled, and loadstring, which the
// sandbox lacks, replaced by functions.
const lua51PatternTests = `
print('testing pattern matching')

function f(s, p)
  local i,e = string.find(s, p)
  if i then return string.sub(s, i, e) end
end

function f1(s, p)
  p = string.gsub(p, "%%([0-9])", function (s) return "%" .. (s+1) end)
  p = string.gsub(p, "^(^?)", "%1()", 1)
  p = string.gsub(p, "($?)$", "()%1", 1)
  local t = {string.match(s, p)}
  return string.sub(s, t[1], t[#t] - 1)
end

a,b = string.find('', '')    -- empty patterns are tricky
assert(a == 1 and b == 0);
a,b = string.find('alo', '')
assert(a == 1 and b == 0)
a,b = string.find('a\0o a\0o a\0o', 'a', 1)   -- first position
assert(a == 1 and b == 1)
a,b = string.find('a\0o a\0o a\0o', 'a\0o', 2)   -- starts in the midle
assert(a == 5 and b == 7)
a,b = string.find('a\0o a\0o a\0o', 'a\0o', 9)   -- starts in the midle
assert(a == 9 and b == 11)
a,b = string.find('a\0a\0a\0a\0\0ab', '\0ab', 2);  -- finds at the end
assert(a == 9 and b == 11);
a,b = string.find('a\0a\0a\0a\0\0ab', 'b')    -- last position
assert(a == 11 and b == 11)
assert(string.find('a\0a\0a\0a\0\0ab', 'b\0') == nil)   -- check ending
assert(string.find('', '\0') == nil)
assert(string.find('alo123alo', '12') == 4)
assert(string.find('alo123alo', '^12') == nil)

assert(f('aloALO', '%l*') == 'alo')
assert(f('aLo_ALO', '%a*') == 'aLo')

assert(f('aaab', 'a*') == 'aaa');
assert(f('aaa', '^.*$') == 'aaa');
assert(f('aaa', 'b*') == '');
assert(f('aaa', 'ab*a') == 'aa')
assert(f('aba', 'ab*a') == 'aba')
assert(f('aaab', 'a+') == 'aaa')
assert(f('aaa', '^.+$') == 'aaa')
assert(f('aaa', 'b+') == nil)
assert(f('aaa', 'ab+a') == nil)
assert(f('aba', 'ab+a') == 'aba')
assert(f('a$a', '.$') == 'a')
assert(f('a$a', '.%$') == 'a$')
assert(f('a$a', '.$.') == 'a$a')
assert(f('a$a', '$$') == nil)
assert(f('a$b', 'a$') == nil)
assert(f('a$a', '$') == '')
assert(f('', 'b*') == '')
assert(f('aaa', 'bb*') == nil)
assert(f('aaab', 'a-') == '')
assert(f('aaa', '^.-$') == 'aaa')
assert(f('aabaaabaaabaaaba', 'b.*b') == 'baaabaaabaaab')
assert(f('aabaaabaaabaaaba', 'b.-b') == 'baaab')
assert(f('alo xo', '.o$') == 'xo')
assert(f(' \n isto \233 assim', '%S%S*') == 'isto')
assert(f(' \n isto \233 assim', '%S*$') == 'assim')
assert(f(' \n isto \233 assim', '[a-z]*$') == 'assim')
assert(f('um caracter ? extra', '[^%sa-z]') == '?')
assert(f('', 'a?') == '')
assert(f('\225', '\225?') == '\225')
assert(f('\225bl', '\225?b?l?') == '\225bl')
assert(f('  \225bl', '\225?b?l?') == '')
assert(f('aa', '^aa?a?a') == 'aa')
assert(f(']]]\225b', '[^]]') == '\225')
assert(f(']]]\225b', '[^%]]') == '\225')
assert(f("0alo alo", "%x*") == "0a")
assert(f("alo alo", "%C+") == "alo alo")
print('+')

assert(f1('alo alx 123 b\0o b\0o', '(..*) %1') == "b\0o b\0o")
assert(f1('axz123= 4= 4 34', '(.+)=(.*)=%2 %1') == '3= 4= 4 3')
assert(f1('=======', '^(=*)=%1$') == '=======')
assert(string.match('==========', '^([=]*)=%1$') == nil)

local function range (i, j)
  if i <= j then
    return i, range(i+1, j)
  end
end

local function range (i, j)
  local ret = {}
  for k=i, j do; table.insert(ret, k); end
  return unpack(ret)
end

local abc = string.char(range(0, 255));

assert(string.len(abc) == 256)

function strset (p)
  local res = {s=''}
  string.gsub(abc, p, function (c) res.s = res.s .. c end)
  return res.s
end;

assert(string.len(strset('[\200-\210]')) == 11)

assert(strset('[a-z]') == "abcdefghijklmnopqrstuvwxyz")
assert(strset('[a-z%d]') == strset('[%da-uu-z]'))
assert(strset('[a-]') == "-a")
assert(strset('[a%-]') == "-a")
assert(strset('[^%W]') == strset('[%w]'))
assert(strset('[]%%]') == '%]')
assert(strset('[%]%%]') == '%]')
assert(strset('[a%-z]') == '-az')
assert(strset('[%^%[%-a%]%-b]') == '-[]^ab')
assert(strset('%Z') == strset('[\1-\255]'))
assert(strset('.') == strset('[\1-\255%z]'))
print('+');

assert(string.match("alo xyzK", "(%w+)K") == "xyz")
assert(string.match("254 K", "(%d*)K") == "")
assert(string.match("alo ", "(%w*)$") == "")
assert(string.match("alo ", "(%w+)$") == nil)
assert(string.find("(\225lo)", "%(\225") == 1)
local a, b, c, d, e = string.match("\226lo alo", "^(((.).).* (%w*))$")
assert(a == '\226lo alo' and b == '\226l' and c == '\226' and d == 'alo' and e == nil)
a, b, c, d  = string.match('0123456789', '(.+(.?)())')
assert(a == '0123456789' and b == '' and c == 11 and d == nil)
print('+')

assert(string.gsub('\252lo \252lo', '\252', 'x') == 'xlo xlo')
assert(string.gsub('alo \250lo  ', ' +$', '') == 'alo \250lo')  -- trim
assert(string.gsub('  alo alo  ', '^%s*(.-)%s*$', '%1') == 'alo alo')  -- double trim
assert(string.gsub('alo  alo  \n 123\n ', '%s+', ' ') == 'alo alo 123 ')
t = "ab\231 d"
a, b = string.gsub(t, '(.)', '%1@')
assert('@'..a == string.gsub(t, '', '@') and b == 5)
a, b = string.gsub('ab\231d', '(.)', '%0@', 2)
assert(a == 'a@b@\231d' and b == 2)
assert(string.gsub('alo alo', '()[al]', '%1') == '12o 56o')
assert(string.gsub("abc=xyz", "(%w*)(%p)(%w+)", "%3%2%1-%0") ==
              "xyz=abc-abc=xyz")
assert(string.gsub("abc", "%w", "%1%0") == "aabbcc")
assert(string.gsub("abc", "%w+", "%0%1") == "abcabc")
assert(string.gsub('\225\233\237', '$', '\0\243\250') == '\225\233\237\0\243\250')
assert(string.gsub('', '^', 'r') == 'r')
assert(string.gsub('', '$', 'r') == 'r')
print('+')

assert(string.gsub("um (dois) tres (quatro)", "(%(%w+%))", string.upper) ==
            "um (DOIS) tres (QUATRO)")

do
  local function setglobal (n,v) rawset(_G, n, v) end
  string.gsub("a=roberto,roberto=a", "(%w+)=(%w%w*)", setglobal)
  assert(_G.a=="roberto" and _G.roberto=="a")
end

function f(a,b) return string.gsub(a,'.',b) end
assert(string.gsub("trocar tudo em |teste|b| \233 |beleza|al|", "|([^|]*)|([^|]*)|", f) ==
            "trocar tudo em bbbbb \233 alalalalalal")

-- loadstring is not in the sandbox: the chunks are functions here
local chunks = {
  ["a=1"] = function () a = 1 end,
  ["return a"] = function () return a end,
  ["x=string.gsub('alo', '.', string.upper)"] = function () x = string.gsub('alo', '.', string.upper) end,
  ["return x"] = function () return x end,
}
local function dostring (s) return chunks[s]() or "" end
assert(string.gsub("alo $a=1$ novamente $return a$", "$([^$]*)%$", dostring) ==
            "alo  novamente 1")

x = string.gsub("$x=string.gsub('alo', '.', string.upper)$ assim vai para $return x$",
         "$([^$]*)%$", dostring)
assert(x == ' assim vai para ALO')

t = {}
s = 'a alo jose  joao'
r = string.gsub(s, '()(%w+)()', function (a,w,b)
      assert(string.len(w) == b-a);
      t[a] = b-a;
    end)
assert(s == r and t[1] == 1 and t[3] == 3 and t[7] == 4 and t[13] == 4)


function isbalanced (s)
  return string.find(string.gsub(s, "%b()", ""), "[()]") == nil
end

assert(isbalanced("(9 ((8))(\0) 7) \0\0 a b ()(c)() a"))
assert(not isbalanced("(9 ((8) 7) a b (\0 c) a"))
assert(string.gsub("alo 'oi' alo", "%b''", '"') == 'alo " alo')


local t = {"apple", "orange", "lime"; n=0}
assert(string.gsub("x and x and x", "x", function () t.n=t.n+1; return t[t.n] end)
        == "apple and orange and lime")

t = {n=0}
string.gsub("first second word", "%w%w*", function (w) t.n=t.n+1; t[t.n] = w end)
assert(t[1] == "first" and t[2] == "second" and t[3] == "word" and t.n == 3)

t = {n=0}
assert(string.gsub("first second word", "%w+",
         function (w) t.n=t.n+1; t[t.n] = w end, 2) == "first second word")
assert(t[1] == "first" and t[2] == "second" and t[3] == nil)

assert(not pcall(string.gsub, "alo", "(.", print))
assert(not pcall(string.gsub, "alo", ".)", print))
assert(not pcall(string.gsub, "alo", "(.", {}))
assert(not pcall(string.gsub, "alo", "(.)", "%2"))
assert(not pcall(string.gsub, "alo", "(%1)", "a"))
assert(not pcall(string.gsub, "alo", "(%0)", "a"))

-- big strings
local a = string.rep('a', 300000)
assert(string.find(a, '^a*.?$'))
assert(not string.find(a, '^a*.?b$'))
assert(string.find(a, '^a-.?$'))

-- deep nest of gsubs
function rev (s)
  return string.gsub(s, "(.)(.+)", function (c,s1) return rev(s1)..c end)
end

local x = string.rep('012345', 10)
assert(rev(rev(x)) == x)


-- gsub with tables
assert(string.gsub("alo alo", ".", {}) == "alo alo")
assert(string.gsub("alo alo", "(.)", {a="AA", l=""}) == "AAo AAo")
assert(string.gsub("alo alo", "(.).", {a="AA", l="K"}) == "AAo AAo")
assert(string.gsub("alo alo", "((.)(.?))", {al="AA", o=false}) == "AAo AAo")

assert(string.gsub("alo alo", "().", {2,5,6}) == "256 alo")

t = {}; setmetatable(t, {__index = function (t,s) return string.upper(s) end})
assert(string.gsub("a alo b hi", "%w%w+", t) == "a ALO b HI")


-- tests for gmatch
assert(string.gfind == string.gmatch)
local a = 0
for i in string.gmatch('abcde', '()') do assert(i == a+1); a=i end
assert(a==6)

t = {n=0}
for w in string.gmatch("first second word", "%w+") do
      t.n=t.n+1; t[t.n] = w
end
assert(t[1] == "first" and t[2] == "second" and t[3] == "word")

t = {3, 6, 9}
for i in string.gmatch ("xuxx uu ppar r", "()(.)%2") do
  assert(i == table.remove(t, 1))
end
assert(table.getn(t) == 0)

t = {}
for i,j in string.gmatch("13 14 10 = 11, 15= 16, 22=23", "(%d+)%s*=%s*(%d+)") do
  t[i] = j
end
a = 0
for k,v in pairs(t) do assert(k+1 == v+0); a=a+1 end
assert(a == 3)


-- tests for '%f' (frontiers)

assert(string.gsub("aaa aa a aaa a", "%f[%w]a", "x") == "xaa xa x xaa x")
assert(string.gsub("[[]] [][] [[[[", "%f[[].", "x") == "x[]] x]x] x[[[")
assert(string.gsub("01abc45de3", "%f[%d]", ".") == ".01abc.45de.3")
assert(string.gsub("01abc45 de3x", "%f[%D]%w", ".") == "01.bc45 de3.")
assert(string.gsub("function", "%f[\1-\255]%w", ".") == ".unction")
assert(string.gsub("function", "%f[^\1-\255]", ".") == "function.")

local i, e = string.find(" alo aalo allo", "%f[%S].-%f[%s].-%f[%S]")
assert(i == 2 and e == 5)
local k = string.match(" alo aalo allo", "%f[%S](.-%f[%s].-%f[%S])")
assert(k == 'alo ')

local a = {1, 5, 9, 14, 17,}
for k in string.gmatch("alo alo th02 is 1hat", "()%f[%w%d]") do
  assert(table.remove(a, 1) == k)
end
assert(table.getn(a) == 0)


print('OK')
`

// TestGsubLiteralFastPath checks that plain patterns, which skip the
// matcher, give what the matcher gives for the same pattern as a set.
func TestGsubLiteralFastPath(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	res := run(t, e, `
local cases = {
  {"a & b && c", "&", "&amp;"},
  {"no match here", "&", "&amp;"},
  {"aaaa", "aa", "b"},
  {"", "x", "y"},
  {"x<y>z", "<", ""},
  {12345, "3", "three"},
}
for _, c in ipairs(cases) do
  local s1, n1 = string.gsub(c[1], c[2], c[3])
  local set = "[" .. c[2]:sub(1, 1) .. "]" .. c[2]:sub(2)
  local s2, n2 = string.gsub(c[1], set, c[3])
  assert(s1 == s2 and n1 == n2, string.format("%q: %q/%d vs %q/%d", tostring(c[1]), s1, n1, s2, n2))
  print(s1, n1)
end
`, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []string{"a &amp; b &amp;&amp; c\t3", "no match here\t0", "bb\t2", "\t0", "xy>z\t1", "12three45\t1"}
	if strings.Join(res.Logs, "|") != strings.Join(want, "|") {
		t.Fatalf("logs = %q", res.Logs)
	}
}
