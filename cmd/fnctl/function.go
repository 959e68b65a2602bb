package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/functions/spec"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

func newFunctionCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "function", "Manage the functions of a relay",
		`Create, update, push, list, inspect, delete and invoke the functions of a
running relay, and manage their configuration variables.`,
		newFunctionCreateCmd(r),
		newFunctionUpdateCmd(r),
		newFunctionPushCmd(r),
		newFunctionLsCmd(r),
		newFunctionGetCmd(r),
		newFunctionRmCmd(r),
		newFunctionVersionsCmd(r),
		newFunctionInvokeCmd(r),
		newFunctionRunCmd(r),
		newFunctionConfigCmd(r),
	)
}

// readSource reads a function's Lua file; a file that cannot be read is a
// usage error.
func readSource(path string) (string, error) {
	if path == "" {
		return "", usage("missing -f FILE.lua: the function's source")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usage("function file %s does not exist", path)
		}
		return "", usage("read the function: %v", err)
	}
	return string(b), nil
}

// timeoutFlag returns --timeout as a request field: nil when not given.
func timeoutFlag(cmd *cobra.Command, d time.Duration) (*api.Duration, error) {
	if !cmd.Flags().Changed("timeout") {
		return nil, nil
	}
	if d < 0 {
		return nil, usage("invalid --timeout %s: must not be negative", d)
	}
	ad := api.Duration(d)
	return &ad, nil
}

