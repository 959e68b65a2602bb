package relay

import (
	"context"
	"time"
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
)

// Purge asks RetentionStore.Purge for one batch.
type Purge struct {
	Kind     PurgeKind
	BucketID string
	// Before: only webhooks received before this time are purged.
	Before time.Time
	// After is a cursor: only webhooks whose ID sorts after it (IDs are
	// time-ordered) are looked at; "" starts from the oldest.
	After string
	// Limit caps the webhooks purged in this batch (one transaction).
	Limit int
}

// PurgeResult is what one batch of Purge did.
type PurgeResult struct {
	// Webhooks counts the webhooks purged.
	Webhooks int
	// Next is the cursor for the following batch: the last ID looked at.
	Next string
	// More is true when the batch was full: another may find more.
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
