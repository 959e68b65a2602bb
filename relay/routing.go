package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/runtime"
)

// routes is an immutable snapshot of what the hot path needs.
type routes struct {
	inputs  map[string]*inputRoute
	outputs map[string]*outputRoute
	buckets map[string]*Bucket
	// tokens maps bucket ID → token ID → token.
	tokens map[string]map[string]*Token
	// legacyTokens holds the buckets with a token whose secret is a
	// bcrypt hash (made by an earlier version): unknown token ids of such
	// a bucket are checked at bcrypt's cost too.
	legacyTokens map[string]bool
}

type inputRoute struct {
	input   *Input
	bucket  *Bucket
	fn      *boundFunction
	outputs []*outputRoute
}

type outputRoute struct {
	output *Output
	// dest is the parsed output.Destination; nil with destErr when it
	// does not parse.
	dest    *url.URL
	destErr error
	bucket  *Bucket
	fn      *boundFunction
	respFn  *boundFunction
}

// boundFunction is a compiled function with its configuration.
type boundFunction struct {
	meta   *functions.Function
	fn     *runtime.Function
	config map[string]string
	err    error // the function could not be compiled
}

// loadRoutes reads everything from the store and compiles the functions in
// use. A function that does not compile is kept with its error, so webhooks
// routed to it fail visibly instead of the whole relay refusing to start.
func loadRoutes(ctx context.Context, st Store, e *runtime.Engine, log *slog.Logger) (*routes, error) {
	rt := &routes{
		inputs:  map[string]*inputRoute{},
		outputs: map[string]*outputRoute{},
		buckets: map[string]*Bucket{},
		tokens:  map[string]map[string]*Token{},

		legacyTokens: map[string]bool{},
	}
	buckets, err := st.ListBuckets(ctx)
	if err != nil {
		return nil, fmt.Errorf("load buckets: %w", err)
	}
	for _, b := range buckets {
		rt.buckets[b.ID] = b
	}
	fns := map[string]*boundFunction{}
	bind := func(id string) (*boundFunction, error) {
		if id == "" {
			return nil, nil
		}
		if bf, ok := fns[id]; ok {
			return bf, nil
		}
		f, err := st.GetFunction(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load function %s: %w", id, err)
		}
		cfg, err := st.Config(ctx, f.ID)
		if err != nil {
			return nil, fmt.Errorf("load config of function %s: %w", f.Name, err)
		}
		bf := &boundFunction{meta: f, config: cfg}
		bf.fn, bf.err = e.Compile(f.Name+".lua", []byte(f.Source))
		if bf.err != nil {
			log.Error("function does not compile", "function", f.Name, "error", bf.err)
		}
		fns[id] = bf
		return bf, nil
	}
	outputs, err := st.ListOutputs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("load outputs: %w", err)
	}
	byBucket := map[string][]*outputRoute{}
	for _, o := range outputs {
		or := &outputRoute{output: o, bucket: rt.buckets[o.BucketID]}
		if or.bucket == nil {
			continue
		}
		if or.dest, err = url.Parse(o.Destination); err != nil {
			or.destErr = fmt.Errorf("output %s: destination: %w", o.Name, err)
		}
		if or.fn, err = bind(o.FunctionID); err != nil {
			return nil, err
		}
		if or.respFn, err = bind(o.ResponseFunctionID); err != nil {
			return nil, err
		}
		rt.outputs[o.ID] = or
		byBucket[o.BucketID] = append(byBucket[o.BucketID], or)
	}
	inputs, err := st.ListInputs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("load inputs: %w", err)
	}
	for _, in := range inputs {
		ir := &inputRoute{input: in, bucket: rt.buckets[in.BucketID], outputs: byBucket[in.BucketID]}
		if ir.bucket == nil {
			continue
		}
		if ir.fn, err = bind(in.FunctionID); err != nil {
			return nil, err
		}
		// Input ids are UUIDs, matched whatever their case.
		rt.inputs[strings.ToLower(in.ID)] = ir
	}
	for _, b := range buckets {
		if b.Auth.Type != AuthToken {
			continue
		}
		toks, err := st.ListTokens(ctx, b.ID)
		if err != nil {
			return nil, fmt.Errorf("load tokens of bucket %s: %w", b.Name, err)
		}
		m := make(map[string]*Token, len(toks))
		for _, t := range toks {
			m[t.ID] = t
			if isBcrypt(t.SecretHash) {
				rt.legacyTokens[b.ID] = true
			}
		}
		rt.tokens[b.ID] = m
	}
	return rt, nil
}

// metadata is r.Metadata for a function on this input or output.
func metadata(b *Bucket, in *Input, out *Output) map[string]string {
	md := map[string]string{"bucket_id": b.ID, "bucket_name": b.Name}
	if in != nil {
		md["input_id"] = in.ID
		md["input_name"] = in.Name
	}
	if out != nil {
		md["output_id"] = out.ID
		md["output_name"] = out.Name
		md["output_url"] = out.Destination
	}
	return md
}
