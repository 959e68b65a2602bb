package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/relayfn/relayfn/relay/api"
)

// Agents.
//
// An internal output is never dialed by the relay: its deliveries go to
// agents (fnctl agent), processes inside the destination's network that
// hold one outbound WebSocket to the relay's public listener
// (api.AgentPath), authenticated with an agent token and subscribed to
// buckets. The delivery engine treats an agent as another transport: a
// worker that takes an internal output's delivery hands it to the hub,
// which sends it to one connected agent of the bucket (the least busy),
// and the agent's report is recorded as the attempt, through the same
// path and retry policy as a direct send. Each delivery goes to exactly one
// agent (competing consumers).
//
// While no agent of the bucket is connected to this node, the delivery is
// not attempted here: a fresh one is not admitted, and a claimed one's
// claim is released at once, so that it waits in the store, due, with no
// attempt spent, for the node its agent is connected to (the store wakes
// the other nodes: ChangeWork). The engine claims no more of that output
// until an agent connects here (then the waiting ones are claimed, oldest
// first) or the oldest reaches the end of the output's agent window, when
// it fails with errNoAgent (see engine.claimOpen). A delivery sent to an agent that disconnects before
// reporting goes back to the store, due, and is sent again: delivery
// through agents is at least once, as direct delivery is.

// DefaultAgentPing is how often each side of an agent connection pings
// the other; a peer that does not answer within the interval is dropped,
// so a dead peer is found within two intervals.
const DefaultAgentPing = 10 * time.Second

// agentReadLimit bounds one message of the agent protocol: a delivery
// carries a webhook body (at most MaxBodyBytes, base64 in JSON).
const agentReadLimit = 32 << 20

// agentGrace is how long past the output's timeout the relay waits for an
// agent's report before it counts the attempt as unanswered.
const agentGrace = 5 * time.Second

// errNoAgent is the start of the error of a delivery whose agent window
// ended with no agent connected.
const errNoAgent = "no agent connected within the agent window"

// AgentInfo is a connected agent, as the admin API lists it.
type AgentInfo struct {
	ID, Name, TokenID string
	// Buckets are the names of the buckets it is subscribed to.
	Buckets   []string
	Remote    string
	Since     time.Time
	InFlight  int64
	Delivered int64
	Failed    int64
}

// agentHub holds the connected agents.
type agentHub struct {
	s    *Server
	ping time.Duration

	mu      sync.Mutex
	agents  map[string]*agentConn
	closed  bool
	counter uint64
}

// agentConn is one connected agent.
type agentConn struct {
	id, name, token string
	buckets         map[string]string // bucket ID → name
	remote          string
	since           time.Time
	c               *websocket.Conn

	mu       sync.Mutex
	pending  map[string]chan api.AgentMessage
	draining bool
	gone     chan struct{}
	goneOnce sync.Once

	inFlight, delivered, failed atomic.Int64
}

func newAgentHub(s *Server) *agentHub {
	ping := s.opts.AgentPing
	if ping <= 0 {
		ping = DefaultAgentPing
	}
	return &agentHub{s: s, ping: ping, agents: map[string]*agentConn{}}
}

// connected reports whether an agent that takes deliveries is connected
// for the bucket.
func (h *agentHub) connected(bucketID string) bool { return h.pick(bucketID) != nil }

// count is how many agents are connected.
func (h *agentHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.agents)
}

// pick returns the connected agent of the bucket with the fewest
// deliveries in flight, or nil.
func (h *agentHub) pick(bucketID string) *agentConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best *agentConn
	for _, a := range h.agents {
		if _, ok := a.buckets[bucketID]; !ok || a.isDraining() {
			continue
		}
		if best == nil || a.inFlight.Load() < best.inFlight.Load() {
			best = a
		}
	}
	return best
}

// isDraining reports whether the agent takes no more deliveries: it said
// it is stopping, or its connection is closing.
func (a *agentConn) isDraining() bool {
	select {
	case <-a.gone:
		return true
	default:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.draining
}

// list returns the connected agents.
func (h *agentHub) list() []AgentInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]AgentInfo, 0, len(h.agents))
	for _, a := range h.agents {
		info := AgentInfo{ID: a.id, Name: a.name, TokenID: a.token, Remote: a.remote, Since: a.since,
			InFlight: a.inFlight.Load(), Delivered: a.delivered.Load(), Failed: a.failed.Load()}
		for _, n := range a.buckets {
			info.Buckets = append(info.Buckets, n)
		}
		out = append(out, info)
	}
	return out
}

// errAgentGone means the agent disconnected before it reported: the
// delivery was not attempted as far as the relay knows, and is sent again.
var errAgentGone = errors.New("agent disconnected before reporting")

