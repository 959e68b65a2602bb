// Command fnctl is relayfn's command line: it runs, tests and benchmarks
// functions offline, runs the relay (fnctl serve), and manages a running
// relay through its admin API. See `fnctl --help` and the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
