package runtime

import (
	"context"
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// removedBase are the base functions a sandboxed function must not reach.
var removedBase = []string{
	"collectgarbage", "dofile", "getfenv", "load", "loadfile", "loadstring",
	"setfenv", "newproxy", "module", "_printregs", "_GOPHER_LUA_VERSION",
	"require", "print", "_G",
}

// state is one pooled Lua state with its libraries captured once.
type state struct {
	e        *Engine
	L        *lua.LState
	base     *frozen            // base functions, copied into each env
	libs     []library          // string, table, math, os: a proxy each in each env
	mods     map[string]*frozen // engine modules opened in this state
	strMeta  *lua.LTable        // the string metatable; __index is set per invocation
	rMeta    *lua.LTable
	cfgMeta  *lua.LTable
	hdrMeta  *lua.LTable
	logMod   *frozen
	envIndex *lua.LFunction // the globals' __index: modules without require
	envMeta  *lua.LTable    // the globals' metatable while unchanged; see globalsMeta
}

func newState(e *Engine) (*state, error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    e.opts.CallStackSize,
		RegistrySize:     1024,
		RegistryGrowStep: 1024,
		RegistryMaxSize:  1024 * 256,
	})
	s := &state{e: e, L: L, mods: map[string]*frozen{}}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		if err := L.PCall(1, 0, nil); err != nil {
			L.Close()
			return nil, fmt.Errorf("open %s library: %w", lib.name, err)
		}
	}
	g := L.G.Global
	for _, name := range removedBase {
		g.RawSetString(name, lua.LNil)
	}
	wrapIterators(L, g)
	g.RawSetString("print", L.NewFunction(luaPrint))
	g.RawSetString("require", L.NewFunction(s.require))

	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("__index", lua.LNil) // OpenString points it at the shared table
	installStringLimits(L, str, e.opts.MaxStringBytes)
	tbl := L.GetGlobal("table").(*lua.LTable)
	installTableLimits(L, tbl, e.opts.MaxStringBytes)
	osFull := L.GetGlobal("os").(*lua.LTable)
	osSafe := L.NewTable()
	for _, name := range []string{"time", "date", "clock"} {
		osSafe.RawSetString(name, osFull.RawGetString(name))
	}
	s.libs = []library{
		{"string", freeze(L, str)},
		{"table", freeze(L, tbl)},
		{"math", freeze(L, L.GetGlobal("math").(*lua.LTable))},
		{"os", freeze(L, osSafe)},
	}
	// Placeholders for what env sets per invocation, so the cloned table
	// has room for them and never grows.
	for _, name := range envSlots {
		g.RawSetString(name, lua.LFalse)
	}
	s.base = freeze(L, g)

	// The string metatable is shared by every string of the state: lock it
	// so getmetatable("") cannot reach the shared string table.
	s.strMeta = L.NewTable()
	s.strMeta.RawSetString("__metatable", lua.LString("locked"))
	L.SetMetatable(lua.LString(""), s.strMeta)

	s.logMod = freeze(L, newLogModule(L))
	s.rMeta = newRequestMeta(L)
	s.cfgMeta = newConfigMeta(L)
	s.hdrMeta = newHeaderMeta(L)
	s.envIndex = s.newGlobalsIndex(L)
	return s, nil
}

// library is a standard library given to functions through a proxy.
type library struct {
	name string
	f    *frozen
}

// envSlots are the globals env sets per invocation.
var envSlots = []string{"_G", "string", "table", "math", "os", "log", "r", "cfg"}

