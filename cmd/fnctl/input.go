package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

func newInputCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "input", "Manage the inputs of a relay",
		`Create, list, inspect and delete inputs: the public endpoints
/v1/webhooks/{id} that receive a bucket's webhooks.`,
		newInputCreateCmd(r),
		newInputLsCmd(r),
		newInputGetCmd(r),
		newInputRmCmd(r),
	)
}

// webhookURL is the public URL of an input on the relay at base.
func webhookURL(base, id string) string { return base + "/v1/webhooks/" + id }

func newInputCreateCmd(r *remote) *cobra.Command {
	var (
		function, response, body, description, id string
		status                                    int
		headers                                   []string
		timeout                                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create BUCKET NAME [--function F] [--response default|static|function|destination] [--status N --body S -H K:V] [--timeout D]",
		Short: "Create an input and print its webhook URL",
		Long: `Create an input in BUCKET (a name or ID) and print its webhook URL,
SERVER/v1/webhooks/{id}.

--function attaches a function that runs on every webhook. --response says
what the caller gets: 200 at once (default), a static answer (static, with
--status, --body and -H), what the function set (function), or the first
output's answer (destination, waiting at most --timeout).
` + remoteHelp,
		Example: `  fnctl input create ci github --function github-to-slack
  fnctl input create ci stripe --response static --status 202 --body accepted -H 'X-Handled: yes'`,
		Args: exactArgs("BUCKET", "NAME"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			rr := &api.ResponseRequest{Mode: response}
			switch relay.ResponseMode(response) {
			case relay.ResponseDefault, relay.ResponseStatic, relay.ResponseFunction, relay.ResponseDestination:
			default:
				return usage("invalid --response %q: want default, static, function or destination", response)
			}
			static := relay.ResponseMode(response) == relay.ResponseStatic
			for _, f := range []string{"status", "body", "header"} {
				if fl.Changed(f) && !static {
					return usage("--%s is only used with --response static", f)
				}
			}
			if fl.Changed("timeout") && relay.ResponseMode(response) != relay.ResponseDestination {
				return usage("--timeout is only used with --response destination")
			}
			if static {
				if fl.Changed("status") && (status < 100 || status > 599) {
					return usage("invalid --status %d: want an HTTP status from 100 to 599", status)
				}
				rr.Status, rr.Body = status, body
				if len(headers) > 0 {
					h, err := headerValues(headers)
					if err != nil {
						return err
					}
					rr.Headers = make(map[string]string, len(h))
					for k, vs := range h {
						rr.Headers[k] = vs[len(vs)-1] // a repeated header: the last wins
					}
				}
			}
			if timeout < 0 {
				return usage("invalid --timeout %s: must not be negative", timeout)
			}
			rr.Timeout = api.Duration(timeout)
			req := api.InputRequest{Name: &args[1], Response: rr}
			if fl.Changed("function") {
				req.Function = &function
			}
			if fl.Changed("description") {
				req.Description = &description
			}
			if id != "" {
				req.ID = &id
			}
			in, err := s.c.CreateInput(ctx, args[0], req)
			if err != nil {
				return err
			}
			return s.print(in, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "created input %s (%s) in bucket %s\nwebhook URL: %s\n", in.Name, in.ID, args[0], webhookURL(s.base, in.ID))
				return err
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&function, "function", "", "function (name or ID) to run on every webhook")
	fs.StringVar(&response, "response", string(relay.ResponseDefault), "what the caller gets: default, static, function or destination")
	fs.IntVar(&status, "status", 0, "status of the static answer (default 200)")
	fs.StringVar(&body, "body", "", "body of the static answer")
	fs.StringArrayVarP(&headers, "header", "H", nil, "header 'Name: value' of the static answer (repeatable)")
	fs.DurationVar(&timeout, "timeout", 0, "how long a destination answer is waited for (default 10s)")
	fs.StringVar(&description, "description", "", "what the input is for")
	fs.StringVar(&id, "id", "", "the input's UUID (default: a new one)")
	return cmd
}

func newInputLsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "ls [BUCKET]",
		Short: "List inputs",
		Long:  "List the inputs of BUCKET (a name or ID), or of every bucket, with their\nwebhook URLs.\n" + remoteHelp,
		Args:  maxArgs(1),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			buckets, err := bucketsOf(ctx, s, args)
			if err != nil {
				return err
			}
			ins := []*api.Input{}
			bnames := make(map[string]string, len(buckets))
			for _, b := range buckets {
				bnames[b.ID] = b.Name
				list, err := s.c.ListInputs(ctx, b.ID)
				if err != nil {
					return err
				}
				ins = append(ins, list...)
			}
			if s.json() {
				return s.print(ins, nil)
			}
			names, err := functionNames(ctx, s)
			if err != nil {
				return err
			}
			return s.print(ins, func(w io.Writer) error { return inputTable(w, s.base, ins, bnames, names) })
		}),
	}
}

