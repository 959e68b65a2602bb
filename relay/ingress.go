package relay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// destAnswer is the destination's answer relayed to a caller waiting in
// destination mode.
type destAnswer struct {
	status int
	header http.Header
	body   []byte
}

// hopHeaders are not forwarded in either direction (RFC 9110 §7.6.1).
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// hasHopHeaders reports whether removeHopHeaders, or deleting Host, would
// change h.
func hasHopHeaders(h http.Header) bool {
	if _, ok := h["Host"]; ok {
		return true
	}
	for _, name := range hopHeaders {
		if _, ok := h[name]; ok {
			return true
		}
	}
	return false
}

const webhookPrefix = "/v1/webhooks/"

// undeliverable reports whether method can never be delivered: the egress
// client refuses CONNECT, so accepting it would only store a failure.
func undeliverable(method string) bool {
	return method == http.MethodConnect
}

// climbs reports whether the decoded extra path p has a dot-segment ("."
// or ".."), with "/" or "\\" as separators: appended to a destination's
// path, it could reach above it.
func climbs(p string) bool {
	for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// unreadable is the answer to a webhook whose body could not be read:
// 413 past the size limit, else 400.
func unreadable(err error) (status int, msg string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, "request body too large"
	}
	return http.StatusBadRequest, "could not read the request body"
}

// unrouted counts and publishes a webhook answered with status before an
// input was found.
func (s *Server) unrouted(status int) {
	s.metrics.received.WithLabelValues("", strconv.Itoa(status)).Inc()
	s.events.received(nil, nil, "", status, false)
}

// Bounds of newInput's store lookups: a flood of webhooks to made-up
// input IDs costs the shared database at most unknownLookupRate queries
// a second from each node (with bursts of as many). Past it, a webhook to
// an unknown input is answered as unknown at once, without a lookup.
const (
	unknownLookupRate    = 50
	unknownLookupTimeout = 5 * time.Second
)

// newInput finds an input this node's routes do not know in a store that
// several nodes share: another node may have made it a moment ago, before
// the store's change notice reached this one. Answering such a webhook as
// unknown would acknowledge it and store nothing, so the routes are
// reloaded when the store has the input. On a store of one process the
// routes know every input, and nothing is looked up. Concurrent webhooks
// to one ID share one lookup, and lookups are rate-limited
// (unknownLookupRate).
func (s *Server) newInput(ctx context.Context, id string) (*routes, *inputRoute) {
	if _, shared := s.store.(Watcher); !shared {
		return nil, nil
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil // input IDs are UUIDs: nothing to look up
	}
	key := strings.ToLower(id)
	found, _, _ := s.lookups.Do(key, func() (any, error) {
		result := "skipped"
		defer func() { s.metrics.unknownLookups.WithLabelValues(result).Inc() }()
		if !s.lookupRate.Allow() {
			return false, nil
		}
		// The lookup is shared: a caller hanging up does not end it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unknownLookupTimeout)
		defer cancel()
		_, err := s.store.GetInput(lctx, id)
		switch {
		case err == nil:
			result = "found"
		case errors.Is(err, store.ErrNotFound):
			result = "absent"
		default:
			result = "error"
			s.log.Error("look up an input the routes do not know", "input", id, "error", err)
		}
		return err == nil, nil
	})
	if found != true {
		return nil, nil
	}
	// Another request may have reloaded meanwhile.
	if rt := s.routes.Load(); rt.inputs[key] != nil {
		return rt, rt.inputs[key]
	}
	if err := s.Reload(ctx); err != nil {
		s.log.Error("reload for a new input", "input", id, "error", err)
		return nil, nil
	}
	rt := s.routes.Load()
	return rt, rt.inputs[key]
}

