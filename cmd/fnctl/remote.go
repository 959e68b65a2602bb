package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/net/http/httpproxy"

	"github.com/relayfn/relayfn/relay/client"
)

// defaultServer is the relay the remote commands talk to when neither
// --server nor FNCTL_SERVER is set: `fnctl serve`'s default.
const defaultServer = "http://127.0.0.1:8080"

// remoteHelp is the part of every remote command's help that describes
// the connection, the output and the exit status.
const remoteHelp = `
The relay is --server (or FNCTL_SERVER, or what fnctl login saved; default
` + defaultServer + `), authenticated with the admin token --token (or
FNCTL_TOKEN, or the saved one). -o json (or
--output json) prints the admin API's objects as JSON; -o text, the
default, prints them for a person to read.

Exit status:
  0  done
  1  the relay refused or the operation failed (its message is printed),
     or the relay could not be reached
  2  bad usage: a missing argument or flag, a malformed value`

// remote is the connection settings shared by a group of remote commands:
// the relay's URL, the admin token and the output format.
type remote struct {
	a      *app
	server string
	token  string
	output string
	user   *userConfig // see saved
}

func newRemote(a *app) *remote { return &remote{a: a} }

// register adds --server, --token and -o to fs. -o is --output everywhere
// (an output's ID is --output-id), and also the hidden --format.
func (r *remote) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "relay URL (default $FNCTL_SERVER, else "+defaultServer+")")
	fs.StringVar(&r.token, "token", "", "admin token <id>.<secret> (default $FNCTL_TOKEN)")
	fs.StringVarP(&r.output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&r.output, "format", "text", "output format: text or json (the same as -o)")
	fs.MarkHidden("format")
}

// json reports whether -o json was given.
func (r *remote) json() bool { return r.output == "json" }

// baseURL returns the relay's URL from --server, FNCTL_SERVER, the user
// config (fnctl login) or the default, checked.
func (r *remote) baseURL() (string, error) {
	s := r.server
	if s == "" {
		s = strings.TrimSpace(r.a.getenv("FNCTL_SERVER"))
	}
	if s == "" {
		s = r.saved().Server
	}
	if s == "" {
		s = defaultServer
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usage("invalid --server %q: want an http(s) URL such as %s", s, defaultServer)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usage("invalid --server %q: want the relay's base URL, without user, query or fragment", u.Redacted())
	}
	return strings.TrimRight(s, "/"), nil
}

// tokenValue returns the admin token from --token, FNCTL_TOKEN or the user
// config. The saved token goes only to the saved server.
func (r *remote) tokenValue() string {
	if r.token != "" {
		return r.token
	}
	if t := strings.TrimSpace(r.a.getenv("FNCTL_TOKEN")); t != "" {
		return t
	}
	saved := r.saved()
	if base, err := r.baseURL(); err == nil && saved.Token != "" && base == strings.TrimRight(saved.Server, "/") {
		return saved.Token
	}
	return ""
}

// saved is the user config fnctl login wrote, read once; an unreadable one
// counts as empty.
func (r *remote) saved() *userConfig {
	if r.user == nil {
		c, err := loadUserConfig(r.a.getenv)
		if err != nil || c == nil {
			c = &userConfig{}
		}
		r.user = c
	}
	return r.user
}

// session is one command's connection to the relay.
type session struct {
	*remote
	c    *client.Client
	base string
	// stdout is where the command's result goes.
	stdout io.Writer
}

// run returns a RunE that checks -o and --server, connects, calls fn, and
// turns the relay's errors into exit statuses.
func (r *remote) run(fn func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if r.output != "text" && r.output != "json" {
			return usage("invalid -o %q: want text or json", r.output)
		}
		base, err := r.baseURL()
		if err != nil {
			return err
		}
		tr := newAdminTransport(r.a.getenv)
		defer tr.CloseIdleConnections()
		s := &session{
			remote: r,
			c:      client.New(base, r.tokenValue(), &http.Client{Transport: tr}),
			base:   base,
			stdout: r.a.stdout,
		}
		return s.check(fn(cmd.Context(), s, cmd, args))
	}
}

