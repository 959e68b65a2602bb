package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

func newWebhooksCmd(a *app) *cobra.Command {
	r := newRemote(a)
	return groupCmd(r, "webhooks", "See what happened to webhooks: list, show, tail, export",
		`The request log: list the webhooks a relay stored, show one's whole journey
(the request as received and as forwarded, the input function's log,
changes and error, the caller's answer, every delivery attempt with the
destination's answer), follow the live event stream, and export a webhook
as a spec test case.`,
		newWebhooksLsCmd(r),
		newWebhooksShowCmd(r),
		newWebhooksTailCmd(r),
		newWebhooksExportCmd(r),
	)
}

func newWebhooksLsCmd(r *remote) *cobra.Command {
	var q client.WebhookQuery
	cmd := &cobra.Command{
		Use:   "ls [--bucket B] [--input I] [--status N] [--failed] [--since 1h]",
		Short: "List webhooks, newest first",
		Long: `List stored webhooks, newest first: of a bucket (name or ID), of an input
(ID), answered with a status, with a failure (--failed: the input's function
failed, the caller got 400 or more, or a delivery failed; --function-error:
only the first), with a delivery in a state, received since or until a time
(RFC 3339, or a duration ago such as 1h), at most --limit (default 100).
Webhooks refused before they were stored (401, 413, …) are not listed:
follow them with 'fnctl webhooks tail'. --before takes the cursor printed
under a full page.
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if err := checkListFlags(cmd, q.State, q.Limit, api.MaxWebhooks); err != nil {
				return err
			}
			page, err := s.c.ListWebhooks(ctx, q)
			if err != nil {
				return err
			}
			n := newNamer(s)
			return s.print(page, func(w io.Writer) error {
				t := newTextTable(w, "ID", "RECEIVED", "BUCKET", "REQUEST", "STATUS", "DELIVERIES", "ERROR")
				for _, wh := range page.Webhooks {
					status := "-"
					if wh.Status != 0 {
						status = fmt.Sprint(wh.Status)
					}
					t.row(wh.ID, timeText(wh.ReceivedAt), n.bucket(ctx, wh.BucketID), wh.Method+" "+wh.Path,
						status, deliveryCounts(wh.Deliveries), truncateText(firstLine(wh.FunctionError), 50))
				}
				if err := t.flush(); err != nil {
					return err
				}
				if page.Next != "" {
					_, err := fmt.Fprintf(w, "more: --before %s\n", page.Next)
					return err
				}
				return nil
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&q.Bucket, "bucket", "", "only this bucket's webhooks (name or ID)")
	fs.StringVar(&q.Input, "input", "", "only this input's webhooks (ID)")
	fs.IntVar(&q.Status, "status", 0, "only webhooks answered with this status")
	fs.BoolVar(&q.Failed, "failed", false, "only webhooks whose function failed, answered 400 or more, or with a failed delivery")
	fs.BoolVar(&q.FunctionError, "function-error", false, "only webhooks whose input function failed")
	fs.StringVar(&q.State, "state", "", "only webhooks with a delivery in this state: pending, succeeded, failed or stopped")
	fs.StringVar(&q.Since, "since", "", "only webhooks received since this time (RFC 3339, or a duration ago: 1h)")
	fs.StringVar(&q.Until, "until", "", "only webhooks received before this time (RFC 3339, or a duration ago)")
	fs.StringVar(&q.Before, "before", "", "the next page: webhooks older than this ID")
	fs.IntVar(&q.Limit, "limit", 0, "at most this many (default 100)")
	return cmd
}

// deliveryCounts writes delivery states as "1 failed, 2 succeeded".
func deliveryCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for st, n := range m {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func newWebhooksShowCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a webhook's whole journey",
		Long: `Show a webhook: the request as received, what the input's function did (its
log, error, the changes it made, the answer it set), the caller's answer, and
each delivery with every attempt and the destination's answer (status,
headers, the first 64 KB of the body) or error. -o json prints it all.
` + remoteHelp,
		Args: exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			d, err := s.c.GetWebhook(ctx, args[0])
			if err != nil {
				return err
			}
			n := newNamer(s)
			return s.print(d, func(w io.Writer) error {
				var b strings.Builder
				status := "-"
				if d.Answer.Status != 0 {
					status = fmt.Sprintf("%d %s", d.Answer.Status, http.StatusText(d.Answer.Status))
				}
				if err := writeFields(&b,
					"ID", d.ID,
					"Received", timeText(d.ReceivedAt),
					"Bucket", n.bucket(ctx, d.BucketID),
					"Input", inputText(ctx, s, d.InputID),
					"Answer", fmt.Sprintf("%s (%d bytes)", status, d.Answer.BodySize),
				); err != nil {
					return err
				}
				writeRequest(&b, "\nRequest", &d.Received)
				if f := d.Function; f != nil {
					b.WriteString("\nFunction:\n")
					switch {
					case f.Error != "":
						b.WriteString("  Error:\n")
						writeIndented(&b, "    ", f.Error)
					case f.StopForwarding:
						b.WriteString("  Stopped forwarding\n")
					}
					if len(f.Logs) > 0 {
						b.WriteString("  Logs:\n")
						writeIndented(&b, "    ", strings.Join(f.Logs, "\n"))
					} else {
						b.WriteString("  Logs: none\n")
					}
					if len(d.Changes) == 0 {
						b.WriteString("  Changes: none\n")
					} else {
						b.WriteString("  Changes:\n")
						for _, c := range d.Changes {
							fmt.Fprintf(&b, "    %s: %s -> %s\n", c.Field, quoteShort(c.From), quoteShort(c.To))
						}
					}
					if rs := f.Response; rs != nil {
						fmt.Fprintf(&b, "  Response set: %d\n", rs.Status)
						writeHeaders(&b, "    ", rs.Headers)
						writeBody(&b, "    ", rs.Body)
					}
				}
				if len(d.Changes) > 0 {
					writeRequest(&b, "\nForwarded", &d.Forwarded)
				}
				if len(d.Answer.Headers) > 0 {
					b.WriteString("\nAnswer headers:\n")
					writeHeaders(&b, "  ", d.Answer.Headers)
				}
				if len(d.Deliveries) == 0 {
					b.WriteString("\nDeliveries: none\n")
				}
				for _, dd := range d.Deliveries {
					writeDelivery(ctx, &b, n, dd)
				}
				_, err := io.WriteString(w, b.String())
				return err
			})
		}),
	}
}

// inputText names an input "name (ID)", or by its ID when it is gone.
func inputText(ctx context.Context, s *session, id string) string {
	if in, err := s.c.GetInput(ctx, id); err == nil {
		return in.Name + " (" + id + ")"
	}
	return id
}

// quoteShort quotes s for a one-line change, cut at 80 runes.
func quoteShort(s string) string {
	return fmt.Sprintf("%q", truncateText(s, 80))
}

// writeRequest writes a stored request.
func writeRequest(b *strings.Builder, title string, r *api.HTTPRequest) {
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	fmt.Fprintf(b, "%s: %s %s\n", title, r.Method, target)
	writeHeaders(b, "  ", r.Header)
	writeBody(b, "  ", printableBody(r.Body))
}

// printableBody is a body as text, or a note for a binary one.
func printableBody(body []byte) string {
	if utf8.Valid(body) {
		return string(body)
	}
	return fmt.Sprintf("(%d bytes of binary data; -o json shows them in base64)", len(body))
}

// writeDelivery writes a delivery with its attempts and the destination's
// answers.
func writeDelivery(ctx context.Context, b *strings.Builder, n *namer, dd *api.DeliveryDetail) {
	d := dd.Delivery
	fmt.Fprintf(b, "\nDelivery %s to %s: %s after %d attempt(s)\n", d.ID, n.output(ctx, d.BucketID, d.OutputID), d.State, d.Attempts)
	writeAttempts(b, "  ", dd.Attempts)
}

// writeAttempts writes each attempt: status or error, then the
// destination's answer and the attempt's log.
func writeAttempts(b *strings.Builder, indent string, as []*api.Attempt) {
	for _, a := range as {
		outcome := a.Error
		if a.Status != 0 {
			outcome = fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
			if a.Error != "" {
				outcome += ": " + a.Error
			}
		}
		fmt.Fprintf(b, "%sAttempt %d at %s (%.1fms): %s\n", indent, a.N, timeText(a.StartedAt), a.DurationMS, outcome)
		if a.Status != 0 {
			writeHeaders(b, indent+"  ", a.ResponseHeaders)
			writeBody(b, indent+"  ", printableBody(a.ResponseBody))
		}
		if len(a.Logs) > 0 {
			fmt.Fprintf(b, "%s  Logs:\n", indent)
			writeIndented(b, indent+"    ", strings.Join(a.Logs, "\n"))
		}
	}
}

func newWebhooksTailCmd(r *remote) *cobra.Command {
	var bucket string
	cmd := &cobra.Command{
		Use:   "tail [--bucket B]",
		Short: "Follow webhooks and delivery attempts as they happen",
		Long: `Follow the relay's live event stream until interrupted: one line per webhook
