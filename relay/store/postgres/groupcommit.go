package postgres

import (
	"context"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
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

// saveReq is a SaveWebhook queued for the writers, sealed by its caller.
type saveReq struct {
	ctx       context.Context
	w         *relay.Webhook
	ds        []*relay.Delivery
	sw        *sealedWebhook
	unclaimed bool // a delivery is stored due without a lease
	done      chan error
}

// save queues req for the writers and returns its result once its
// transaction has committed, or failed. A request whose ctx ends before a
// writer takes it is not stored; once taken, it is awaited, so that an
// error always means "not stored".
func (s *Store) save(req *saveReq) error {
	s.saveMu.RLock()
	if s.saveClosed {
		s.saveMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.saveQueue <- req:
	case <-req.ctx.Done():
		s.saveMu.RUnlock()
		return req.ctx.Err()
	}
	s.saveMu.RUnlock()
	err := <-req.done
	if err == nil && req.unclaimed {
		s.kickWork()
	}
	return err
}

// saveWriter takes the queued SaveWebhooks in batches until the queue is
// closed: a batch of one is stored by saveOne, a larger one by saveMany
// in one transaction (group commit).
func (s *Store) saveWriter() {
	defer s.saveWG.Done()
	batch := make([]*saveReq, 0, maxSaveBatch)
	for req := range s.saveQueue {
		batch = append(batch[:0], req)
		// Let the goroutines about to save queue up: one commit for all
		// of them costs about what one costs alone.
		runtime.Gosched()
	fill:
		for len(batch) < maxSaveBatch {
			select {
			case r, ok := <-s.saveQueue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitSaves(batch)
		clear(batch)
	}
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
		live[0].done <- s.saveOne(live[0].ctx, live[0])
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
			r.done <- s.saveOne(r.ctx, r)
		} else {
			r.done <- nil
		}
	}
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
		received[i], statuses[i], sizes[i] = ts(w.ReceivedAt), int32(w.Status), int32(sw.answerSize)
		rawQueries[i], headers[i], bodies[i] = bytesOf(sw.rawQuery), bytesOf(sw.headers), bytesOf(sw.body)
		fnErrs[i], logs[i] = bytesOf(sw.functionError), bytesOf(sw.logs)
		diffs[i], outcomes[i], answerHeaders[i] = bytesOf(sw.received), bytesOf(sw.outcome), bytesOf(sw.answerHeaders)
		ds = append(ds, r.ds...)
	}
	b := &pgx.Batch{}
	b.Queue(qInsertWebhooks, ids, buckets, inputs, received, methods, paths, rawPaths, rawQueries, headers, bodies,
		statuses, fnErrs, logs, diffs, outcomes, answerHeaders, sizes)
	if len(ds) > 0 {
		args, _ := s.deliveryArgs(ds)
		b.Queue(qInsertDeliveries, args...)
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// bytesOf is v's bytes: a sealed column's value, nil for NULL.
func bytesOf(v any) []byte {
	b, _ := v.([]byte)
	return b
}
