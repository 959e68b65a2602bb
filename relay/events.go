package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Event types of the live event stream (Server.Subscribe).
const (
	// EventWebhook is a webhook answered on the ingress: stored, or
	// refused (401, 405, 413, …) and then only counted and streamed.
	EventWebhook = "webhook"
	// EventAttempt is a delivery attempt recorded.
	EventAttempt = "attempt"
	// EventDropped says that a subscriber too slow to keep up missed
	// Dropped events.
	EventDropped = "dropped"
)

// ErrEventsClosed is the error of Subscription.Next once the subscription
// is closed, by its reader or by Server.CloseEvents.
var ErrEventsClosed = errors.New("relay: the event stream is closed")

// DefaultEventBuffer is a subscriber's buffer when Subscribe is given none.
const DefaultEventBuffer = 1024

// Event is one entry of the live event stream: ids, status and times,
// never a request's content.
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// BucketID and BucketName are empty for a webhook refused before its
	// input was known (405, 400, unknown input).
	BucketID   string `json:"bucket_id,omitempty"`
	BucketName string `json:"bucket_name,omitempty"`
	InputID    string `json:"input_id,omitempty"`
	InputName  string `json:"input_name,omitempty"`
	// WebhookID is empty for a webhook that was not stored.
	WebhookID     string        `json:"webhook_id,omitempty"`
	Status        int           `json:"status,omitempty"`
	FunctionError bool          `json:"function_error,omitempty"`
	DeliveryID    string        `json:"delivery_id,omitempty"`
	OutputID      string        `json:"output_id,omitempty"`
	Attempt       int           `json:"attempt,omitempty"`
	State         DeliveryState `json:"state,omitempty"`
	Error         string        `json:"error,omitempty"`
	DurationMS    float64       `json:"duration_ms,omitempty"`
	Dropped       int64         `json:"dropped,omitempty"`
}

// eventHub fans events out to subscribers. Publishing never blocks: a
// subscriber whose buffer is full misses the event and is told how many
// it missed. Without subscribers, publishing costs one atomic load.
type eventHub struct {
	n      atomic.Int32
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscription is one reader of the live event stream.
type Subscription struct {
	hub     *eventHub
	bucket  string
	ch      chan Event
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
}

// Subscribe starts a subscription to the live event stream: the events of
// bucket bucketID, or of every bucket (and of refused webhooks of no
// known input) for "". It holds up to buffer events (0 means
// DefaultEventBuffer) that its reader has not taken; past that, events are
// dropped for it alone. Close it when done.
func (s *Server) Subscribe(bucketID string, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	h := &s.events
	sub := &Subscription{hub: h, bucket: bucketID, ch: make(chan Event, buffer), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(sub.done)
		sub.once.Do(func() {})
		return sub
	}
	if h.subs == nil {
		h.subs = map[*Subscription]struct{}{}
	}
	h.subs[sub] = struct{}{}
	h.n.Add(1)
	h.mu.Unlock()
	return sub
}

// Next returns the next event, waiting for one until ctx ends. When
// events were dropped, an EventDropped event saying how many comes once
// the buffered ones are read.
func (sub *Subscription) Next(ctx context.Context) (Event, error) {
	select {
	case e := <-sub.ch:
		return e, nil
	default:
	}
	if n := sub.dropped.Swap(0); n > 0 {
		return Event{Type: EventDropped, Time: time.Now().UTC(), Dropped: n}, nil
	}
	select {
	case e := <-sub.ch:
		return e, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-sub.done:
		return Event{}, ErrEventsClosed
	}
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.once.Do(func() {
		h := sub.hub
		h.mu.Lock()
		delete(h.subs, sub)
		h.n.Add(-1)
		h.mu.Unlock()
		close(sub.done)
	})
}

// CloseEvents ends every subscription to the live event stream, and those
// made later, so that open streams do not hold up the HTTP server's
// shutdown: their Next returns ErrEventsClosed.
func (s *Server) CloseEvents() {
	h := &s.events
	h.mu.Lock()
	h.closed = true
	subs := make([]*Subscription, 0, len(h.subs))
	for sub := range h.subs {
		subs = append(subs, sub)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
}

// on reports whether anyone listens.
func (h *eventHub) on() bool { return h.n.Load() > 0 }

func (h *eventHub) publish(e Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sub := range h.subs {
		if sub.bucket != "" && sub.bucket != e.BucketID {
			continue
		}
		select {
		case sub.ch <- e:
		default:
			sub.dropped.Add(1)
		}
	}
}

// received publishes a webhook answered with status; b and in are nil
// when no input was found, webhookID empty when nothing was stored.
func (h *eventHub) received(b *Bucket, in *Input, webhookID string, status int, fnErr bool) {
	if !h.on() {
		return
	}
	e := Event{Type: EventWebhook, Time: time.Now().UTC(), WebhookID: webhookID, Status: status, FunctionError: fnErr}
	if b != nil {
		e.BucketID, e.BucketName = b.ID, b.Name
	}
	if in != nil {
		e.InputID, e.InputName = in.ID, in.Name
	}
	h.publish(e)
}

// attempt publishes a recorded delivery attempt.
func (h *eventHub) attempt(d *Delivery, a *Attempt) {
	if !h.on() {
		return
	}
	h.publish(Event{
		Type: EventAttempt, Time: time.Now().UTC(), BucketID: d.BucketID, WebhookID: d.WebhookID,
		DeliveryID: d.ID, OutputID: d.OutputID, Attempt: a.N, State: d.State, Status: a.Status,
		Error: a.Error, DurationMS: a.DurationMS,
	})
}
