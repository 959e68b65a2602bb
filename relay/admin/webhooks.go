package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// The request log: webhooks listed and shown with their journey, the live
// event stream, and runs of a function against a stored webhook.

// sseKeepAlive is how often an idle event stream sends a comment, so that
// proxies and clients see it alive.
const sseKeepAlive = 15 * time.Second

func (h *handler) webhookRoutes() {
	r := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		method, path, _ := strings.Cut(pattern, " ")
		h.mux.Handle(method+" "+strings.TrimSuffix(Prefix, "/")+path, h.wrap(fn, false))
	}
	r("GET /webhooks", h.listWebhooks)
	r("GET /webhooks/{id}", h.getWebhook)
	r("POST /webhooks/{id}/run", h.runWebhook)
	r("GET /events", h.events)
}

// bucketParam resolves the bucket query parameter (ID or name).
func (h *handler) bucketParam(ctx context.Context, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	b, err := h.st.GetBucket(ctx, v)
	if errors.Is(err, store.ErrNotFound) {
		return "", badRequest("bucket: no bucket %q", v)
	} else if err != nil {
		return "", err
	}
	return b.ID, nil
}

// timeParam parses an RFC 3339 time, or a duration ("1h") meaning that
// long ago.
func timeParam(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, badRequest("%s: %q is neither an RFC 3339 time nor a duration such as 1h", name, v)
}

// limitParam parses the limit query parameter, from 1 to max; 0 when it
// is not given.
func limitParam(v string, max int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit: %q is not a number from 1 to %d", v, max)
	}
	return n, nil
}

func boolParam(name, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s: %q is not true or false", name, v)
	}
	return b, nil
}

// listWebhooks lists webhooks newest first, filtered by the query: bucket
// (ID or name), input (ID), status (the caller's answer), function_error
// (true: the input's function failed), failed (true: function error,
// answer 400 or more, or a failed delivery), state (of a delivery),
// since and until (RFC 3339 times or durations ago), before (the cursor
// of the previous page's next) and limit (default 100).
func (h *handler) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	var f relay.WebhookFilter
	var err error
	if f.BucketID, err = h.bucketParam(ctx, q.Get("bucket")); err != nil {
		return err
	}
	f.InputID = q.Get("input")
	if v := q.Get("status"); v != "" {
		if f.Status, err = strconv.Atoi(v); err != nil || f.Status < 100 || f.Status > 999 {
			return badRequest("status: %q is not an HTTP status", v)
		}
	}
	if f.FunctionError, err = boolParam("function_error", q.Get("function_error")); err != nil {
		return err
	}
	if f.Failed, err = boolParam("failed", q.Get("failed")); err != nil {
		return err
	}
	if s := relay.DeliveryState(q.Get("state")); s != "" {
		if err := s.Validate(); err != nil {
			return invalid("state", err)
		}
		f.DeliveryState = s
	}
	now := time.Now()
	if f.Since, err = timeParam("since", q.Get("since"), now); err != nil {
		return err
	}
	if f.Until, err = timeParam("until", q.Get("until"), now); err != nil {
		return err
	}
	f.Before = q.Get("before")
	if f.Limit, err = limitParam(q.Get("limit"), api.MaxWebhooks); err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	ws, err := h.st.ListWebhooks(ctx, f)
	if err != nil {
		return err
	}
	page := &api.WebhookPage{Webhooks: []*api.WebhookSummary{}}
	if len(ws) > limit {
		ws = ws[:limit]
		page.Next = ws[limit-1].ID
	}
	for _, s := range ws {
		page.Webhooks = append(page.Webhooks, webhookSummaryWire(s))
	}
	return ok(w, page)
}

