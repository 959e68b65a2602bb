package relay

import (
	"sync"
	"time"
)

// job is a delivery to attempt. req holds the webhook's request while it is
// fresh; a retry reloads it from the store, so a backlog of retries does
// not hold bodies in memory (except for ephemeral buckets, whose bodies
// live nowhere else).
type job struct {
	d         *Delivery
	req       *HTTPRequest
	ephemeral bool
}

// queue is the delivery queue: ready jobs in arrival order, and jobs
// waiting for their retry time.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	ready   []*job
	waiting int
	closed  bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// schedule queues j to run at at (at once when at is not after now).
func (q *queue) schedule(j *job, at, now time.Time) {
	if d := at.Sub(now); d > 0 {
		q.mu.Lock()
		q.waiting++
		q.mu.Unlock()
		time.AfterFunc(d, func() {
			q.mu.Lock()
			q.waiting--
			q.mu.Unlock()
			q.push(j)
		})
		return
	}
	q.push(j)
}

func (q *queue) push(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return // still pending in the store: resumed on the next start
	}
	q.ready = append(q.ready, j)
	q.cond.Signal()
}

// pop blocks for the next ready job; ok is false once the queue is closed.
func (q *queue) pop() (*job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	j := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	return j, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// depth is how many deliveries wait: ready ones and scheduled retries.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) + q.waiting
}
