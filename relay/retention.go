package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Retention is how long a bucket's request log is kept: Payload for what
// was sent and answered (bodies, headers, queries, the destinations'
// answers, logs, function errors and changes), Metadata for the rest (ids,
// statuses, times). Zero keeps forever. A webhook's payload goes once it
// is older than Payload; the webhook with its deliveries and attempts once
// it is older than Metadata. A webhook with a pending delivery is kept
// whole until the delivery ends.
type Retention struct {
	Payload  time.Duration `json:"payload,omitempty"`
	Metadata time.Duration `json:"metadata,omitempty"`
}

// IsZero reports whether r keeps everything forever.
func (r Retention) IsZero() bool { return r.Payload == 0 && r.Metadata == 0 }

// Or returns r with its zero fields taken from def.
func (r Retention) Or(def Retention) Retention {
	if r.Payload == 0 {
		r.Payload = def.Payload
	}
	if r.Metadata == 0 {
		r.Metadata = def.Metadata
	}
	return r
}

// Effective returns the TTLs a purge applies: a payload outlives neither
// its metadata, so a Payload longer than Metadata (or set while Metadata
// is not) is cut to Metadata when Metadata is set.
func (r Retention) Effective() Retention {
	if r.Metadata > 0 && (r.Payload == 0 || r.Payload > r.Metadata) {
		r.Payload = r.Metadata
	}
	return r
}

// PurgeKind says what a purge removes.
type PurgeKind string

// Purge kinds.
const (
	// PurgePayload empties the payload columns of webhooks, deliveries and
	// attempts, keeping the rows.
	PurgePayload PurgeKind = "payload"
	// PurgeMetadata deletes webhooks with their deliveries and attempts.
	PurgeMetadata PurgeKind = "metadata"
	// PurgeDeleted deletes what deleted buckets and outputs left: the
	// webhooks (with deliveries and attempts) of buckets that no longer
	// exist, and the deliveries (with attempts) of outputs that no longer
	// exist. DeleteBucket and DeleteOutput remove only the bucket or
	// output (with a bucket, its inputs, outputs, tokens and policy), at
	// once; this removes the rest in small batches. Until then, no reader
	// shows those records: GetWebhook and GetDelivery answer not found,
	// ListWebhooks, ListDeliveries and OutputStats skip them (ListWebhooks
	// also leaves a deleted output's deliveries out of a live webhook's
	// states and filters), ClaimDue never claims them and NextDue ignores
	// them; a pending delivery of a deleted output does not keep its
	// webhook from PurgeMetadata.
	//
	// BucketID and Before are ignored. A sweep is a series of batches that
	// starts with After "" and goes on with each result's Next while More
	// is true; After and Next are cursors of the store's own making
	// (opaque to the caller). A sweep with nothing deleted since the last
	// one ends at once (its first batch finds nothing), and checks no
	// table. Webhooks counts the webhooks a batch deleted, Deliveries the
	// deliveries of deleted outputs it deleted apart from those.
	PurgeDeleted PurgeKind = "deleted"
)

// Purge asks RetentionStore.Purge for one batch.
type Purge struct {
	Kind     PurgeKind
	BucketID string
	// Before: only webhooks received before this time are purged.
	Before time.Time
	// After is a cursor: only webhooks whose ID sorts after it (IDs are
	// time-ordered) are looked at; "" starts from the oldest. (For
	// PurgeDeleted, see there.)
	After string
	// Limit caps the webhooks (or, for PurgeDeleted, the webhooks or
	// deliveries) purged in this batch (one transaction).
	Limit int
}

// PurgeResult is what one batch of Purge did.
type PurgeResult struct {
	// Webhooks counts the webhooks purged.
	Webhooks int
	// Deliveries counts the deliveries of deleted outputs deleted
	// (PurgeDeleted only; those of deleted webhooks are not counted).
	Deliveries int
	// Next is the cursor for the following batch: the last ID looked at.
	Next string
	// More is true when another batch may find more: the batch was full,
	// or the store read only part of the range (a store may bound the
	// records one batch reads).
	More bool
}

