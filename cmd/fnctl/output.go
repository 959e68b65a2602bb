package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

func newOutputCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "output", "Manage the outputs of a relay",
		`Create, list, inspect and delete outputs: the destinations a bucket's
webhooks are delivered to.

In text, destinations are shown without their path and query, which often
hold secrets; -o json shows them whole.`,
		newOutputCreateCmd(r),
		newOutputLsCmd(r),
		newOutputGetCmd(r),
		newOutputRmCmd(r),
	)
}

func newOutputCreateCmd(r *remote) *cobra.Command {
	var (
		destination, function, responseFunction string
		lockPath, internal                      bool
		timeout, agentWindow                    time.Duration
		maxAttempts, maxInFlight                int
	)
	cmd := &cobra.Command{
		Use:   "create BUCKET NAME --destination URL [--function F] [--response-function F] [--lock-path] [--timeout D] [--max-attempts N] [--max-in-flight N] [--internal [--agent-window D]]",
		Short: "Create an output",
		Long: `Create an output in BUCKET (a name or ID) that delivers its webhooks to
--destination, an http(s) URL; the webhook's extra path is appended unless
--lock-path. --function runs before each delivery and may rewrite or stop
it; --response-function runs on the destination's answer after the final
attempt. --timeout bounds one attempt (default 10s); a failed delivery is
tried up to --max-attempts times (default 8) with exponential backoff.
--max-in-flight caps the attempts to this output that run at once (default
16), so a destination that hangs holds no more of the relay's workers.
--internal outputs are delivered only by agents ('fnctl agent') subscribed
to the bucket, which reach the destination from their own network; their
deliveries wait up to --agent-window (default 10m) for an agent to connect.
` + remoteHelp,
		Example: `  fnctl output create ci slack --destination https://hooks.slack.com/services/T000/B000/XXX --function github-to-slack`,
		Args:    exactArgs("BUCKET", "NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if destination == "" {
				return usage("missing --destination URL")
			}
			if relay.ValidateDestination(destination) != nil {
				// Not repeated: a destination's path often holds a secret.
				return usage("invalid --destination: want an absolute http(s) URL with a host and no #fragment")
			}
			if timeout < 0 {
				return usage("invalid --timeout %s: must not be negative", timeout)
			}
			if maxAttempts < 0 {
				return usage("invalid --max-attempts %d: must not be negative", maxAttempts)
			}
			if maxInFlight < 0 {
				return usage("invalid --max-in-flight %d: must not be negative", maxInFlight)
			}
			req := api.OutputRequest{Name: &args[1], Destination: &destination}
			if maxInFlight > 0 {
				req.MaxInFlight = &maxInFlight
			}
			if fl.Changed("function") {
				req.Function = &function
			}
			if fl.Changed("response-function") {
				req.ResponseFunction = &responseFunction
			}
			if lockPath {
				req.LockPath = &lockPath
			}
			if internal {
				req.Internal = &internal
			}
			if agentWindow < 0 || agentWindow > 0 && !internal {
				return usage("invalid --agent-window %s: a positive duration, with --internal", agentWindow)
			}
			if agentWindow > 0 {
				d := api.Duration(agentWindow)
				req.AgentWindow = &d
			}
			if timeout > 0 {
				d := api.Duration(timeout)
				req.Timeout = &d
			}
			if maxAttempts > 0 {
				req.Retries = &api.RetriesRequest{MaxAttempts: maxAttempts}
			}
			out, err := s.c.CreateOutput(ctx, args[0], req)
			if err != nil {
				return err
			}
			return s.print(out, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "created output %s (%s) in bucket %s → %s\n", out.Name, out.ID, args[0], destinationText(out.Destination))
				return err
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&destination, "destination", "", "http(s) URL to deliver to (required)")
	fs.StringVar(&function, "function", "", "function (name or ID) to run before each delivery")
	fs.StringVar(&responseFunction, "response-function", "", "function (name or ID) to run on the destination's answer")
	fs.BoolVar(&lockPath, "lock-path", false, "keep the destination's path: do not append the webhook's extra path")
	fs.DurationVar(&timeout, "timeout", 0, "bound on one delivery attempt (default 10s)")
	fs.IntVar(&maxAttempts, "max-attempts", 0, "attempts before a delivery fails (default 8)")
	fs.IntVar(&maxInFlight, "max-in-flight", 0, "attempts to this output that run at once (default 16)")
	fs.BoolVar(&internal, "internal", false, "delivered by an agent rather than the relay")
	fs.DurationVar(&agentWindow, "agent-window", 0, "how long deliveries wait for an agent (default 10m; with --internal)")
	return cmd
}

func newOutputLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls [BUCKET]",
		Short: "List outputs",
		Long:  "List the outputs of BUCKET (a name or ID), or of every bucket.\n" + remoteHelp,
		Args:  maxArgs(1),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			buckets, err := bucketsOf(ctx, s, args)
			if err != nil {
				return err
			}
			outs := []*api.Output{}
			bnames := make(map[string]string, len(buckets))
			for _, b := range buckets {
				bnames[b.ID] = b.Name
				list, err := s.c.ListOutputs(ctx, b.ID)
				if err != nil {
					return err
				}
				outs = append(outs, list...)
			}
			if s.json() {
				return s.print(outs, nil)
			}
			names, err := functionNames(ctx, s)
			if err != nil {
				return err
			}
			return s.print(outs, func(w io.Writer) error { return outputTable(w, outs, bnames, names) })
		}),
	}
}

// outputTable writes outputs as a table; buckets and fns map IDs to names.
func outputTable(w io.Writer, outs []*api.Output, buckets, fns map[string]string) error {
	t := newTextTable(w, "BUCKET", "NAME", "DESTINATION", "FUNCTION", "RESPONSE FUNCTION", "FLAGS", "ID")
	for _, o := range outs {
		fn, rfn := "", ""
		if o.FunctionID != "" {
			fn = nameOr(fns, o.FunctionID)
		}
		if o.ResponseFunctionID != "" {
			rfn = nameOr(fns, o.ResponseFunctionID)
		}
		t.row(nameOr(buckets, o.BucketID), o.Name, destinationText(o.Destination), fn, rfn, outputFlags(o), o.ID)
	}
	return t.flush()
}

// outputFlags lists an output's switches that are on.
func outputFlags(o *api.Output) string {
	var s string
	add := func(on bool, name string) {
		if on {
			if s != "" {
				s += ","
			}
			s += name
		}
	}
	add(o.LockPath, "lock-path")
	add(o.Internal, "internal")
	add(o.Disabled, "disabled")
	return s
}

func newOutputGetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show an output",
		Long:  "Show an output, by ID.\n" + remoteHelp,
		Args:  exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			o, err := s.c.GetOutput(ctx, args[0])
			if err != nil {
				return err
			}
			if s.json() {
				return s.print(o, nil)
			}
			bucket := o.BucketID
			if b, err := s.c.GetBucket(ctx, o.BucketID); err == nil {
				bucket = b.Name
			}
			names, err := functionNames(ctx, s)
			if err != nil {
				return err
			}
			fn, rfn := "", ""
			if o.FunctionID != "" {
				fn = nameOr(names, o.FunctionID)
			}
			if o.ResponseFunctionID != "" {
				rfn = nameOr(names, o.ResponseFunctionID)
			}
			rp := o.Retries
			attempts := rp.MaxAttempts
			if attempts == 0 {
				attempts = relay.DefaultMaxAttempts
			}
			backoff := rp.Backoff
			if backoff == "" {
				backoff = "exponential"
			}
			return s.print(o, func(w io.Writer) error {
				return writeFields(w,
					"Name", o.Name,
					"ID", o.ID,
					"Bucket", bucket,
					"Destination", destinationText(o.Destination),
					"Function", fn,
					"Response function", rfn,
					"Lock path", fmt.Sprint(o.LockPath),
					"Timeout", durationText(time.Duration(o.Timeout), relay.DefaultOutputTimeout.String()),
					"Retries", fmt.Sprintf("%d attempts, %s backoff", attempts, backoff),
					"Max in flight", maxInFlightText(o.MaxInFlight),
					"Internal", internalText(o),
					"Disabled", fmt.Sprint(o.Disabled),
					"Created", timeText(o.CreatedAt),
				)
			})
		}),
	}
}

func newOutputRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID",
		Short: "Delete an output",
		Long: "Delete an output, by ID, with its deliveries. The output goes at once; its\n" +
			"deliveries are hidden at once and removed by the retention purge in the\n" +
			"background.\n" + remoteHelp,
		Args: exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			o, err := s.c.GetOutput(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.DeleteOutput(ctx, o.ID); err != nil {
				return err
			}
			return s.printDeleted("output", o.ID, o.Name)
		}),
	}
}

// internalText says whether o is delivered by agents, and how long its
// deliveries wait for one.
func internalText(o *api.Output) string {
	if !o.Internal {
		return "false"
	}
	return "true (agents; waits " + durationText(time.Duration(o.AgentWindow), relay.DefaultAgentWindow.String()) + " for one)"
}

// maxInFlightText is an output's max_in_flight, naming the default for 0.
func maxInFlightText(n int) string {
	if n == 0 {
		return fmt.Sprintf("%d (default)", relay.DefaultMaxInFlight)
	}
	return fmt.Sprint(n)
}
