package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay/api"
)

func newFunctionRunCmd(r *remote) *cobra.Command {
	var (
		webhook      string
		allowNetwork bool
	)
	cmd := &cobra.Command{
		Use:   "run NAME|FILE.lua --webhook ID [--allow-network]",
		Short: "Run a function on the relay against a stored webhook",
		Long: `Run a stored function (by name or ID), or a local draft (a .lua file), on the
relay against a stored webhook's request as it was received, and print what
'fnctl run' prints. Nothing is delivered or stored. A stored function runs
with its configuration; a draft with the configuration of the stored
function of the same name as the file, if there is one. HTTP calls fail
unless --allow-network is given (then they go through the relay's egress).

Exit status 1 also when the function failed; its error goes to stderr.
` + remoteHelp,
		Example: `  fnctl function run github-to-slack --webhook 0193a0c4-…
  fnctl function run ./github-to-slack.lua --webhook 0193a0c4-…`,
		Args: exactArgs("NAME|FILE"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if webhook == "" {
				return usage("missing --webhook ID: the stored webhook to run against")
			}
			req := api.RunRequest{Function: args[0], AllowNetwork: allowNetwork}
			if strings.HasSuffix(args[0], ".lua") {
				src, err := readSource(args[0])
				if err != nil {
					return err
				}
				req.Source = src
				req.Function = ""
				name := strings.TrimSuffix(args[0][strings.LastIndexAny(args[0], `/\`)+1:], ".lua")
				if _, err := s.c.GetFunction(ctx, name); err == nil {
					req.Function = name
				}
			}
			res, err := s.c.RunWebhook(ctx, webhook, req)
			if err != nil {
				return err
			}
			return printInvokeResult(s, res)
		}),
	}
	cmd.Flags().StringVar(&webhook, "webhook", "", "the stored webhook's ID (required)")
	cmd.Flags().BoolVar(&allowNetwork, "allow-network", false, "let the function's HTTP calls through the relay's egress")
	return cmd
}
