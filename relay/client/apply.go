package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/relayfn/relayfn/relay/api"
)

// ApplyOptions are the options of ApplyWith.
type ApplyOptions struct {
	// DryRun reports what would change and changes nothing.
	DryRun bool
	// Prune deletes the configuration variables of the document's
	// functions that their config does not mention.
	Prune bool
}

// ApplyWith applies a relay.yaml document as Apply does, with opts
// (POST /apply?dry_run=…&prune=…).
func (c *Client) ApplyWith(ctx context.Context, doc []byte, opts ApplyOptions) (*api.Report, error) {
	q := url.Values{}
	if opts.DryRun {
		q.Set("dry_run", "true")
	}
	if opts.Prune {
		q.Set("prune", "true")
	}
	return call[*api.Report](ctx, c, http.MethodPost, "/apply", q, yamlBody(doc))
}
