// Package agent is the client side of relayfn's agents: a process inside a
// private network that holds one outbound WebSocket to a relay, receives
// the deliveries of the internal outputs of the buckets it subscribes to,
// sends each to its destination as seen from its own network (or to
// Options.ForwardTo), and reports the answer. fnctl agent runs it.
//
// It imports only relay/api and the WebSocket library: the protocol is
// described there (see api.AgentPath).
package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/relayfn/relayfn/relay/api"
)

// Defaults for Options fields left zero.
const (
	DefaultPing       = 10 * time.Second
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// readLimit bounds one message from the relay: a delivery with its body,
// base64 in JSON (a relay's server.max_body_bytes may be raised well past
// its 3 MB default).
const readLimit = 256 << 20

// Options configure an agent.
type Options struct {
	// Server is the relay's public URL (http or https; https means wss).
	Server string
	// Token is the agent token's credential, "<id>.<secret>".
	Token string
	// Buckets are the buckets (names or IDs) to subscribe to; none means
	// every bucket of the token.
	Buckets []string
	// Name labels the agent in the relay's agent list.
	Name string
	// ForwardTo, when set, replaces the scheme, host and port of every
	// destination (the path and query are kept).
	ForwardTo *url.URL
	// Allow, when not empty, lists the only destinations the agent sends
	// to: HOST (any port) or HOST:PORT. Others are refused and reported
	// as such; the relay does not retry them.
	Allow []string
	// TLS configures the connection to a relay served over TLS (a test or
	// private CA); nil means the system's roots.
	TLS *tls.Config
	// Ping is how often the agent pings the relay; a relay that does not
	// answer within it is dropped and reconnected to.
	Ping time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnections,
	// which doubles after each failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Client sends the deliveries; nil means one that honours the
	// environment's proxy settings and never follows redirects.
	Client *http.Client
	// Log receives one line per delivery and one per connection event;
	// nil discards them.
	Log io.Writer
}

// RejectedError is the relay's refusal of the agent's credential or
// buckets: reconnecting would not help.
type RejectedError struct {
	Status int
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("the relay refused the agent (%d): %s", e.Status, e.Reason)
}

// Run connects to the relay and serves deliveries until ctx ends, then
// stops taking deliveries, finishes those in flight, and returns nil. It
// reconnects after every lost connection, with backoff; it returns a
// *RejectedError when the relay refuses the token or a bucket.
func Run(ctx context.Context, o Options) error {
	if o.Ping <= 0 {
		o.Ping = DefaultPing
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		o.Client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	wsURL, err := agentURL(o)
	if err != nil {
		return err
	}
	a := &agent{o: o, url: wsURL}
	a.cond = sync.NewCond(&a.mu)
	backoff := o.MinBackoff
	for {
		connected, err := a.session(ctx)
		var rej *RejectedError
		if errors.As(err, &rej) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = o.MinBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		a.logf("disconnected: %v; reconnecting in %s", err, wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

// agentURL is the WebSocket URL of the relay's agent endpoint.
func agentURL(o Options) (string, error) {
	u, err := url.Parse(o.Server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q: want the relay's http(s) URL", o.Server)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("server %q: want the relay's http(s) URL", o.Server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + api.AgentPath
	u.RawPath = ""
	q := url.Values{}
	for _, b := range o.Buckets {
		q.Add("bucket", b)
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

type agent struct {
	o   Options
	url string

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int
}

func (a *agent) logf(format string, args ...any) {
	fmt.Fprintf(a.o.Log, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// session serves one connection; connected says whether the relay
// accepted it.
func (a *agent) session(ctx context.Context) (connected bool, err error) {
	hc := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: a.o.TLS,
		DialContext:     (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	c, resp, err := websocket.Dial(dctx, a.url, &websocket.DialOptions{
		HTTPClient:   hc,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + a.o.Token}},
		Subprotocols: []string{api.AgentProtocol},
	})
	cancel()
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			var reason []byte
			if resp.Body != nil {
				reason, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
			}
			return false, &RejectedError{Status: resp.StatusCode, Reason: strings.TrimSpace(string(reason))}
		}
		return false, err
	}
	c.SetReadLimit(readLimit)
	// The connection outlives ctx: at its end the agent drains first.
	cctx, stop := context.WithCancel(context.Background())
	defer stop()
	_, b, err := c.Read(cctx)
	if err != nil {
		c.CloseNow()
		return false, fmt.Errorf("read welcome: %w", err)
	}
	var welcome api.AgentMessage
	if err := json.Unmarshal(b, &welcome); err != nil || welcome.Type != api.AgentWelcome {
		c.CloseNow()
		return false, errors.New("the relay did not welcome the agent")
	}
	a.logf("connected to %s as %s; buckets %s", a.o.Server, welcome.ID, strings.Join(welcome.Buckets, ", "))

	closed := make(chan struct{})
	defer close(closed)
	go func() {
		select {
		case <-ctx.Done():
		case <-closed:
			return
		}
		// Stop taking deliveries, finish the ones in flight, then leave.
		drain, _ := json.Marshal(api.AgentMessage{Type: api.AgentDrain})
		wctx, cancel := context.WithTimeout(cctx, 5*time.Second)
		_ = c.Write(wctx, websocket.MessageText, drain)
		cancel()
		a.mu.Lock()
		for a.inFlight > 0 {
			a.cond.Wait()
		}
		a.mu.Unlock()
		c.Close(websocket.StatusNormalClosure, "agent stopping")
	}()
	go a.pinger(cctx, c, closed)
	for {
		_, b, err := c.Read(cctx)
		if err != nil {
			c.CloseNow()
			return true, err
		}
		var m api.AgentMessage
		if err := json.Unmarshal(b, &m); err != nil || m.Type != api.AgentDelivery {
			continue
		}
		a.mu.Lock()
		a.inFlight++
		a.mu.Unlock()
		go func() {
			defer func() {
				a.mu.Lock()
				a.inFlight--
				a.cond.Broadcast()
				a.mu.Unlock()
			}()
			res := a.deliver(&m)
			out, _ := json.Marshal(res)
			wctx, cancel := context.WithTimeout(cctx, 10*time.Second)
			defer cancel()
			_ = c.Write(wctx, websocket.MessageText, out)
		}()
	}
}

// pinger pings the relay every interval and drops the connection when a
// ping goes unanswered for an interval.
func (a *agent) pinger(ctx context.Context, c *websocket.Conn, closed <-chan struct{}) {
	t := time.NewTicker(a.o.Ping)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-closed:
			return
		}
		pctx, cancel := context.WithTimeout(ctx, a.o.Ping)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			c.CloseNow()
			return
		}
	}
}

// deliver sends one delivery and returns its result.
func (a *agent) deliver(m *api.AgentMessage) *api.AgentMessage {
	start := time.Now()
	res := &api.AgentMessage{Type: api.AgentResult, ID: m.ID}
	u, err := url.Parse(m.URL)
	if err != nil {
		res.Error, res.Refused = "bad destination URL", true
		return res
	}
	if f := a.o.ForwardTo; f != nil {
		u.Scheme, u.Host, u.User = f.Scheme, f.Host, nil
	}
	// The path, not the query: a query often carries a secret.
	target := u.EscapedPath()
	label := m.Bucket + "/" + m.Output
	if !Allowed(a.o.Allow, u) {
		res.Error = fmt.Sprintf("destination %s is not in this agent's --allow list", u.Host)
		res.Refused = true
		a.logf("%s %s %s%s refused: not allowed", label, m.Method, u.Host, target)
		return res
	}
	timeout := time.Duration(m.Timeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, m.Method, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		res.Error, res.Refused = "build request: "+err.Error(), true
		return res
	}
	if m.Header != nil {
		req.Header = m.Header
	}
	resp, err := a.o.Client.Do(req)
	if err != nil {
		res.Error = redact(err, u)
		res.DurationMS = ms(start)
		a.logf("%s %s %s%s error %s (%.1fms)", label, m.Method, u.Host, target, res.Error, res.DurationMS)
		return res
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, api.AgentMaxResponseBody))
	resp.Body.Close()
	res.Status, res.Header, res.Body = resp.StatusCode, resp.Header, body
	if err != nil {
		res.Error = "read response: " + err.Error()
	}
	res.DurationMS = ms(start)
	a.logf("%s %s %s%s %d (%.1fms)", label, m.Method, u.Host, target, res.Status, res.DurationMS)
	return res
}

func ms(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// redact keeps only the scheme and host of the destination in err's
// text: its path and query may carry a secret.
func redact(err error, u *url.URL) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s://%s: %v", ue.Op, u.Scheme, u.Host, ue.Err)
	}
	return err.Error()
}

// Allowed reports whether u's host is in allow (HOST, any port, or
// HOST:PORT); an empty list allows every destination.
func Allowed(allow []string, u *url.URL) bool {
	if len(allow) == 0 {
		return true
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if h, p, err := net.SplitHostPort(a); err == nil {
			if strings.Trim(h, "[]") == host && p == port {
				return true
			}
			continue
		}
		if strings.Trim(a, "[]") == host {
			return true
		}
	}
	return false
}
