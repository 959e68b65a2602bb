package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

func newTokenCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "token", "Manage the admin tokens of a relay",
		`Make, list and delete admin tokens: the credentials of the admin API that
these commands use (--token, FNCTL_TOKEN). 'token rm' deletes bucket
tokens too. The relay keeps its last admin token.`,
		newTokenCreateCmd(r),
		newTokenLsCmd(r),
		newTokenRmCmd(r),
	)
}

func newTokenCreateCmd(r *remote) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create [--name N]",
		Short: "Make an admin token",
		Long: `Make an admin token. The credential is printed on stdout this once (with
-o json, in the "credential" field): only its hash is kept, so store it
now.
` + remoteHelp,
		Example: `  fnctl token create --name ci`,
		Args:    exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			nt, err := s.c.CreateAdminToken(ctx, name)
			if err != nil {
				return err
			}
			return printNewToken(s, nt, "the admin API")
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for the token, such as ci or laptop")
	return cmd
}

func newTokenLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the admin tokens",
		Long:  "List the admin tokens (never their secrets).\n" + remoteHelp,
		Args:  exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			toks, err := s.c.ListAdminTokens(ctx)
			if err != nil {
				return err
			}
			return s.print(toks, func(w io.Writer) error { return tokenTable(w, toks) })
		}),
	}
}

func newTokenRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID",
		Short: "Delete a token",
		Long:  "Delete an admin, bucket or agent token, by ID. The last admin token cannot be\ndeleted: make another first.\n" + remoteHelp,
		Args:  exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if err := s.c.DeleteToken(ctx, args[0]); err != nil {
				return err
			}
			return s.printDeleted("token", args[0], "")
		}),
	}
}
