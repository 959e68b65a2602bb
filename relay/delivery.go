package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/relayfn/relayfn/relay/store"
)

// worker attempts the jobs the engine hands it until the engine closes.
func (s *Server) worker(ctx context.Context) {
	defer s.workers.Done()
	for {
		j, ok := s.sched.next()
		if !ok {
			return
		}
		s.deliver(ctx, j)
		s.sched.done(j)
	}
}

// outcome of one attempt.
type outcome struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// lostEphemeral is the error of an ephemeral bucket's delivery whose
// request did not survive a restart.
const lostEphemeral = "lost: ephemeral bucket webhooks are kept in memory only"

// deliver makes one attempt of j and records it.
func (s *Server) deliver(ctx context.Context, j *job) {
	d := j.d
	start := s.opts.Now()
	a := &Attempt{DeliveryID: d.ID, N: d.Attempts + 1, StartedAt: start.UTC()}
	rt := s.routes.Load()
	or := rt.outputs[d.OutputID]
	final := func(state DeliveryState, msg string) {
		d.State, d.LastError, d.Attempts, d.UpdatedAt = state, msg, a.N, s.opts.Now().UTC()
		a.Error = msg
		a.DurationMS = msSince(s.opts.Now(), start)
		if s.record(ctx, j, a) {
			s.metrics.deliveries.WithLabelValues(string(state)).Inc()
		}
		s.notify(d.ID, outcome{status: http.StatusBadGateway, body: []byte(msg + "\n")})
	}
	if or == nil {
		final(DeliveryFailed, "output no longer exists")
		return
	}
	if or.output.Internal && !s.agents.connected(or.bucket.ID) {
		// Never dialed: an internal destination is for an agent to
		// reach. With none connected, the delivery waits in the store,
		// no attempt spent, until one connects or its window ends.
		window := agentWindow(or.output)
		deadline := d.CreatedAt.Add(window)
		if !start.Before(deadline) {
			final(DeliveryFailed, fmt.Sprintf("%s (%s)", errNoAgent, window))
			return
		}
		s.requeue(ctx, j, or, deadline)
		return
	}
	req := j.req
	if req == nil {
		if j.ephemeral {
			final(DeliveryFailed, lostEphemeral)
			return
		}
		wh, err := s.store.GetWebhook(ctx, d.WebhookID)
		if err != nil {
			s.log.Error("load webhook for delivery", "delivery", d.ID, "error", err)
			if ctx.Err() != nil {
				s.abandon(ctx, j, a, start)
				return
			}
			s.retryLater(ctx, j, a, or, outcome{err: err}, or.output.Retries.Delay(a.N), start)
			return
		}
		if wh.Request.Header == nil && wh.Request.Body == nil && or.bucket.Ephemeral {
			final(DeliveryFailed, lostEphemeral)
			return
		}
		req = &wh.Request
	}
	out := *req
	if or.fn != nil {
		res := s.invoke(ctx, or.fn, out, metadata(or.bucket, nil, or.output))
		a.Logs = res.Logs
		if res.Err != nil && ctx.Err() != nil {
			s.abandon(ctx, j, a, start)
			return
		}
		if res.Err != nil {
			final(DeliveryStopped, "output function failed: "+res.Error)
			return
		}
		if res.StopForwarding {
			final(DeliveryStopped, "output function stopped forwarding")
			return
		}
		out = applyResult(out, res)
	}
	var oc outcome
	if or.output.Internal {
		var sent bool
		oc, sent = s.agents.send(ctx, or, &out, d.ID)
		s.sched.sent(j)
		if !sent {
			// No agent took it, or the agent went away before it
			// reported: not an attempt; sent again.
			s.requeue(ctx, j, or, time.Time{})
			return
		}
		s.metrics.transport.WithLabelValues("agent").Inc()
	} else {
		oc = s.send(ctx, or, &out)
		s.sched.sent(j)
		s.metrics.transport.WithLabelValues("direct").Inc()
	}
	if oc.err != nil && ctx.Err() != nil {
		s.abandon(ctx, j, a, start)
		return
	}
	if wait, retry := or.output.Retries.Next(a.N, oc.status, oc.err); retry {
		s.retryLater(ctx, j, a, or, oc, wait, start)
		return
	}
	a.Status = oc.status
	a.ResponseHeader, a.ResponseBody = oc.header, recordedBody(oc.body)
	a.DurationMS = msSince(s.opts.Now(), start)
	d.Attempts, d.LastStatus, d.UpdatedAt = a.N, oc.status, s.opts.Now().UTC()
	d.State = DeliveryFailed
	if oc.err == nil && oc.status >= 200 && oc.status < 300 {
		d.State = DeliverySucceeded
	}
	if oc.err != nil {
		d.LastError, a.Error = oc.err.Error(), oc.err.Error()
	} else {
		d.LastError = ""
	}
	if or.respFn != nil {
		a.Logs = append(a.Logs, s.runResponseFunction(ctx, or, metadata(or.bucket, nil, or.output), oc)...)
	}
	if s.record(ctx, j, a) {
		s.metrics.deliveries.WithLabelValues(string(d.State)).Inc()
		s.logAttempt(or, d, a)
	}
	s.notify(d.ID, oc)
}

