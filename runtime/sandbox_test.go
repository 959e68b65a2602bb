package runtime_test

import (
	"context"
	"errors"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/runtime"
)

// TestSandboxLibraries checks that only the safe subset is reachable.
func TestSandboxLibraries(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	tests := []struct{ name, src, want string }{
		{"os.execute", `os.execute("id")`, "attempt to call a non-function object"},
		{"os.exit", `os.exit(1)`, "attempt to call a non-function object"},
		{"os.getenv", `os.getenv("HOME")`, "attempt to call a non-function object"},
		{"io.open", `io.open("/etc/passwd")`, "attempt to index a non-table object(nil)"},
		{"load", `load("return 1")`, "attempt to call a non-function object"},
		{"loadstring", `loadstring("return 1")()`, "attempt to call a non-function object"},
		{"dofile", `dofile("/etc/passwd")`, "attempt to call a non-function object"},
		{"loadfile", `loadfile("/etc/passwd")`, "attempt to call a non-function object"},
		{"require os", `require("os")`, `module "os" not found`},
		{"require io", `require("io")`, `module "io" not found`},
		{"debug", `debug.getregistry()`, "attempt to index a non-table object(nil)"},
		{"getfenv", `getfenv(1)`, "attempt to call a non-function object"},
		{"setfenv", `setfenv(1, {})`, "attempt to call a non-function object"},
		{"collectgarbage", `collectgarbage("count")`, "attempt to call a non-function object"},
		{"newproxy", `newproxy(true)`, "attempt to call a non-function object"},
		{"package", `package.loadlib("x", "y")`, "attempt to index a non-table object(nil)"},
		{"coroutine", `coroutine.create(print)`, "attempt to index a non-table object(nil)"},
		{"channel", `channel.make()`, "attempt to index a non-table object(nil)"},
		{"string.dump", `string.dump(print)`, "attempt to call a non-function object"},
		{"string metatable", `getmetatable("").__index.upper = nil`, "attempt to index a non-table object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, e, tt.src, nil)
			if res.Err == nil || !strings.Contains(res.Error, tt.want) {
				t.Fatalf("error = %q, want it to contain %q", res.Error, tt.want)
			}
		})
	}
	res := run(t, e, `print(os.time() > 0, type(os.date("%Y")), os.clock() >= 0, math.floor(2.5), table.concat({"a","b"}, ","), ("x"):rep(3))`, nil)
	if res.Err != nil || res.Logs[0] != "true\tstring\ttrue\t2\ta,b\txxx" {
		t.Fatalf("safe libraries: %v %q", res.Err, res.Logs)
	}
}

// TestIsolation checks that globals and library changes do not leak into the
// next invocation on the same pooled state.
func TestIsolation(t *testing.T) {
	e := newEngine(t, runtime.Options{PoolSize: 1})
	tamper := `
leaked = "yes"
_G.leaked2 = "yes"
string.upper = nil
rawset(string, "lower", nil)
table.insert = function() error("tampered") end
math.floor = nil
os.time = nil
print = nil
pairs = nil
setmetatable(_G, {__index = function() return "from metatable" end})
string.trim = function(s) return s end
pcall(function() getmetatable(r.RequestHeader).__index = function() return "poisoned" end end)
`
	check := `
assert(leaked == nil and leaked2 == nil, "global leaked")
assert(string.upper("a") == "A" and ("a"):upper() == "A", "string.upper tampered")
assert(string.lower("A") == "a", "string.lower tampered")
local t = {} table.insert(t, 1) assert(#t == 1, "table.insert tampered")
assert(math.floor(1.5) == 1 and os.time() > 0, "math/os tampered")
assert(pairs ~= nil and some_undefined_global == nil and string.trim == nil, "base tampered")
assert(r.RequestHeader["X-Missing"] == nil, "header metatable tampered")
print("clean")
`
	for i := 0; i < 3; i++ {
		if res := run(t, e, tamper, nil); res.Err != nil {
			t.Fatalf("tamper run: %v", res.Err)
		}
		res := run(t, e, check, nil)
		if res.Err != nil || len(res.Logs) != 1 || res.Logs[0] != "clean" {
			t.Fatalf("state leaked into the next invocation: %v %q", res.Err, res.Logs)
		}
	}
	// Methods added to the string table work within the invocation, like Lua.
	res := run(t, e, `function string.shout(s) return s:upper() .. "!" end print(("hi"):shout())`, nil)
	if res.Err != nil || res.Logs[0] != "HI!" {
		t.Fatalf("string extension: %v %q", res.Err, res.Logs)
	}
}

