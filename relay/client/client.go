// Package client is a Go client of the relay's admin API (package
// relay/admin), as fnctl uses it. Requests and answers are the wire types
// of relay/api, the only package of this module it imports, so a program
// using it links neither the Lua engine nor the BigQuery SDK. An error
// answer of the API is an *Error.
//
//	c := client.New("https://relay.example.com", os.Getenv("RELAYFN_TOKEN"), nil)
//	b, err := c.CreateBucket(ctx, api.BucketRequest{Name: new("ci")})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/relayfn/relayfn/relay/api"
)

// Error is an error answered by the API.
type Error struct {
	// Status is the HTTP status, such as 404.
	Status int
	// Message is the API's error message.
	Message string
}

// Error returns the status and message.
func (e *Error) Error() string {
	return fmt.Sprintf("relay: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes errors.Is(err, api.ErrNotFound) true for a 404 and
// errors.Is(err, api.ErrConflict) for a 409, as for a store.
func (e *Error) Is(target error) bool {
	switch target {
	case api.ErrNotFound:
		return e.Status == http.StatusNotFound
	case api.ErrConflict:
		return e.Status == http.StatusConflict
	}
	return false
}

// Client calls a relay's admin API. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client of the relay at baseURL (such as
// "http://localhost:8080") authenticating with the admin credential token
// ("<id>.<secret>"). A nil httpClient means http.DefaultClient.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, strings.TrimSuffix(api.Prefix, "/"))
	return &Client{base: base, token: token, hc: httpClient}
}

// maxErrorBody caps the error body read from a failed answer.
const maxErrorBody = 64 << 10

// yamlBody is a request body sent as YAML rather than JSON.
type yamlBody []byte

// do calls method on the API path (below /v1/admin) with the JSON of in
// (none when nil) and decodes the answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	contentType := ""
	switch v := in.(type) {
	case nil:
	case yamlBody:
		body, contentType = bytes.NewReader(v), "application/yaml"
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("relay: %s %s: encode request: %w", method, path, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := c.newRequest(ctx, method, path, query, body, "application/json")
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("relay: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.readError(method, path, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return notRelay(c, method, path, resp, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("relay: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// newRequest makes a request of the API path (below /v1/admin) with the
// query, body, Accept header and the client's credential.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body io.Reader, accept string) (*http.Request, error) {
	u := c.base + strings.TrimSuffix(api.Prefix, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("relay: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// readError turns an error answer into an *Error, or, for a 404 that is not
// the admin API's JSON, an error wrapping ErrNotRelay.
func (c *Client) readError(method, path string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode}
	var er api.ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error != "" {
		e.Message = er.Error
	} else if resp.StatusCode == http.StatusNotFound && !isJSON(resp.Header.Get("Content-Type")) {
		// The admin API answers every path under it, in JSON.
		return notRelay(c, method, path, resp, b)
	} else if s := strings.TrimSpace(string(b)); s != "" {
		e.Message = s
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// seg escapes a path segment.
func seg(s string) string { return url.PathEscape(s) }

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// call is do for an answer of type T; it returns the zero T on error.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, in any) (T, error) {
	var out T
	if err := c.do(ctx, method, path, query, in, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
