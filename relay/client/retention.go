package client

import (
	"context"
	"net/http"

	"github.com/relayfn/relayfn/relay/api"
)

// Retention returns the retention defaults, every bucket's policy and what
// the purge did (GET /retention).
func (c *Client) Retention(ctx context.Context) (*api.RetentionReport, error) {
	return call[*api.RetentionReport](ctx, c, http.MethodGet, "/retention", nil, nil)
}

// BucketRetention returns a bucket's retention (GET
// /buckets/{bucket}/retention).
func (c *Client) BucketRetention(ctx context.Context, bucket string) (*api.BucketRetention, error) {
	return call[*api.BucketRetention](ctx, c, http.MethodGet, "/buckets/"+seg(bucket)+"/retention", nil, nil)
}

// SetBucketRetention sets a bucket's retention policy; a zero p clears it
// (PUT /buckets/{bucket}/retention).
func (c *Client) SetBucketRetention(ctx context.Context, bucket string, p api.RetentionPolicy) (*api.BucketRetention, error) {
	return call[*api.BucketRetention](ctx, c, http.MethodPut, "/buckets/"+seg(bucket)+"/retention", nil, p)
}