// RetentionStore is what the retention purge needs of a store, apart from
// Store so that a store may come without it. Each Purge batch looks up the
// candidates without the write lock (IDs in order, from After) and then
// purges them in one short write transaction, rechecking that none has a
// pending delivery.
type RetentionStore interface {
	// SetRetention sets the retention policy of a bucket; a zero r
	// removes it (the server's defaults apply).
	SetRetention(ctx context.Context, bucketID string, r Retention) error
	// Retentions returns the policies set on buckets, by bucket ID.
	Retentions(ctx context.Context) (map[string]Retention, error)
	// Purge purges one batch.
	Purge(ctx context.Context, p Purge) (PurgeResult, error)
}

// Defaults of the retention purge.
const (
	// DefaultRetentionInterval is how often the purge runs.
	DefaultRetentionInterval = time.Minute
	// DefaultPurgeBatch is how many webhooks one purge transaction takes:
	// small enough that ingest waits for it only briefly (a few
	// milliseconds on SQLite; TestPurgePause measures it).
	DefaultPurgeBatch = 25
	// DefaultDeletedBatches bounds the PurgeDeleted batches of one run
	// (100,000 records at the default batch); a sweep that needs more
	// goes on at the next run.
	DefaultDeletedBatches = 4000
)

// ParseAge parses a retention age: a Go duration ("72h", "90m") or a
// whole number of days ("30d"). It must not be negative; 0 keeps forever.
func ParseAge(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days uint64
		days, err = strconv.ParseUint(n, 10, 31)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid age %q (want a Go duration such as \"72h\" or days such as \"30d\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative age %q", s)
	}
	return d, nil
}

// FormatAge writes d as ParseAge reads it: in days when it is whole days,
// as a Go duration otherwise, "0" for zero.
func FormatAge(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// Validate reports a policy whose payload would outlive its metadata.
// Each error names the field.
func (r Retention) Validate() error {
	if r.Payload < 0 {
		return fmt.Errorf("payload: negative age")
	}
	if r.Metadata < 0 {
		return fmt.Errorf("metadata: negative age")
	}
	if r.Payload > 0 && r.Metadata > 0 && r.Payload > r.Metadata {
		return fmt.Errorf("payload: %s is longer than metadata (%s): a payload cannot outlive its webhook", FormatAge(r.Payload), FormatAge(r.Metadata))
	}
	return nil
}

// PurgerOptions configure a Purger.
type PurgerOptions struct {
	// Store lists the buckets; Retention purges them.
	Store     Store
	Retention RetentionStore
	// Default is the server's policy, for what a bucket leaves zero.
	Default Retention
	// Interval is the time between runs; 0 means DefaultRetentionInterval.
	Interval time.Duration
	// Batch is the webhooks per purge transaction; 0 means
	// DefaultPurgeBatch.
	Batch int
	// DeletedBatches bounds the PurgeDeleted batches of one run; 0 means
	// DefaultDeletedBatches.
	DeletedBatches int
	Logger         *slog.Logger
	// Registerer receives relayfn_retention_purged_total; nil means none.
	Registerer prometheus.Registerer
	// Now returns the current time (tests move the clock).
	Now func() time.Time
}

// Purger runs the retention purge: every Interval, for each bucket with
// a policy (its own or the server's), it empties the payloads of the
// webhooks older than the payload age, then deletes the webhooks older
// than the metadata age with their deliveries and attempts, in batches
// of Batch webhooks, each one short write transaction. Each run then
// removes what deleted buckets and outputs left (PurgeDeleted), in
// batches of Batch too, up to DeletedBatches of them; a run that stops
// there goes on from where it stopped at the next one. Kick asks for a
// run soon, after a deletion.
//
// A payload purge walks the webhooks by ID from where its last run
// stopped; every 60th run starts over, to take the webhooks whose
// deliveries were pending then.
type Purger struct {
	opts   PurgerOptions
	purged *prometheus.CounterVec

	mu      sync.Mutex
	status  RetentionStatus
	cursors map[string]string   // bucket ID → payload purge cursor
	deleted string              // the PurgeDeleted sweep's cursor
	current map[PurgeKind]int64 // what the running run purged
	runs    int

	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

// cursorRestart is how many runs a payload cursor lives before a run
// starts over from the oldest webhook.
const cursorRestart = 60

// RetentionStatus is what the purge did so far, for the admin API.
type RetentionStatus struct {
	Default  Retention
	Interval time.Duration
	// LastRun is when the last run this node ran ended (zero: none yet;
	// a round another node ran is not this node's); LastError is its
	// error, if any; LastDuration how long it took.
	LastRun      time.Time
	LastDuration time.Duration
	LastError    string
	// LastPurged counts what the last run purged, by kind, as Purged.
	LastPurged map[PurgeKind]int64
	// Purged counts the webhooks purged since start, by kind; for
	// PurgeDeleted, the webhooks and deliveries deleted.
	Purged map[PurgeKind]int64
	// Buckets holds each bucket's policy and counts.
	Buckets []BucketRetention
}

// BucketRetention is one bucket's retention, for the admin API.
type BucketRetention struct {
	BucketID string
	Bucket   string
	// Policy is the bucket's own; Effective, what the purge applies.
	Policy    Retention
	Effective Retention
	Purged    map[PurgeKind]int64
}

// NewPurger returns a purger; Start starts it.
func NewPurger(opts PurgerOptions) (*Purger, error) {
	if opts.Store == nil || opts.Retention == nil {
		return nil, errors.New("relay: purger: Store and Retention are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultRetentionInterval
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultPurgeBatch
	}
	if opts.DeletedBatches <= 0 {
		opts.DeletedBatches = DefaultDeletedBatches
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Purger{
		opts: opts,
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_retention_purged_total",
			Help: "Webhooks purged by retention, by kind (payload: emptied; metadata: deleted; deleted: webhooks and deliveries of deleted buckets and outputs).",
		}, []string{"kind"}),
		cursors: map[string]string{},
		kick:    make(chan struct{}, 1),
	}
	p.status = RetentionStatus{Default: opts.Default, Interval: opts.Interval, Purged: map[PurgeKind]int64{},
		LastPurged: map[PurgeKind]int64{}}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(p.purged); err != nil {
			return nil, fmt.Errorf("relay: purger: metrics: %w", err)
		}
	}
	return p, nil
}

// Start runs the purge every Interval, the first time at once, and
// soon after a Kick, until Stop.
func (p *Purger) Start(ctx context.Context) {
	ctx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.opts.Interval)
		defer t.Stop()
		for {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				p.opts.Logger.Error("retention purge", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-p.kick:
			}
		}
	}()
}

