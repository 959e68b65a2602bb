package storetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
)

// PauseFixture is a bucket with an input and an output, which a
// PauseOptions.Fill fills.
type PauseFixture struct {
	Bucket *relay.Bucket
	Input  *relay.Input
	Output *relay.Output
}

// PauseOptions configure RetentionPause.
type PauseOptions struct {
	// Rows is the number of webhooks purged in each phase; 0 means
	// 100,000.
	Rows int
	// Fill stores n finished webhooks of f's input, received at at (their
	// IDs time-ordered at at, as relay.NewRecordID makes them), each with
	// a 1 KiB body, a few headers and one succeeded delivery to f's output
	// whose attempt holds a 512-byte answer. Nil stores them through
	// SaveWebhook and RecordAttempt, 16 at a time; a store may give a
	// faster way.
	Fill func(ctx context.Context, st Store, f *PauseFixture, n int, at time.Time) error
	// Batch is the purge's batch (relay.PurgerOptions.Batch); 0 means
	// relay.DefaultPurgeBatch.
	Batch int
	// Idle is how long the first phase measures ingest alone, the
	// reference for the others; 0 means 10 seconds.
	Idle time.Duration
	// Explain, when set, says what the store was waiting for between
	// from and to: RetentionPause logs it for each wait over 50 ms.
	Explain func(from, to time.Time) string
}

// PauseResult is what one phase of RetentionPause measured.
type PauseResult struct {
	Phase string
	// Elapsed is how long the phase's work took.
	Elapsed time.Duration
	// Stored counts the webhooks the concurrent writer stored meanwhile;
	// Longest, P99, P999 and Over50ms describe the time each one took.
	Stored   int
	Longest  time.Duration
	P99      time.Duration
	P999     time.Duration
	Over50ms int
	// Slow lists the waits over 50 ms, in the order they happened.
	Slow []Wait
	// Batches counts the purge's Purge calls; LongestBatch is the
	// longest of them: the most a batch can have held up a write, its
	// candidates' read and its wait for the writer included.
	Batches      int
	LongestBatch time.Duration
}

// timedPurges times the Purge calls of a RetentionStore.
type timedPurges struct {
	relay.RetentionStore
	mu      sync.Mutex
	n       int
	longest time.Duration
}

func (p *timedPurges) Purge(ctx context.Context, req relay.Purge) (relay.PurgeResult, error) {
	start := time.Now()
	res, err := p.RetentionStore.Purge(ctx, req)
	took := time.Since(start)
	p.mu.Lock()
	p.n++
	p.longest = max(p.longest, took)
	p.mu.Unlock()
	return res, err
}

func (p *timedPurges) reset() {
	p.mu.Lock()
	p.n, p.longest = 0, 0
	p.mu.Unlock()
}

func (p *timedPurges) stats() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.longest
}

// Wait is one SaveWebhook call of the concurrent writer.
type Wait struct {
	Start time.Time
	Took  time.Duration
}