// newAdminTransport returns a transport that goes through the proxy the
// environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as read by getenv)
// names, like curl.
func newAdminTransport(getenv func(string) string) *http.Transport {
	env := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	pc := &httpproxy.Config{
		HTTPProxy:  env("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: env("HTTPS_PROXY", "https_proxy"),
		NoProxy:    env("NO_PROXY", "no_proxy"),
	}
	proxy := pc.ProxyFunc()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(req *http.Request) (*url.URL, error) { return proxy(req.URL) }
	return tr
}

// check turns an error of the client into fnctl's: usage errors pass
// through, a 401 says to check the token, other answers of the relay give
// its message, and a relay that cannot be reached says so. All but usage
// errors are exit status 1.
func (s *session) check(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	var ae *client.Error
	if errors.As(err, &ae) {
		if ae.Status == http.StatusUnauthorized {
			if s.tokenValue() == "" {
				return failed(errors.New("unauthorized: no admin token given: set --token or FNCTL_TOKEN, or run fnctl login"))
			}
			return failed(errors.New("unauthorized: check --token / FNCTL_TOKEN"))
		}
		return failed(errors.New(ae.Message))
	}
	if errors.Is(err, context.Canceled) {
		return failed(errors.New("interrupted"))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return failed(fmt.Errorf("cannot reach the relay at %s: %v", s.base, ue.Err))
	}
	return failed(err)
}

// print writes v as JSON with -o json (or when text is nil), or calls
// text otherwise.
func (s *session) print(v any, text func(w io.Writer) error) error {
	var err error
	if s.json() || text == nil {
		err = writeJSON(s.stdout, v)
	} else {
		err = text(s.stdout)
	}
	if err != nil {
		return failed(fmt.Errorf("write the result: %w", err))
	}
	return nil
}

// deletedObject is what a delete command prints with -o json: the admin API
// answers deletes without a body.
type deletedObject struct {
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Action string `json:"action"`
}

// printDeleted reports a deleted object.
func (s *session) printDeleted(kind, id, name string) error {
	return s.print(deletedObject{Kind: kind, ID: id, Name: name, Action: "deleted"}, func(w io.Writer) error {
		label := name
		switch {
		case label == "":
			label = id
		case id != "" && id != name:
			label += " (" + id + ")"
		}
		_, err := fmt.Fprintf(w, "deleted %s %s\n", kind, label)
		return err
	})
}

// textTable writes rows under a header of tab-separated columns.
type textTable struct {
	tw *tabwriter.Writer
}

func newTextTable(w io.Writer, columns ...string) *textTable {
	t := &textTable{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	t.row(anySlice(columns)...)
	return t
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// row adds a row; empty cells are written as "-".
func (t *textTable) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		v := fmt.Sprint(c)
		if v == "" {
			v = "-"
		}
		io.WriteString(t.tw, cellText(v))
	}
	io.WriteString(t.tw, "\n")
}

func (t *textTable) flush() error { return t.tw.Flush() }

// cellText keeps a cell on one line and out of the column separators.
func cellText(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return ' '
		}
		return r
	}, s)
}

// writeFields writes "Label:  value" lines, aligned.
func writeFields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], v)
	}
	return tw.Flush()
}

// timeText writes a time in UTC, to the second; "" for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// durationText writes a duration, or def for 0.
func durationText(d time.Duration, def string) string {
	if d == 0 {
		return def
	}
	return d.String()
}

// destinationText shows a destination URL without its user information,
// path and query, which often hold secrets (a Slack webhook's path is
// its credential). -o json shows it whole.
func destinationText(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(hidden)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// truncateText shortens s to n runes, marking the cut.
func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// exactArgs accepts exactly the named arguments, naming the missing ones.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usage("missing %s", strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usage("unexpected arguments %q", args[len(names):])
		}
		return nil
	}
}

// minArgs accepts the named arguments and then any more.
func minArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usage("missing %s", strings.Join(names[len(args):], " "))
		}
		return nil
	}
}

// maxArgs accepts up to n arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usage("unexpected arguments %q", args[n:])
		}
		return nil
	}
}

// groupCmd is a command that only holds subcommands and the connection
// flags they share.
func groupCmd(r *remote, use, short, long string, subs ...*cobra.Command) *cobra.Command {
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
	r.register(cmd.PersistentFlags())
	cmd.AddCommand(subs...)
	return cmd
}
