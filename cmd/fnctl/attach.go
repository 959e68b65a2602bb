package main

import (
	"context"
	"fmt"
	"io"

	"github.com/relayfn/relayfn/relay/api"
	"github.com/spf13/cobra"
)

// attachTarget is the --input, --output-id and --response flags of attach
// and detach.
type attachTarget struct {
	input, output string
	response      bool
}

func (t *attachTarget) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&t.input, "input", "", "the input's ID")
	fs.StringVar(&t.output, "output-id", "", "the output's ID (-o/--output is the output format)")
	fs.BoolVar(&t.response, "response", false, "the output's response function, which runs on the destination's answer")
}

func (t *attachTarget) check() error {
	switch {
	case t.input == "" && t.output == "":
		return usage("give --input ID or --output-id ID")
	case t.input != "" && t.output != "":
		return usage("give --input or --output-id, not both")
	case t.response && t.output == "":
		return usage("--response is only used with --output-id")
	}
	return nil
}

// set points the target at function ("" detaches) and prints the updated
// input or output.
func (t *attachTarget) set(ctx context.Context, s *session, function string) error {
	role := "function"
	if t.response {
		role = "response function"
	}
	message := func(kind, name, id string) string {
		if function == "" {
			return fmt.Sprintf("detached the %s of %s %s (%s)\n", role, kind, name, id)
		}
		return fmt.Sprintf("attached %s %s to %s %s (%s)\n", role, function, kind, name, id)
	}
	if t.input != "" {
		in, err := s.c.UpdateInput(ctx, t.input, api.InputRequest{Function: &function})
		if err != nil {
			return err
		}
		return s.print(in, func(w io.Writer) error {
			_, err := io.WriteString(w, message("input", in.Name, in.ID))
			return err
		})
	}
	req := api.OutputRequest{Function: &function}
	if t.response {
		req = api.OutputRequest{ResponseFunction: &function}
	}
	out, err := s.c.UpdateOutput(ctx, t.output, req)
	if err != nil {
		return err
	}
	return s.print(out, func(w io.Writer) error {
		_, err := io.WriteString(w, message("output", out.Name, out.ID))
		return err
	})
}

func newAttachCmd(a *app) *cobra.Command {
	r := newRemote(a)
	var t attachTarget
	cmd := &cobra.Command{
		Use:   "attach FUNCTION --input ID | --output-id ID [--response]",
		Short: "Attach a function to an input or an output",
		Long: `Attach the function FUNCTION (a name or ID) to an input, where it runs once
per webhook and may answer the caller; to an output, where it runs before
each delivery; or, with --response, to an output as its response function,
which runs on the destination's answer after the final attempt. It
replaces the function attached there before.
` + remoteHelp,
		Example: `  fnctl attach github-to-slack --input 0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10
  fnctl attach audit --output-id 5f0c… --response`,
		Args: exactArgs("FUNCTION"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if err := t.check(); err != nil {
				return err
			}
			if args[0] == "" {
				return usage("missing FUNCTION")
			}
			return t.set(ctx, s, args[0])
		}),
	}
	t.register(cmd)
	r.register(cmd.Flags())
	return cmd
}

func newDetachCmd(a *app) *cobra.Command {
	r := newRemote(a)
	var t attachTarget
	cmd := &cobra.Command{
		Use:   "detach --input ID | --output-id ID [--response]",
		Short: "Detach the function of an input or an output",
		Long: `Detach the function of an input or an output, or with --response the
response function of an output. The function itself is kept.
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if err := t.check(); err != nil {
				return err
			}
			return t.set(ctx, s, "")
		}),
	}
	t.register(cmd)
	r.register(cmd.Flags())
	return cmd
}
