package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

func newBucketCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "bucket", "Manage the buckets of a relay",
		`Create, list, inspect and delete buckets, which group inputs and outputs,
and make the tokens callers of a token-auth bucket's inputs present.`,
		newBucketCreateCmd(r),
		newBucketLsCmd(r),
		newBucketGetCmd(r),
		newBucketRmCmd(r),
		newBucketRetentionCmd(r),
		subGroup("token", "Manage a bucket's tokens",
			`Make and list the tokens callers of a bucket with token auth present
(Authorization: Bearer <id>.<secret>). Delete one with 'fnctl token rm ID'.`,
			newBucketTokenCreateCmd(r),
			newBucketTokenLsCmd(r),
		),
	)
}

func newBucketCreateCmd(r *remote) *cobra.Command {
	var (
		auth, username, passwordEnv, description string
		ephemeral                                bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--auth none|basic|token] [--username U --password-env VAR] [--ephemeral] [--description S]",
		Short: "Create a bucket",
		Long: `Create a bucket. --auth says what callers of its inputs present: nothing
(none, the default), basic auth (--username, and the password in the
environment variable --password-env names, so it stays out of the shell's
history), or a bucket token (make one with 'fnctl bucket token create').
An --ephemeral bucket never stores bodies, headers or queries.
` + remoteHelp,
		Example: `  fnctl bucket create ci --auth token
  SHOP_PASSWORD=… fnctl bucket create shop --auth basic --username shopify --password-env SHOP_PASSWORD`,
		Args: exactArgs("NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			req := api.BucketRequest{Name: &args[0]}
			if cmd.Flags().Changed("description") {
				req.Description = &description
			}
			if ephemeral {
				req.Ephemeral = &ephemeral
			}
			switch relay.AuthType(auth) {
			case relay.AuthNone, relay.AuthToken:
				if username != "" || passwordEnv != "" {
					return usage("--username and --password-env are only used with --auth basic")
				}
				req.Auth = &api.AuthRequest{Type: auth}
			case relay.AuthBasic:
				if username == "" {
					return usage("--auth basic needs --username")
				}
				if passwordEnv == "" {
					return usage("--auth basic needs --password-env VAR, naming the environment variable that holds the password")
				}
				pw := s.a.getenv(passwordEnv)
				if pw == "" {
					return usage("--password-env: the environment variable %s is not set or empty", passwordEnv)
				}
				req.Auth = &api.AuthRequest{Type: auth, Username: username, Password: pw}
			default:
				return usage("invalid --auth %q: want none, basic or token", auth)
			}
			b, err := s.c.CreateBucket(ctx, req)
			if err != nil {
				return err
			}
			return s.print(b, func(w io.Writer) error {
				fmt.Fprintf(w, "created bucket %s (%s)\n", b.Name, b.ID)
				if string(b.Auth.Type) == string(relay.AuthToken) {
					fmt.Fprintf(w, "make a token for its callers with: fnctl bucket token create %s\n", b.Name)
				}
				return nil
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&auth, "auth", string(relay.AuthNone), "what callers present: none, basic or token")
	fs.StringVar(&username, "username", "", "basic-auth username")
	fs.StringVar(&passwordEnv, "password-env", "", "environment variable holding the basic-auth password")
	fs.BoolVar(&ephemeral, "ephemeral", false, "never store bodies, headers or queries")
	fs.StringVar(&description, "description", "", "what the bucket is for")
	return cmd
}

func newBucketLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the buckets",
		Long:  "List the relay's buckets.\n" + remoteHelp,
		Args:  exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			bs, err := s.c.ListBuckets(ctx)
			if err != nil {
				return err
			}
			return s.print(bs, func(w io.Writer) error {
				t := newTextTable(w, "NAME", "AUTH", "EPHEMERAL", "CREATED", "ID", "DESCRIPTION")
				for _, b := range bs {
					t.row(b.Name, b.Auth.Type, b.Ephemeral, timeText(b.CreatedAt), b.ID, truncateText(b.Description, 40))
				}
				return t.flush()
			})
		}),
	}
}

func newBucketGetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "get BUCKET",
		Short: "Show a bucket with its inputs and outputs",
		Long: `Show a bucket (by name or ID), and in text its inputs and outputs. -o json
prints the bucket's API object only.
` + remoteHelp,
		Args: exactArgs("BUCKET"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			b, err := s.c.GetBucket(ctx, args[0])
			if err != nil {
				return err
			}
			if s.json() {
				return s.print(b, nil)
			}
			ins, err := s.c.ListInputs(ctx, b.ID)
			if err != nil {
				return err
			}
			outs, err := s.c.ListOutputs(ctx, b.ID)
			if err != nil {
				return err
			}
			names, err := functionNames(ctx, s)
			if err != nil {
				return err
			}
			return s.print(b, func(w io.Writer) error {
				auth := string(b.Auth.Type)
				if string(b.Auth.Type) == string(relay.AuthBasic) {
					auth += " (username " + b.Auth.Username + ")"
				}
				if err := writeFields(w,
					"Name", b.Name,
					"ID", b.ID,
					"Description", b.Description,
					"Auth", auth,
					"Ephemeral", fmt.Sprint(b.Ephemeral),
					"Created", timeText(b.CreatedAt),
					"Retention", retentionText(ctx, s, b.ID),
				); err != nil {
					return err
				}
				fmt.Fprintln(w, "\nInputs:")
				if err := inputTable(w, s.base, ins, map[string]string{b.ID: b.Name}, names); err != nil {
					return err
				}
				fmt.Fprintln(w, "\nOutputs:")
				return outputTable(w, outs, map[string]string{b.ID: b.Name}, names)
			})
		}),
	}
}

func newBucketRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm BUCKET",
		Short: "Delete a bucket",
		Long: `Delete a bucket (by name or ID) with its inputs, outputs, tokens, webhooks
and deliveries. The bucket goes at once; its webhooks and deliveries are
hidden at once and removed by the retention purge in the background
('fnctl retention' counts them as deleted).
` + remoteHelp,
		Args: exactArgs("BUCKET"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			b, err := s.c.GetBucket(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.DeleteBucket(ctx, b.ID); err != nil {
				return err
			}
			return s.printDeleted("bucket", b.ID, b.Name)
		}),
	}
}

func newBucketTokenCreateCmd(r *remote) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create BUCKET [--name N]",
		Short: "Make a token for a bucket's callers",
		Long: `Make a token for the callers of a bucket's inputs. The credential is
printed on stdout this once (with -o json, in the "credential" field):
only its hash is kept, so store it now. Callers send it as
"Authorization: Bearer <credential>".
` + remoteHelp,
		Args: exactArgs("BUCKET"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			nt, err := s.c.CreateBucketToken(ctx, args[0], name)
			if err != nil {
				return err
			}
			return printNewToken(s, nt, "bucket "+args[0])
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for the token, such as github")
	return cmd
}

// printNewToken prints a token just made: the credential (or the JSON
// object holding it) on stdout, and on stderr that it is shown once.
func printNewToken(s *session, nt *api.NewToken, what string) error {
	label := nt.Token.ID
	if nt.Token.Name != "" {
		label += " (" + nt.Token.Name + ")"
	}
	fmt.Fprintf(s.a.stderr, "Created token %s for %s.\nThe credential is shown once: keep it safe now, only its hash is stored.\n", label, what)
	return s.print(nt, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, nt.Credential)
		return err
	})
}

func newBucketTokenLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls BUCKET",
		Short: "List a bucket's tokens",
		Long:  "List a bucket's tokens (never their secrets).\n" + remoteHelp,
		Args:  exactArgs("BUCKET"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			toks, err := s.c.ListBucketTokens(ctx, args[0])
			if err != nil {
				return err
			}
			return s.print(toks, func(w io.Writer) error { return tokenTable(w, toks) })
		}),
	}
}

// tokenTable writes tokens as a table.
func tokenTable(w io.Writer, toks []*api.Token) error {
	t := newTextTable(w, "ID", "NAME", "CREATED")
	for _, tk := range toks {
		t.row(tk.ID, tk.Name, timeText(tk.CreatedAt))
	}
	return t.flush()
}

// functionNames maps the relay's function IDs to their names.
func functionNames(ctx context.Context, s *session) (map[string]string, error) {
	fns, err := s.c.ListFunctions(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(fns))
	for _, f := range fns {
		m[f.ID] = f.Name
	}
	return m, nil
}

// nameOr returns names[id], or id when it is not there.
func nameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}
