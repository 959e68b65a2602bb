package postgres

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/journal"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const (
	// maxSaveBatch bounds the webhooks stored in one transaction.
	maxSaveBatch = 128
	// saveBatchTimeout bounds a shared transaction: the callers sharing
	// it wait for it whatever their own contexts say.
	saveBatchTimeout = 30 * time.Second
)

// qInsertWebhooks is qInsertWebhook for several webhooks given as arrays.
const qInsertWebhooks = `INSERT INTO webhooks (id, bucket_id, input_id, received_at, method, path, raw_path,
		raw_query, headers, body, status, function_error, logs, received, function_outcome, answer_headers, answer_size)
	SELECT u.id, b.id, u.input_id, u.received_at, u.method,
		CASE WHEN b.ephemeral THEN NULL ELSE u.path END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.raw_path END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.raw_query END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.headers END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.body END,
		u.status,
		CASE WHEN b.ephemeral THEN NULL ELSE u.function_error END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.logs END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.received END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.function_outcome END,
		CASE WHEN b.ephemeral THEN NULL ELSE u.answer_headers END,
		CASE WHEN b.ephemeral THEN 0 ELSE u.answer_size END
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[], $7::bytea[],
		$8::bytea[], $9::bytea[], $10::bytea[], $11::integer[], $12::bytea[], $13::bytea[], $14::bytea[],
		$15::bytea[], $16::bytea[], $17::integer[])
		AS u(id, bucket_id, input_id, received_at, method, path, raw_path, raw_query, headers, body, status,
			function_error, logs, received, function_outcome, answer_headers, answer_size)
	LEFT JOIN buckets b ON b.id = u.bucket_id`

// maxAttemptBatch bounds the attempts recorded in one transaction.
const maxAttemptBatch = 128

// saveReq is a SaveWebhook queued for the writers, sealed by its caller.
type saveReq struct {
	ctx       context.Context
	w         *relay.Webhook
	ds        []*relay.Delivery
	sw        *journal.Webhook
	unclaimed bool // a delivery is stored due without a lease
	done      chan error
}

// groupQueue is a queue of writes that writers take in batches, each
// batch one transaction (group commit).
type groupQueue[T any] struct {
	ch     chan T
	mu     sync.RWMutex // guards closed and sending on ch
	closed bool
	wg     sync.WaitGroup
}

// start starts writers goroutines that take the queued writes, up to max
// at a time, and pass them to commit, until close.
func (q *groupQueue[T]) start(writers, max int, commit func([]T)) {
	q.ch = make(chan T, max)
	q.wg.Add(writers)
	for range writers {
		go func() {
			defer q.wg.Done()
			batch := make([]T, 0, max)
			for r := range q.ch {
				batch = append(batch[:0], r)
				// Let the goroutines about to write queue up: one commit
				// for all of them costs about what one costs alone.
				runtime.Gosched()
			fill:
				for len(batch) < max {
					select {
					case r, ok := <-q.ch:
						if !ok {
							break fill
						}
						batch = append(batch, r)
					default:
						break fill
					}
				}
				commit(batch)
				clear(batch)
			}
		}()
	}
}

// put queues r, unless ctx ends first or the queue is closed.
func (q *groupQueue[T]) put(ctx context.Context, r T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the writers once they have taken every queued write.
func (q *groupQueue[T]) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

// save queues req for the writers and returns its result once its
// transaction has committed, or failed. A request whose ctx ends before a
// writer takes it is not stored; once taken, it is awaited, so that an
// error always means "not stored".
func (s *Store) save(req *saveReq) error {
	if err := s.saves.put(req.ctx, req); err != nil {
		return err
	}
	err := <-req.done
	if err == nil && req.unclaimed {
		s.kickWork()
	}
	return err
}

// commitSaves stores batch and answers each request. When the shared
// transaction fails, each request is stored alone, so that one's failure
// is not the others'.
func (s *Store) commitSaves(batch []*saveReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 1 {
		live[0].done <- s.saveAlone(live[0])
		return
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveBatchTimeout)
	err := s.saveMany(ctx, live)
	cancel()
	for _, r := range live {
		if err != nil {
			r.done <- s.saveAlone(r)
		} else {
			r.done <- nil
		}
	}
}

// saveAlone stores r in a transaction of its own. Once taken, a write is
// awaited whatever its caller's context says, so that an error means
// "not stored", never "maybe".
func (s *Store) saveAlone(r *saveReq) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), saveBatchTimeout)
	defer cancel()
	return s.saveOne(ctx, r)
}

