// Package records checks a record before a store creates it and fills its
// defaults (ID, times, modes), the same in both stores, so that a record
// is refused or completed alike whichever store keeps it.
package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
)

// Bucket checks b and fills its ID (when empty), Auth.Type (when empty)
// and CreatedAt (when zero, with now).
func Bucket(b *relay.Bucket, now time.Time) error {
	if b.Name == "" {
		return errors.New("bucket: a name is required")
	}
	if b.Auth.Type == "" {
		b.Auth.Type = relay.AuthNone
	}
	stamp(&b.ID, &b.CreatedAt, now)
	return nil
}

// Input checks in and fills its ID (when empty), Response.Mode (when
// empty) and CreatedAt (when zero, with now).
func Input(in *relay.Input, now time.Time) error {
	if in.Name == "" || in.BucketID == "" {
		return errors.New("input: a name and a bucket are required")
	}
	if in.Response.Mode == "" {
		in.Response.Mode = relay.ResponseDefault
	}
	stamp(&in.ID, &in.CreatedAt, now)
	return nil
}

// Output checks out and fills its ID (when empty) and CreatedAt (when
// zero, with now).
func Output(out *relay.Output, now time.Time) error {
	if out.Name == "" || out.BucketID == "" {
		return errors.New("output: a name and a bucket are required")
	}
	stamp(&out.ID, &out.CreatedAt, now)
	return nil
}

// Token checks t and fills its ID (when empty) and CreatedAt (when zero,
// with now).
func Token(t *relay.Token, now time.Time) error {
	if t.SecretHash == "" {
		return errors.New("token: a secret hash is required")
	}
	stamp(&t.ID, &t.CreatedAt, now)
	return nil
}

// AgentToken checks t and fills its ID (when empty) and CreatedAt (when
// zero, with now).
func AgentToken(t *relay.AgentToken, now time.Time) error {
	if t.SecretHash == "" || len(t.BucketIDs) == 0 {
		return errors.New("agent token: a secret hash and a bucket are required")
	}
	stamp(&t.ID, &t.CreatedAt, now)
	return nil
}

// Function checks a new function f and fills its ID (when empty), Hash
// (when empty: SourceHash of its source), Version (1) and times (now).
func Function(f *functions.Function, now time.Time) error {
	if f.Name == "" {
		return errors.New("function: a name is required")
	}
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	if f.Hash == "" {
		f.Hash = SourceHash(f.Source)
	}
	f.Version = 1
	f.CreatedAt, f.UpdatedAt = now, now
	return nil
}

// Webhook checks a webhook w about to be saved with its deliveries ds and
// fills w's ID and ReceivedAt (with now) when empty and, in each delivery,
// the WebhookID and BucketID of w when empty and the defaults of Delivery.
// Every delivery must belong to w and its bucket.
func Webhook(w *relay.Webhook, ds []*relay.Delivery, now time.Time) error {
	if w.BucketID == "" {
		return errors.New("webhook: a bucket is required")
	}
	if w.ID == "" {
		w.ID = relay.NewRecordID()
	}
	if w.ReceivedAt.IsZero() {
		w.ReceivedAt = now
	}
	for i, d := range ds {
		if d.WebhookID == "" {
			d.WebhookID = w.ID
		}
		if d.BucketID == "" {
			d.BucketID = w.BucketID
		}
		Delivery(d, i, now)
		if d.WebhookID != w.ID || d.BucketID != w.BucketID {
			return fmt.Errorf("webhook %s: delivery %s belongs to another webhook or bucket", w.ID, d.ID)
		}
	}
	return nil
}

// Delivery fills d's defaults: ID, state (pending), times. The i-th
// delivery of a call is stamped i nanoseconds after now, so that
// deliveries made together keep their order and page cleanly by creation
// time.
func Delivery(d *relay.Delivery, i int, now time.Time) {
	if d.ID == "" {
		d.ID = relay.NewRecordID()
	}
	if d.State == "" {
		d.State = relay.DeliveryPending
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now.Add(time.Duration(i))
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
}

// stamp fills *id with a new UUID when empty and *createdAt with now when
// zero: the defaults every created record shares.
func stamp(id *string, createdAt *time.Time, now time.Time) {
	if *id == "" {
		*id = uuid.NewString()
	}
	if createdAt.IsZero() {
		*createdAt = now
	}
}

// SourceHash is the hex SHA-256 of source, as the runtime computes it.
func SourceHash(source string) string {
	sum := sha256.Sum256([]byte(source))
	return hex.EncodeToString(sum[:])
}

// Exists reports whether table holds a row with ID id.
type Exists func(ctx context.Context, table, id string) (bool, error)

// CheckRefs checks, for a record of kind named name, that the bucket (when
// bucketID is not empty) and the functions (those not empty) exist.
func CheckRefs(ctx context.Context, exists Exists, kind, name, bucketID string, functionIDs ...string) error {
	check := func(table, refKind, id string) error {
		ok, err := exists(ctx, table, id)
		if err != nil {
			return fmt.Errorf("%s %q: %w", kind, name, err)
		}
		if !ok {
			return fmt.Errorf("%s %q: %w", kind, name, storeerr.NotFound(refKind, id))
		}
		return nil
	}
	if bucketID != "" {
		if err := check("buckets", "bucket", bucketID); err != nil {
			return err
		}
	}
	for _, id := range functionIDs {
		if id == "" {
			continue
		}
		if err := check("functions", "function", id); err != nil {
			return err
		}
	}
	return nil
}
