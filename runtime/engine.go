package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Defaults for [Options] fields left zero.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultMaxBodyBytes   = 3 << 20
	DefaultMemoryLimit    = 64 << 20
	DefaultMaxStringBytes = 16 << 20
	DefaultMaxLogBytes    = 64 << 10
	DefaultCallStackSize  = 200
	DefaultMaxCached      = 1024
)

// Options configure an [Engine]. The zero value is usable: every zero field
// takes its Default value.
type Options struct {
	// Modules are the modules every function can require. Module tables are
	// opened once per Lua state and copied into each invocation.
	Modules []Module
	// Timeout is the wall-clock deadline of an invocation unless its Input
	// sets one.
	Timeout time.Duration
	// MaxBodyBytes caps the request body a function receives and the bodies
	// it sets.
	MaxBodyBytes int
	// MemoryLimit is what one invocation may hold before it is stopped.
	MemoryLimit int64
	// MaxStringBytes caps strings built by string.rep, string.format,
	// string.gsub and table.concat.
	MaxStringBytes int
	// MaxLogBytes caps the print and log output kept per invocation.
	MaxLogBytes int
	// CallStackSize bounds Lua call depth (unbounded recursion ends with
	// "stack overflow").
	CallStackSize int
	// PoolSize is how many idle Lua states are kept; 0 means 4 per CPU.
	PoolSize int
	// MaxCached is how many compiled functions are kept.
	MaxCached int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.MaxStringBytes <= 0 {
		o.MaxStringBytes = DefaultMaxStringBytes
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = DefaultMaxLogBytes
	}
	if o.CallStackSize <= 0 {
		o.CallStackSize = DefaultCallStackSize
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 4 * goruntime.GOMAXPROCS(0)
	}
	if o.MaxCached <= 0 {
		o.MaxCached = DefaultMaxCached
	}
	return o
}

// Errors an invocation can end with, besides the function's own. Test with
// errors.Is on [Result.Err].
var (
	ErrTimeout      = errors.New("function timed out")
	ErrMemoryLimit  = errors.New("function exceeded its memory limit")
	ErrBodyTooLarge = errors.New("request body exceeds the limit")
)

// An Engine compiles and runs functions. It is safe for concurrent use.
// Close stops its memory watchdog.
type Engine struct {
	opts    Options
	modules map[string]Module
	cache   *protoCache
	pool    chan *state
	guard   *memGuard
}

// New returns an engine with the given options.
func New(opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	mods := make(map[string]Module, len(opts.Modules))
	for i, m := range opts.Modules {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("modules[%d]: %w", i, err)
		}
		if _, dup := mods[m.Name]; dup {
			return nil, fmt.Errorf("modules[%d]: duplicate module %q", i, m.Name)
		}
		mods[m.Name] = m
	}
	e := &Engine{
		opts:    opts,
		modules: mods,
		cache:   newProtoCache(opts.MaxCached),
		pool:    make(chan *state, opts.PoolSize),
		guard:   newMemGuard(uint64(opts.MemoryLimit)),
	}
	return e, nil
}

// Close stops the engine's background watchdog and drops its idle states.
// Invocations already running finish normally.
func (e *Engine) Close() {
	e.guard.close()
	for {
		select {
		case s := <-e.pool:
			s.L.Close()
		default:
			return
		}
	}
}

// Run invokes fn with in and returns what it did. It never returns nil and
// never panics: a function error, timeout or memory stop is reported in
// Result.Error and Result.Err, and the request is then not to be forwarded.
func (e *Engine) Run(ctx context.Context, fn *Function, in *Input) (res *Result) {
	start := time.Now()
	call := newCall(e, in)
	res = &Result{}
	defer func() {
		if p := recover(); p != nil {
			// A panic outside the Lua VM's own recovery: keep the process up.
			call.fail(fmt.Errorf("internal error: %v\n%s", p, debug.Stack()))
		}
		call.fill(res)
		res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	}()
	if len(in.Request.Body) > e.opts.MaxBodyBytes {
		call.fail(fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, len(in.Request.Body), e.opts.MaxBodyBytes))
		return res
	}
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = e.opts.Timeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, &timeoutError{timeout})
	defer cancel()
	call.ctx = ctx

	s, err := e.getState()
	if err != nil {
		call.fail(err)
		return res
	}
	e.guard.enter()
	defer e.guard.leave()
	if err := s.run(ctx, call, fn); err != nil {
		call.fail(err)
		s.L.Close() // a state that failed may hold anything: never reuse it
		return res
	}
	e.putState(s)
	return res
}

func (e *Engine) getState() (*state, error) {
	select {
	case s := <-e.pool:
		return s, nil
	default:
		return newState(e)
	}
}

func (e *Engine) putState(s *state) {
	select {
	case e.pool <- s:
	default:
		s.L.Close()
	}
}

// timeoutError is the cause of a deadline: "function timed out after 10s".
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string        { return fmt.Sprintf("%v after %s", ErrTimeout, e.d) }
func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }

// luaError turns what PCall returned into the error shown to the user: the
// chunk name and line first, no Go stack trace.
func luaError(err error) error {
	var api *lua.ApiError
	if errors.As(err, &api) {
		if s, ok := api.Object.(lua.LString); ok {
			return &FunctionError{Message: string(s), Cause: api.Cause}
		}
		return &FunctionError{Message: api.Object.String(), Cause: api.Cause}
	}
	return err
}

// FunctionError is a Lua error raised by a function (or by a module on its
// behalf). Message carries the chunk name and line, as "fn.lua:3: boom".
type FunctionError struct {
	Message string
	Cause   error
}

func (e *FunctionError) Error() string { return e.Message }

// Unwrap returns the Go error behind the Lua error, if any (a timeout or
// memory stop, for instance).
func (e *FunctionError) Unwrap() error { return e.Cause }