// saveMany stores the webhooks of reqs and their deliveries in one
// implicit transaction: one INSERT for the webhooks, one for the
// deliveries.
func (s *Store) saveMany(ctx context.Context, reqs []*saveReq) error {
	n := len(reqs)
	ids, buckets, inputs, methods := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	paths, rawPaths := make([][]byte, n), make([][]byte, n)
	received, statuses, sizes := make([]int64, n), make([]int32, n), make([]int32, n)
	rawQueries, headers, bodies, fnErrs, logs := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	diffs, outcomes, answerHeaders := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	var ds []*relay.Delivery
	for i, r := range reqs {
		w, sw := r.w, r.sw
		ids[i], buckets[i], inputs[i], methods[i] = w.ID, w.BucketID, w.InputID, w.Request.Method
		paths[i], rawPaths[i] = pathBytes(w.Request.Path), optionalBytes(w.Request.RawPath)
		received[i], statuses[i], sizes[i] = unixtime.Nanos(w.ReceivedAt), int32(w.Status), int32(sw.AnswerSize)
		rawQueries[i], headers[i], bodies[i] = bytesOf(sw.RawQuery), bytesOf(sw.Headers), bytesOf(sw.Body)
		fnErrs[i], logs[i] = bytesOf(sw.FunctionError), bytesOf(sw.Logs)
		diffs[i], outcomes[i], answerHeaders[i] = bytesOf(sw.Received), bytesOf(sw.Outcome), bytesOf(sw.AnswerHeaders)
		ds = append(ds, r.ds...)
	}
	b := &pgx.Batch{}
	b.Queue(qInsertWebhooks, ids, buckets, inputs, received, methods, paths, rawPaths, rawQueries, headers, bodies,
		statuses, fnErrs, logs, diffs, outcomes, answerHeaders, sizes)
	if len(ds) > 0 {
		b.Queue(qInsertDeliveries, s.deliveryArgs(ds)...)
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// bytesOf is v's bytes: a sealed column's value, nil for NULL.
func bytesOf(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// attemptReq is a RecordAttempt queued for the writers: the arguments of
// qRecordAttempt, sealed by its caller.
type attemptReq struct {
	ctx  context.Context
	args []any
	done chan attemptResult
}

// attemptResult is what qRecordAttempt returned.
type attemptResult struct {
	last    *int32
	leaseID *string
	updated bool
	err     error
}

// recordAttempt runs qRecordAttempt with args in a transaction shared
// with the concurrent calls, and returns its result.
func (s *Store) recordAttempt(ctx context.Context, args []any) attemptResult {
	req := &attemptReq{ctx: ctx, args: args, done: make(chan attemptResult, 1)}
	if err := s.attempts.put(ctx, req); err != nil {
		return attemptResult{err: err}
	}
	return <-req.done
}

// recordAlone runs one qRecordAttempt, awaited whatever ctx says once
// taken (as saveAlone).
func (s *Store) recordAlone(ctx context.Context, args []any) attemptResult {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveBatchTimeout)
	defer cancel()
	var r attemptResult
	var moved int64
	r.err = s.pool.QueryRow(ctx, qRecordAttempt, args...).Scan(&r.last, &r.leaseID, &r.updated, &moved)
	return r
}

// commitAttempts records batch in one transaction (one round trip: the
// statements are pipelined) and answers each request. A statement's
// error aborts the transaction: then each request runs alone, so that
// one's failure is not the others'.
func (s *Store) commitAttempts(batch []*attemptReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- attemptResult{err: err}
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- s.recordAlone(live[0].ctx, live[0].args)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveBatchTimeout)
	defer cancel()
	b := &pgx.Batch{}
	for _, r := range live {
		b.Queue(qRecordAttempt, r.args...)
	}
	br := s.pool.SendBatch(ctx, b)
	results := make([]attemptResult, len(live))
	var err error
	for i := range live {
		var moved int64
		r := &results[i]
		if err = br.QueryRow().Scan(&r.last, &r.leaseID, &r.updated, &moved); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	for i, r := range live {
		if err != nil {
			r.done <- s.recordAlone(r.ctx, r.args)
		} else {
			r.done <- results[i]
		}
	}
}