// send hands req, bound for the output's destination, to one agent of the
// output's bucket and waits for its report. sent is false when no agent
// took it (none connected, or the agent went away before reporting).
func (h *agentHub) send(ctx context.Context, or *outputRoute, req *HTTPRequest, deliveryID string) (oc outcome, sent bool) {
	if or.destErr != nil {
		return outcome{err: permanent(or.destErr)}, true
	}
	a := h.pick(or.bucket.ID)
	if a == nil {
		return outcome{}, false
	}
	timeout := or.output.Timeout
	if timeout <= 0 {
		timeout = DefaultOutputTimeout
	}
	msg := api.AgentMessage{
		Type: api.AgentDelivery, ID: deliveryID, Bucket: or.bucket.Name, Output: or.output.Name,
		Method: req.Method, URL: destinationURL(or.dest, or.output.LockPath, req).String(),
		Header: outboundHeader(req.Header), Body: req.Body, Timeout: api.Duration(timeout),
	}
	ch := make(chan api.AgentMessage, 1)
	a.mu.Lock()
	a.pending[deliveryID] = ch
	a.mu.Unlock()
	a.inFlight.Add(1)
	defer func() {
		a.mu.Lock()
		delete(a.pending, deliveryID)
		a.mu.Unlock()
		a.inFlight.Add(-1)
	}()
	b, err := json.Marshal(msg)
	if err != nil {
		return outcome{err: permanent(fmt.Errorf("encode delivery: %w", err))}, true
	}
	wctx, cancel := context.WithTimeout(ctx, timeout+agentGrace)
	defer cancel()
	if err := a.c.Write(wctx, websocket.MessageText, b); err != nil {
		a.close(websocket.StatusInternalError, "write failed")
		if ctx.Err() != nil {
			return outcome{err: ctx.Err()}, true
		}
		return outcome{}, false
	}
	select {
	case res := <-ch:
		if res.Error != "" {
			a.failed.Add(1)
			err := fmt.Errorf("agent %s: %s", a.label(), res.Error)
			if res.Refused {
				err = permanent(err)
			}
			return outcome{err: err}, true
		}
		if res.Status >= 200 && res.Status < 300 {
			a.delivered.Add(1)
		} else {
			a.failed.Add(1)
		}
		removeHopHeaders(res.Header)
		res.Header.Del("Content-Length")
		return outcome{status: res.Status, header: res.Header, body: res.Body}, true
	case <-a.gone:
		return outcome{}, false
	case <-wctx.Done():
		if ctx.Err() != nil {
			return outcome{err: ctx.Err()}, true
		}
		a.failed.Add(1)
		return outcome{err: fmt.Errorf("agent %s did not report within %s", a.label(), timeout+agentGrace)}, true
	}
}

func (a *agentConn) label() string {
	if a.name != "" {
		return a.name
	}
	return a.id
}

// close ends the connection once; its deliveries in flight go back to the
// store at once. A peer that stopped answering is cut (dead: no close
// handshake); others get the handshake, in the background.
func (a *agentConn) close(code websocket.StatusCode, reason string) {
	a.goneOnce.Do(func() {
		close(a.gone)
		if code == websocket.StatusPolicyViolation {
			a.c.CloseNow()
			return
		}
		go a.c.Close(code, reason)
	})
}

