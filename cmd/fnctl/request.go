package main

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/relayfn/relayfn/runtime"
)

// requestFlags are the flags that describe the request a function runs
// with, shared by run and bench.
type requestFlags struct {
	method   string
	path     string
	query    string
	headers  []string
	body     string
	bodyFile string
	config   []string
	metadata []string
	timeout  time.Duration
}

func (f *requestFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.method, "method", http.MethodPost, "request method")
	fs.StringVar(&f.path, "path", "/", "extra path after the input's URL")
	fs.StringVar(&f.query, "query", "", "raw query, such as 'a=1&b=2'")
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.StringVar(&f.body, "body", "", "request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from a file ('-' for stdin)")
	fs.StringArrayVar(&f.config, "config", nil, "configuration variable KEY=VALUE for cfg:GetValue (repeatable)")
	fs.StringArrayVar(&f.metadata, "metadata", nil, "r.Metadata entry KEY=VALUE, such as bucket_name=ci (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", 0, "invocation deadline (default 10s)")
}

// functionArgs accepts FILE.lua, optionally followed by "-" (body from
// stdin).
func functionArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usage("missing the function file (FILE.lua)")
	case len(args) > 2 || (len(args) == 2 && args[1] != "-"):
		return usage("unexpected arguments %q: give FILE.lua, and '-' to read the body from stdin", args[1:])
	}
	return nil
}

// input builds the invocation's input from the flags. dash says "-" was
// given, so the body comes from stdin.
func (f *requestFlags) input(cmd *cobra.Command, dash bool) (*runtime.Input, error) {
	sources := 0
	for _, set := range []bool{cmd.Flags().Changed("body"), f.bodyFile != "", dash} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return nil, usage("give the body one way: --body, --body-file or '-'")
	}
	body := []byte(f.body)
	switch {
	case dash || f.bodyFile == "-":
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, usage("read the body from stdin: %v", err)
		}
		body = b
	case f.bodyFile != "":
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return nil, usage("read --body-file: %v", err)
		}
		body = b
	}

	method := strings.ToUpper(strings.TrimSpace(f.method))
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, usage("invalid --method %q", f.method)
	}
	path := f.path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	header, err := headerValues(f.headers)
	if err != nil {
		return nil, err
	}
	config, err := keyValues("--config", f.config)
	if err != nil {
		return nil, err
	}
	metadata, err := keyValues("--metadata", f.metadata)
	if err != nil {
		return nil, err
	}
	if f.timeout < 0 {
		return nil, usage("invalid --timeout %s: must be positive", f.timeout)
	}
	return &runtime.Input{
		Request: runtime.Request{
			Method:   method,
			Path:     path,
			RawQuery: strings.TrimPrefix(f.query, "?"),
			Header:   header,
			Body:     body,
		},
		Config:   config,
		Metadata: metadata,
		Timeout:  f.timeout,
	}, nil
}

// headerValues parses -H 'Name: value' flags into a header.
func headerValues(list []string) (http.Header, error) {
	header := make(http.Header, len(list))
	for _, h := range list {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, usage("invalid -H %q: want 'Name: value'", h)
		}
		header.Add(name, strings.TrimSpace(value))
	}
	return header, nil
}

func keyValues(flag string, list []string) (map[string]string, error) {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usage("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// compileFile reads and compiles the function at path, naming it path so
// its errors read "path:line: …". A file that cannot be read is a usage
// error (exit 2); one that does not compile a failure (exit 1).
func compileFile(e *runtime.Engine, path string) (*runtime.Function, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage("function file %s does not exist", path)
		}
		return nil, usage("read the function: %v", err)
	}
	fn, err := e.Compile(path, src)
	if err != nil {
		return nil, failed(err)
	}
	return fn, nil
}
