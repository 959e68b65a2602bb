package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// The request log, a webhook's detail, the live event stream and the
// editor's run against a captured webhook.

// logPageSize is how many webhooks a page of the request log shows.
const logPageSize = 50

// logFilter is the request log's filter form, as given.
type logFilter struct {
	Bucket, Input, Status, FunctionError, State, Since, Until string
}

// query returns the filter as a query string (for the next page's link).
func (f logFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"bucket": f.Bucket, "input": f.Input, "status": f.Status,
		"function_error": f.FunctionError, "state": f.State, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// parseTime reads an RFC 3339 time, a datetime-local value (UTC), or a
// duration meaning that long ago.
func parseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is neither a time (2006-01-02T15:04 in UTC, or RFC 3339) nor a duration such as 1h", name, v)
}

// webhookFilter reads the filter form into a store filter; a bad value is
// an error to show (nothing is listed then).
func (c *Console) webhookFilter(ctx context.Context, f logFilter) (relay.WebhookFilter, error) {
	var wf relay.WebhookFilter
	if f.Bucket != "" {
		b, err := c.st.GetBucket(ctx, f.Bucket)
		if err != nil {
			return wf, fmt.Errorf("bucket: no bucket %q", f.Bucket)
		}
		wf.BucketID = b.ID
	}
	wf.InputID = f.Input
	if f.Status != "" {
		n, err := strconv.Atoi(f.Status)
		if err != nil || n < 100 || n > 999 {
			return wf, fmt.Errorf("status: %q is not an HTTP status", f.Status)
		}
		wf.Status = n
	}
	wf.FunctionError = f.FunctionError == "true"
	if f.State != "" {
		s := relay.DeliveryState(f.State)
		if err := s.Validate(); err != nil {
			return wf, fmt.Errorf("delivery state: %w", err)
		}
		wf.DeliveryState = s
	}
	now := c.opts.Now()
	var err error
	if wf.Since, err = parseTime("since", f.Since, now); err != nil {
		return wf, err
	}
	if wf.Until, err = parseTime("until", f.Until, now); err != nil {
		return wf, err
	}
	return wf, nil
}

// logRow is a webhook of the request log.
type logRow struct {
	W             *relay.WebhookSummary
	Bucket, Input string
	Deliveries    string
	Failed        bool
}

// requestLog lists webhooks newest first, filtered by the GET form, a page
// at a time (before: the cursor of the previous page's "Older" link).
func (c *Console) requestLog(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := logFilter{Bucket: q.Get("bucket"), Input: q.Get("input"), Status: q.Get("status"),
		FunctionError: q.Get("function_error"), State: q.Get("state"), Since: q.Get("since"), Until: q.Get("until")}
	data := map[string]any{"F": f, "Before": q.Get("before")}
	buckets, err := c.st.ListBuckets(ctx)
	if err != nil {
		return err
	}
	ins, err := c.st.ListInputs(ctx, "")
	if err != nil {
		return err
	}
	insOf := map[string][]*relay.Input{}
	for _, i := range ins {
		insOf[i.BucketID] = append(insOf[i.BucketID], i)
	}
	bn := map[string]string{}
	var bucketOpts, inputOpts []target
	in := map[string]string{}
	for _, b := range buckets {
		bn[b.ID] = b.Name
		bucketOpts = append(bucketOpts, target{b.Name, b.Name})
		for _, i := range insOf[b.ID] {
			in[i.ID] = i.Name
			inputOpts = append(inputOpts, target{i.ID, b.Name + "/" + i.Name})
		}
	}
	data["Buckets"], data["Inputs"] = bucketOpts, inputOpts
	wf, err := c.webhookFilter(ctx, f)
	if err != nil {
		data["Error"] = err.Error()
		return c.render(w, r, "webhooks", "Request log", data)
	}
	// What the live updates may check in the browser.
	data["LiveBucket"], data["LiveInput"], data["LiveStatus"], data["LiveFnErr"] = wf.BucketID, wf.InputID, f.Status, wf.FunctionError
	data["Live"] = q.Get("before") == "" && wf.Until.IsZero() && c.opts.Admin.Server != nil
	wf.Before = q.Get("before")
	wf.Limit = logPageSize + 1
	ws, err := c.st.ListWebhooks(ctx, wf)
	if err != nil {
		return err
	}
	if len(ws) > logPageSize {
		ws = ws[:logPageSize]
		next := f.query()
		next.Set("before", ws[len(ws)-1].ID)
		data["Next"] = "/ui/webhooks?" + next.Encode()
	}
	if q.Get("before") != "" {
		data["First"] = "/ui/webhooks?" + f.query().Encode()
	}
	rows := make([]logRow, len(ws))
	for i, s := range ws {
		row := logRow{W: s, Bucket: bn[s.BucketID], Input: in[s.InputID]}
		states := slices.Sorted(func(yield func(relay.DeliveryState) bool) {
			for st := range s.Deliveries {
				if !yield(st) {
					return
				}
			}
		})
		var parts []string
		for _, st := range states {
			parts = append(parts, fmt.Sprintf("%d %s", s.Deliveries[st], st))
			if st == relay.DeliveryFailed {
				row.Failed = true
			}
		}
		row.Deliveries = strings.Join(parts, ", ")
		row.Failed = row.Failed || s.FunctionError != "" || s.Status >= 400
		rows[i] = row
	}
	data["Rows"] = rows
	data["States"] = []string{string(relay.DeliveryPending), string(relay.DeliverySucceeded), string(relay.DeliveryFailed), string(relay.DeliveryStopped)}
	return c.render(w, r, "webhooks", "Request log", data)
}