func newFunctionCreateCmd(r *remote) *cobra.Command {
	var (
		file    string
		timeout time.Duration
		config  []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME -f FILE.lua [--timeout D] [--config K=V]...",
		Short: "Create a function from a Lua file",
		Long: `Create a function named NAME from a Lua file. The relay compiles it first:
a syntax error is refused, naming the line. --config sets configuration
variables (cfg:GetValue); their values are secrets and are never shown.
` + remoteHelp,
		Example: `  fnctl function create github-to-slack -f github_to_slack.lua --timeout 5s --config SLACK_CHANNEL=#ci`,
		Args:    exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			src, err := readSource(file)
			if err != nil {
				return err
			}
			to, err := timeoutFlag(cmd, timeout)
			if err != nil {
				return err
			}
			cfg, err := secretKeyValues("--config", config)
			if err != nil {
				return err
			}
			req := api.FunctionRequest{Name: &args[0], Source: &src, Timeout: to}
			if len(cfg) > 0 {
				req.Config = cfg
			}
			f, err := s.c.CreateFunction(ctx, req)
			if err != nil {
				return err
			}
			return s.print(f, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "created function %s v%d (%s)\n", f.Name, f.Version, f.ID)
				return err
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVarP(&file, "file", "f", "", "the function's Lua file (required)")
	fs.DurationVar(&timeout, "timeout", 0, "invocation deadline (default: the relay's)")
	fs.StringArrayVar(&config, "config", nil, "configuration variable KEY=VALUE (repeatable)")
	return cmd
}

func newFunctionUpdateCmd(r *remote) *cobra.Command {
	var (
		file    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "update NAME -f FILE.lua [--timeout D]",
		Short: "Save a Lua file as a function's new version",
		Long: `Save a Lua file as the new version of the function NAME (a name or an ID).
A source the same as the current one makes no new version. --timeout also
changes the function's invocation deadline.
` + remoteHelp,
		Args: exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			src, err := readSource(file)
			if err != nil {
				return err
			}
			to, err := timeoutFlag(cmd, timeout)
			if err != nil {
				return err
			}
			old, err := s.c.GetFunction(ctx, args[0])
			if err != nil {
				return err
			}
			f, err := s.c.UpdateFunction(ctx, old.ID, api.FunctionRequest{Source: &src, Timeout: to})
			if err != nil {
				return err
			}
			return s.print(f, func(w io.Writer) error {
				return writeVersionChange(w, old, f, false)
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVarP(&file, "file", "f", "", "the function's Lua file (required)")
	fs.DurationVar(&timeout, "timeout", 0, "invocation deadline")
	return cmd
}

// writeVersionChange says what an update or push did to a function that
// was old (nil when it was just created) and is now f.
func writeVersionChange(w io.Writer, old, f *api.Function, push bool) error {
	var err error
	switch {
	case old == nil:
		_, err = fmt.Fprintf(w, "created function %s v%d (%s)\n", f.Name, f.Version, f.ID)
	case f.Version != old.Version:
		verb := "updated"
		if push {
			verb = "pushed"
		}
		_, err = fmt.Fprintf(w, "%s function %s: v%d (was v%d)\n", verb, f.Name, f.Version, old.Version)
	case f.Timeout != old.Timeout:
		_, err = fmt.Fprintf(w, "function %s: source unchanged at v%d; timeout now %s\n", f.Name, f.Version, durationText(time.Duration(f.Timeout), "the default"))
	default:
		_, err = fmt.Fprintf(w, "function %s unchanged at v%d\n", f.Name, f.Version)
	}
	return err
}

func newFunctionPushCmd(r *remote) *cobra.Command {
	var (
		file    string
		specs   []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push NAME -f FILE.lua [--spec SPEC|DIR]... [--timeout D]",
		Short: "Create a function or save a new version, after its specs pass",
		Long: `Create the function NAME from FILE.lua, or save FILE.lua as its new version
when it exists and the source changed. Built for CI: run it on every
commit, and only changed functions get new versions.

With --spec, the specs are run first, locally, with the same engine and
sandbox as 'fnctl test', against FILE.lua: a spec given as a file runs
against FILE.lua whatever its filename says; a folder is searched for
spec files (as 'fnctl test' does) and those whose filename is FILE.lua
run. When a test fails nothing is pushed: the failures are printed and
the exit status is 1 (2 when a spec cannot be read). When one spec ran,
it is stored with the function (body files inline): from then on the
relay saves a new version (pushed, or saved in the web console) only when
that spec passes.
` + remoteHelp,
		Example: `  fnctl function push github-to-slack -f functions/github_to_slack.lua --spec functions/
  fnctl function push audit -f audit.lua --spec audit.spec.yaml --timeout 2s`,
		Args: exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			src, err := readSource(file)
			if err != nil {
				return err
			}
			var storedSpec *string // stored with the function: the relay checks new versions with it
			to, err := timeoutFlag(cmd, timeout)
			if err != nil {
				return err
			}
			if len(specs) > 0 {
				out := s.stdout
				if s.json() {
					out = s.a.stderr // keep stdout for the function's JSON
				}
				if err := runPushSpecs(ctx, s.a, out, file, []byte(src), specs, timeout); err != nil {
					return err
				}
				if storedSpec, err = specToStore(s.a.stderr, file, specs); err != nil {
					return err
				}
			}
			name := args[0]
			old, err := s.c.GetFunction(ctx, name)
			var f *api.Function
			switch {
			case client.IsNotFound(err):
				old = nil
				f, err = s.c.CreateFunction(ctx, api.FunctionRequest{Name: &name, Source: &src, Timeout: to, Spec: storedSpec})
			case err == nil:
				f, err = s.c.UpdateFunction(ctx, old.ID, api.FunctionRequest{Source: &src, Timeout: to, Spec: storedSpec})
			}
			if err != nil {
				return err
			}
			return s.print(f, func(w io.Writer) error {
				return writeVersionChange(w, old, f, true)
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVarP(&file, "file", "f", "", "the function's Lua file (required)")
	fs.StringArrayVar(&specs, "spec", nil, "spec file or folder to run before pushing (repeatable)")
	fs.DurationVar(&timeout, "timeout", 0, "invocation deadline (default: the relay's; also used by the specs)")
	return cmd
}

// runPushSpecs runs the specs paths name against the function in file
// (whose source is src), writing the results to w. It returns an exit
// error when a spec could not be run (2) or a test failed (1).
func runPushSpecs(ctx context.Context, a *app, w io.Writer, file string, src []byte, paths []string, timeout time.Duration) error {
	fnInfo, err := os.Stat(file)
	if err != nil {
		return usage("read the function: %v", err)
	}
	type job struct {
		path     string
		explicit bool
	}
	var jobs []job
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return usage("--spec: %v", err)
		}
		found, err := spec.Discover([]string{p})
		if err != nil {
			return usage("--spec: %v", err)
		}
		for _, f := range found {
			jobs = append(jobs, job{path: f, explicit: !info.IsDir()})
		}
	}

	e, err := newEngine(builtins.Deps{})
	if err != nil {
		return failed(err)
	}
	defer e.Close()
	opts := spec.Options{Sandbox: spec.NewSandbox(spec.SandboxOptions{}), Timeout: timeout}

	var reports []*spec.Report
	for _, j := range jobs {
		s, err := spec.Load(j.path)
		if err != nil {
			reports = append(reports, &spec.Report{Path: j.path, Err: err})
			continue
		}
		same := false
		if info, err := os.Stat(s.FunctionPath); err == nil {
			same = os.SameFile(info, fnInfo)
		}
		if !same {
			if !j.explicit {
				continue // a spec of another function in the folder
			}
			fmt.Fprintf(a.stderr, "fnctl: note: %s names %s; running it against %s\n", j.path, s.Filename, file)
		}
		s.FunctionPath, s.Source = file, src
		reports = append(reports, spec.Run(ctx, e, s, opts))
	}
	if len(reports) == 0 {
		return usage("no spec in %s tests %s (a spec's filename must name it)", strings.Join(paths, ", "), file)
	}
	for _, rep := range reports {
		if err := printReport(w, rep, false); err != nil {
			return failed(fmt.Errorf("write the results: %w", err))
		}
	}
	sum := summarize(reports)
	if _, err := fmt.Fprintln(w, sum.String()); err != nil {
		return failed(fmt.Errorf("write the results: %w", err))
	}
	switch {
	case sum.errors > 0:
		return &exitError{Code: exitUsage, Err: errors.New("a spec could not be run: not pushed")}
	case sum.failed == 1:
		return failed(errors.New("1 test failed: not pushed"))
	case sum.failed > 1:
		return failed(fmt.Errorf("%d tests failed: not pushed", sum.failed))
	}
	return nil
}

func newFunctionLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the functions",
		Long:  "List the relay's functions: name, current version, timeout and ID.\n" + remoteHelp,
		Args:  exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			fns, err := s.c.ListFunctions(ctx)
			if err != nil {
				return err
			}
			return s.print(fns, func(w io.Writer) error {
				t := newTextTable(w, "NAME", "VERSION", "TIMEOUT", "UPDATED", "ID")
				for _, f := range fns {
					t.row(f.Name, f.Version, durationText(time.Duration(f.Timeout), "default"), timeText(f.UpdatedAt), f.ID)
				}
				return t.flush()
			})
		}),
	}
}

func newFunctionGetCmd(r *remote) *cobra.Command {
	var source bool
	cmd := &cobra.Command{
		Use:   "get NAME [--source]",
		Short: "Show a function",
		Long: `Show a function (by name or ID): its version, hash, timeout and the keys of
its configuration variables (never their values). --source prints its
current source instead, as is. -o json prints the API's object, which
includes the source.
` + remoteHelp,
		Args: exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			f, err := s.c.GetFunction(ctx, args[0])
			if err != nil {
				return err
			}
			if s.json() {
				return s.print(f, nil)
			}
			if source {
				_, err := io.WriteString(s.stdout, f.Source)
				return err
			}
			keys, err := s.c.ListConfig(ctx, f.ID)
			if err != nil {
				return err
			}
			return s.print(f, func(w io.Writer) error {
				return writeFields(w,
					"Name", f.Name,
					"ID", f.ID,
					"Version", fmt.Sprint(f.Version),
					"Hash", f.Hash,
					"Timeout", durationText(time.Duration(f.Timeout), "default"),
					"Config", strings.Join(keys, ", "),
					"Created", timeText(f.CreatedAt),
					"Updated", timeText(f.UpdatedAt),
				)
			})
		}),
	}
	cmd.Flags().BoolVar(&source, "source", false, "print the current source instead")
	return cmd
}

func newFunctionRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a function",
		Long: `Delete a function (by name or ID) with its versions and configuration. The
relay refuses while an input or output uses it: detach it first.
` + remoteHelp,
		Args: exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			f, err := s.c.GetFunction(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.DeleteFunction(ctx, f.ID); err != nil {
				return err
			}
			return s.printDeleted("function", f.ID, f.Name)
		}),
	}
}

func newFunctionVersionsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "versions NAME",
		Short: "List a function's versions",
		Long:  "List the saved versions of a function (by name or ID).\n" + remoteHelp,
		Args:  exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			vs, err := s.c.ListVersions(ctx, args[0])
			if err != nil {
				return err
			}
			return s.print(vs, func(w io.Writer) error {
				t := newTextTable(w, "VERSION", "CREATED", "HASH")
				for _, v := range vs {
					t.row(v.Version, timeText(v.CreatedAt), v.Hash)
				}
				return t.flush()
			})
		}),
	}
}

// registerInvokeFlags adds the request flags of `fnctl run` that invoke
// uses: not --config and --timeout, which come from the relay.
func registerInvokeFlags(f *requestFlags, fs *pflag.FlagSet) {
	fs.StringVar(&f.method, "method", http.MethodPost, "request method")
	fs.StringVar(&f.path, "path", "/", "extra path after the input's URL")
	fs.StringVar(&f.query, "query", "", "raw query, such as 'a=1&b=2'")
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.StringVar(&f.body, "body", "", "request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from a file ('-' for stdin)")
	fs.StringArrayVar(&f.metadata, "metadata", nil, "r.Metadata entry KEY=VALUE, such as bucket_name=ci (repeatable)")
}

