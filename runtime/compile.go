package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Function is a compiled function version. It holds no Lua state and is safe
// to share between goroutines and invocations.
type Function struct {
	// Name is the chunk name errors are reported under, usually the file name.
	Name string
	// Hash is the hex SHA-256 of the source.
	Hash  string
	proto *lua.FunctionProto
}

// SyntaxError is a function that does not compile. Its message names the
// file and line: "fn.lua:3: syntax error near 'end'".
type SyntaxError struct {
	File    string
	Line    int
	Column  int
	Message string
}

func (e *SyntaxError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// Compile compiles src under the chunk name name. The same name and source
// compile once; later calls return the cached Function.
func (e *Engine) Compile(name string, src []byte) (*Function, error) {
	sum := sha256.Sum256(src)
	hash := hex.EncodeToString(sum[:])
	key := name + "\x00" + hash
	if fn := e.cache.get(key); fn != nil {
		return fn, nil
	}
	proto, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	fn := &Function{Name: name, Hash: hash, proto: proto}
	return e.cache.put(key, fn), nil
}

func compile(name string, src []byte) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.Token != "" {
				msg += fmt.Sprintf(" near '%s'", pe.Token)
			}
			line := pe.Pos.Line
			if line < 0 { // EOF
				line = bytes.Count(src, []byte("\n")) + 1
				msg += " at end of file"
			}
			return nil, &SyntaxError{File: name, Line: line, Column: pe.Pos.Column, Message: msg}
		}
		return nil, &SyntaxError{File: name, Message: err.Error()}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, &SyntaxError{File: name, Line: ce.Line, Message: ce.Message}
		}
		return nil, &SyntaxError{File: name, Message: err.Error()}
	}
	// Lua 5.1's compat "arg" table of the main chunk is built on every call
	// but no name reaches it (the chunk has no "arg" local): skip it.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	shrink(proto)
	return proto, nil
}

// shrink copies a compiled function's slices to their exact length. The
// compiler builds them with room to grow (4 KB of code and 8 KB of line
// numbers per function, used or not), and a cached function would keep
// that room for as long as it is cached.
func shrink(p *lua.FunctionProto) {
	p.Code = slices.Clone(p.Code)
	p.Constants = slices.Clone(p.Constants)
	p.FunctionPrototypes = slices.Clone(p.FunctionPrototypes)
	p.DbgSourcePositions = slices.Clone(p.DbgSourcePositions)
	p.DbgLocals = slices.Clone(p.DbgLocals)
	p.DbgCalls = slices.Clone(p.DbgCalls)
	p.DbgUpvalues = slices.Clone(p.DbgUpvalues)
	for _, c := range p.FunctionPrototypes {
		shrink(c)
	}
}

// protoCache keeps compiled functions by name and source hash. When full, it
// drops an arbitrary entry: functions are few and recompiling is cheap.
type protoCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]*Function
}

func newProtoCache(max int) *protoCache {
	return &protoCache{max: max, m: make(map[string]*Function)}
}

func (c *protoCache) get(key string) *Function {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

func (c *protoCache) put(key string, fn *Function) *Function {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		return old
	}
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = fn
	return fn
}