// webhookSummaryWire returns s's wire form.
func webhookSummaryWire(s *relay.WebhookSummary) *api.WebhookSummary {
	out := &api.WebhookSummary{
		ID: s.ID, BucketID: s.BucketID, InputID: s.InputID, ReceivedAt: s.ReceivedAt, Method: s.Method,
		Path: s.Path, Status: s.Status, FunctionError: s.FunctionError,
	}
	if len(s.Deliveries) > 0 {
		out.Deliveries = map[string]int{}
		for st, n := range s.Deliveries {
			out.Deliveries[string(st)] = n
		}
	}
	return out
}

func httpRequestWire(r *relay.HTTPRequest) api.HTTPRequest {
	return api.HTTPRequest{Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Header: r.Header, Body: r.Body}
}

// WebhookDetailWire returns the wire form of w's journey, with its
// deliveries and their attempts.
func WebhookDetailWire(w *relay.Webhook, ds []*api.DeliveryDetail) *api.WebhookDetail {
	d := &api.WebhookDetail{
		ID: w.ID, BucketID: w.BucketID, InputID: w.InputID, ReceivedAt: w.ReceivedAt,
		Received: httpRequestWire(&w.Request), Forwarded: httpRequestWire(&w.Request),
		Answer:     api.Answer{Status: w.Status, Headers: w.Answer.Header, BodySize: w.Answer.BodySize},
		Deliveries: ds,
	}
	if w.Received != nil {
		d.Received = httpRequestWire(w.Received)
	}
	for _, c := range w.Changes() {
		d.Changes = append(d.Changes, api.RequestChange{Field: c.Field, From: c.From, To: c.To})
	}
	if w.Function != nil || w.FunctionError != "" || len(w.Logs) > 0 || w.Received != nil {
		f := &api.FunctionOutcome{Error: w.FunctionError, Logs: w.Logs}
		if fo := w.Function; fo != nil {
			f.StopForwarding, f.DurationMS = fo.Stopped, fo.DurationMS
			if fr := fo.Response; fr != nil {
				f.Response = &api.ResponseResult{Modified: true, Status: fr.Status, Headers: fr.Header, Body: string(fr.Body)}
			}
		}
		d.Function = f
	}
	if d.Deliveries == nil {
		d.Deliveries = []*api.DeliveryDetail{}
	}
	return d
}

func (h *handler) getWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	wh, err := h.st.GetWebhook(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := h.st.ListDeliveries(ctx, relay.DeliveryFilter{WebhookID: wh.ID, Limit: api.MaxDeliveries})
	if err != nil {
		return err
	}
	slices.Reverse(ds) // oldest first
	details := make([]*api.DeliveryDetail, 0, len(ds))
	for _, d := range ds {
		d, as, err := h.st.GetDelivery(ctx, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return err
		}
		details = append(details, &api.DeliveryDetail{Delivery: DeliveryWire(d), Attempts: wireAll(as, AttemptWire)})
	}
	return ok(w, WebhookDetailWire(wh, details))
}

