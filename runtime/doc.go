// Package runtime is the sandboxed Lua engine that runs relayfn functions.
//
// A function is a Lua 5.1 chunk. The [Engine] compiles each distinct source
// once (cached by name and SHA-256 of the source), keeps a pool of Lua states,
// and runs every invocation in a fresh global environment built over the
// state's shared libraries, so one invocation can neither see another's
// globals nor change the libraries the next one gets.
//
// # Sandbox
//
// Only base (without load, loadstring, dofile, loadfile, getfenv, setfenv,
// collectgarbage, newproxy, module), string, table, math and os.time,
// os.date and os.clock are open. require resolves only the engine's modules
// and the invocation's own ones.
//
// # Limits and what is guaranteed
//
//   - Time: every invocation has a deadline (Options.Timeout, 10 s by default,
//     or Input.Timeout). The deadline is checked before every Lua instruction,
//     so loops end even inside pcall, and it is the context every module call
//     (HTTP, BigQuery, email) receives.
//   - Growth in Go code: string.rep, string.format, string.gsub and
//     table.concat refuse to build a string longer than Options.MaxStringBytes;
//     print and log lines are capped at Options.MaxLogBytes per invocation.
//   - Memory: gopher-lua has no allocator hook, so the engine watches the
//     process heap. When it has grown more than Options.MemoryLimit above its
//     size when the engine started, every running invocation, at its next
//     instruction, measures what it can reach (globals, the locals and
//     upvalues of every active frame, the request and response it built) and
//     an invocation holding more than Options.MemoryLimit is stopped with
//     [ErrMemoryLimit]. Other invocations keep running. Memory a function
//     allocates and drops is garbage the Go collector reclaims. What is not
//     covered: unnamed temporaries of a single expression, which one
//     instruction bounds by the string cap.
//   - Recursion: the Lua call stack is bounded (Options.CallStackSize).
//   - Panics in Go code reached from Lua end the invocation with an error;
//     they never reach the caller.
//
// A state that ended in an error is discarded rather than returned to the pool.
package runtime