// bodyView is a body as the detail page shows it.
type bodyView struct {
	Size   int
	Kind   string // "json", "text", "binary" or "" (empty)
	Pretty string // indented JSON
	Raw    string // the text as sent
	Hex    string // a hex dump, for a binary body
}

// maxShownBody bounds the bytes of a body shown in full.
const maxShownBody = 256 << 10

func viewBody(b []byte) bodyView {
	v := bodyView{Size: len(b)}
	if len(b) > maxShownBody {
		b = b[:maxShownBody]
	}
	switch {
	case len(b) == 0:
	case !utf8.Valid(b):
		v.Kind, v.Hex = "binary", hex.Dump(b)
	default:
		v.Kind, v.Raw = "text", string(b)
		var buf bytes.Buffer
		if json.Indent(&buf, b, "", "  ") == nil {
			v.Kind, v.Pretty = "json", buf.String()
		}
	}
	return v
}

// deliveryView is a delivery on the detail page, with its attempts.
type deliveryView struct {
	D        *api.Delivery
	Output   string
	Attempts []attemptView
}

// attemptView is one attempt with the destination's answer.
type attemptView struct {
	A       *api.Attempt
	Headers string
	Body    bodyView
}

// webhookView is the detail page.
type webhookView struct {
	W               *api.WebhookDetail
	Bucket, Input   string
	Headers         string
	Body            bodyView
	ReceivedHeaders string
	Changed         bool
	BodyDiff        []DiffLine
	HeaderDiff      []DiffLine
	Changes         []api.RequestChange
	AnswerHeaders   string
	ResponseHeaders string
	Deliveries      []deliveryView
	FunctionName    string
	Notice, Error   string
}

// webhookDetail shows a webhook's journey: the request as received and
// as forwarded, the function's log, error and changes, the caller's
// answer, and each delivery's attempts with the destination's answers.
func (c *Console) webhookDetail(w http.ResponseWriter, r *http.Request) error {
	return c.renderWebhook(w, r, r.PathValue("id"), "", "")
}

