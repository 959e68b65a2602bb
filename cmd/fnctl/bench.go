package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/runtime"
)

// benchResult is what bench prints with -o json.
type benchResult struct {
	Invocations int64   `json:"invocations"`
	PerSecond   float64 `json:"invocations_per_second"`
	P50         float64 `json:"p50_us"`
	P90         float64 `json:"p90_us"`
	P99         float64 `json:"p99_us"`
	Errors      int64   `json:"errors"`
}

func newBenchCmd(a *app) *cobra.Command {
	var (
		rf          requestFlags
		egf         egressFlags
		duration    time.Duration
		concurrency int
		output      string
	)
	cmd := &cobra.Command{
		Use:   "bench FILE.lua [-]",
		Short: "Measure a function's invocations per second and latency",
		Long: `Run a function over and over for --duration on --concurrency goroutines,
with the request the flags describe (as for run), and print the number of
invocations, invocations per second, and the 50th, 90th and 99th latency
percentiles (to within 2 %). The function is compiled once and warmed up
with an invocation that is not counted; when the first 3 invocations all
fail, bench stops there without measuring.

With -o json it prints {"invocations", "invocations_per_second", "p50_us",
"p90_us", "p99_us", "errors"}.

Exit status:
  0  every invocation succeeded
  1  an invocation failed (the first error goes to stderr), or the
     function does not compile
  2  bad usage`,
		Example: `  fnctl bench fn.lua --body-file push.json --duration 5s --concurrency 8`,
		Args:    functionArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case output != "text" && output != "json":
				return usage("invalid -o %q: want text or json", output)
			case duration <= 0:
				return usage("invalid --duration %s: must be positive", duration)
			case concurrency < 1:
				return usage("invalid --concurrency %d: must be at least 1", concurrency)
			}
			lf, err := loadLocal(a, cmd, args, &rf, &egf)
			if err != nil {
				return err
			}
			defer lf.Close()
			if err := benchPreflight(cmd.Context(), lf.engine, lf.fn, lf.in); err != nil {
				return failed(err)
			}
			res, firstErr := bench(cmd.Context(), lf.engine, lf.fn, lf.in, duration, concurrency)
			if output == "json" {
				err = writeJSON(a.stdout, res)
			} else {
				err = printBench(a.stdout, args[0], duration, concurrency, res)
			}
			if err != nil {
				return failed(fmt.Errorf("write the result: %w", err))
			}
			if firstErr != nil {
				return failed(fmt.Errorf("%d of %d invocations failed; the first: %w", res.Errors, res.Invocations, firstErr))
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	egf.register(cmd.Flags())
	fs := cmd.Flags()
	fs.DurationVar(&duration, "duration", 2*time.Second, "how long to run")
	fs.IntVar(&concurrency, "concurrency", 1, "how many invocations run at once")
	fs.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// preflightRuns is how many invocations must all fail before bench gives
// up without measuring.
const preflightRuns = 3

// benchPreflight runs fn until an invocation succeeds, and returns an
// error when the first preflightRuns all fail: a function that fails every
// time has nothing to measure, and would only fill --duration with errors.
// (It also warms the engine up.)
func benchPreflight(ctx context.Context, e *runtime.Engine, fn *runtime.Function, in *runtime.Input) error {
	var first error
	for i := 0; i < preflightRuns; i++ {
		call := *in
		res := e.Run(ctx, fn, &call)
		if res.Err == nil || ctx.Err() != nil {
			return nil
		}
		if first == nil {
			first = res.Err
		}
	}
	return fmt.Errorf("stopped before measuring: every invocation failed (%d of %d); the first: %w", preflightRuns, preflightRuns, first)
}

// bench runs fn with in on n goroutines until d has passed (or ctx ends)
// and returns the measurements and the first invocation error.
func bench(ctx context.Context, e *runtime.Engine, fn *runtime.Function, in *runtime.Input, d time.Duration, n int) (benchResult, error) {
	type worker struct {
		hist     histogram
		count    int64
		errs     int64
		firstErr error
	}
	workers := make([]worker, n)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				call := *in // each invocation gets its own Input; the request data is only read
				t0 := time.Now()
				res := e.Run(ctx, fn, &call)
				took := time.Since(t0)
				if ctx.Err() != nil {
					return // interrupted: this invocation does not count
				}
				w.hist.record(took)
				w.count++
				if res.Err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = res.Err
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var (
		all      histogram
		res      benchResult
		firstErr error
	)
	for i := range workers {
		w := &workers[i]
		all.merge(&w.hist)
		res.Invocations += w.count
		res.Errors += w.errs
		if firstErr == nil {
			firstErr = w.firstErr
		}
	}
	if elapsed > 0 {
		res.PerSecond = float64(res.Invocations) / elapsed.Seconds()
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	res.P50, res.P90, res.P99 = us(all.quantile(0.50)), us(all.quantile(0.90)), us(all.quantile(0.99))
	return res, firstErr
}

func printBench(w io.Writer, file string, d time.Duration, n int, r benchResult) error {
	_, err := fmt.Fprintf(w, `Function:     %s
Ran:          %s on %d goroutine(s)
Invocations:  %d (%.0f/s)
Latency:      p50 %.1fµs  p90 %.1fµs  p99 %.1fµs
Errors:       %d
`, file, d, n, r.Invocations, r.PerSecond, r.P50, r.P90, r.P99, r.Errors)
	return err
}