received (also those refused, 401, 405, 413, which are not stored) and per
delivery attempt, of one bucket (name or ID) or of all. -o json prints one
JSON object per line. A reader that falls behind is told how many events it
missed; it never slows the relay.
` + remoteHelp,
		Args: exactArgs(),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
			defer stop()
			n := newNamer(s)
			return s.c.Events(ctx, bucket, func(e *api.Event) error {
				if s.json() {
					// One object per line.
					if err := json.NewEncoder(s.stdout).Encode(e); err != nil {
						return failed(fmt.Errorf("write the event: %w", err))
					}
					return nil
				}
				_, err := fmt.Fprintln(s.stdout, eventLine(ctx, n, e))
				if err != nil {
					return failed(fmt.Errorf("write the event: %w", err))
				}
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&bucket, "bucket", "", "only this bucket's events (name or ID)")
	return cmd
}

// eventLine writes an event as one line.
func eventLine(ctx context.Context, n *namer, e *api.Event) string {
	t := e.Time.UTC().Format("15:04:05.000")
	switch e.Type {
	case "webhook":
		where := "(no input)"
		if e.BucketID != "" {
			where = e.BucketName + "/" + e.InputName
		}
		what := "stored " + e.WebhookID
		if e.WebhookID == "" {
			what = "not stored"
		}
		line := fmt.Sprintf("%s webhook  %d %-24s %s", t, e.Status, where, what)
		if e.FunctionError {
			line += " (function failed)"
		}
		return line
	case "attempt":
		line := fmt.Sprintf("%s attempt  %s #%d %s", t, n.output(ctx, e.BucketID, e.OutputID), e.Attempt, e.State)
		if e.Status != 0 {
			line += fmt.Sprintf(" %d", e.Status)
		}
		if e.Error != "" {
			line += ": " + truncateText(firstLine(e.Error), 80)
		}
		return line + fmt.Sprintf(" (%.1fms) webhook %s", e.DurationMS, e.WebhookID)
	case "dropped":
		return fmt.Sprintf("%s dropped  %d events: this reader fell behind", t, e.Dropped)
	}
	return fmt.Sprintf("%s %s", t, e.Type)
}

func newWebhooksExportCmd(r *remote) *cobra.Command {
	var (
		asSpec   bool
		function string
		dir      string
	)
	cmd := &cobra.Command{
		Use:   "export ID --spec [--function NAME] [--dir D]",
		Short: "Turn a stored webhook into a spec test case",
		Long: `Write a stored webhook as a spec test case for 'fnctl test': the request as it
