package relay

import (
	"context"
	"time"

	"github.com/relayfn/relayfn/functions"
)

// Store is the relay's durable state. The embedded SQLite implementation
// (relay/store/sqlite) is the default; the interface is small enough for a
// PostgreSQL one. Lookups of a missing record return an error wrapping
// store.ErrNotFound; a taken name, store.ErrConflict.
//
// Implementations encrypt request bodies, headers, queries, logs and
// function configuration at rest, and write none of the first four for an
// ephemeral bucket.
type Store interface {
	functions.Store

	CreateBucket(ctx context.Context, b *Bucket) error
	// GetBucket finds a bucket by ID or name.
	GetBucket(ctx context.Context, idOrName string) (*Bucket, error)
	ListBuckets(ctx context.Context) ([]*Bucket, error)
	UpdateBucket(ctx context.Context, b *Bucket) error
	// DeleteBucket deletes the bucket with its inputs, outputs and tokens
	// (and retention policy) at once. Its webhooks, deliveries and
	// attempts may stay, hidden from every reader, until the retention
	// purge removes them (PurgeDeleted).
	DeleteBucket(ctx context.Context, id string) error

	CreateInput(ctx context.Context, in *Input) error
	GetInput(ctx context.Context, id string) (*Input, error)
	// ListInputs lists a bucket's inputs, or every input for "".
	ListInputs(ctx context.Context, bucketID string) ([]*Input, error)
	UpdateInput(ctx context.Context, in *Input) error
	DeleteInput(ctx context.Context, id string) error

	CreateOutput(ctx context.Context, out *Output) error
	GetOutput(ctx context.Context, id string) (*Output, error)
	// ListOutputs lists a bucket's outputs, or every output for "".
	ListOutputs(ctx context.Context, bucketID string) ([]*Output, error)
	UpdateOutput(ctx context.Context, out *Output) error
	// DeleteOutput deletes the output at once. Its deliveries and
	// attempts may stay, hidden from every reader and never claimed,
	// until the retention purge removes them (PurgeDeleted).
	DeleteOutput(ctx context.Context, id string) error

	CreateToken(ctx context.Context, t *Token) error
	GetToken(ctx context.Context, id string) (*Token, error)
	// ListTokens lists a bucket's tokens, or the admin tokens for "".
	ListTokens(ctx context.Context, bucketID string) ([]*Token, error)
	DeleteToken(ctx context.Context, id string) error

	// SaveWebhook stores w and its deliveries in one transaction. When it
	// returns nil, they survive a crash of the process.
	SaveWebhook(ctx context.Context, w *Webhook, ds []*Delivery) error
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// AddDeliveries stores new deliveries of stored webhooks (a replay).
	AddDeliveries(ctx context.Context, ds []*Delivery) error
	// ClaimDue leases due pending deliveries to c.Owner until
	// c.Now+c.Lease and returns them: for each output of c.Quota, at most
	// its quota of the deliveries whose next attempt time and whose
	// previous lease, if any, are not after c.Now, earliest due first. A
	// claimed delivery is not due again until its lease ends, or
	// RecordAttempt or ReleaseClaims ends it. Deliveries that SaveWebhook
	// stored with a lease (LeaseOwner, LeaseUntil and LeaseID set) count
	// as claimed. Each call gives the deliveries it claims a new LeaseID.
	// Several processes may claim at once: none gets a delivery another
	// holds under a lease that has not ended.
	ClaimDue(ctx context.Context, c Claim) ([]*Delivery, error)
	// RenewClaims extends to until the leases named by claims, which a
	// live process still works on, so that a lease can be short (a dead
	// process's deliveries come due soon) and an attempt longer than it.
	// It returns the IDs of the deliveries whose lease is no longer that
	// claim's (ended, or claimed again since): their results must not be
	// recorded.
	RenewClaims(ctx context.Context, until time.Time, claims []LeaseRef) (lost []string, err error)
	// NextDue returns when the first pending delivery of one of the
	// outputs falls due (its next attempt time, or its lease's end); ok is
	// false when none of them has a pending delivery.
	NextDue(ctx context.Context, outputIDs []string) (at time.Time, ok bool, err error)
	// ReleaseClaims ends owner's leases of the pending deliveries ids, or
	// of all its pending deliveries when ids is nil, so that they are due
	// again at their next attempt time.
	ReleaseClaims(ctx context.Context, owner string, ids []string) error
	// RecordAttempt saves an attempt and the delivery's new state together,
	// and ends the delivery's lease: a pending delivery is due again at
	// its NextAttemptAt. When d.LeaseID is set and the delivery is no
	// longer under that claim, it records nothing and returns an error
	// wrapping store.ErrLeaseLost.
	RecordAttempt(ctx context.Context, d *Delivery, a *Attempt) error
	GetDelivery(ctx context.Context, id string) (*Delivery, []*Attempt, error)
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)

	// The request log: what happened to each stored webhook. GetWebhook
	// returns a webhook's whole journey; GetDelivery, the destination's
	// answers.

	// ListWebhooks lists the webhooks f selects, newest first.
	ListWebhooks(ctx context.Context, f WebhookFilter) ([]*WebhookSummary, error)
	// SetWebhookAnswer records the answer of a caller answered after its
	// webhook was stored (an input in destination mode).
	SetWebhookAnswer(ctx context.Context, id string, status int, a Answer) error

	// Agents: the credentials of agents (see AgentToken).

	// CreateAgentToken saves t, filling t.ID (when empty) and t.CreatedAt.
	CreateAgentToken(ctx context.Context, t *AgentToken) error
	GetAgentToken(ctx context.Context, id string) (*AgentToken, error)
	// ListAgentTokens lists the agent tokens, oldest first.
	ListAgentTokens(ctx context.Context) ([]*AgentToken, error)
	DeleteAgentToken(ctx context.Context, id string) error

	Close() error

	// Function specs (the web console and fnctl function push --spec):
	// a function's spec is stored with it, and a new version is saved
	// only when it passes.

	// SetSpec stores the spec of the function with ID id; an empty spec
	// removes it.
	SetSpec(ctx context.Context, id string, spec []byte) error
	// Spec returns the spec of the function with ID id, or nil when it
	// has none.
	Spec(ctx context.Context, id string) ([]byte, error)

	// Web console.

	// OutputStats returns, for each output that has deliveries, when a
	// delivery last succeeded and how many failed or are retrying: the
	// console's overview.
	OutputStats(ctx context.Context) (map[string]OutputStats, error)
}

// OutputStats sums up an output's deliveries (Store.OutputStats).
type OutputStats struct {
	// LastSuccess is when a delivery last succeeded (zero: never).
	LastSuccess time.Time
	// Failed counts the deliveries that failed for good; Retrying, the
	// pending ones whose last attempt failed.
	Failed, Retrying int
}

// Claim asks Store.ClaimDue for due deliveries.
type Claim struct {
	// Owner names the claiming process; Now is the time of the claim.
	Owner string
	Now   time.Time
	// Lease is how long the claimed deliveries stay the owner's.
	Lease time.Duration
	// Quota maps an output's ID to the most of its deliveries to claim.
	Quota map[string]int
}

// LeaseRef names one delivery's claim (Store.RenewClaims).
type LeaseRef struct {
	ID      string // the delivery's
	LeaseID string // the claim's
}

// DeliveryFilter selects deliveries; zero fields select everything.
type DeliveryFilter struct {
	BucketID  string
	OutputID  string
	WebhookID string
	State     DeliveryState
	// Before lists deliveries created before this time (for paging).
	Before time.Time
	// Limit caps the result (newest first); 0 means 100.
	Limit int
}
