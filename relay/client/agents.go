package client

import (
	"context"
	"net/http"

	"github.com/relayfn/relayfn/relay/api"
)

// ListAgents lists the agents connected to the relay (GET /agents).
func (c *Client) ListAgents(ctx context.Context) ([]*api.Agent, error) {
	return call[[]*api.Agent](ctx, c, http.MethodGet, "/agents", nil, nil)
}

// ListAgentTokens lists the agent tokens (GET /agent-tokens).
func (c *Client) ListAgentTokens(ctx context.Context) ([]*api.AgentToken, error) {
	return call[[]*api.AgentToken](ctx, c, http.MethodGet, "/agent-tokens", nil, nil)
}

// CreateAgentToken makes an agent token for the buckets (names or IDs)
// (POST /agent-tokens). Its credential is in the answer only; DeleteToken
// deletes it.
func (c *Client) CreateAgentToken(ctx context.Context, name string, buckets []string) (*api.NewAgentToken, error) {
	return call[*api.NewAgentToken](ctx, c, http.MethodPost, "/agent-tokens", nil, api.AgentTokenRequest{Name: name, Buckets: buckets})
}
