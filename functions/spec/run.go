package spec

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/relayfn/relayfn/runtime"
)

// Options configure Run.
type Options struct {
	// Run selects the tests to run by name; nil runs them all.
	Run *regexp.Regexp
	// Timeout is each invocation's deadline; 0 keeps the engine's.
	Timeout time.Duration
	// Sandbox, when set, is called before each test that runs. It returns
	// the modules that replace the side-effecting ones for that invocation
	// (they take precedence over the engine's modules of the same name),
	// answering HTTP calls from t.HTTP (see Test.Answer), and the Calls
	// they record into. A nil Calls counts as no calls made. Without a
	// sandbox, tests that use http answers or expect.http, expect.bigquery
	// or expect.emails fail without running.
	Sandbox func(t *Test) (modules []runtime.Module, calls *Calls)
}

// Report is the outcome of one spec file.
type Report struct {
	// Path is the spec file.
	Path string
	// Spec is the loaded spec; nil when it could not be loaded.
	Spec *Spec
	// Err is why the spec could not be run at all: it could not be read,
	// was invalid, or its function did not compile. No test ran then.
	Err error
	// Tests are the results of the tests that ran, in file order.
	Tests []TestResult
	// Skipped counts the tests Options.Run left out.
	Skipped int
	// Duration is how long loading and running the spec took.
	Duration time.Duration
}

// Passed counts the tests that passed.
func (r *Report) Passed() int {
	n := 0
	for i := range r.Tests {
		if r.Tests[i].Passed() {
			n++
		}
	}
	return n
}

// Failed counts the tests that failed.
func (r *Report) Failed() int { return len(r.Tests) - r.Passed() }

// OK reports whether the spec ran and every test that ran passed.
func (r *Report) OK() bool { return r.Err == nil && r.Failed() == 0 }

// TestResult is the outcome of one test.
type TestResult struct {
	// Name is the test's name.
	Name string
	// Failures lists the failed assertions; empty when the test passed.
	Failures []Failure
	// Logs are the function's print and log lines.
	Logs []string
	// Duration is how long the invocation took.
	Duration time.Duration
	// Result is what the function did; nil when it was not run.
	Result *runtime.Result
}

// Passed reports whether every assertion held.
func (r *TestResult) Passed() bool { return len(r.Failures) == 0 }

// Failure is a failed assertion.
type Failure struct {
	// Assertion names what was checked, as "expect.request.bodyContains".
	Assertion string
	// Expected and Actual show the two values compared (quoted strings,
	// JSON, or plain words); either may be empty when it says nothing.
	Expected string
	Actual   string
	// Message says what went wrong, with the expected and actual values.
	Message string
}

// String returns "assertion: message".
func (f Failure) String() string { return f.Assertion + ": " + f.Message }

// RunFile loads the spec at path and runs it. A spec that cannot be loaded
// gives a Report with Err set.
func RunFile(ctx context.Context, e *runtime.Engine, path string, opts Options) *Report {
	start := time.Now()
	s, err := Load(path)
	if err != nil {
		return &Report{Path: path, Err: err, Duration: time.Since(start)}
	}
	r := Run(ctx, e, s, opts)
	r.Duration = time.Since(start)
	return r
}

// Run compiles the spec's function once with e and runs the tests that
// opts selects, one after the other.
func Run(ctx context.Context, e *runtime.Engine, s *Spec, opts Options) *Report {
	start := time.Now()
	rep := &Report{Path: s.Path, Spec: s}
	defer func() { rep.Duration = time.Since(start) }()
	name := s.FunctionPath
	if name == "" {
		name = s.Filename
	}
	fn, err := e.Compile(name, s.Source)
	if err != nil {
		rep.Err = err
		return rep
	}
	for i := range s.Tests {
		t := &s.Tests[i]
		if opts.Run != nil && !opts.Run.MatchString(t.Name) {
			rep.Skipped++
			continue
		}
		rep.Tests = append(rep.Tests, runTest(ctx, e, fn, s, t, opts))
	}
	return rep
}

func runTest(ctx context.Context, e *runtime.Engine, fn *runtime.Function, s *Spec, t *Test, opts Options) TestResult {
	tr := TestResult{Name: t.Name, Logs: []string{}}
	if keys := t.usesSideEffects(); len(keys) > 0 && opts.Sandbox == nil {
		msg := "not supported by this build: no sandbox for http, bigquery and email calls is wired in, so the function was not run"
		if len(keys) > 1 {
			msg += " (the test also uses " + strings.Join(keys[1:], ", ") + ")"
		}
		tr.Failures = []Failure{{Assertion: keys[0], Message: msg}}
		return tr
	}
	in := &runtime.Input{
		Request: runtime.Request{
			Method:   strings.ToUpper(strings.TrimSpace(t.Request.Method)),
			Path:     t.Request.Path,
			RawQuery: strings.TrimPrefix(t.Request.Query, "?"),
			Header:   t.Request.HTTPHeader(),
			Body:     []byte(t.Request.Body),
		},
		Config:   s.Config,
		Metadata: t.Request.Metadata,
		Timeout:  opts.Timeout,
	}
	if p := in.Request.Path; p != "" && !strings.HasPrefix(p, "/") {
		in.Request.Path = "/" + p
	}
	var calls *Calls
	if opts.Sandbox != nil {
		in.Modules, calls = opts.Sandbox(t)
	}
	if calls == nil {
		calls = &Calls{}
	}
	start := time.Now()
	res := e.Run(ctx, fn, in)
	tr.Duration = time.Since(start)
	tr.Result = res
	if res.Logs != nil {
		tr.Logs = res.Logs
	}
	tr.Failures = check(t, res, calls)
	return tr
}