// Stop stops the purge, interrupting a run between two batches, and
// waits for it.
func (p *Purger) Stop() {
	if p.stop == nil {
		return
	}
	p.stop()
	<-p.done
}

// Kick asks a started purge for a run soon (at once, unless one is
// running: then right after it), without waiting for it: a bucket or an
// output was deleted, and what it left is to be removed.
func (p *Purger) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run purges once, every bucket, until nothing is left to purge, then
// what deleted buckets and outputs left.
func (p *Purger) Run(ctx context.Context) error {
	start := p.opts.Now()
	p.mu.Lock()
	p.current = map[PurgeKind]int64{} // a run that fails early purged nothing
	p.mu.Unlock()
	ran, err := p.exclusively(ctx, func(ctx context.Context) error { return p.run(ctx, start) })
	if !ran && err == nil {
		return nil // another node ran the round: this node's status stays
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.LastRun = p.opts.Now()
	p.status.LastPurged = p.current
	p.status.LastDuration = p.status.LastRun.Sub(start)
	p.status.LastError = ""
	if err != nil {
		p.status.LastError = err.Error()
	}
	return err
}

// exclusively runs round, or, on a store several nodes share (an
// Exclusive), runs it unless another node is purging: then this node
// skips the round, and ran is false.
func (p *Purger) exclusively(ctx context.Context, round func(context.Context) error) (ran bool, err error) {
	ex, ok := p.opts.Store.(Exclusive)
	if !ok {
		return true, round(ctx)
	}
	return ex.Exclusively(ctx, "retention", round)
}

func (p *Purger) run(ctx context.Context, now time.Time) error {
	buckets, err := p.opts.Store.ListBuckets(ctx)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	policies, err := p.opts.Retention.Retentions(ctx)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	p.mu.Lock()
	p.runs++
	if p.runs%cursorRestart == 0 {
		clear(p.cursors)
	}
	counts := map[string]map[PurgeKind]int64{}
	for _, b := range p.status.Buckets {
		counts[b.BucketID] = b.Purged
	}
	list := make([]BucketRetention, 0, len(buckets))
	for _, b := range buckets {
		c := counts[b.ID]
		if c == nil {
			c = map[PurgeKind]int64{}
		}
		pol := policies[b.ID]
		list = append(list, BucketRetention{BucketID: b.ID, Bucket: b.Name, Policy: pol,
			Effective: pol.Or(p.opts.Default).Effective(), Purged: c})
	}
	p.status.Buckets = list
	p.mu.Unlock()

	var errs []error
	for i := range list {
		b := &list[i]
		if b.Effective.Payload > 0 {
			errs = append(errs, p.purge(ctx, b, PurgePayload, now.Add(-b.Effective.Payload)))
		}
		if b.Effective.Metadata > 0 {
			errs = append(errs, p.purge(ctx, b, PurgeMetadata, now.Add(-b.Effective.Metadata)))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	errs = append(errs, p.purgeDeleted(ctx))
	return errors.Join(errs...)
}

// purgeDeleted runs PurgeDeleted batches, from where the last run
// stopped, until the sweep ends or DeletedBatches have run.
func (p *Purger) purgeDeleted(ctx context.Context) error {
	p.mu.Lock()
	req := Purge{Kind: PurgeDeleted, After: p.deleted, Limit: p.opts.Batch}
	p.mu.Unlock()
	for range p.opts.DeletedBatches {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		res, err := p.opts.Retention.Purge(ctx, req)
		if err != nil {
			return fmt.Errorf("retention: deleted buckets and outputs: %w", err)
		}
		p.rest(ctx, time.Since(start), res.More)
		p.count(nil, PurgeDeleted, res.Webhooks+res.Deliveries)
		req.After = res.Next
		if !res.More {
			req.After = ""
		}
		p.mu.Lock()
		p.deleted = req.After
		p.mu.Unlock()
		if !res.More {
			return nil
		}
	}
	return nil
}

// rest waits, after a batch that took took, for as long again (up to
// maxRest) when another batch follows: the purge takes at most about
// half of the store's time, so that the writes queued behind a batch
// (and, on a busy machine, the CPU) are the webhooks' first.
func (p *Purger) rest(ctx context.Context, took time.Duration, more bool) {
	if !more {
		return
	}
	t := time.NewTimer(min(took, maxRest))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// maxRest bounds the wait between two purge batches.
const maxRest = 100 * time.Millisecond

// count adds n purged records of kind to the counts (and to b's).
func (p *Purger) count(b *BucketRetention, kind PurgeKind, n int) {
	p.mu.Lock()
	if b != nil {
		b.Purged[kind] += int64(n)
	}
	p.status.Purged[kind] += int64(n)
	p.current[kind] += int64(n)
	p.mu.Unlock()
	p.purged.WithLabelValues(string(kind)).Add(float64(n))
}

// purge purges one kind of one bucket, batch after batch.
func (p *Purger) purge(ctx context.Context, b *BucketRetention, kind PurgeKind, before time.Time) error {
	req := Purge{Kind: kind, BucketID: b.BucketID, Before: before, Limit: p.opts.Batch}
	if kind == PurgePayload {
		p.mu.Lock()
		req.After = p.cursors[b.BucketID]
		p.mu.Unlock()
	}
	for ctx.Err() == nil {
		start := time.Now()
		res, err := p.opts.Retention.Purge(ctx, req)
		if err != nil {
			return fmt.Errorf("retention: bucket %s: %w", b.Bucket, err)
		}
		p.rest(ctx, time.Since(start), res.More)
		p.count(b, kind, res.Webhooks)
		if kind == PurgePayload {
			p.mu.Lock()
			p.cursors[b.BucketID] = res.Next
			p.mu.Unlock()
		}
		if !res.More {
			return nil
		}
		req.After = res.Next
	}
	return ctx.Err()
}

// Status returns what the purge did so far and each bucket's policy, as
// of the last run.
func (p *Purger) Status() RetentionStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status
	st.Purged = maps.Clone(st.Purged)
	st.LastPurged = maps.Clone(st.LastPurged)
	st.Buckets = slices.Clone(st.Buckets)
	for i := range st.Buckets {
		st.Buckets[i].Purged = maps.Clone(st.Buckets[i].Purged)
	}
	return st
}

// Default returns the server's policy.
func (p *Purger) Default() Retention { return p.opts.Default }