func newFunctionInvokeCmd(r *remote) *cobra.Command {
	var rf requestFlags
	cmd := &cobra.Command{
		Use:   "invoke NAME [-] [request flags]",
		Short: "Run a function once on the relay",
		Long: `Run a function (by name or ID) once on the relay, with its stored
configuration, against a request built from the flags (as 'fnctl run'
builds it), and print the result as 'fnctl run' does. Nothing is stored
or forwarded. A trailing '-' (or --body-file -) reads the body from stdin.

Exit status 1 also when the function failed; its error goes to stderr.
` + remoteHelp,
		Example: `  fnctl function invoke github-to-slack --body-file push.json -H 'X-GitHub-Event: push'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usage("missing NAME")
			case len(args) > 2 || (len(args) == 2 && args[1] != "-"):
				return usage("unexpected arguments %q: give NAME, and '-' to read the body from stdin", args[1:])
			}
			return nil
		},
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			in, err := rf.input(cmd, len(args) == 2)
			if err != nil {
				return err
			}
			rq := in.Request
			res, err := s.c.Invoke(ctx, args[0], api.InvokeRequest{
				Method:   rq.Method,
				Path:     rq.Path,
				Query:    rq.RawQuery,
				Headers:  api.Header(rq.Header),
				Body:     string(rq.Body),
				Metadata: in.Metadata,
			})
			if err != nil {
				return err
			}
			return printInvokeResult(s, res)
		}),
	}
	registerInvokeFlags(&rf, cmd.Flags())
	return cmd
}

// printInvokeResult prints a result of the relay as `fnctl run` does, and
// fails when the function did.
func printInvokeResult(s *session, res *api.Result) error {
	var err error
	if s.json() {
		err = writeJSON(s.stdout, res)
	} else {
		err = printResult(s.stdout, res)
	}
	if err != nil {
		return failed(fmt.Errorf("write the result: %w", err))
	}
	if res.Error != "" {
		return failed(errors.New(res.Error))
	}
	return nil
}

// subGroup is a command that only holds subcommands; the connection flags
// come from its parent.
func subGroup(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + "\n" + remoteHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return usage("missing a subcommand")
		},
		RunE: func(cmd *cobra.Command, args []string) error { return nil },
	}
	cmd.AddCommand(subs...)
	return cmd
}

func newFunctionConfigCmd(r *remote) *cobra.Command {
	return subGroup("config", "Manage a function's configuration variables",
		`Set, list and delete a function's configuration variables, which it reads
with cfg:GetValue. Values are secrets: the relay stores them encrypted and
never returns them, and fnctl never prints them.`,
		newConfigSetCmd(r),
		newConfigLsCmd(r),
		newConfigRmCmd(r),
	)
}

func newConfigSetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME KEY=VALUE...",
		Short: "Set configuration variables",
		Long: `Set configuration variables of the function NAME. Other variables are left
as they are. The values are never printed.
` + remoteHelp,
		Example: `  fnctl function config set github-to-slack SLACK_CHANNEL=#ci SLACK_TOKEN="$SLACK_TOKEN"`,
		Args:    minArgs("NAME", "KEY=VALUE"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			cfg, err := secretKeyValues("KEY=VALUE argument", args[1:])
			if err != nil {
				return err
			}
			f, err := s.c.GetFunction(ctx, args[0])
			if err != nil {
				return err
			}
			set := make([]string, 0, len(cfg))
			for k := range cfg {
				set = append(set, k)
			}
			slices.Sort(set)
			for _, k := range set {
				if err := s.c.SetConfig(ctx, f.ID, k, cfg[k]); err != nil {
					return err
				}
			}
			return s.print(api.ConfigKeys{Keys: set}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "set %s on function %s\n", strings.Join(set, ", "), f.Name)
				return err
			})
		}),
	}
}

func newConfigLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls NAME",
		Short: "List the keys of configuration variables",
		Long:  "List the keys of the function NAME's configuration variables, one a line.\nValues are never shown.\n" + remoteHelp,
		Args:  exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			keys, err := s.c.ListConfig(ctx, args[0])
			if err != nil {
				return err
			}
			if keys == nil {
				keys = []string{}
			}
			return s.print(api.ConfigKeys{Keys: keys}, func(w io.Writer) error {
				for _, k := range keys {
					if _, err := fmt.Fprintln(w, k); err != nil {
						return err
					}
				}
				return nil
			})
		}),
	}
}

func newConfigRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME KEY...",
		Short: "Delete configuration variables",
		Long:  "Delete configuration variables of the function NAME. A key that is not set\nis an error.\n" + remoteHelp,
		Args:  minArgs("NAME", "KEY"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			keys := args[1:]
			for i, k := range keys {
				if strings.TrimSpace(k) == "" || strings.Contains(k, "=") {
					return usage("invalid KEY #%d: give the keys only, without =VALUE", i+1)
				}
			}
			f, err := s.c.GetFunction(ctx, args[0])
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := s.c.DeleteConfig(ctx, f.ID, k); err != nil {
					if client.IsNotFound(err) {
						return failed(fmt.Errorf("function %s has no config variable %q", f.Name, k))
					}
					return err
				}
			}
			return s.print(api.ConfigKeys{Keys: keys}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "deleted %s from function %s\n", strings.Join(keys, ", "), f.Name)
				return err
			})
		}),
	}
}

// secretKeyValues parses KEY=VALUE configuration variables. Unlike
// keyValues, its errors never repeat what was given, which may hold a
// value.
func secretKeyValues(what string, list []string) (map[string]string, error) {
	m := make(map[string]string, len(list))
	for i, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usage("invalid %s #%d: want KEY=VALUE", what, i+1)
		}
		m[k] = v
	}
	return m, nil
}
