package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/relayfn/relayfn/relay/api"
)

// ListAdminTokens lists the admin tokens (GET /tokens).
func (c *Client) ListAdminTokens(ctx context.Context) ([]*api.Token, error) {
	return call[[]*api.Token](ctx, c, http.MethodGet, "/tokens", nil, nil)
}

// CreateAdminToken makes an admin token (POST /tokens). Its credential is
// in the answer only.
func (c *Client) CreateAdminToken(ctx context.Context, name string) (*api.NewToken, error) {
	return call[*api.NewToken](ctx, c, http.MethodPost, "/tokens", nil, api.TokenRequest{Name: name})
}

// DeleteToken deletes an admin or bucket token (DELETE /tokens/{id}).
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/tokens/"+seg(id), nil, nil, nil)
}

// ListBuckets lists the buckets (GET /buckets).
func (c *Client) ListBuckets(ctx context.Context) ([]*api.Bucket, error) {
	return call[[]*api.Bucket](ctx, c, http.MethodGet, "/buckets", nil, nil)
}

// CreateBucket makes a bucket (POST /buckets).
func (c *Client) CreateBucket(ctx context.Context, req api.BucketRequest) (*api.Bucket, error) {
	return call[*api.Bucket](ctx, c, http.MethodPost, "/buckets", nil, req)
}

// GetBucket finds a bucket by ID or name (GET /buckets/{bucket}).
func (c *Client) GetBucket(ctx context.Context, bucket string) (*api.Bucket, error) {
	return call[*api.Bucket](ctx, c, http.MethodGet, "/buckets/"+seg(bucket), nil, nil)
}

// UpdateBucket changes the fields req gives (PATCH /buckets/{bucket}).
func (c *Client) UpdateBucket(ctx context.Context, bucket string, req api.BucketRequest) (*api.Bucket, error) {
	return call[*api.Bucket](ctx, c, http.MethodPatch, "/buckets/"+seg(bucket), nil, req)
}

// DeleteBucket deletes a bucket with its inputs, outputs, tokens and
// webhooks (DELETE /buckets/{bucket}).
func (c *Client) DeleteBucket(ctx context.Context, bucket string) error {
	return c.do(ctx, http.MethodDelete, "/buckets/"+seg(bucket), nil, nil, nil)
}

// ListBucketTokens lists a bucket's tokens (GET /buckets/{bucket}/tokens).
func (c *Client) ListBucketTokens(ctx context.Context, bucket string) ([]*api.Token, error) {
	return call[[]*api.Token](ctx, c, http.MethodGet, "/buckets/"+seg(bucket)+"/tokens", nil, nil)
}

// CreateBucketToken makes a token for a bucket's callers (POST
// /buckets/{bucket}/tokens). Its credential is in the answer only.
func (c *Client) CreateBucketToken(ctx context.Context, bucket, name string) (*api.NewToken, error) {
	return call[*api.NewToken](ctx, c, http.MethodPost, "/buckets/"+seg(bucket)+"/tokens", nil, api.TokenRequest{Name: name})
}

// ListInputs lists a bucket's inputs (GET /buckets/{bucket}/inputs).
func (c *Client) ListInputs(ctx context.Context, bucket string) ([]*api.Input, error) {
	return call[[]*api.Input](ctx, c, http.MethodGet, "/buckets/"+seg(bucket)+"/inputs", nil, nil)
}

// CreateInput makes an input (POST /buckets/{bucket}/inputs).
func (c *Client) CreateInput(ctx context.Context, bucket string, req api.InputRequest) (*api.Input, error) {
	return call[*api.Input](ctx, c, http.MethodPost, "/buckets/"+seg(bucket)+"/inputs", nil, req)
}

// GetInput finds an input by ID (GET /inputs/{id}).
func (c *Client) GetInput(ctx context.Context, id string) (*api.Input, error) {
	return call[*api.Input](ctx, c, http.MethodGet, "/inputs/"+seg(id), nil, nil)
}

// UpdateInput changes the fields req gives (PATCH /inputs/{id}).
func (c *Client) UpdateInput(ctx context.Context, id string, req api.InputRequest) (*api.Input, error) {
	return call[*api.Input](ctx, c, http.MethodPatch, "/inputs/"+seg(id), nil, req)
}

// AttachInput attaches a function (by name or ID) to an input; ""
// detaches it.
func (c *Client) AttachInput(ctx context.Context, id, function string) (*api.Input, error) {
	return c.UpdateInput(ctx, id, api.InputRequest{Function: &function})
}

// DeleteInput deletes an input (DELETE /inputs/{id}).
func (c *Client) DeleteInput(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/inputs/"+seg(id), nil, nil, nil)
}

