package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/runtime"
)

func newRunCmd(a *app) *cobra.Command {
	var (
		rf     requestFlags
		egf    egressFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "run FILE.lua [-]",
		Short: "Run a function once and print what it did",
		Long: `Run a function once against a request built from the flags and print the
result: whether the request is forwarded, what the function changed, the
request as it will be forwarded, the response it set, its log and how long
it took. With -o json it prints the result as JSON (the shape the admin
API's invoke returns). A trailing '-' (or --body-file -) reads the body
from stdin.

The function gets the same modules as in the relay: http, bigquery and
mailgun reach the network through the egress settings of the flags. The
email module is not offered (require("email") fails): it needs the SMTP
server of relay.yaml's server.modules.smtp, which only 'fnctl serve' reads;
test email with 'fnctl test', which records the messages.

Exit status:
  0  the function ran to the end (whether or not it stopped forwarding)
  1  the function failed: a Lua error, a timeout or memory stop, or a
     syntax error; the error, with its file:line, goes to stderr
  2  bad usage: an unknown flag, a malformed -H, --config or --metadata,
     a function or body file that cannot be read`,
		Example: `  fnctl run fn.lua --body-file push.json -H 'X-GitHub-Event: push'
  curl -s https://example.com/payload.json | fnctl run fn.lua -o json -
  fnctl run fn.lua --method GET --path /hooks --query 'a=1' --config SECRET=s3cret`,
		Args: functionArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usage("invalid -o %q: want text or json", output)
			}
			lf, err := loadLocal(a, cmd, args, &rf, &egf)
			if err != nil {
				return err
			}
			defer lf.Close()
			res := lf.engine.Run(cmd.Context(), lf.fn, lf.in)
			if output == "json" {
				err = writeJSON(a.stdout, admin.ResultWire(res))
			} else {
				err = printResult(a.stdout, admin.ResultWire(res))
			}
			if err != nil {
				return failed(fmt.Errorf("write the result: %w", err))
			}
			if res.Err != nil {
				return failed(res.Err)
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	egf.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// localFunction is a function file compiled on an engine of its own, with
// the request to run it with: what run and bench work on.
type localFunction struct {
	eg     *egress.Client
	engine *runtime.Engine
	fn     *runtime.Function
	in     *runtime.Input
}

// loadLocal builds the request that rf and the optional '-' in args
// describe, starts an engine whose http, bigquery and mailgun modules go
// through the egress client of egf (email needs server.modules.smtp, which
// only serve reads), and compiles the function file args[0]. The caller
// must Close the result.
func loadLocal(a *app, cmd *cobra.Command, args []string, rf *requestFlags, egf *egressFlags) (*localFunction, error) {
	in, err := rf.input(cmd, len(args) == 2)
	if err != nil {
		return nil, err
	}
	eg, err := egf.client(a)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(builtins.EgressDeps(eg))
	if err != nil {
		eg.Close()
		return nil, failed(err)
	}
	lf := &localFunction{eg: eg, engine: e, in: in}
	lf.fn, err = compileFile(e, args[0])
	if err != nil {
		lf.Close()
		return nil, err
	}
	return lf, nil
}

// Close stops the engine and closes the egress client.
func (lf *localFunction) Close() {
	lf.engine.Close()
	lf.eg.Close()
}

// writeJSON writes v as indented JSON, leaving <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printResult writes res for a person to read.
func printResult(w io.Writer, res *api.Result) error {
	var b strings.Builder
	switch {
	case res.Error != "":
		b.WriteString("Forwarded: no (the function failed)\n")
	case res.StopForwarding:
		b.WriteString("Forwarded: no (the function stopped forwarding)\n")
	default:
		b.WriteString("Forwarded: yes\n")
	}
	rq := &res.Request
	target := rq.Path
	if rq.RawQuery != "" {
		target += "?" + rq.RawQuery
	}
	fmt.Fprintf(&b, "Request:   %s %s\n", rq.Method, target)
	var mods []string
	for _, m := range []struct {
		on   bool
		name string
	}{
		{rq.MethodModified, "method"},
		{rq.PathModified, "path"},
		{rq.RawQueryModified, "query"},
		{rq.HeaderModified, "header"},
		{rq.BodyModified, "body"},
	} {
		if m.on {
			mods = append(mods, m.name)
		}
	}
	if len(mods) == 0 {
		mods = []string{"nothing"}
	}
	fmt.Fprintf(&b, "Modified:  %s\n", strings.Join(mods, ", "))
	writeHeaders(&b, "  ", rq.Headers)
	writeBody(&b, "  ", rq.Body)
	if rs := &res.Response; rs.Modified {
		status := "status not set"
		if rs.Status != 0 {
			status = fmt.Sprintf("%d %s", rs.Status, http.StatusText(rs.Status))
		}
		fmt.Fprintf(&b, "Response:  %s\n", strings.TrimSpace(status))
		writeHeaders(&b, "  ", rs.Headers)
		writeBody(&b, "  ", rs.Body)
	}
	if len(res.Logs) == 0 {
		b.WriteString("Logs:      none\n")
	} else {
		b.WriteString("Logs:\n")
		writeIndented(&b, "  ", strings.Join(res.Logs, "\n"))
	}
	fmt.Fprintf(&b, "Duration:  %.3f ms\n", res.DurationMS)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHeaders(b *strings.Builder, indent string, h http.Header) {
	if len(h) == 0 {
		fmt.Fprintf(b, "%sHeaders: none\n", indent)
		return
	}
	fmt.Fprintf(b, "%sHeaders:\n", indent)
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s  %s: %s\n", indent, k, v)
		}
	}
}

func writeBody(b *strings.Builder, indent, body string) {
	if body == "" {
		fmt.Fprintf(b, "%sBody: empty\n", indent)
		return
	}
	fmt.Fprintf(b, "%sBody (%d bytes):\n", indent, len(body))
	writeIndented(b, indent+"  ", body)
}

// writeIndented writes text with each line indented; a final newline is
// added when missing.
func writeIndented(b *strings.Builder, indent, text string) {
	for line := range strings.Lines(text) {
		b.WriteString(indent)
		b.WriteString(strings.TrimSuffix(line, "\n"))
		b.WriteByte('\n')
	}
}
