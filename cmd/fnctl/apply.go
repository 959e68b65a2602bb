package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay/client"
	"github.com/relayfn/relayfn/relay/config"
)

func newApplyCmd(a *app) *cobra.Command {
	r := newRemote(a)
	var (
		file   string
		dryRun bool
		prune  bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f relay.yaml [--dry-run] [--prune]",
		Short: "Make a relay's functions and buckets match a relay.yaml",
		Long: `Apply a relay.yaml's functions and buckets to a running relay,
declaratively: functions and buckets are created or updated by name, and
the inputs and outputs of the file's buckets that it no longer lists are
deleted. Applying the same file twice changes nothing the second time.

The file is read here: the function files it names are read relative to
it, and secrets given as {env: NAME} or {file: PATH} (function config
values, basic-auth passwords; password_env too) from this environment and
relative to it, then sent to the relay with the sources and secrets inline
(over TLS in production). The server section is not sent: it takes effect
when the relay starts.

A function entry with neither file nor source refers to a function pushed
separately (fnctl function push), which must exist; its source is left
alone. A function that lists specs (spec: [fn.spec.yaml]) has them run
first against its file, as fnctl function push --spec does: when a test
fails, nothing is applied (also with --dry-run).

A function's config sets the variables it lists; variables it does not
mention are kept (they may be set with fnctl function config) unless
--prune is given.

Each object's change is printed (created, updated, deleted or
unchanged), then the counts; a configuration variable is named by its key,
never its value. --dry-run prints what would change and changes nothing.

Exit status 2 also when the file is invalid (each problem is printed with
its field and line) or the relay refuses it as invalid.
` + remoteHelp,
		Example: `  fnctl apply -f relay.yaml --dry-run
  fnctl apply -f relay.yaml`,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if file == "" {
				return usage("missing -f relay.yaml")
			}
			f, err := loadConfig(file, s.a.getenv)
			if err != nil {
				return err
			}
			out := s.stdout
			if s.json() {
				out = s.a.stderr // keep stdout for the report's JSON
			}
			if err := runApplySpecs(ctx, s.a, out, f); err != nil {
				return err
			}
			doc, err := f.Document()
			if err != nil {
				return usage("%v", err)
			}
			rep, err := s.c.ApplyWith(ctx, doc, client.ApplyOptions{DryRun: dryRun, Prune: prune})
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
				return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %s", file, ae.Message)}
			}
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(s.a.stderr, "fnctl: warning: %s\n", w)
			}
			return s.print(rep, func(w io.Writer) error { return writeReport(w, rep) })
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the relay.yaml to apply (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change; change nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete the configuration variables a function's config does not mention")
	r.register(cmd.Flags())
	return cmd
}

// loadConfig reads a relay.yaml as config.Load does, but reads the
// password_env variables through getenv. A file that cannot be read or is
// invalid is a usage error.
func loadConfig(path string, getenv func(string) string) (*config.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage("%s does not exist", path)
		}
		return nil, usage("read %v", err)
	}
	dir := filepath.Dir(path)
	f, err := config.Parse(data, config.ParseOptions{
		Name: path,
		Dir:  dir,
		ReadFile: func(name string) ([]byte, error) {
			full := name
			if !filepath.IsAbs(name) {
				full = filepath.Join(dir, filepath.FromSlash(name))
			}
			b, err := os.ReadFile(full)
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
			}
			return b, err
		},
		LookupEnv: func(name string) (string, bool) {
			v := getenv(name)
			return v, v != ""
		},
	})
	if err != nil {
		return nil, usage("%v", err)
	}
	return f, nil
}

// dryRunVerbs say what a dry run's changes would be.
var dryRunVerbs = map[string]string{
	config.Created: "would create",
	config.Updated: "would update",
	config.Deleted: "would delete",
}

// writeReport writes an apply report: one line per object, then the
// counts.
func writeReport(w io.Writer, rep *config.Report) error {
	var b strings.Builder
	for _, c := range rep.Changes {
		line := c.String()
		if rep.DryRun {
			if verb, ok := dryRunVerbs[c.Action]; ok {
				line = verb + strings.TrimPrefix(line, c.Action)
			}
		}
		b.WriteString(line)
		if c.ID != "" && c.Kind != config.KindConfig {
			fmt.Fprintf(&b, " [%s]", c.ID)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d created, %d updated, %d deleted, %d unchanged",
		rep.Count(config.Created), rep.Count(config.Updated), rep.Count(config.Deleted), rep.Count(config.Unchanged))
	if rep.DryRun {
		b.WriteString(" (dry run: nothing was changed)")
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