was received, and the expectations the function currently meets (run on the
relay against the webhook, without network access): error or not, stop
forwarding, the request it forwards, the answer it sets, its log. The
function is the webhook's input function unless --function names another.

Writes D/NAME.lua (the relay's source of the function; an existing file is
kept) and D/NAME.webhook-ID.spec.yaml, and prints their paths. The relay
never reveals configuration values: the spec lists the function's variables
with empty values, to be filled in.
` + remoteHelp,
		Args: exactArgs("ID"),
		RunE: r.run(func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error {
			if !asSpec {
				return usage("missing --spec: export writes a spec test case")
			}
			d, err := s.c.GetWebhook(ctx, args[0])
			if err != nil {
				return err
			}
			// The input names the default function and goes into the
			// spec's metadata; it may be gone when --function is given.
			in, inErr := s.c.GetInput(ctx, d.InputID)
			if function == "" {
				if inErr != nil {
					return fmt.Errorf("the webhook's input: %w (name a function with --function)", inErr)
				}
				if in.FunctionID == "" {
					return usage("the webhook's input has no function: name one with --function")
				}
				function = in.FunctionID
			}
			f, err := s.c.GetFunction(ctx, function)
			if err != nil {
				return err
			}
			keys, err := s.c.ListConfig(ctx, f.ID)
			if err != nil {
				return err
			}
			res, err := s.c.RunWebhook(ctx, d.ID, api.RunRequest{Function: f.ID})
			if err != nil {
				return err
			}
			md := map[string]string{"bucket_id": d.BucketID, "input_id": d.InputID}
			if b, err := s.c.GetBucket(ctx, d.BucketID); err == nil {
				md["bucket_name"] = b.Name
			}
			if inErr == nil {
				md["input_name"] = in.Name
			}
			doc := exportSpec(d, f, keys, res, md)
			out, err := yaml.Marshal(doc)
			if err != nil {
				return failed(fmt.Errorf("encode the spec: %w", err))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return failed(err)
			}
			src := filepath.Join(dir, f.Name+".lua")
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				if err := os.WriteFile(src, []byte(f.Source), 0o644); err != nil {
					return failed(err)
				}
			}
			specPath := filepath.Join(dir, f.Name+".webhook-"+shortID(d.ID)+".spec.yaml")
			header := "# A webhook of the relay, exported by fnctl webhooks export " + d.ID + "\n"
			if len(keys) > 0 {
				header += "# Fill in the configuration values: the relay does not reveal them.\n"
			}
			if err := os.WriteFile(specPath, append([]byte(header), out...), 0o644); err != nil {
				return failed(err)
			}
			return s.print(map[string]string{"function": src, "spec": specPath}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "wrote %s\nwrote %s\nrun: fnctl test -f %s\n", src, specPath, specPath)
				return err
			})
		}),
	}
	fs := cmd.Flags()
	fs.BoolVar(&asSpec, "spec", false, "write a spec test case (required)")
	fs.StringVar(&function, "function", "", "the function to test (default: the webhook's input function)")
	fs.StringVar(&dir, "dir", ".", "the folder to write into")
	return cmd
}

// shortID is the last 12 characters of a UUID (the random part of a
// UUIDv7).
func shortID(id string) string {
	if len(id) > 12 {
		return id[len(id)-12:]
	}
	return id
}

// The spec file's shape, as functions/spec reads it (written here, not
// imported, so that fnctl's remote side stays independent of the runner).
type exportDoc struct {
	Version  string            `yaml:"version"`
	Filename string            `yaml:"filename"`
	Driver   string            `yaml:"driver"`
	Config   map[string]string `yaml:"config,omitempty"`
	Tests    []exportTest      `yaml:"tests"`
}

type exportTest struct {
	Name    string         `yaml:"name"`
	Request map[string]any `yaml:"request"`
	Expect  map[string]any `yaml:"expect"`
}

// exportSpec builds the spec of webhook d for function f, expecting what
// res (the function's run against d) did.
func exportSpec(d *api.WebhookDetail, f *api.Function, keys []string, res *api.Result, md map[string]string) *exportDoc {
	rq := d.Received
	req := map[string]any{"method": rq.Method}
	if len(rq.Header) > 0 {
		h := map[string]string{}
		for k, vs := range rq.Header {
			h[k] = strings.Join(vs, ", ")
		}
		req["header"] = h
	}
	req["body"] = string(rq.Body)
	if rq.Path != "" && rq.Path != "/" {
		req["path"] = rq.Path
	}
	if rq.RawQuery != "" {
		req["query"] = rq.RawQuery
	}
	req["metadata"] = md

	expect := map[string]any{"error": res.Error != "", "stopForwarding": res.StopForwarding}
	if res.Error != "" {
		expect["errorContains"] = firstLine(strings.TrimSpace(res.Error))
	}
	q := res.Request
	re := map[string]any{"modified": q.Modified}
	if q.BodyModified {
		re["bodyEquals"] = q.Body
	}
	if q.MethodModified {
		re["methodEquals"] = q.Method
	}
	if q.PathModified {
		re["pathEquals"] = q.Path
	}
	if q.RawQueryModified {
		re["queryEquals"] = q.RawQuery
	}
	if q.HeaderModified {
		h := map[string]string{}
		for k, vs := range q.Headers {
			if !slices.Equal(vs, rq.Header[k]) {
				h[k] = strings.Join(vs, ", ")
			}
		}
		if len(h) > 0 {
			re["headerEquals"] = h
		}
	}
	expect["request"] = re
	if p := res.Response; p.Modified {
		resp := map[string]any{"modified": true}
		if p.Status != 0 {
			resp["statusEquals"] = p.Status
		}
		resp["bodyEquals"] = p.Body
		expect["response"] = resp
	}
	if len(res.Logs) > 0 {
		expect["logsContain"] = res.Logs
	}
	doc := &exportDoc{
		Version: "v1", Filename: f.Name + ".lua", Driver: "lua",
		Tests: []exportTest{{Name: "webhook " + d.ID + " of " + timeText(d.ReceivedAt), Request: req, Expect: expect}},
	}
	if len(keys) > 0 {
		doc.Config = map[string]string{}
		for _, k := range keys {
			doc.Config[k] = ""
		}
	}
	return doc
}