// RetentionPause measures how long ingest waits while the relay's
// retention purge (relay.Purger, with the store's defaults) works on
// Rows webhooks: one goroutine stores webhooks of another bucket one
// after another, as a sender would, and the time each one took is
// reported (t.Logf) for each phase: nothing running (Idle: the
// machine's noise, the reference), emptying the payloads of Rows webhooks, deleting Rows webhooks
// at their metadata age, deleting a bucket of Rows webhooks (the
// DeleteBucket call itself), and the purge removing what that bucket
// left (relay.PurgeDeleted). It checks what each phase purged, and
// asserts no time: the numbers are for the reader. open returns a new,
// empty store, closed by t.Cleanup.
func RetentionPause(t *testing.T, open func(t *testing.T) Store, opts PauseOptions) []PauseResult {
	if opts.Rows <= 0 {
		opts.Rows = 100_000
	}
	if opts.Fill == nil {
		opts.Fill = fillThroughStore
	}
	if opts.Idle <= 0 {
		opts.Idle = 10 * time.Second
	}
	ctx := context.Background()
	st := open(t)
	big := newPauseFixture(t, st, "big")
	ingest := newPauseFixture(t, st, "ingest")
	old := time.Now().Add(-48 * time.Hour)
	start := time.Now()
	if err := opts.Fill(ctx, st, big, opts.Rows, old); err != nil {
		t.Fatalf("fill: %v", err)
	}
	t.Logf("stored %d webhooks in %v", opts.Rows, time.Since(start).Round(time.Millisecond))

	batches := &timedPurges{RetentionStore: st}
	purger, err := relay.NewPurger(relay.PurgerOptions{Store: st, Retention: batches, Batch: opts.Batch})
	if err != nil {
		t.Fatal(err)
	}
	var results []PauseResult
	measure := func(phase string, during func()) {
		t.Helper()
		batches.reset()
		r := measureIngest(t, st, ingest, phase, during)
		r.Batches, r.LongestBatch = batches.stats()
		results = append(results, r)
		t.Logf("%s: %v; ingest: %d webhooks stored, wait p99 %v, p99.9 %v, longest %v, %d waits over 50ms; purge: %d batches, the longest %v",
			r.Phase, r.Elapsed.Round(time.Millisecond), r.Stored, r.P99.Round(100*time.Microsecond),
			r.P999.Round(100*time.Microsecond), r.Longest.Round(100*time.Microsecond), r.Over50ms,
			r.Batches, r.LongestBatch.Round(100*time.Microsecond))
		if opts.Explain != nil {
			for _, w := range r.Slow {
				t.Logf("  %v at %s: %s", w.Took.Round(100*time.Microsecond), w.Start.Format("15:04:05.000"),
					opts.Explain(w.Start, w.Start.Add(w.Took)))
			}
		}
	}
	run := func(kind relay.PurgeKind) int64 {
		t.Helper()
		if err := purger.Run(ctx); err != nil {
			t.Fatalf("purge: %v", err)
		}
		return purger.Status().LastPurged[kind]
	}
	var purged int64

	measure(fmt.Sprintf("no purge (%v)", opts.Idle), func() { time.Sleep(opts.Idle) })

	day := 24 * time.Hour
	Must(t, st.SetRetention(ctx, big.Bucket.ID, relay.Retention{Payload: day}))
	measure(fmt.Sprintf("payload purge of %d webhooks", opts.Rows), func() { purged = run(relay.PurgePayload) })
	if purged != int64(opts.Rows) {
		t.Fatalf("payload purge: %d webhooks, want %d", purged, opts.Rows)
	}

	Must(t, st.SetRetention(ctx, big.Bucket.ID, relay.Retention{Payload: day, Metadata: day}))
	measure(fmt.Sprintf("metadata purge of %d webhooks", opts.Rows), func() { purged = run(relay.PurgeMetadata) })
	if purged != int64(opts.Rows) {
		t.Fatalf("metadata purge: %d webhooks, want %d", purged, opts.Rows)
	}
	if n := pauseCount(t, st, big.Bucket.ID); n != 0 {
		t.Fatalf("%d webhooks left after the metadata purge", n)
	}

	doomed := newPauseFixture(t, st, "doomed")
	if err := opts.Fill(ctx, st, doomed, opts.Rows, old); err != nil {
		t.Fatalf("fill: %v", err)
	}
	if n := pauseCount(t, st, doomed.Bucket.ID); n != opts.Rows {
		t.Fatalf("the bucket to delete lists %d webhooks, want %d", n, opts.Rows)
	}
	measure(fmt.Sprintf("DeleteBucket of a bucket of %d webhooks (the call)", opts.Rows), func() {
		Must(t, st.DeleteBucket(ctx, doomed.Bucket.ID))
	})
	measure(fmt.Sprintf("purge of what the deleted bucket left (%d webhooks)", opts.Rows), func() {
		purged = run(relay.PurgeDeleted)
	})
	if purged != int64(opts.Rows) {
		t.Fatalf("deleted purge: %d records, want %d", purged, opts.Rows)
	}
	return results
}

