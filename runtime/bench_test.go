package runtime_test

import (
	"context"
	"testing"

	"github.com/relayfn/relayfn/runtime"
)

// BenchmarkInvocationOverhead is the fixed cost of one invocation: a
// pooled state, a fresh environment, r and cfg, and the result.
func BenchmarkInvocationOverhead(b *testing.B) {
	e := newEngine(b, runtime.Options{})
	fn, err := e.Compile("empty.lua", []byte(`local x = r.RequestMethod`))
	if err != nil {
		b.Fatal(err)
	}
	in := webhook()
	b.ReportAllocs()
	for b.Loop() {
		if res := e.Run(context.Background(), fn, in); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}
