package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/relayfn/relayfn/relay/api"
)

// WebhookQuery selects webhooks of the request log; zero fields select
// everything.
type WebhookQuery struct {
	// Bucket is a bucket's name or ID; Input, an input's ID.
	Bucket, Input string
	// Status is the caller's answer status.
	Status int
	// FunctionError selects webhooks whose input function failed; Failed,
	// those too whose caller got 400 or more, or with a failed delivery.
	FunctionError, Failed bool
	// State selects webhooks with a delivery in this state.
	State string
	// Since and Until are RFC 3339 times or durations ago ("1h").
	Since, Until string
	// Before is the cursor of a next page (WebhookPage.Next).
	Before string
	// Limit caps the page; 0 means the API's default (100).
	Limit int
}

// ListWebhooks lists webhooks, newest first (GET /webhooks).
func (c *Client) ListWebhooks(ctx context.Context, q WebhookQuery) (*api.WebhookPage, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("bucket", q.Bucket)
	set("input", q.Input)
	set("state", q.State)
	set("since", q.Since)
	set("until", q.Until)
	set("before", q.Before)
	if q.Status != 0 {
		v.Set("status", strconv.Itoa(q.Status))
	}
	if q.FunctionError {
		v.Set("function_error", "true")
	}
	if q.Failed {
		v.Set("failed", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return call[*api.WebhookPage](ctx, c, http.MethodGet, "/webhooks", v, nil)
}

// GetWebhook returns a webhook's journey (GET /webhooks/{id}).
func (c *Client) GetWebhook(ctx context.Context, id string) (*api.WebhookDetail, error) {
	return call[*api.WebhookDetail](ctx, c, http.MethodGet, "/webhooks/"+seg(id), nil, nil)
}

// RunWebhook runs a function against a stored webhook's request as it was
// received (POST /webhooks/{id}/run): nothing is delivered.
func (c *Client) RunWebhook(ctx context.Context, id string, req api.RunRequest) (*api.Result, error) {
	return call[*api.Result](ctx, c, http.MethodPost, "/webhooks/"+seg(id)+"/run", nil, req)
}

// Events follows the relay's live event stream (GET /events), of one
// bucket (name or ID) or of all for "", calling fn with each event until
// ctx ends (then it returns nil), the stream breaks, or fn fails. The
// client's http.Client must not have a Timeout.
func (c *Client) Events(ctx context.Context, bucket string, fn func(*api.Event) error) error {
	var query url.Values
	if bucket != "" {
		query = url.Values{"bucket": {bucket}}
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/events", query, nil, "text/event-stream")
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("relay: GET /events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.readError(http.MethodGet, "/events", resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() == 0 {
				continue
			}
			var e api.Event
			if err := json.Unmarshal([]byte(data.String()), &e); err != nil {
				return fmt.Errorf("relay: GET /events: decode an event: %w", err)
			}
			data.Reset()
			if err := fn(&e); err != nil {
				return err
			}
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("relay: GET /events: %w", err)
	}
	return fmt.Errorf("relay: GET /events: the relay ended the stream")
}