// logAttempt logs an attempt's outcome: ids, status and error only (never
// the request, which may carry secrets).
func (s *Server) logAttempt(or *outputRoute, d *Delivery, a *Attempt) {
	level := slog.LevelDebug
	switch d.State {
	case DeliveryPending:
		level = slog.LevelInfo
	case DeliveryFailed:
		level = slog.LevelWarn
	}
	if !s.log.Enabled(context.Background(), level) {
		return // without boxing the arguments
	}
	s.log.Log(context.Background(), level, "delivery attempt",
		"bucket", or.bucket.Name, "output", or.output.Name, "delivery", d.ID, "webhook", d.WebhookID,
		"attempt", a.N, "state", d.State, "status", a.Status, "error", a.Error, "duration_ms", a.DurationMS)
}

// requeue puts j back in the store, due, without recording an attempt:
// no agent took it. With parkUntil set, no agent of the output's bucket is
// connected, and the engine claims no more of the output's deliveries
// until one connects or parkUntil (the end of the oldest one's agent
// window) comes.
func (s *Server) requeue(ctx context.Context, j *job, or *outputRoute, parkUntil time.Time) {
	s.sched.release(j, parkUntil)
	if err := s.store.ReleaseClaims(context.WithoutCancel(ctx), s.opts.Node, []string{j.d.ID}); err != nil {
		s.log.Error("release delivery for an agent", "delivery", j.d.ID, "error", err)
	}
	if parkUntil.IsZero() || s.agents.connected(or.bucket.ID) {
		s.sched.kick()
	}
}

// abandon records an attempt that a shutdown past its grace period cut
// short: the delivery stays pending, and the next start resumes it.
func (s *Server) abandon(ctx context.Context, j *job, a *Attempt, start time.Time) {
	d := j.d
	now := s.opts.Now()
	a.DurationMS = msSince(now, start)
	a.Error = "abandoned at shutdown"
	d.Attempts, d.State, d.LastError, d.UpdatedAt, d.NextAttemptAt = a.N, DeliveryPending, a.Error, now.UTC(), now.UTC()
	s.record(ctx, j, a)
}

