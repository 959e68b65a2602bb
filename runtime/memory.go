package runtime

import (
	"fmt"
	"runtime/metrics"
	"sync/atomic"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

const (
	heapMetric     = "/memory/classes/heap/objects:bytes"
	watchInterval  = 5 * time.Millisecond
	minWalkSpacing = 5 * time.Millisecond
)

// memGuard watches the process heap. While it is more than limit above its
// size when the guard started, it bumps epoch on every tick; each running
// invocation then measures itself at its next instruction.
type memGuard struct {
	epoch     atomic.Uint64
	active    atomic.Int64
	limit     uint64
	threshold uint64
	stop      chan struct{}
	stopped   atomic.Bool
}

func newMemGuard(limit uint64) *memGuard {
	g := &memGuard{limit: limit, stop: make(chan struct{})}
	g.threshold = heapBytes() + limit
	go g.watch()
	return g
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func (g *memGuard) watch() {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	s := []metrics.Sample{{Name: heapMetric}}
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		if g.active.Load() == 0 {
			continue
		}
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() > g.threshold {
			g.epoch.Add(1)
		}
	}
}

func (g *memGuard) enter() { g.active.Add(1) }
func (g *memGuard) leave() { g.active.Add(-1) }

func (g *memGuard) close() {
	if g.stopped.CompareAndSwap(false, true) {
		close(g.stop)
	}
}

// checkMemory runs on the VM goroutine between two instructions.
func (c *vmCtx) checkMemory() {
	c.epoch = c.guard.epoch.Load()
	now := time.Now()
	if now.Before(c.next) {
		return
	}
	limit := c.guard.limit
	size := c.call.measure(limit)
	spent := time.Since(now)
	c.next = now.Add(max(minWalkSpacing, 4*spent))
	if size > limit {
		c.killed = fmt.Errorf("%w (%d MiB)", ErrMemoryLimit, limit>>20)
		c.done = closedChan
	}
}

// measure estimates the bytes the invocation can reach: its globals, the
// locals and upvalues of every active frame, and the request and response
// it built. It stops counting once past limit.
func (c *Call) measure(limit uint64) uint64 {
	L := c.state.L
	w := walker{seen: make(map[any]struct{}), limit: limit, call: c}
	w.size = uint64(len(c.req.body) + len(c.resp.body) + c.logBytes)
	w.push(c.env)
	for _, t := range c.required {
		w.push(t)
	}
	for level := 0; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if fn, err := L.GetInfo("f", dbg, lua.LNil); err == nil {
			w.push(fn)
		}
		for i := 1; ; i++ {
			name, v := L.GetLocal(dbg, i)
			if name == "" {
				break
			}
			w.push(v)
		}
	}
	w.run()
	return w.size
}

// walker sums an approximate size of reachable Lua values. The figures are
// close to gopher-lua's own layout (a value is a 16-byte interface).
type walker struct {
	call  *Call
	seen  map[any]struct{}
	stack []lua.LValue
	size  uint64
	limit uint64
}

func (w *walker) push(v lua.LValue) {
	switch x := v.(type) {
	case lua.LString:
		// A string referenced many times is stored once: count it once.
		if len(x) >= 64 {
			p := unsafe.StringData(string(x))
			if _, ok := w.seen[p]; ok {
				return
			}
			w.seen[p] = struct{}{}
		}
		w.size += uint64(len(x)) + 16
	case *lua.LTable, *lua.LFunction, *lua.LUserData:
		if _, ok := w.seen[x]; ok {
			return
		}
		w.seen[x] = struct{}{}
		w.stack = append(w.stack, x)
	case lua.LNumber:
		w.size += 8 // boxed in its interface
	}
}

func (w *walker) run() {
	for len(w.stack) > 0 && w.size <= w.limit {
		v := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		switch x := v.(type) {
		case *lua.LTable:
			w.size += 96
			if x.Metatable != nil {
				w.push(x.Metatable)
			}
			// Next rather than ForEach, to stop early inside a huge table.
			w.call.EnsureIndex(x)
			for k, v := x.Next(lua.LNil); k != lua.LNil && w.size <= w.limit; k, v = x.Next(k) {
				w.size += 24
				w.push(k)
				w.push(v)
			}
		case *lua.LFunction:
			w.size += 64
			for _, uv := range x.Upvalues {
				w.size += 32
				w.push(uv.Value())
			}
		case *lua.LUserData:
			w.size += 64
			if x.Metatable != nil {
				w.push(x.Metatable)
			}
		}
	}
}