// bucketsOf returns the bucket args names, or every bucket when args is
// empty.
func bucketsOf(ctx context.Context, s *session, args []string) ([]*api.Bucket, error) {
	if len(args) == 0 {
		return s.c.ListBuckets(ctx)
	}
	b, err := s.c.GetBucket(ctx, args[0])
	if err != nil {
		return nil, err
	}
	return []*api.Bucket{b}, nil
}

// inputTable writes inputs as a table; buckets and fns map IDs to names.
func inputTable(w io.Writer, base string, ins []*api.Input, buckets, fns map[string]string) error {
	t := newTextTable(w, "BUCKET", "NAME", "FUNCTION", "RESPONSE", "ID", "URL")
	for _, in := range ins {
		fn := ""
		if in.FunctionID != "" {
			fn = nameOr(fns, in.FunctionID)
		}
		t.row(nameOr(buckets, in.BucketID), in.Name, fn, responseText(in.Response), in.ID, webhookURL(base, in.ID))
	}
	return t.flush()
}

// responseText describes an input's response settings briefly.
func responseText(rc api.ResponseConfig) string {
	switch relay.ResponseMode(rc.Mode) {
	case relay.ResponseStatic:
		st := rc.Status
		if st == 0 {
			st = http.StatusOK
		}
		return fmt.Sprintf("static %d", st)
	case relay.ResponseDestination:
		if rc.Timeout > 0 {
			return "destination (" + rc.Timeout.String() + ")"
		}
	case "":
		return string(relay.ResponseDefault)
	}
	return string(rc.Mode)
}

func newInputGetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show an input",
		Long:  "Show an input, by ID, with its webhook URL.\n" + remoteHelp,
		Args:  exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			in, err := s.c.GetInput(ctx, args[0])
			if err != nil {
				return err
			}
			if s.json() {
				return s.print(in, nil)
			}
			bucket := in.BucketID
			if b, err := s.c.GetBucket(ctx, in.BucketID); err == nil {
				bucket = b.Name
			}
			fn := ""
			if in.FunctionID != "" {
				names, err := functionNames(ctx, s)
				if err != nil {
					return err
				}
				fn = nameOr(names, in.FunctionID)
			}
			return s.print(in, func(w io.Writer) error {
				kv := []string{
					"Name", in.Name,
					"ID", in.ID,
					"Bucket", bucket,
					"Description", in.Description,
					"URL", webhookURL(s.base, in.ID),
					"Function", fn,
					"Response", responseText(in.Response),
				}
				if in.Response.Mode == string(relay.ResponseStatic) {
					hs := make([]string, 0, len(in.Response.Headers))
					for k, v := range in.Response.Headers {
						hs = append(hs, k+": "+v)
					}
					slices.Sort(hs)
					kv = append(kv, "Headers", strings.Join(hs, "; "), "Body", truncateText(in.Response.Body, 60))
				}
				kv = append(kv, "Created", timeText(in.CreatedAt))
				return writeFields(w, kv...)
			})
		}),
	}
}

func newInputRmCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID",
		Short: "Delete an input",
		Long:  "Delete an input, by ID. Its URL stops taking webhooks.\n" + remoteHelp,
		Args:  exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			in, err := s.c.GetInput(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.DeleteInput(ctx, in.ID); err != nil {
				return err
			}
			return s.printDeleted("input", in.ID, in.Name)
		}),
	}
}