// ListOutputs lists a bucket's outputs (GET /buckets/{bucket}/outputs).
func (c *Client) ListOutputs(ctx context.Context, bucket string) ([]*api.Output, error) {
	return call[[]*api.Output](ctx, c, http.MethodGet, "/buckets/"+seg(bucket)+"/outputs", nil, nil)
}

// CreateOutput makes an output (POST /buckets/{bucket}/outputs).
func (c *Client) CreateOutput(ctx context.Context, bucket string, req api.OutputRequest) (*api.Output, error) {
	return call[*api.Output](ctx, c, http.MethodPost, "/buckets/"+seg(bucket)+"/outputs", nil, req)
}

// GetOutput finds an output by ID (GET /outputs/{id}).
func (c *Client) GetOutput(ctx context.Context, id string) (*api.Output, error) {
	return call[*api.Output](ctx, c, http.MethodGet, "/outputs/"+seg(id), nil, nil)
}

// UpdateOutput changes the fields req gives (PATCH /outputs/{id}).
func (c *Client) UpdateOutput(ctx context.Context, id string, req api.OutputRequest) (*api.Output, error) {
	return call[*api.Output](ctx, c, http.MethodPatch, "/outputs/"+seg(id), nil, req)
}

// AttachOutput attaches a function (by name or ID) to an output; ""
// detaches it.
func (c *Client) AttachOutput(ctx context.Context, id, function string) (*api.Output, error) {
	return c.UpdateOutput(ctx, id, api.OutputRequest{Function: &function})
}

// DeleteOutput deletes an output and its deliveries (DELETE /outputs/{id}).
func (c *Client) DeleteOutput(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/outputs/"+seg(id), nil, nil, nil)
}

// ListFunctions lists the functions, without their source (GET
// /functions).
func (c *Client) ListFunctions(ctx context.Context) ([]*api.Function, error) {
	return call[[]*api.Function](ctx, c, http.MethodGet, "/functions", nil, nil)
}

// CreateFunction makes a function (POST /functions). A syntax error is an
// *Error with status 400 whose message names the line.
func (c *Client) CreateFunction(ctx context.Context, req api.FunctionRequest) (*api.Function, error) {
	return call[*api.Function](ctx, c, http.MethodPost, "/functions", nil, req)
}

// GetFunction finds a function by ID or name, with its current source (GET
// /functions/{function}).
func (c *Client) GetFunction(ctx context.Context, function string) (*api.Function, error) {
	return call[*api.Function](ctx, c, http.MethodGet, "/functions/"+seg(function), nil, nil)
}

// UpdateFunction changes the fields req gives; a changed source becomes a
// new version (PUT /functions/{function}).
func (c *Client) UpdateFunction(ctx context.Context, function string, req api.FunctionRequest) (*api.Function, error) {
	return call[*api.Function](ctx, c, http.MethodPut, "/functions/"+seg(function), nil, req)
}

// PushFunction creates the function named name with source, or saves
// source as its new version when it exists and the source changed, and
// sets its timeout (0: the engine's default). It reports whether the
// function was created.
func (c *Client) PushFunction(ctx context.Context, name, source string, timeout time.Duration) (f *api.Function, created bool, err error) {
	d := api.Duration(timeout)
	f, err = c.UpdateFunction(ctx, name, api.FunctionRequest{Source: &source, Timeout: &d})
	if !errors.Is(err, api.ErrNotFound) {
		return f, false, err
	}
	f, err = c.CreateFunction(ctx, api.FunctionRequest{Name: &name, Source: &source, Timeout: &d})
	return f, err == nil, err
}

// DeleteFunction deletes a function that no input or output uses (DELETE
// /functions/{function}).
func (c *Client) DeleteFunction(ctx context.Context, function string) error {
	return c.do(ctx, http.MethodDelete, "/functions/"+seg(function), nil, nil, nil)
}

// ListVersions lists a function's versions, without their source (GET
// /functions/{function}/versions).
func (c *Client) ListVersions(ctx context.Context, function string) ([]*api.Version, error) {
	return call[[]*api.Version](ctx, c, http.MethodGet, "/functions/"+seg(function)+"/versions", nil, nil)
}

// GetVersion returns one version of a function with its source (GET
// /functions/{function}/versions/{n}).
func (c *Client) GetVersion(ctx context.Context, function string, n int) (*api.Version, error) {
	return call[*api.Version](ctx, c, http.MethodGet, "/functions/"+seg(function)+"/versions/"+strconv.Itoa(n), nil, nil)
}