// runWebhook runs a stored function, or a draft's source, against a stored
// webhook's request as it was received (RunWebhook).
func (h *handler) runWebhook(w http.ResponseWriter, r *http.Request) error {
	var req api.RunRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := RunWebhook(r.Context(), h.opts, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return ok(w, res)
}

// RunWebhook runs a stored function, or a draft's source, against stored
// webhook id's request as it was received, as the webhook's input
// function ran: nothing is delivered or stored. Without
// req.AllowNetwork it runs on opts.OfflineEngine (the function's HTTP
// calls fail). The admin API and the web console both run it.
func RunWebhook(ctx context.Context, opts Options, id string, req api.RunRequest) (*runtime.Result, error) {
	if req.Function == "" && req.Source == "" {
		return nil, badRequest("give function (a stored function) or source (a draft)")
	}
	st := opts.Store
	wh, err := st.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	hr := wh.Request
	if wh.Received != nil {
		hr = *wh.Received
	}
	if hr.Header == nil && hr.Body == nil {
		if b, err := st.GetBucket(ctx, wh.BucketID); err == nil && b.Ephemeral {
			return nil, conflict("bucket %s is ephemeral: the webhook's request was never stored", b.Name)
		}
		hr.Header = http.Header{}
	}
	md := map[string]string{"bucket_id": wh.BucketID, "input_id": wh.InputID}
	if b, err := st.GetBucket(ctx, wh.BucketID); err == nil {
		md = relay.InputMetadata(b, &relay.Input{ID: wh.InputID})
		if in, err := st.GetInput(ctx, wh.InputID); err == nil {
			md = relay.InputMetadata(b, in)
		}
	}
	var f *functions.Function
	if req.Function != "" {
		if f, err = st.GetFunction(ctx, req.Function); err != nil {
			return nil, err
		}
	}
	engine := opts.OfflineEngine
	if req.AllowNetwork || engine == nil {
		if !req.AllowNetwork {
			return nil, &apiError{http.StatusNotImplemented, "this relay runs functions against webhooks only with allow_network"}
		}
		engine = opts.Engine
	}
	if f != nil && req.Source == "" && req.AllowNetwork && opts.Server != nil {
		return opts.Server.Invoke(ctx, f.ID, hr, md)
	}
	name, source, timeout := "draft", req.Source, time.Duration(0)
	cfg := map[string]string{}
	if f != nil {
		name, timeout = f.Name, f.Timeout
		if source == "" {
			source = f.Source
		}
		if cfg, err = st.Config(ctx, f.ID); err != nil {
			return nil, err
		}
	}
	fn, err := engine.Compile(chunkName(name), []byte(source))
	if err != nil {
		return nil, err
	}
	return engine.Run(ctx, fn, &runtime.Input{
		Request:  runtime.Request{Method: hr.Method, Path: hr.Path, RawQuery: hr.RawQuery, Header: hr.Header, Body: hr.Body},
		Config:   cfg,
		Metadata: md,
		Timeout:  timeout,
	}), nil
}

// events streams the relay's live events as Server-Sent Events, of one
// bucket (bucket: ID or name) or all. A reader that falls behind misses
// events, and is sent a "dropped" event saying how many: it never slows
// the relay.
func (h *handler) events(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Server == nil {
		return &apiError{http.StatusServiceUnavailable, "no relay runs on this store: there are no events"}
	}
	ctx := r.Context()
	bucket, err := h.bucketParam(ctx, r.URL.Query().Get("bucket"))
	if err != nil {
		return err
	}
	StreamEvents(ctx, w, h.opts.Server, bucket)
	return nil
}

// StreamEvents writes srv's live events of one bucket (its ID; "" for
// all) to w as Server-Sent Events until ctx ends or the relay closes its
// events: the admin API's stream, and the web console's behind its
// session. A reader that falls behind misses events and is sent a
// "dropped" event saying how many: it never slows the relay.
func StreamEvents(ctx context.Context, w http.ResponseWriter, srv *relay.Server, bucket string) {
	rc := http.NewResponseController(w)
	// The stream outlives the server's read and write timeouts.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	sub := srv.Subscribe(bucket, 0)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": relayfn events\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		next, cancel := context.WithTimeout(ctx, sseKeepAlive)
		e, err := sub.Next(next)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, relay.ErrEventsClosed) {
				return
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		} else {
			data, err := json.Marshal(eventWire(e))
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// eventWire returns e's wire form.
func eventWire(e relay.Event) *api.Event {
	return &api.Event{
		Type: e.Type, Time: e.Time, BucketID: e.BucketID, BucketName: e.BucketName, InputID: e.InputID, InputName: e.InputName,
		WebhookID: e.WebhookID, Status: e.Status, FunctionError: e.FunctionError, DeliveryID: e.DeliveryID,
		OutputID: e.OutputID, Attempt: e.Attempt, State: string(e.State), Error: e.Error,
		DurationMS: e.DurationMS, Dropped: e.Dropped,
	}
}