// serveWebhook is the ingress: /v1/webhooks/{input_id}[/extra/path].
//
// What a caller can learn: requests that could never be delivered (405)
// or whose extra path has a dot-segment (400) are refused before the input
// is looked up, so known and unknown inputs answer them alike. An unknown
// input answers as a known input of an open bucket in default mode does:
// the body read up to the limit, 413 past it, else UnknownInputStatus
// (200, empty body). With UnknownInputStatus 401 it answers as an input of
// an authenticated bucket does to a caller without valid credentials.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if undeliverable(r.Method) {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		s.unrouted(http.StatusMethodNotAllowed)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), webhookPrefix)
	id, rawExtra, _ := strings.Cut(rest, "/")
	rawExtra = "/" + rawExtra
	extra, err := url.PathUnescape(rawExtra)
	if err != nil || climbs(extra) {
		s.unrouted(http.StatusBadRequest)
		http.Error(w, "invalid path: dot-segments are not allowed in the extra path", http.StatusBadRequest)
		return
	}
	rt := s.routes.Load()
	route := rt.inputs[strings.ToLower(id)]
	if route == nil {
		if rt, route = s.newInput(r.Context(), id); route == nil {
			s.answerUnknown(w, r)
			return
		}
	}
	b := route.bucket
	answer := func(status int) {
		s.metrics.received.WithLabelValues(b.Name, strconv.Itoa(status)).Inc()
	}
	refuse := func(status int) {
		answer(status)
		s.events.received(b, route.input, "", status, false)
	}

	// The handler owns r.Header (the server reads what it needs of it
	// before the handler runs): the webhook keeps it, changed in place,
	// rather than a copy.
	header := r.Header
	auth := s.authorize(rt, b, header, r.URL)
	if auth.retryAfter > 0 {
		io.Copy(io.Discard, io.LimitReader(r.Body, s.opts.MaxBodyBytes))
		refuse(http.StatusTooManyRequests)
		w.Header().Set("Retry-After", strconv.Itoa(int((auth.retryAfter+time.Second-1)/time.Second)))
		http.Error(w, "too many failed attempts for this credential", http.StatusTooManyRequests)
		return
	}
	if !auth.ok {
		io.Copy(io.Discard, io.LimitReader(r.Body, s.opts.MaxBodyBytes))
		refuse(http.StatusUnauthorized)
		if b.Auth.Type == AuthBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="relayfn"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	rawQuery := auth.rawQuery
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		status, msg := unreadable(err)
		refuse(status)
		http.Error(w, msg, status)
		return
	}
	removeHopHeaders(header)
	header.Del("Content-Length")
	req := HTTPRequest{Method: r.Method, Path: extra, RawPath: rawPath(extra, rawExtra), RawQuery: rawQuery, Header: header, Body: body}

	wh := &Webhook{ID: NewRecordID(), BucketID: b.ID, InputID: route.input.ID, ReceivedAt: s.opts.Now().UTC()}
	var res *runtime.Result
	forward := true
	if route.fn != nil {
		res = s.invoke(r.Context(), route.fn, req, metadata(b, route.input, nil))
		wh.Logs = res.Logs
		if res.Err != nil {
			wh.FunctionError = res.Error
		}
		forward = res.Forward()
		recordFunction(wh, req, res)
		req = applyResult(req, res)
	}
	wh.Request = req

	var ds []*Delivery
	if forward {
		for _, o := range route.outputs {
			if o.output.Disabled {
				continue
			}
			ds = append(ds, &Delivery{
				ID: NewRecordID(), WebhookID: wh.ID, BucketID: b.ID, OutputID: o.output.ID,
				State: DeliveryPending, NextAttemptAt: wh.ReceivedAt, CreatedAt: wh.ReceivedAt, UpdatedAt: wh.ReceivedAt,
			})
		}
	}

	// Deliveries exist only when the function let the webhook through.
	wait := route.input.Response.Mode == ResponseDestination && len(ds) > 0
	status, hdr, respBody := s.plannedAnswer(route.input, res)
	if wait {
		wh.Status = 0 // decided by the destination
	} else {
		wh.Status = status
		wh.Answer = Answer{Header: hdr, BodySize: len(respBody)}
	}

	var waiter chan destAnswer
	if wait {
		waiter = make(chan destAnswer, 1)
		s.waitMu.Lock()
		s.waiters[ds[0].ID] = waiter
		s.waitMu.Unlock()
		defer func() {
			s.waitMu.Lock()
			delete(s.waiters, ds[0].ID)
			s.waitMu.Unlock()
		}()
	}
	// The deliveries the engine has room for are stored leased to this
	// process and handed over with the request; the others wait in the
	// store, due, until the engine claims them. So do those of an
	// internal output with no agent of the bucket connected here: the
	// agent may be another node's, which the store wakes (ChangeWork).
	size := requestSize(&req)
	admitted := make([]bool, len(ds))
	leaseUntil := wh.ReceivedAt.Add(s.opts.Lease)
	leaseID := ""
	var agentless map[string]bool
	for _, o := range route.outputs {
		if !o.output.Internal {
			continue
		}
		if agentless == nil {
			if s.agents.connected(b.ID) {
				break // one answer for every output of the bucket
			}
			agentless = map[string]bool{}
		}
		agentless[o.output.ID] = true
	}
	for i, d := range ds {
		force := b.Ephemeral || (wait && i == 0)
		if agentless[d.OutputID] && !force {
			continue
		}
		if s.sched.admit(d.OutputID, size, force) {
			admitted[i] = true
			if leaseID == "" {
				leaseID = NewRecordID() // one claim for the webhook's deliveries
			}
			d.LeaseOwner, d.LeaseUntil, d.LeaseID = s.opts.Node, leaseUntil, leaseID
		}
	}
	if err := s.store.SaveWebhook(r.Context(), wh, ds); err != nil {
		if r.Context().Err() == nil {
			s.health.writeFailed(err, s.opts.Now())
		}
		for i, d := range ds {
			if admitted[i] {
				s.sched.unreserve(d.OutputID, size)
			}
		}
		s.log.Error("store webhook", "bucket", b.Name, "input", route.input.ID, "error", err)
		answer(http.StatusServiceUnavailable)
		s.events.received(b, route.input, "", http.StatusServiceUnavailable, wh.FunctionError != "")
		http.Error(w, "could not store the webhook", http.StatusServiceUnavailable)
		return
	}
	s.health.writeFailed(nil, s.opts.Now())
	spilled := false
	for i, d := range ds {
		if !admitted[i] {
			spilled = true
			continue
		}
		fresh := req
		s.sched.push(&job{d: d, req: &fresh, ephemeral: b.Ephemeral, size: size})
	}
	if spilled {
		s.sched.kick()
	}

	if wait {
		timeout := route.input.Response.Timeout
		if timeout <= 0 {
			timeout = DefaultDestinationWait
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case a := <-waiter:
			status, hdr, respBody = a.status, a.header, a.body
		case <-t.C:
			status, hdr, respBody = http.StatusGatewayTimeout, nil, []byte("destination did not answer in time\n")
		case <-r.Context().Done():
			s.recordAnswer(r.Context(), wh.ID, 499, Answer{})
			s.events.received(b, route.input, wh.ID, 499, wh.FunctionError != "")
			return
		}
		s.recordAnswer(r.Context(), wh.ID, status, Answer{Header: hdr, BodySize: len(respBody)})
	}
	s.events.received(b, route.input, wh.ID, status, wh.FunctionError != "")
	for k, v := range hdr {
		w.Header()[k] = v
	}
	answer(status)
	w.WriteHeader(status)
	w.Write(respBody)
}

