package egress

import (
	"context"
	"net/http"
)

// Doer sends one outbound request on behalf of service (a bucket's name,
// which the proxy and the ACL see). It is the one seam between what sends
// requests (the relay's deliveries, the functions' http, bigquery and
// mailgun modules) and the network: *Client implements it, tests and
// fnctl test pass their own. Do must be safe for concurrent use; it
// follows redirects itself, and the response's Request, when set, is the
// last one sent.
type Doer interface {
	Do(ctx context.Context, service string, req *http.Request) (*http.Response, error)
}

var _ Doer = (*Client)(nil)