// env builds the fresh global environment of one invocation: a copy of the
// base functions, and proxies of the libraries.
func (s *state) env(call *Call) *lua.LTable {
	L := s.L
	env := s.base.clone(L)
	for _, lib := range s.libs {
		p := lib.f.proxy(L)
		env.RawSetString(lib.name, p)
		if lib.name == "string" {
			// Method calls on strings ("x"):upper() go through it too.
			s.strMeta.RawSetString("__index", p)
		}
	}
	env.RawSetString("_G", env)
	logT := s.logMod.proxy(L)
	env.RawSetString("log", logT)
	call.required["log"] = logT

	r := L.NewUserData()
	r.Value = call
	r.Metatable = s.rMeta
	env.RawSetString("r", r)
	cfg := L.NewUserData()
	cfg.Value = call
	cfg.Metatable = s.cfgMeta
	env.RawSetString("cfg", cfg)
	env.Metatable = s.globalsMeta(L)
	return env
}

// run executes fn for call on this state. A non-nil error means the state
// must not be reused.
func (s *state) run(ctx context.Context, call *Call, fn *Function) (err error) {
	L := s.L
	call.state = s
	vm := &vmCtx{Context: ctx, done: ctx.Done(), call: call, guard: s.e.guard, epoch: s.e.guard.epoch.Load()}
	call.env = s.env(call)
	L.SetContext(vm)
	defer func() {
		L.RemoveContext()
		call.state = nil
	}()
	lfn := L.NewFunctionFromProto(fn.proto)
	lfn.Env = call.env
	L.Push(lfn)
	perr := L.PCall(0, 0, nil)
	L.SetTop(0)
	if perr != nil {
		err = luaError(perr)
		if cause := vm.Err(); cause != nil {
			if fe, ok := err.(*FunctionError); ok && fe.Cause == nil {
				fe.Cause = cause
			}
		}
		return err
	}
	if cause := vm.Err(); cause != nil {
		// The deadline passed while the last instruction (a module call)
		// was running: the function did not finish in time.
		return &FunctionError{Message: fmt.Sprintf("%s: %v", fn.Name, cause), Cause: cause}
	}
	return nil
}

// require resolves only the engine's modules and the invocation's own.
func (s *state) require(L *lua.LState) int {
	name := L.CheckString(1)
	call := CallOf(L)
	if call == nil {
		L.RaiseError("require called outside an invocation")
	}
	t := s.module(L, call, name)
	if t == nil {
		L.RaiseError("module %q not found (available: %s)", name, strings.Join(s.available(call), ", "))
	}
	L.Push(t)
	return 1
}

// module returns the invocation's table of module name, opening it on
// first use, or nil when there is no such module. require and the
// globals' __index (a module used without require) share it, so both
// give the same table.
func (s *state) module(L *lua.LState, call *Call, name string) *lua.LTable {
	if t, ok := call.required[name]; ok {
		return t
	}
	var t *lua.LTable
	if m, ok := call.modules[name]; ok {
		t = m.Open(L)
	} else if m, ok := s.e.modules[name]; ok {
		f, ok := s.mods[name]
		if !ok {
			f = freeze(L, m.Open(L))
			s.mods[name] = f
		}
		t = f.proxy(L)
	} else {
		return nil
	}
	call.required[name] = t
	return t
}

func (s *state) available(call *Call) []string {
	names := []string{"log"}
	for n := range s.e.modules {
		names = append(names, n)
	}
	for n := range call.modules {
		if _, ok := s.e.modules[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// wrapIterators makes next and pairs build the iteration index of a table
// whose index was deferred (see Call.DeferIndex) before walking it.
func wrapIterators(L *lua.LState, g *lua.LTable) {
	ensure := func(L *lua.LState) {
		if t, ok := L.Get(1).(*lua.LTable); ok {
			if c := CallOf(L); c != nil {
				c.EnsureIndex(t)
			}
		}
	}
	next := g.RawGetString("next").(*lua.LFunction)
	g.RawSetString("next", L.NewFunction(func(L *lua.LState) int {
		ensure(L)
		return next.GFunction(L)
	}))
	// pairs is a closure over its iterator: keep the upvalue.
	pairs := g.RawGetString("pairs").(*lua.LFunction)
	g.RawSetString("pairs", L.NewClosure(func(L *lua.LState) int {
		ensure(L)
		return pairs.GFunction(L)
	}, pairs.Upvalues[0].Value()))
}