// retryLater records a failed attempt, with the delivery due again after
// wait: the engine claims it from the store then.
func (s *Server) retryLater(ctx context.Context, j *job, a *Attempt, or *outputRoute, oc outcome, wait time.Duration, start time.Time) {
	d := j.d
	now := s.opts.Now()
	a.Status = oc.status
	a.ResponseHeader, a.ResponseBody = oc.header, recordedBody(oc.body)
	a.DurationMS = msSince(now, start)
	if oc.err != nil {
		a.Error = oc.err.Error()
	}
	d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = a.N, oc.status, a.Error, now.UTC()
	d.State = DeliveryPending
	d.NextAttemptAt = now.Add(wait).UTC()
	if !s.record(ctx, j, a) {
		s.notify(d.ID, oc)
		return
	}
	s.logAttempt(or, d, a)
	s.metrics.deliveries.WithLabelValues("retry").Inc()
	s.metrics.retries.Inc()
	s.notify(d.ID, oc)
	s.sched.retry(j, d.NextAttemptAt)
}

// record saves j's attempt a with the delivery's new state, under j's
// claim. It reports false, having recorded nothing, when the claim is
// lost (a renewal found it so, or the store refuses it): another process
// may have claimed the delivery, and its attempts count, not this one.
func (s *Server) record(ctx context.Context, j *job, a *Attempt) bool {
	d := j.d
	if s.sched.isLost(j) {
		s.dropLost(ctx, j)
		return false
	}
	if err := s.store.RecordAttempt(context.WithoutCancel(ctx), d, a); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			s.dropLost(ctx, j)
			return false
		}
		s.log.Error("record delivery attempt", "delivery", d.ID, "error", err)
	}
	s.events.attempt(d, a)
	return true
}

// dropLost forgets j, whose attempt was not recorded because its lease is
// lost. A claim of this process that took the delivery again during the
// attempt is queued if its own lease still holds (renewed here: the
// renewer no longer sees it), so that the delivery is attempted under it;
// else another process holds the delivery.
func (s *Server) dropLost(ctx context.Context, j *job) {
	s.leaseLost(j, "record")
	r := s.sched.forget(j)
	if r == nil {
		return
	}
	lost, err := s.store.RenewClaims(context.WithoutCancel(ctx), s.opts.Now().Add(s.opts.Lease),
		[]LeaseRef{{ID: r.ID, LeaseID: r.LeaseID}})
	switch {
	case err != nil:
		// Its lease runs out, and a claim takes it then.
		s.log.Error("renew a delivery's claim", "delivery", r.ID, "error", err)
	case len(lost) > 0:
		s.leaseLost(&job{d: r}, "record")
	default:
		s.sched.requeueReclaimed(j, r)
	}
}

// notify hands the first answer to a caller waiting in destination mode.
func (s *Server) notify(deliveryID string, oc outcome) {
	s.waitMu.Lock()
	ch, ok := s.waiters[deliveryID]
	delete(s.waiters, deliveryID)
	s.waitMu.Unlock()
	if !ok {
		return
	}
	a := destAnswer{status: oc.status, header: oc.header, body: oc.body}
	if oc.err != nil {
		a = destAnswer{status: http.StatusBadGateway, body: []byte("destination unreachable\n")}
	}
	ch <- a
}

