package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

func newDeliveriesCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "deliveries", "List, show and replay deliveries",
		`List deliveries (a webhook's journey to one output), show one with its
attempts and the destination's answers, and replay one: send its webhook to
its output again. To follow deliveries as they happen, use
'fnctl webhooks tail'.`,
		newDeliveriesLsCmd(r),
		newDeliveriesShowCmd(r),
		newDeliveriesReplayCmd(r),
	)
}

func newDeliveriesLsCmd(r *remote) *cobra.Command {
	var q client.DeliveryQuery
	cmd := &cobra.Command{
		Use:   "ls [--bucket B] [--output-id O] [--state S] [--limit N]",
		Short: "List deliveries, newest first",
		Long: `List deliveries, newest first: of a bucket (name or ID), of an output (its
ID, or its name with --bucket), in a state (pending, succeeded, failed or
stopped), at most --limit of them (default 100, at most 1000).
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if err := checkListFlags(cmd, q.State, q.Limit, api.MaxDeliveries); err != nil {
				return err
			}
			ds, err := s.c.ListDeliveries(ctx, q)
			if err != nil {
				return err
			}
			if s.json() {
				return s.print(ds, nil)
			}
			n := newNamer(s)
			return s.print(ds, func(w io.Writer) error {
				t := newTextTable(w, "ID", "STATE", "ATTEMPTS", "STATUS", "OUTPUT", "CREATED", "ERROR")
				for _, d := range ds {
					status := ""
					if d.LastStatus != 0 {
						status = fmt.Sprint(d.LastStatus)
					}
					t.row(d.ID, d.State, d.Attempts, status, n.output(ctx, d.BucketID, d.OutputID), timeText(d.CreatedAt), truncateText(d.LastError, 60))
				}
				return t.flush()
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&q.Bucket, "bucket", "", "only this bucket's deliveries (name or ID)")
	fs.StringVar(&q.Output, "output-id", "", "only this output's deliveries (ID, or name with --bucket; -o/--output is the output format)")
	fs.StringVar(&q.State, "state", "", "only deliveries in this state: pending, succeeded, failed or stopped")
	fs.IntVar(&q.Limit, "limit", 0, "at most this many (default 100)")
	return cmd
}

// namer names buckets and outputs by ID for the text output, asking the
// relay once per ID. An ID it cannot name is shown as it is.
type namer struct {
	s       *session
	buckets map[string]string
	outputs map[string]string
}

func newNamer(s *session) *namer {
	return &namer{s: s, buckets: map[string]string{}, outputs: map[string]string{}}
}

func (n *namer) bucket(ctx context.Context, id string) string {
	if name, ok := n.buckets[id]; ok {
		return name
	}
	name := id
	if b, err := n.s.c.GetBucket(ctx, id); err == nil {
		name = b.Name
	}
	n.buckets[id] = name
	return name
}

// output returns "bucket/output".
func (n *namer) output(ctx context.Context, bucketID, id string) string {
	name, ok := n.outputs[id]
	if !ok {
		name = id
		if o, err := n.s.c.GetOutput(ctx, id); err == nil {
			name = o.Name
		}
		n.outputs[id] = name
	}
	return n.bucket(ctx, bucketID) + "/" + name
}

func newDeliveriesShowCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a delivery with its attempts",
		Long:  "Show a delivery with its attempts: when, the destination's status, how\nlong it took and the error, then each attempt with the destination's\nanswer (headers and the first 64 KB of the body) and its function log.\n" + remoteHelp,
		Args:  exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			d, as, err := s.c.GetDelivery(ctx, args[0])
			if err != nil {
				return err
			}
			if as == nil {
				as = []*api.Attempt{}
			}
			detail := api.DeliveryDetail{Delivery: d, Attempts: as}
			if s.json() {
				return s.print(detail, nil)
			}
			n := newNamer(s)
			return s.print(detail, func(w io.Writer) error {
				status := ""
				if d.LastStatus != 0 {
					status = fmt.Sprint(d.LastStatus)
				}
				next := ""
				if d.State == string(relay.DeliveryPending) {
					next = timeText(d.NextAttemptAt)
				}
				if err := writeFields(w,
					"ID", d.ID,
					"State", string(d.State),
					"Bucket", n.bucket(ctx, d.BucketID),
					"Output", n.output(ctx, d.BucketID, d.OutputID)+" ("+d.OutputID+")",
					"Webhook", d.WebhookID,
					"Attempts", fmt.Sprint(d.Attempts),
					"Last status", status,
					"Last error", d.LastError,
					"Next attempt", next,
					"Created", timeText(d.CreatedAt),
					"Updated", timeText(d.UpdatedAt),
				); err != nil {
					return err
				}
				fmt.Fprintln(w, "\nAttempts:")
				t := newTextTable(w, "N", "STARTED", "STATUS", "DURATION", "ERROR")
				for _, a := range as {
					st := ""
					if a.Status != 0 {
						st = fmt.Sprint(a.Status)
					}
					t.row(a.N, timeText(a.StartedAt), st, fmt.Sprintf("%.1fms", a.DurationMS), a.Error)
				}
				if err := t.flush(); err != nil {
					return err
				}
				if len(as) == 0 {
					return nil
				}
				// Each attempt with the destination's answer and its log.
				var b strings.Builder
				b.WriteString("\n")
				writeAttempts(&b, "", as)
				_, err := io.WriteString(w, b.String())
				return err
			})
		}),
	}
}

func newDeliveriesReplayCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "replay ID",
		Short: "Send a delivery's webhook to its output again",
		Long: `Send a finished delivery's webhook to its output again, as a new delivery,
and print the new delivery's ID. The webhook of an ephemeral bucket was
never stored and cannot be replayed.
` + remoteHelp,
		Args: exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			d, err := s.c.ReplayDelivery(ctx, args[0])
			if err != nil {
				return err
			}
			return s.print(d, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "replayed delivery %s as %s (%s)\n", args[0], d.ID, d.State)
				return err
			})
		}),
	}
}

// checkListFlags checks the --state and --limit of a listing whose pages
// hold at most max entries.
func checkListFlags(cmd *cobra.Command, state string, limit, max int) error {
	if state != "" {
		if err := relay.DeliveryState(state).Validate(); err != nil {
			return usage("invalid --state %q: want pending, succeeded, failed or stopped", state)
		}
	}
	if cmd.Flags().Changed("limit") && (limit < 1 || limit > max) {
		return usage("invalid --limit %d: want 1 to %d", limit, max)
	}
	return nil
}
