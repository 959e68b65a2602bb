package config

// # Retention
//
// server.retention sets the request log's default retention, and a
// bucket's retention its own:
//
//	server:
//	  retention:
//	    payload: 72h       # bodies, headers, queries, answers, logs: emptied after 72 hours
//	    metadata: 30d      # ids, statuses, times: deleted after 30 days
//	    interval: 1m       # how often the purge runs (default 1m)
//	buckets:
//	  - name: ci
//	    retention: {payload: 24h, metadata: 7d}
//
// Ages are Go durations or whole days ("30d"); 0 or absent keeps forever,
// unless the server's default says otherwise. A payload age longer than
// the metadata age of the same object is an error; when they come from
// different places (a bucket's and the server's), the payload age applied
// is cut to the metadata age. A bucket
// without retention in the file keeps the policy it has in the store (set
// with the admin API, or none); one with it gets exactly that policy.

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/relay"
)

// Age is a retention age: a Go duration or a whole number of days.
type Age time.Duration

// String returns the age as relay.FormatAge writes it.
func (a Age) String() string { return relay.FormatAge(time.Duration(a)) }

// MarshalYAML writes the age as a string.
func (a Age) MarshalYAML() (any, error) { return a.String(), nil }

// IsZero reports whether a is zero, so omitempty leaves it out.
func (a Age) IsZero() bool { return a == 0 }

// decodeAge decodes an Age: a Go duration, days ("30d"), or 0.
func decodeAge(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && !(n.ShortTag() == "!!int" && n.Value == "0")) {
		return fmt.Errorf(`want an age such as "72h" or "30d"`)
	}
	d, err := relay.ParseAge(n.Value)
	if err != nil {
		return err
	}
	v.SetInt(int64(d))
	return nil
}

// ServerRetention is server.retention.
type ServerRetention struct {
	Payload  Age `yaml:"payload,omitempty"`
	Metadata Age `yaml:"metadata,omitempty"`
	// Interval is how often the purge runs; 0 means 1m.
	Interval Duration `yaml:"interval,omitempty"`
}

// Policy returns the default policy.
func (r ServerRetention) Policy() relay.Retention {
	return relay.Retention{Payload: time.Duration(r.Payload), Metadata: time.Duration(r.Metadata)}
}

// Retention is buckets[].retention.
type Retention struct {
	Payload  Age `yaml:"payload,omitempty"`
	Metadata Age `yaml:"metadata,omitempty"`
}

// Policy returns the bucket's policy (zero for nil).
func (r *Retention) Policy() relay.Retention {
	if r == nil {
		return relay.Retention{}
	}
	return relay.Retention{Payload: time.Duration(r.Payload), Metadata: time.Duration(r.Metadata)}
}

func (v *validator) serverRetention(r *ServerRetention) {
	v.checkRetention(r.Policy(), "server.retention")
}

func (v *validator) retention(r *Retention, p string) {
	if r != nil {
		v.checkRetention(r.Policy(), p)
	}
}

func (v *validator) checkRetention(r relay.Retention, p string) {
	if r.Payload > 0 && r.Metadata > 0 && r.Payload > r.Metadata {
		v.errorf(p+".payload", "%s is longer than metadata (%s): a payload cannot outlive its webhook",
			relay.FormatAge(r.Payload), relay.FormatAge(r.Metadata))
	}
}

// retentionChanged reports whether applying spec would change the
// bucket's policy in the store.
func retentionChanged(ctx context.Context, st relay.Store, bucketID string, spec *Retention) (bool, error) {
	rs, ok := st.(relay.RetentionStore)
	if spec == nil || !ok {
		return false, nil
	}
	have, err := rs.Retentions(ctx)
	if err != nil {
		return false, err
	}
	return have[bucketID] != spec.Policy(), nil
}

// applyRetention sets the bucket's policy from the file when the plan
// found it differs from the store's (a new bucket has none), and the store
// keeps policies.
func applyRetention(ctx context.Context, st relay.Store, bp *bucketPlan, bucketID string) error {
	rs, ok := st.(relay.RetentionStore)
	if bp.spec.Retention == nil || !ok {
		return nil
	}
	want := bp.spec.Retention.Policy()
	if bp.existing == nil && want == (relay.Retention{}) ||
		bp.existing != nil && !slices.Contains(bp.fields, "retention") {
		return nil
	}
	if err := rs.SetRetention(ctx, bucketID, want); err != nil {
		return fmt.Errorf("apply: bucket %s: %w", bp.spec.Name, err)
	}
	return nil
}