// send makes the HTTP request to the output's destination.
func (s *Server) send(ctx context.Context, or *outputRoute, req *HTTPRequest) outcome {
	if or.destErr != nil {
		return outcome{err: permanent(or.destErr)}
	}
	timeout := or.output.Timeout
	if timeout <= 0 {
		timeout = DefaultOutputTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The destination was parsed when the routes were loaded: build the
	// request around a copy rather than parse it again.
	hr, err := http.NewRequestWithContext(ctx, req.Method, "", bytes.NewReader(req.Body))
	if err != nil {
		return outcome{err: permanent(fmt.Errorf("build request: %w", err))}
	}
	hr.URL = destinationURL(or.dest, or.output.LockPath, req)
	// Neither the egress client nor the transport modifies a request's
	// header, so outboundHeader may return req's own.
	hr.Header = outboundHeader(req.Header)
	if hr.Header == nil {
		hr.Header = http.Header{}
	}
	resp, err := s.sender.Do(ctx, or.bucket.Name, hr)
	if err != nil {
		return outcome{err: redactURL(err, hr.URL)}
	}
	defer resp.Body.Close()
	var body []byte
	if resp.ContentLength != 0 {
		// An answer known to be empty (the usual 200 or 204 of a
		// webhook receiver) needs no buffer.
		body, err = io.ReadAll(io.LimitReader(resp.Body, DefaultMaxResponseBodySize))
		if err != nil {
			return outcome{status: resp.StatusCode, err: fmt.Errorf("read response: %w", err)}
		}
	}
	removeHopHeaders(resp.Header)
	resp.Header.Del("Content-Length")
	return outcome{status: resp.StatusCode, header: resp.Header, body: body}
}

// outboundHeader is h as it is sent on to a destination: without hop
// headers and Host. h is shared with the job (a retry sends it again), so
// it is copied only when there is something to remove; the caller must
// not modify the result.
func outboundHeader(h http.Header) http.Header {
	if !hasHopHeaders(h) {
		return h
	}
	out := maps.Clone(h)
	removeHopHeaders(out)
	out.Del("Host")
	return out
}

// redactURL keeps only the scheme and host of the destination in err: a
// destination's path and query often carry a secret (Slack's incoming
// webhooks do), and errors are stored and logged.
func redactURL(err error, u *url.URL) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s://%s: %w", ue.Op, u.Scheme, u.Host, ue.Err)
	}
	return err
}

// destinationURL joins the destination dest with the request's extra path
// (unless the output locks its path) and query, in a copy of dest.
func destinationURL(dest *url.URL, lockPath bool, req *HTTPRequest) *url.URL {
	u := *dest
	if u.User != nil {
		user := *u.User
		u.User = &user
	}
	if !lockPath && req.Path != "" && req.Path != "/" {
		// As httputil's joinURLPath: the decoded and the escaped forms are
		// joined alike, so that the caller's encoding ("a%2Fb") survives.
		p, extra := req.Path, req.RawPath
		if climbs(p) {
			// Only a function can set such a path (the ingress refuses
			// it): resolve it within the destination's path.
			p, extra = path.Clean("/"+strings.ReplaceAll(p, "\\", "/")), ""
		}
		if extra == "" || !sameUnescaped(extra, p) {
			extra = (&url.URL{Path: p}).EscapedPath()
		}
		escaped := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + strings.TrimPrefix(extra, "/")
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(p, "/")
		u.RawPath = ""
		if escaped != u.EscapedPath() {
			u.RawPath = escaped
		}
	}
	if req.RawQuery != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&" + req.RawQuery
		} else {
			u.RawQuery = req.RawQuery
		}
	}
	return &u
}

// sameUnescaped reports whether raw is an encoding of p.
func sameUnescaped(raw, p string) bool {
	u, err := url.PathUnescape(raw)
	return err == nil && u == p
}

// runResponseFunction runs the output's response function with the
// destination's answer as its request; its logs join the attempt's.
func (s *Server) runResponseFunction(ctx context.Context, or *outputRoute, md map[string]string, oc outcome) []string {
	md["status"] = strconv.Itoa(oc.status)
	if oc.err != nil {
		md["error"] = oc.err.Error()
	}
	res := s.invoke(ctx, or.respFn, HTTPRequest{Method: http.MethodPost, Path: "/", Header: oc.header, Body: oc.body}, md)
	logs := res.Logs
	if res.Err != nil {
		logs = append(logs, "response function failed: "+res.Error)
	}
	return logs
}

// recordedBody is the part of a destination's answer body the request log
// keeps.
func recordedBody(b []byte) []byte {
	if len(b) > MaxRecordedResponseBody {
		return b[:MaxRecordedResponseBody]
	}
	return b
}

func msSince(now, start time.Time) float64 {
	return float64(now.Sub(start).Microseconds()) / 1000
}