func (c *Console) renderWebhook(w http.ResponseWriter, r *http.Request, id, notice, problem string) error {
	ctx := r.Context()
	wh, err := c.st.GetWebhook(ctx, id)
	if err != nil {
		return err
	}
	ds, err := c.st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: wh.ID, Limit: api.MaxDeliveries})
	if err != nil {
		return err
	}
	slices.Reverse(ds) // oldest first
	v := &webhookView{Notice: notice, Error: problem}
	var details []*api.DeliveryDetail
	for _, d := range ds {
		d, as, err := c.st.GetDelivery(ctx, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		dd := &api.DeliveryDetail{Delivery: admin.DeliveryWire(d)}
		for _, a := range as {
			dd.Attempts = append(dd.Attempts, admin.AttemptWire(a))
		}
		details = append(details, dd)
	}
	v.W = admin.WebhookDetailWire(wh, details)
	if b, err := c.st.GetBucket(ctx, wh.BucketID); err == nil {
		v.Bucket = b.Name
	}
	if in, err := c.st.GetInput(ctx, wh.InputID); err == nil {
		v.Input = in.Name
		if in.FunctionID != "" {
			if f, err := c.st.GetFunction(ctx, in.FunctionID); err == nil {
				v.FunctionName = f.Name
			}
		}
	}
	if v.FunctionName == "" {
		if fns, err := c.st.ListFunctions(ctx); err == nil && len(fns) > 0 {
			v.FunctionName = fns[0].Name
		}
	}
	fw, rc := v.W.Forwarded, v.W.Received
	v.Headers, v.Body = headerLines(fw.Header), viewBody(fw.Body)
	v.ReceivedHeaders = headerLines(rc.Header)
	for _, ch := range v.W.Changes {
		if ch.Field != "body" && !strings.HasPrefix(ch.Field, "header ") {
			v.Changes = append(v.Changes, ch) // the diffs show the rest
		}
	}
	if wh.Received != nil {
		v.Changed = true
		if string(rc.Body) != string(fw.Body) {
			v.BodyDiff = Diff(prettyJSON(string(rc.Body)), prettyJSON(string(fw.Body)))
		}
		if v.ReceivedHeaders != v.Headers {
			v.HeaderDiff = Diff(v.ReceivedHeaders, v.Headers)
		}
	}
	v.AnswerHeaders = headerLines(v.W.Answer.Headers)
	if fo := v.W.Function; fo != nil && fo.Response != nil {
		v.ResponseHeaders = headerLines(fo.Response.Headers)
	}
	outs := map[string]string{}
	for _, dd := range v.W.Deliveries {
		if _, ok := outs[dd.Delivery.OutputID]; !ok {
			if o, err := c.st.GetOutput(ctx, dd.Delivery.OutputID); err == nil {
				outs[o.ID] = o.Name
			}
		}
		dv := deliveryView{D: dd.Delivery, Output: cmp.Or(outs[dd.Delivery.OutputID], dd.Delivery.OutputID)}
		for _, a := range dd.Attempts {
			dv.Attempts = append(dv.Attempts, attemptView{A: a, Headers: headerLines(a.ResponseHeaders), Body: viewBody(a.ResponseBody)})
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	return c.render(w, r, "webhook", "Webhook "+wh.ID, v)
}

// events streams the relay's live events to the console's script as
// Server-Sent Events (the admin API's stream, behind the session).
func (c *Console) events(w http.ResponseWriter, r *http.Request) error {
	srv := c.opts.Admin.Server
	if srv == nil {
		http.Error(w, "no relay runs on this store: there are no events", http.StatusServiceUnavailable)
		return nil
	}
	ctx := r.Context()
	bucket := ""
	if v := r.URL.Query().Get("bucket"); v != "" {
		b, err := c.st.GetBucket(ctx, v)
		if err != nil {
			return err
		}
		bucket = b.ID
	}
	admin.StreamEvents(ctx, w, srv, bucket)
	return nil
}

// runWebhook runs the edited source against a captured webhook's request
// as it was received, through admin.RunWebhook (the admin API's run) with
// network access refused, and shows the result against that request.
func (c *Console) runWebhook(r *http.Request, fnID string, v *editorView) *runView {
	ctx := r.Context()
	id := strings.TrimSpace(v.Webhook)
	if id == "" {
		return &runView{Error: "Give the ID of a captured webhook (see the request log)."}
	}
	wh, err := c.st.GetWebhook(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &runView{Error: fmt.Sprintf("No webhook %q.", id)}
		}
		return &runView{Error: err.Error()}
	}
	hr := wh.Request
	if wh.Received != nil {
		hr = *wh.Received
	}
	res, err := admin.RunWebhook(ctx, c.opts.Admin, id, api.RunRequest{Function: fnID, Source: v.Source})
	if err != nil {
		var se *runtime.SyntaxError
		if errors.As(err, &se) {
			return &runView{Error: se.ForFunction(v.F.Name)}
		}
		return &runView{Error: err.Error()}
	}
	return resultView(res, hr.Method, hr.Path, hr.RawQuery, hr.Header, string(hr.Body))
}