// answerUnknown answers a webhook for an input that does not exist, as
// serveWebhook's comment says.
func (s *Server) answerUnknown(w http.ResponseWriter, r *http.Request) {
	status := s.opts.UnknownInputStatus
	if status == http.StatusUnauthorized {
		io.Copy(io.Discard, io.LimitReader(r.Body, s.opts.MaxBodyBytes))
		s.unrouted(status)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)); err != nil {
		status, msg := unreadable(err)
		s.unrouted(status)
		http.Error(w, msg, status)
		return
	}
	s.unrouted(status)
	w.WriteHeader(status)
}

// rawPath is the caller's encoding of the extra path p when it differs
// from the one url.URL would choose for p (as in "a%2Fb"), else "".
func rawPath(p, raw string) string {
	if (&url.URL{Path: p}).EscapedPath() == raw {
		return ""
	}
	return raw
}

// requestSize is about how many bytes req holds in memory.
func requestSize(req *HTTPRequest) int64 {
	n := len(req.Body) + len(req.Path) + len(req.RawPath) + len(req.RawQuery) + len(req.Method)
	for k, vs := range req.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// plannedAnswer is the caller's answer in every mode but destination (and
// in destination mode when the function answered and stopped forwarding).
func (s *Server) plannedAnswer(in *Input, res *runtime.Result) (int, http.Header, []byte) {
	rc := in.Response
	if rc.Mode == ResponseStatic {
		h := http.Header{}
		for k, v := range rc.Headers {
			h.Set(k, v)
		}
		status := rc.Status
		if status == 0 {
			status = http.StatusOK
		}
		return status, h, []byte(rc.Body)
	}
	if res != nil && res.Err != nil && rc.Mode == ResponseFunction {
		return http.StatusInternalServerError, nil, []byte("function error\n")
	}
	if res != nil && res.Response.Modified {
		status := res.Response.Status
		if status == 0 {
			status = http.StatusOK
		}
		return status, res.Response.Headers, []byte(res.Response.Body)
	}
	return http.StatusOK, nil, nil
}