// hostile is the suite of functions that must end in a clear error without
// hurting the process.
var hostile = []struct {
	name    string
	src     string
	timeout time.Duration
	is      error  // errors.Is target, or nil
	want    string // substring of the error, or ""
}{
	{"infinite loop", `while true do end`, 300 * time.Millisecond, runtime.ErrTimeout, "timed out after 300ms"},
	{"infinite loop in pcall", `while true do pcall(function() while true do end end) end`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"pcall swallowing errors", `while true do pcall(error, "x") end`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"unbounded recursion", `local function f(n) return 1 + f(n + 1) end f(1)`, 5 * time.Second, nil, "stack overflow"},
	{"exponential recursion in pcall", `local function f() pcall(f) f() end f()`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"string.rep bomb", `local s = string.rep("x", 1e10)`, 5 * time.Second, nil, "string.rep: result of 10000000000 bytes exceeds"},
	{"string.rep loop", `local s = "x" while true do s = string.rep(s, 2) end`, 5 * time.Second, nil, "string.rep"},
	{"concat bomb", `local s = "x" while true do s = s .. s end`, 20 * time.Second, runtime.ErrMemoryLimit, ""},
	{"gsub bomb", `local s = string.rep("x", 1e6) s = s:gsub(".", string.rep("y", 100))`, 5 * time.Second, nil, "string.gsub: result exceeds"},
	{"format bomb", `local s = string.format("%99999999d", 1)`, 5 * time.Second, nil, "width or precision too long"},
	{"format growth", `local s = string.rep("x", 1e6) while true do s = string.format("%s%s", s, s) end`, 20 * time.Second, nil, "string.format"},
	{"table.concat bomb", `local t = {} for i = 1, 40 do t[i] = string.rep("x", 1e6) end local s = table.concat(t)`, 5 * time.Second, nil, "table.concat"},
	{"table grows forever", `local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end`, 30 * time.Second, runtime.ErrMemoryLimit, ""},
	{"global table grows", `big = {} while true do big[#big + 1] = tostring(#big) .. "padding-padding-padding" end`, 30 * time.Second, runtime.ErrMemoryLimit, ""},
	{"__tostring never returns", `print(setmetatable({}, {__tostring = function() while true do end end}))`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"__index loop", `local t = setmetatable({}, {__index = function(t, k) while true do end end}) print(t.x)`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"gsub callback loop", `("abc"):gsub(".", function() while true do end end)`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
	{"sort comparator loop", `table.sort({3, 2, 1}, function() while true do end end)`, 300 * time.Millisecond, runtime.ErrTimeout, ""},
}

func TestHostileFunctions(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	benign, err := e.Compile("benign.lua", []byte(`r:SetRequestBody(r.RequestBody .. "!")`))
	if err != nil {
		t.Fatal(err)
	}
	peak := watchHeap(t)
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			fn, err := e.Compile(tt.name+".lua", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res := e.Run(context.Background(), fn, &runtime.Input{Timeout: tt.timeout})
			elapsed := time.Since(start)
			if res.Err == nil {
				t.Fatal("hostile function ended without an error")
			}
			if tt.is != nil && !errors.Is(res.Err, tt.is) {
				t.Fatalf("error %q is not %v", res.Error, tt.is)
			}
			if tt.want != "" && !strings.Contains(res.Error, tt.want) {
				t.Fatalf("error %q does not contain %q", res.Error, tt.want)
			}
			if !strings.HasPrefix(res.Error, tt.name+".lua:") {
				t.Errorf("error %q does not name the function", res.Error)
			}
			// A guard against hanging, not a performance assertion.
			if elapsed > tt.timeout+30*time.Second {
				t.Fatalf("took %v, deadline %v", elapsed, tt.timeout)
			}
			t.Logf("%s: %v after %v", tt.name, res.Error, elapsed.Round(time.Millisecond))
			// The engine keeps serving.
			ok := e.Run(context.Background(), benign, &runtime.Input{Request: runtime.Request{Body: []byte("hi")}})
			if ok.Err != nil || ok.Request.Body != "hi!" {
				t.Fatalf("engine stopped serving: %v", ok.Err)
			}
		})
	}
	t.Logf("peak heap during the hostile suite: %d MiB", peak()>>20)
	if p := peak(); p > 2<<30 {
		t.Fatalf("heap peaked at %d MiB", p>>20)
	}
}

// TestMemoryBombSparesOthers runs a memory bomb while benign functions keep
// running on other goroutines: only the bomb is stopped.
func TestMemoryBombSparesOthers(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	bomb, _ := e.Compile("bomb.lua", []byte(`local t = {} local i = 0 while true do i = i + 1 t[i] = "entry number " .. i end`))
	benign, _ := e.Compile("benign.lua", []byte(`local t = {} for i = 1, 1000 do t[i] = i end r:SetRequestBody(tostring(#t))`))
	var stop atomic.Bool
	var failures, runs atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				res := e.Run(context.Background(), benign, &runtime.Input{})
				runs.Add(1)
				if res.Err != nil || res.Request.Body != "1000" {
					failures.Add(1)
					t.Errorf("benign function failed: %v", res.Err)
					return
				}
			}
		}()
	}
	res := e.Run(context.Background(), bomb, &runtime.Input{Timeout: 60 * time.Second})
	stop.Store(true)
	wg.Wait()
	if !errors.Is(res.Err, runtime.ErrMemoryLimit) {
		t.Fatalf("bomb ended with %v, want the memory limit", res.Err)
	}
	if failures.Load() > 0 || runs.Load() == 0 {
		t.Fatalf("benign runs: %d, failures: %d", runs.Load(), failures.Load())
	}
}

// watchHeap samples the heap until the test ends and returns a function
// that reports the peak.
func watchHeap(t *testing.T) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return peak.Load
}