// serveAgent authenticates an agent, subscribes it to its buckets and
// serves its connection until it ends.
func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	h := s.agents
	tok, buckets, status, msg := s.authAgent(r)
	if status != 0 {
		s.log.Warn("agent refused", "remote", r.RemoteAddr, "reason", msg)
		http.Error(w, msg, status)
		return
	}
	// The public listener's read timeouts are for requests, not for a
	// connection that lives for hours.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{api.AgentProtocol}})
	if err != nil {
		s.log.Warn("agent connection", "remote", r.RemoteAddr, "error", err)
		return
	}
	c.SetReadLimit(agentReadLimit)
	h.mu.Lock()
	h.counter++
	a := &agentConn{
		id: fmt.Sprintf("%s-%d", s.opts.Node, h.counter), name: r.URL.Query().Get("name"), token: tok,
		buckets: buckets, remote: r.RemoteAddr, since: s.opts.Now().UTC(), c: c,
		pending: map[string]chan api.AgentMessage{}, gone: make(chan struct{}),
	}
	h.mu.Unlock()
	names := make([]string, 0, len(buckets))
	for _, n := range buckets {
		names = append(names, n)
	}
	slices.Sort(names)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	// The welcome first: no delivery may precede it.
	welcome, _ := json.Marshal(api.AgentMessage{Type: api.AgentWelcome, ID: a.id, Buckets: names})
	if err := c.Write(ctx, websocket.MessageText, welcome); err != nil {
		c.CloseNow()
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.Close(websocket.StatusGoingAway, "relay shutting down")
		return
	}
	h.agents[a.id] = a
	h.mu.Unlock()
	s.log.Info("agent connected", "agent", a.label(), "buckets", strings.Join(names, ","), "remote", a.remote)
	// The waiting deliveries of its buckets are claimed now.
	s.sched.agentsChanged()
	go h.pinger(ctx, a)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			break
		}
		var m api.AgentMessage
		if err := json.Unmarshal(b, &m); err != nil {
			a.close(websocket.StatusUnsupportedData, "bad message")
			break
		}
		switch m.Type {
		case api.AgentResult:
			a.mu.Lock()
			ch := a.pending[m.ID]
			delete(a.pending, m.ID)
			a.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case api.AgentDrain:
			a.mu.Lock()
			a.draining = true
			a.mu.Unlock()
		}
	}
	a.close(websocket.StatusNormalClosure, "")
	h.mu.Lock()
	delete(h.agents, a.id)
	h.mu.Unlock()
	s.log.Info("agent disconnected", "agent", a.label(), "remote", a.remote,
		"delivered", a.delivered.Load(), "failed", a.failed.Load())
}

// pinger pings the agent every interval and drops it when a ping goes
// unanswered for an interval.
func (h *agentHub) pinger(ctx context.Context, a *agentConn) {
	t := time.NewTicker(h.ping)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-a.gone:
			return
		case <-ctx.Done():
			return
		}
		pctx, cancel := context.WithTimeout(ctx, h.ping)
		err := a.c.Ping(pctx)
		cancel()
		if err != nil {
			a.close(websocket.StatusPolicyViolation, "ping timeout") // dead
			return
		}
	}
}

// authAgent checks an agent's credential and the buckets it asks for;
// status is 0 when it may connect, else the answer and its reason.
func (s *Server) authAgent(r *http.Request) (tokenID string, buckets map[string]string, status int, msg string) {
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", nil, http.StatusUnauthorized, "an agent token is required (Authorization: Bearer <id>.<secret>)"
	}
	id, secret, ok := ParseToken(strings.TrimSpace(cred))
	if !ok {
		return "", nil, http.StatusUnauthorized, "invalid agent token"
	}
	t, err := s.store.GetAgentToken(r.Context(), id)
	if err != nil || !tokenMatches(t.SecretHash, secret) {
		return "", nil, http.StatusUnauthorized, "invalid agent token"
	}
	granted := map[string]bool{}
	for _, b := range t.BucketIDs {
		granted[b] = true
	}
	buckets = map[string]string{}
	asked := r.URL.Query()["bucket"]
	if len(asked) == 0 {
		for _, b := range t.BucketIDs {
			if bk, err := s.store.GetBucket(r.Context(), b); err == nil {
				buckets[bk.ID] = bk.Name
			}
		}
	}
	for _, ref := range asked {
		bk, err := s.store.GetBucket(r.Context(), ref)
		if err != nil || !granted[bk.ID] {
			return "", nil, http.StatusForbidden, fmt.Sprintf("agent token %s does not grant bucket %q", t.ID, ref)
		}
		buckets[bk.ID] = bk.Name
	}
	if len(buckets) == 0 {
		return "", nil, http.StatusForbidden, fmt.Sprintf("agent token %s grants no bucket that exists", t.ID)
	}
	return t.ID, buckets, 0, ""
}

// closeAll disconnects every agent (at shutdown): they reconnect to the
// next relay.
func (h *agentHub) closeAll() {
	h.mu.Lock()
	h.closed = true
	as := make([]*agentConn, 0, len(h.agents))
	for _, a := range h.agents {
		as = append(as, a)
	}
	h.mu.Unlock()
	for _, a := range as {
		a.close(websocket.StatusGoingAway, "relay shutting down")
	}
}

// DisconnectAgents closes the connections of the agents that connected
// with the agent token tokenID (deleted): their deliveries in flight go
// back to the store, and their reconnections are refused.
func (s *Server) DisconnectAgents(tokenID string) {
	h := s.agents
	h.mu.Lock()
	var as []*agentConn
	for _, a := range h.agents {
		if a.token == tokenID {
			as = append(as, a)
		}
	}
	h.mu.Unlock()
	for _, a := range as {
		a.close(websocket.StatusNormalClosure, "agent token deleted")
	}
}

// Agents lists the connected agents.
func (s *Server) Agents() []AgentInfo { return s.agents.list() }
