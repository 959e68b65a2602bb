package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay/api"
)

// newRetentionCmd is fnctl retention: the retention defaults, each
// bucket's policy and what the purge did.
func newRetentionCmd(a *app) *cobra.Command {
	r := newRemote(a)
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Show the request log's retention and what was purged",
		Long: `Show the relay's retention defaults (server.retention), each bucket's policy
(its own, and the one applied with the defaults), and how many webhooks the
purge emptied (payload) and deleted (metadata) since the relay started and
in its last run, and how many webhooks and deliveries of deleted buckets and
outputs it removed (deleting a bucket or an output leaves them to the purge,
which runs soon after).
Set a bucket's policy with 'fnctl bucket retention BUCKET --payload 72h --metadata 30d'.
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			rep, err := s.c.Retention(ctx)
			if err != nil {
				return err
			}
			return s.print(rep, func(w io.Writer) error {
				last := "never"
				if rep.LastRun != nil {
					last = fmt.Sprintf("%s (%.1f ms)", timeText(*rep.LastRun), rep.LastDurationMS)
				}
				if err := writeFields(w,
					"Default payload", ageText(rep.Default.Payload),
					"Default metadata", ageText(rep.Default.Metadata),
					"Interval", rep.Interval,
					"Last run", last,
					"Last error", rep.LastError,
					"Last run purged", purgedText(rep.LastPurged),
					"Purged", purgedText(rep.Purged),
				); err != nil {
					return err
				}
				fmt.Fprintln(w)
				t := newTextTable(w, "BUCKET", "PAYLOAD", "METADATA", "OWN POLICY", "PAYLOADS PURGED", "WEBHOOKS PURGED")
				for _, b := range rep.Buckets {
					t.row(b.Bucket, ageText(b.Effective.Payload), ageText(b.Effective.Metadata), policyText(b.Policy),
						b.Purged["payload"], b.Purged["metadata"])
				}
				return t.flush()
			})
		}),
	}
	r.register(cmd.Flags())
	return cmd
}

// newBucketRetentionCmd is fnctl bucket retention: show or set a bucket's
// policy.
func newBucketRetentionCmd(r *remote) *cobra.Command {
	var (
		payload, metadata string
		clearIt           bool
	)
	cmd := &cobra.Command{
		Use:   "retention BUCKET [--payload AGE] [--metadata AGE] [--clear]",
		Short: "Show or set a bucket's retention",
		Long: `Show a bucket's retention policy, or set it: --payload is how long bodies,
headers, queries, destination answers and logs are kept, --metadata how
long the webhooks themselves (ids, statuses, times) are. Ages are Go
durations or days ("72h", "30d"); 0 keeps forever. A flag left out keeps
its current value; --clear removes the bucket's policy (the server's
defaults apply).
` + remoteHelp,
		Example: `  fnctl bucket retention ci --payload 72h --metadata 30d
  fnctl bucket retention ci --clear`,
		Args: exactArgs("BUCKET"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			var br *api.BucketRetention
			var err error
			switch {
			case clearIt && (fs.Changed("payload") || fs.Changed("metadata")):
				return usage("--clear goes without --payload and --metadata")
			case clearIt:
				br, err = s.c.SetBucketRetention(ctx, args[0], api.RetentionPolicy{})
			case fs.Changed("payload") || fs.Changed("metadata"):
				if br, err = s.c.BucketRetention(ctx, args[0]); err != nil {
					return err
				}
				p := br.Policy
				if fs.Changed("payload") {
					p.Payload = payload
				}
				if fs.Changed("metadata") {
					p.Metadata = metadata
				}
				br, err = s.c.SetBucketRetention(ctx, args[0], p)
			default:
				br, err = s.c.BucketRetention(ctx, args[0])
			}
			if err != nil {
				return err
			}
			return s.print(br, func(w io.Writer) error {
				return writeFields(w,
					"Bucket", br.Bucket,
					"Payload", ageText(br.Effective.Payload),
					"Metadata", ageText(br.Effective.Metadata),
					"Own policy", policyText(br.Policy),
				)
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&payload, "payload", "", `how long payloads are kept ("72h", "30d"; 0: forever)`)
	fs.StringVar(&metadata, "metadata", "", `how long webhooks are kept ("30d"; 0: forever)`)
	fs.BoolVar(&clearIt, "clear", false, "remove the bucket's policy: the server's defaults apply")
	return cmd
}

// purgedText shows purge counts by kind.
func purgedText(m map[string]int64) string {
	return fmt.Sprintf("%d payloads, %d webhooks, %d records of deleted buckets and outputs",
		m["payload"], m["metadata"], m["deleted"])
}

// ageText shows an age of the API ("" is forever).
func ageText(s string) string {
	if s == "" || s == "0" {
		return "forever"
	}
	return s
}

// policyText shows a bucket's own policy.
func policyText(p api.RetentionPolicy) string {
	if p == (api.RetentionPolicy{}) {
		return "(server defaults)"
	}
	return "payload " + ageText(p.Payload) + ", metadata " + ageText(p.Metadata)
}

// retentionText is a bucket's retention for fnctl bucket get: what
// applies, or "" when the relay does not say (an older relay).
func retentionText(ctx context.Context, s *session, bucketID string) string {
	br, err := s.c.BucketRetention(ctx, bucketID)
	if err != nil {
		return ""
	}
	text := "payload " + ageText(br.Effective.Payload) + ", metadata " + ageText(br.Effective.Metadata)
	if br.Policy == (api.RetentionPolicy{}) {
		text += " (server defaults)"
	}
	return text
}
