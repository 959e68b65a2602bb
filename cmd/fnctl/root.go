package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// Exit codes.
const (
	exitOK     = 0 // the command did what was asked
	exitFailed = 1 // a function or a test failed
	exitUsage  = 2 // bad usage, or input (a file, a spec) that could not be read
)

// exitError ends fnctl with Code. Err is printed to stderr unless it is nil,
// which means the command has already said what went wrong.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// failed is an exit status 1 error.
func failed(err error) error { return &exitError{Code: exitFailed, Err: err} }

// usage is an exit status 2 error.
func usage(format string, args ...any) error {
	return &exitError{Code: exitUsage, Err: fmt.Errorf(format, args...)}
}

// app is what every command shares.
type app struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// newRootCmd builds fnctl's command tree, writing to stdout and stderr and
// reading the environment through getenv.
func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:   "fnctl",
		Short: "Run, test and serve relayfn webhook functions",
		Long: `fnctl is relayfn's command line. Offline, it runs Lua webhook functions once
against a request (run), against the test cases of spec files (test), or in a
loop to measure them (bench), with the same engine and modules as the relay.
It runs the relay itself (serve), and manages a running relay's functions,
buckets, inputs, outputs and deliveries through its admin API (--server,
--token, or FNCTL_SERVER and FNCTL_TOKEN).

Exit status: 0 success, 1 a function, test or operation failed, 2 bad usage
or unreadable input.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{Code: exitUsage, Err: err}
	})
	root.AddCommand(commands(a)...)
	addCompletions(a, root)
	return root
}

// commands returns fnctl's subcommands. Each is built by its own newXCmd in
// its own file; new commands are registered here.
func commands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newRunCmd(a),
		newTestCmd(a),
		newBenchCmd(a),
		newServeCmd(a),
		newFunctionCmd(a),
		newBucketCmd(a),
		newInputCmd(a),
		newOutputCmd(a),
		newAttachCmd(a),
		newDetachCmd(a),
		newApplyCmd(a),
		newDeliveriesCmd(a),
		newWebhooksCmd(a), newSendCmd(a),
		newTokenCmd(a),
		newRetentionCmd(a),
		newAgentCmd(a),
		newAdminTokenCmd(a),
		newVersionCmd(a),
		newInitCmd(a),
		newTypesCmd(a),
		newLoginCmd(a),
		newLogoutCmd(a),
	}
}

// execute runs fnctl with args and returns its exit status, printing the
// error that ended it, if any, to stderr.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(stdout, stderr, getenv)
	root.SetIn(stdin)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitUsage // cobra's own errors: unknown commands, wrong arguments
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	}
	fmt.Fprintf(stderr, "fnctl: %v\n", err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// newEngine returns an engine with the modules functions get in the relay,
// wired to deps.
func newEngine(deps builtins.Deps) (*runtime.Engine, error) {
	e, err := runtime.New(runtime.Options{Modules: builtins.Modules(deps)})
	if err != nil {
		return nil, fmt.Errorf("start the engine: %w", err)
	}
	return e, nil
}
