package api

import "time"

// RetentionPolicy is a retention policy on the wire: ages as
// relay.FormatAge writes them ("72h", "30d"; "0" or absent: keep
// forever).
type RetentionPolicy struct {
	Payload  string `json:"payload,omitempty"`
	Metadata string `json:"metadata,omitempty"`
}

// BucketRetention is a bucket's retention (GET and PUT
// /v1/admin/buckets/{bucket}/retention): its own policy, and what the
// purge applies with the server's defaults.
type BucketRetention struct {
	BucketID  string          `json:"bucket_id"`
	Bucket    string          `json:"bucket"`
	Policy    RetentionPolicy `json:"policy"`
	Effective RetentionPolicy `json:"effective"`
	// Purged counts the webhooks purged since the relay started, by kind
	// (payload, metadata).
	Purged map[string]int64 `json:"purged,omitempty"`
}

// RetentionReport is GET /v1/admin/retention: the server's defaults,
// every bucket's policy and what the purge did since the relay started.
type RetentionReport struct {
	Default  RetentionPolicy `json:"default"`
	Interval string          `json:"interval"`
	// LastRun is when the purge last ran (absent: not yet).
	LastRun        *time.Time `json:"last_run,omitempty"`
	LastDurationMS float64    `json:"last_duration_ms"`
	LastError      string     `json:"last_error,omitempty"`
	// LastPurged counts what the last run purged, by kind, as Purged
	// does.
	LastPurged map[string]int64 `json:"last_purged"`
	// Purged counts what the purge did since the relay started, by kind:
	// payload (webhooks whose payload was emptied), metadata (webhooks
	// deleted at their age) and deleted (webhooks and deliveries of
	// deleted buckets and outputs, removed in the background).
	Purged  map[string]int64  `json:"purged"`
	Buckets []BucketRetention `json:"buckets"`
}