// measureIngest runs during while one goroutine stores webhooks of f one
// after another, and returns how long each one took.
func measureIngest(t *testing.T, st Store, f *PauseFixture, phase string, during func()) PauseResult {
	ctx := context.Background()
	var (
		wg     sync.WaitGroup
		stop   atomic.Bool
		waits  []time.Duration
		slow   []Wait
		failed error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			w := &relay.Webhook{BucketID: f.Bucket.ID, InputID: f.Input.ID, Status: 200, Request: relay.HTTPRequest{
				Method: http.MethodPost, Path: "/", Header: http.Header{"Content-Type": {"application/json"}},
				Body: []byte(`{"concurrent":true}`)}}
			start := time.Now()
			if err := st.SaveWebhook(ctx, w, []*relay.Delivery{{OutputID: f.Output.ID, State: relay.DeliverySucceeded}}); err != nil {
				failed = err
				return
			}
			took := time.Since(start)
			waits = append(waits, took)
			if took > 50*time.Millisecond {
				slow = append(slow, Wait{Start: start, Took: took})
			}
		}
	}()
	start := time.Now()
	during()
	r := PauseResult{Phase: phase, Elapsed: time.Since(start)}
	stop.Store(true)
	wg.Wait()
	r.Slow = slow
	if failed != nil {
		t.Fatalf("%s: storing a webhook: %v", phase, failed)
	}
	slices.Sort(waits)
	r.Stored = len(waits)
	if len(waits) > 0 {
		r.Longest, r.P99, r.P999 = waits[len(waits)-1], waits[len(waits)*99/100], waits[len(waits)*999/1000]
	}
	r.Over50ms = len(slow)
	return r
}

// newPauseFixture makes a bucket named name with an input and an output.
func newPauseFixture(t *testing.T, st Store, name string) *PauseFixture {
	t.Helper()
	ctx := context.Background()
	f := &PauseFixture{Bucket: &relay.Bucket{Name: name}}
	Must(t, st.CreateBucket(ctx, f.Bucket))
	f.Input = &relay.Input{BucketID: f.Bucket.ID, Name: "in"}
	Must(t, st.CreateInput(ctx, f.Input))
	f.Output = &relay.Output{BucketID: f.Bucket.ID, Name: "out", Destination: "http://out.example"}
	Must(t, st.CreateOutput(ctx, f.Output))
	return f
}

// pauseCount counts the webhooks a bucket lists.
func pauseCount(t *testing.T, st Store, bucketID string) int {
	t.Helper()
	ws, err := st.ListWebhooks(context.Background(), relay.WebhookFilter{BucketID: bucketID, Limit: 1 << 30})
	Must(t, err)
	return len(ws)
}

// RecordIDAt is a time-ordered record ID (as relay.NewRecordID makes)
// for a record made at at.
func RecordIDAt(at time.Time) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(id[:6], ms[2:])
	return id.String(), nil
}

// fillThroughStore is PauseOptions.Fill through SaveWebhook and
// RecordAttempt.
func fillThroughStore(ctx context.Context, st Store, f *PauseFixture, n int, at time.Time) error {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	answer := body[:512]
	const workers = 16
	var next atomic.Int64
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for next.Add(1) <= int64(n) {
				id, err := RecordIDAt(at)
				if err != nil {
					errs <- err
					return
				}
				w := &relay.Webhook{ID: id, BucketID: f.Bucket.ID, InputID: f.Input.ID, ReceivedAt: at.UTC(), Status: 200,
					Request: relay.HTTPRequest{Method: http.MethodPost, Path: "/hook", RawQuery: "a=1",
						Header: http.Header{"Content-Type": {"application/json"}, "X-Signature": {"sha256=0123456789abcdef"}},
						Body:   body}}
				d := &relay.Delivery{OutputID: f.Output.ID, State: relay.DeliverySucceeded, Attempts: 1, LastStatus: 200,
					CreatedAt: at.UTC()}
				if err := st.SaveWebhook(ctx, w, []*relay.Delivery{d}); err != nil {
					errs <- err
					return
				}
				if err := st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200, StartedAt: at.UTC(),
					ResponseHeader: http.Header{"Content-Type": {"text/plain"}}, ResponseBody: answer}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
