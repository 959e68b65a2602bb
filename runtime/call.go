package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/internal/luatable"
)

// Input is what one invocation receives.
type Input struct {
	Request Request
	// Config holds the function's configuration variables, read with
	// cfg:GetValue(key).
	Config map[string]string
	// Metadata fills r.Metadata: bucket_id, bucket_name, input_id,
	// input_name, output_id, output_name, output_url.
	Metadata map[string]string
	// Timeout overrides the engine's deadline when positive.
	Timeout time.Duration
	// Modules are this invocation's own modules. They take precedence over
	// the engine's modules of the same name and are opened fresh for each
	// invocation (fnctl test uses them for recorded, mocked side effects).
	Modules []Module
}

// Call is one running invocation as module code sees it. Get it with
// [CallOf] from inside a Lua-callable Go function.
type Call struct {
	e        *Engine
	in       *Input
	ctx      context.Context
	state    *state
	env      *lua.LTable
	modules  map[string]Module
	required map[string]*lua.LTable
	values   map[any]any

	req  requestState
	resp responseState
	stop bool

	// unindexed maps tables built without their iteration index (decoded
	// JSON objects) to their keys in order; see DeferIndex.
	unindexed map[*lua.LTable][]string

	logs     []string
	logBytes int
	logCut   bool
	err      error
}

func newCall(e *Engine, in *Input) *Call {
	c := &Call{e: e, in: in, required: make(map[string]*lua.LTable, 4)}
	if len(in.Modules) > 0 {
		c.modules = make(map[string]Module, len(in.Modules))
		for _, m := range in.Modules {
			c.modules[m.Name] = m
		}
	}
	c.req.init(&in.Request)
	return c
}

// CallOf returns the invocation running on L, or nil when L is not running
// one (a module function called outside an invocation).
func CallOf(L *lua.LState) *Call {
	if vm, ok := L.Context().(*vmCtx); ok {
		return vm.call
	}
	return nil
}

// Context is the invocation's context: it carries the deadline, and ends
// when the invocation is stopped. Pass it to every outbound call.
func (c *Call) Context() context.Context { return c.ctx }

// Metadata returns r.Metadata's value for key ("" when unset).
func (c *Call) Metadata(key string) string { return c.in.Metadata[key] }

// Header returns the first value of the current (possibly rewritten)
// request header name.
func (c *Call) Header(name string) string { return c.req.header().Get(name) }

// Value returns what a module stored for this invocation under key.
func (c *Call) Value(key any) any { return c.values[key] }

// SetValue stores per-invocation module data (a client made by
// initialize, for instance); it is dropped when the invocation ends.
func (c *Call) SetValue(key, v any) {
	if c.values == nil {
		c.values = make(map[any]any)
	}
	c.values[key] = v
}

// DeferIndex records that t was built by luatable.NewDeferredObject, with
// order its keys in document order. The engine builds t's iteration index
// before anything iterates it (next, pairs, the memory guard, or a module
// calling EnsureIndex), so pairs still walks the keys in that order.
func (c *Call) DeferIndex(t *lua.LTable, order []string) {
	if c.unindexed == nil {
		c.unindexed = make(map[*lua.LTable][]string, 32)
	}
	c.unindexed[t] = order
}

// EnsureIndex builds the iteration index of t if DeferIndex deferred it.
// Go code that walks a table with LTable.Next calls it first.
func (c *Call) EnsureIndex(t *lua.LTable) {
	if order, ok := c.unindexed[t]; ok {
		luatable.BuildIndex(t, order)
		delete(c.unindexed, t)
	}
}

// Log appends a line to the invocation's log, within the log cap.
func (c *Call) Log(line string) {
	if c.logCut {
		return
	}
	max := c.e.opts.MaxLogBytes
	if c.logBytes+len(line) > max {
		c.logCut = true
		c.logs = append(c.logs, fmt.Sprintf("[relayfn] log truncated at %d bytes", max))
		return
	}
	c.logBytes += len(line)
	c.logs = append(c.logs, line)
}

func (c *Call) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// fill writes what the invocation did into res.
func (c *Call) fill(res *Result) {
	c.req.result(&res.Request)
	c.resp.result(&res.Response)
	res.StopForwarding = c.stop
	res.Logs = c.logs
	if res.Logs == nil {
		res.Logs = []string{}
	}
	if c.err != nil {
		res.Err = c.err
		res.Error = c.err.Error()
	}
}

func luaPrint(L *lua.LState) int {
	call := CallOf(L)
	if call == nil {
		return 0
	}
	call.Log(joinArgs(L, 1))
	return 0
}

func joinArgs(L *lua.LState, from int) string {
	top := L.GetTop()
	if top < from {
		return ""
	}
	if top == from {
		return L.ToStringMeta(L.Get(from)).String()
	}
	var b strings.Builder
	for i := from; i <= top; i++ {
		if i > from {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	return b.String()
}

// newLogModule is log.info/warn/error: lines prefixed with their level.
func newLogModule(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	for _, level := range []string{"debug", "info", "warn", "error"} {
		prefix := "[" + level + "] "
		t.RawSetString(level, L.NewFunction(func(L *lua.LState) int {
			if call := CallOf(L); call != nil {
				call.Log(prefix + joinArgs(L, 1))
			}
			return 0
		}))
	}
	return t
}

// vmCtx is the context the Lua VM checks before every instruction. Done is
// also where the memory guard gets its chance to measure the invocation, on
// the VM's own goroutine, between two instructions.
type vmCtx struct {
	context.Context
	done <-chan struct{}
	call *Call
	// killed is why the guard stopped the invocation; done is then closed.
	killed error
	guard  *memGuard
	epoch  uint64
	next   time.Time
}

func (c *vmCtx) Done() <-chan struct{} {
	if c.guard.epoch.Load() != c.epoch {
		c.checkMemory()
	}
	return c.done
}

// Err reports why the invocation ended: a timeout or memory stop rather
// than a bare "context canceled".
func (c *vmCtx) Err() error {
	if c.killed != nil {
		return c.killed
	}
	if err := context.Cause(c.Context); err != nil {
		return err
	}
	return c.Context.Err()
}

// closedChan is what Done returns once the guard stopped the invocation.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