// ListConfig returns the keys of a function's configuration variables
// (GET /functions/{function}/config). Values are never returned.
func (c *Client) ListConfig(ctx context.Context, function string) ([]string, error) {
	var out api.ConfigKeys
	err := c.do(ctx, http.MethodGet, "/functions/"+seg(function)+"/config", nil, nil, &out)
	return out.Keys, err
}

// ReplaceConfig makes a function's variables exactly cfg (PUT
// /functions/{function}/config) and returns their keys.
func (c *Client) ReplaceConfig(ctx context.Context, function string, cfg map[string]string) ([]string, error) {
	if cfg == nil {
		cfg = map[string]string{}
	}
	var out api.ConfigKeys
	err := c.do(ctx, http.MethodPut, "/functions/"+seg(function)+"/config", nil, cfg, &out)
	return out.Keys, err
}

// ClearConfig deletes every variable of a function (DELETE
// /functions/{function}/config).
func (c *Client) ClearConfig(ctx context.Context, function string) error {
	return c.do(ctx, http.MethodDelete, "/functions/"+seg(function)+"/config", nil, nil, nil)
}

// HasConfig reports whether a function's variable is set (GET
// /functions/{function}/config/{key}).
func (c *Client) HasConfig(ctx context.Context, function, key string) (bool, error) {
	err := c.do(ctx, http.MethodGet, "/functions/"+seg(function)+"/config/"+seg(key), nil, nil, nil)
	if err == nil {
		return true, nil
	}
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		if _, ferr := c.GetFunction(ctx, function); ferr != nil {
			return false, ferr
		}
		return false, nil
	}
	return false, err
}

// SetConfig sets a function's variable (PUT
// /functions/{function}/config/{key}).
func (c *Client) SetConfig(ctx context.Context, function, key, value string) error {
	return c.do(ctx, http.MethodPut, "/functions/"+seg(function)+"/config/"+seg(key), nil, api.ConfigValue{Value: value}, nil)
}

// DeleteConfig deletes a function's variable (DELETE
// /functions/{function}/config/{key}).
func (c *Client) DeleteConfig(ctx context.Context, function, key string) error {
	return c.do(ctx, http.MethodDelete, "/functions/"+seg(function)+"/config/"+seg(key), nil, nil, nil)
}

// Invoke runs a function once on the relay with its stored configuration
// (POST /functions/{function}/invoke). A function that fails is not an
// error: the result says so in Error.
func (c *Client) Invoke(ctx context.Context, function string, req api.InvokeRequest) (*api.Result, error) {
	return call[*api.Result](ctx, c, http.MethodPost, "/functions/"+seg(function)+"/invoke", nil, req)
}

// DeliveryQuery selects deliveries; zero fields select everything.
type DeliveryQuery struct {
	// Bucket is a bucket's ID or name.
	Bucket string
	// Output is an output's ID, or its name when Bucket is given.
	Output  string
	Webhook string
	// State is pending, succeeded, failed or stopped.
	State string
	// Before lists deliveries created before this time, for paging.
	Before time.Time
	// Limit caps the result; 0 means the API's default (100).
	Limit int
}

// ListDeliveries lists deliveries, newest first (GET /deliveries).
func (c *Client) ListDeliveries(ctx context.Context, q DeliveryQuery) ([]*api.Delivery, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("bucket", q.Bucket)
	set("output", q.Output)
	set("webhook", q.Webhook)
	set("state", q.State)
	if !q.Before.IsZero() {
		v.Set("before", q.Before.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return call[[]*api.Delivery](ctx, c, http.MethodGet, "/deliveries", v, nil)
}

// GetDelivery returns a delivery with its attempts (GET /deliveries/{id}).
func (c *Client) GetDelivery(ctx context.Context, id string) (*api.Delivery, []*api.Attempt, error) {
	var out api.DeliveryDetail
	if err := c.do(ctx, http.MethodGet, "/deliveries/"+seg(id), nil, nil, &out); err != nil {
		return nil, nil, err
	}
	return out.Delivery, out.Attempts, nil
}

// ReplayDelivery sends a delivery's webhook to its output again, as a new
// delivery (POST /deliveries/{id}/replay).
func (c *Client) ReplayDelivery(ctx context.Context, id string) (*api.Delivery, error) {
	return call[*api.Delivery](ctx, c, http.MethodPost, "/deliveries/"+seg(id)+"/replay", nil, nil)
}

// Apply applies a relay.yaml document whose functions give their source
// inline (POST /apply); with dryRun, it reports what applying would do.
func (c *Client) Apply(ctx context.Context, doc []byte, dryRun bool) (*api.Report, error) {
	return c.ApplyWith(ctx, doc, ApplyOptions{DryRun: dryRun})
}
