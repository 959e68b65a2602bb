package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/functions/spec"
)

func newTestCmd(a *app) *cobra.Command {
	var (
		egf          egressFlags
		allowNetwork bool
		files        []string
		runExpr      string
		junit        string
		verbose      bool
	)
	cmd := &cobra.Command{
		Use:   "test [-f SPEC]... [PATH]...",
		Short: "Run function specs",
		Long: `Run the tests of spec files. Spec files are given with -f or as paths; a
folder is searched recursively for *.spec.yaml and spec.yaml files
(folders starting with "." or "_" are left out). With neither, the
current folder is searched. Webhook Relay's 'relay function test' specs
work unchanged.

Each test prints one line, PASS or FAIL, with the spec file, the test name
and how long the function took. A failed test lists each failed assertion
with the expected and actual values, then the function's log; -v shows
the log of passing tests too. A spec that cannot be read or whose function
does not compile prints ERROR; the other specs still run. The last line
sums up, as "12 passed, 1 failed".

Exit status:
  0  every test passed
  1  a test failed
  2  a spec could not be read or compiled, no spec was found, or bad usage`,
		Example: `  fnctl test                         # every spec under the current folder
  fnctl test -f github.spec.yaml --run 'push.*main'
  fnctl test functions/ --junit report.xml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts spec.Options
			if runExpr != "" {
				re, err := regexp.Compile(runExpr)
				if err != nil {
					return usage("invalid --run: %v", err)
				}
				opts.Run = re
			}
			paths := append(append([]string{}, files...), args...)
			if len(paths) == 0 {
				paths = []string{"."}
			}
			specs, err := spec.Discover(paths)
			if err != nil {
				return usage("%v", err)
			}
			if len(specs) == 0 {
				return usage("no spec files (*.spec.yaml, spec.yaml) in %s", strings.Join(paths, ", "))
			}
			e, err := newEngine(builtins.Deps{})
			if err != nil {
				return failed(err)
			}
			defer e.Close()
			var sb spec.SandboxOptions
			if allowNetwork {
				eg, err := egf.client(a)
				if err != nil {
					return err
				}
				defer eg.Close()
				sb.Network = eg
			}
			opts.Sandbox = spec.NewSandbox(sb)

			reports := make([]*spec.Report, 0, len(specs))
			for _, p := range specs {
				r := spec.RunFile(cmd.Context(), e, p, opts)
				reports = append(reports, r)
				if err := printReport(a.stdout, r, verbose); err != nil {
					return failed(fmt.Errorf("write the results: %w", err))
				}
			}
			sum := summarize(reports)
			if _, err := fmt.Fprintln(a.stdout, sum.String()); err != nil {
				return failed(fmt.Errorf("write the results: %w", err))
			}
			if junit != "" {
				if err := writeJUnitFile(junit, reports); err != nil {
					return &exitError{Code: exitUsage, Err: err}
				}
			}
			switch {
			case sum.errors > 0:
				return &exitError{Code: exitUsage}
			case sum.failed > 0:
				return &exitError{Code: exitFailed}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	egf.register(fs)
	fs.BoolVar(&allowNetwork, "allow-network", false, "send HTTP calls that no http entry of the test answers (through the egress settings)")
	fs.StringArrayVarP(&files, "file", "f", nil, "spec file to run (repeatable)")
	fs.StringVar(&runExpr, "run", "", "run only the tests whose names match this regular expression")
	fs.StringVar(&junit, "junit", "", "also write the results as JUnit XML to this file")
	fs.BoolVarP(&verbose, "verbose", "v", false, "show the log of passing tests too")
	return cmd
}

// printReport writes one spec's results.
func printReport(w io.Writer, r *spec.Report, verbose bool) error {
	var b strings.Builder
	if r.Err != nil {
		fmt.Fprintf(&b, "ERROR %s\n", r.Path)
		writeIndented(&b, "    ", r.Err.Error())
	}
	for _, t := range r.Tests {
		status := "PASS"
		if !t.Passed() {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: %s (%s)\n", status, r.Path, t.Name, millis(t.Duration))
		for _, f := range t.Failures {
			writeIndented(&b, "    ", f.String())
		}
		if len(t.Logs) > 0 && (verbose || !t.Passed()) {
			b.WriteString("    logs:\n")
			writeIndented(&b, "      ", strings.Join(t.Logs, "\n"))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

type summary struct {
	passed, failed, skipped, errors int
}

func summarize(reports []*spec.Report) summary {
	var s summary
	for _, r := range reports {
		s.passed += r.Passed()
		s.failed += r.Failed()
		s.skipped += r.Skipped
		if r.Err != nil {
			s.errors++
		}
	}
	return s
}

// String is the summary line: "12 passed, 1 failed", with the skipped
// tests and the specs that could not be run when there are any.
func (s summary) String() string {
	line := fmt.Sprintf("%d passed, %d failed", s.passed, s.failed)
	if s.skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.skipped)
	}
	switch s.errors {
	case 0:
	case 1:
		line += "; 1 spec could not be run"
	default:
		line += fmt.Sprintf("; %d specs could not be run", s.errors)
	}
	return line
}

func writeJUnitFile(path string, reports []*spec.Report) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write --junit: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write --junit: %w", cerr)
		}
	}()
	if err := spec.WriteJUnit(f, reports); err != nil {
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	return nil
}
