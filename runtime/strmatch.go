package runtime

import (
	"context"
	"errors"
	"strings"

	"github.com/relayfn/relayfn/runtime/internal/luapattern"
	lua "github.com/yuin/gopher-lua"
)

// Bounds of a state's cache of compiled patterns. Longer patterns are
// compiled on every call.
const (
	maxCachedPatterns   = 128
	maxCachedPatternLen = 256
)

// luaSpecials are the bytes that make string.find match a pattern rather
// than search for plain text (Lua 5.1's SPECIALS).
const luaSpecials = "^$*+?.([%-"

// patternLib is string.find, match, gmatch and gsub of one Lua state on the
// luapattern matcher: each match is bounded in recursion and metered, and
// ends with the invocation's deadline.
type patternLib struct {
	max   int // the string cap (Options.MaxStringBytes)
	cache map[string]*luapattern.Pattern
}

// installPatternFunctions replaces the pattern functions of the string
// library str of L. max caps the result of string.gsub.
func installPatternFunctions(L *lua.LState, str *lua.LTable, max int) {
	pl := &patternLib{max: max, cache: make(map[string]*luapattern.Pattern)}
	str.RawSetString("find", L.NewFunction(pl.find))
	str.RawSetString("match", L.NewFunction(pl.match))
	gmatch := L.NewFunction(pl.gmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch) // Lua 5.0's name, still in 5.1
	str.RawSetString("gsub", L.NewFunction(pl.gsub))
}

// compile returns the compiled pattern, raising Lua's error for a malformed
// one.
func (pl *patternLib) compile(L *lua.LState, pat string) *luapattern.Pattern {
	if p, ok := pl.cache[pat]; ok {
		return p
	}
	p, err := luapattern.Compile(pat)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if len(pat) <= maxCachedPatternLen {
		if len(pl.cache) >= maxCachedPatterns {
			for k := range pl.cache {
				delete(pl.cache, k)
				break
			}
		}
		pl.cache[pat] = p
	}
	return p
}

// matchCheck is what a match checks every few thousand steps: the running
// invocation's context.
func matchCheck(L *lua.LState) func() error {
	call := CallOf(L)
	if call == nil || call.Context() == nil {
		return nil
	}
	return call.Context().Err
}

func newBudget(L *lua.LState) *luapattern.Budget {
	return &luapattern.Budget{Check: matchCheck(L)}
}

// raiseMatchError raises the error that stopped a match: "pattern too
// complex", or why the invocation ended (its timeout, say), as the VM
// reports it between instructions.
func raiseMatchError(L *lua.LState, err error) {
	if errors.Is(err, luapattern.ErrTooComplex) {
		L.RaiseError("%s", err.Error())
	}
	if call := CallOf(L); call != nil && call.Context() != nil {
		if cause := context.Cause(call.Context()); cause != nil {
			err = cause
		}
	}
	L.RaiseError("%s", err.Error())
}

// startOffset turns Lua 5.1's init argument into a 0-based offset into a
// string of n bytes: negative counts from the end, and it is clamped to
// [0, n].
func startOffset(init, n int) int {
	if init < 0 {
		init += n + 1
	}
	init--
	return min(max(init, 0), n)
}

// captureValue is capture k (0 for the whole match) as Lua sees it: a
// string, or the 1-based position of a position capture.
func captureValue(p *luapattern.Pattern, src string, caps []int, k int) lua.LValue {
	if p.IsPosition(k) {
		return lua.LNumber(caps[2*k] + 1)
	}
	return lua.LString(src[caps[2*k]:caps[2*k+1]])
}

// pushCaptures pushes the captures of a match, or the whole match when the
// pattern has none and whole is set, and returns how many it pushed.
func pushCaptures(L *lua.LState, p *luapattern.Pattern, src string, caps []int, whole bool) int {
	n := p.NumCaptures()
	if n == 0 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(src[caps[0]:caps[1]]))
		return 1
	}
	for k := 1; k <= n; k++ {
		L.Push(captureValue(p, src, caps, k))
	}
	return n
}

// find is string.find(s, pattern [, init [, plain]]).
func (pl *patternLib) find(L *lua.LState) int { return pl.findAux(L, true) }

// match is string.match(s, pattern [, init]).
func (pl *patternLib) match(L *lua.LState) int { return pl.findAux(L, false) }

func (pl *patternLib) findAux(L *lua.LState, find bool) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	init := startOffset(L.OptInt(3, 1), len(src))
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, luaSpecials)) {
		k := strings.Index(src[init:], pat)
		if k < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + k + 1))
		L.Push(lua.LNumber(init + k + len(pat)))
		return 2
	}
	p := pl.compile(L, pat)
	caps, ok, err := p.Match(src, init, newBudget(L))
	if err != nil {
		raiseMatchError(L, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(caps[0] + 1))
		L.Push(lua.LNumber(caps[1]))
		return 2 + pushCaptures(L, p, src, caps, false)
	}
	return pushCaptures(L, p, src, caps, true)
}

// gmatch is string.gmatch(s, pattern): an iterator that finds the next
// match on each call. As in Lua 5.1, a leading '^' is not an anchor here
// (it would stop the iteration) but an ordinary character.
func (pl *patternLib) gmatch(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	if strings.HasPrefix(pat, "^") {
		pat = "%" + pat
	}
	p := pl.compile(L, pat)
	b := &luapattern.Budget{}
	it := p.Iter(src, 0, b)
	var bound *Call // the invocation b.Check belongs to
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if call := CallOf(L); call != bound || b.Check == nil {
			bound, b.Check = call, matchCheck(L)
		}
		if !it.Next() {
			if err := it.Err(); err != nil {
				raiseMatchError(L, err)
			}
			return 0
		}
		return pushCaptures(L, p, src, it.Captures(), true)
	}))
	return 1
}
