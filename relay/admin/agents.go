package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
)

// agentRoutes registers the agents' endpoints: agent tokens, and the
// agents connected to this relay.
func (h *handler) agentRoutes(r func(string, func(http.ResponseWriter, *http.Request) error)) {
	r("GET /agents", h.listAgents)
	r("GET /agent-tokens", h.listAgentTokens)
	r("POST /agent-tokens", h.createAgentToken)
}

func (h *handler) listAgents(w http.ResponseWriter, r *http.Request) error {
	out := []*api.Agent{}
	if h.opts.Server != nil {
		for _, a := range h.opts.Server.Agents() {
			bs := slices.Clone(a.Buckets)
			slices.Sort(bs)
			out = append(out, &api.Agent{ID: a.ID, Name: a.Name, TokenID: a.TokenID, Buckets: bs, Remote: a.Remote,
				Since: a.Since, InFlight: a.InFlight, Delivered: a.Delivered, Failed: a.Failed})
		}
	}
	slices.SortFunc(out, func(a, b *api.Agent) int { return a.Since.Compare(b.Since) })
	return ok(w, out)
}

// agentTokenWire is t on the wire, its buckets by name (a deleted bucket
// is left out: the token no longer grants it).
func (h *handler) agentTokenWire(r *http.Request, t *relay.AgentToken) *api.AgentToken {
	out := &api.AgentToken{ID: t.ID, Name: t.Name, Buckets: []string{}, CreatedAt: t.CreatedAt}
	for _, id := range t.BucketIDs {
		if b, err := h.st.GetBucket(r.Context(), id); err == nil {
			out.Buckets = append(out.Buckets, b.Name)
		}
	}
	return out
}

func (h *handler) listAgentTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := h.st.ListAgentTokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]*api.AgentToken, 0, len(toks))
	for _, t := range toks {
		out = append(out, h.agentTokenWire(r, t))
	}
	return ok(w, out)
}

func (h *handler) createAgentToken(w http.ResponseWriter, r *http.Request) error {
	var req api.AgentTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkTokenRequest(&api.TokenRequest{Name: req.Name}); err != nil {
		return err
	}
	if len(req.Buckets) == 0 {
		return badRequest("buckets: at least one bucket is required")
	}
	t := &relay.AgentToken{ID: uuid.NewString(), Name: req.Name, CreatedAt: time.Now().UTC()}
	for _, ref := range req.Buckets {
		b, err := h.st.GetBucket(r.Context(), ref)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return badRequest("buckets: no bucket %q", ref)
			}
			return err
		}
		if !slices.Contains(t.BucketIDs, b.ID) {
			t.BucketIDs = append(t.BucketIDs, b.ID)
		}
	}
	secret, hash, err := relay.NewSecret()
	if err != nil {
		return fmt.Errorf("make a token secret: %w", err)
	}
	t.SecretHash = hash
	if err := h.st.CreateAgentToken(r.Context(), t); err != nil {
		return fmt.Errorf("create agent token: %w", err)
	}
	wire := h.agentTokenWire(r, t)
	h.audit(r.Context(), "admin: agent token created", "token", t.ID, "name", t.Name, "buckets", strings.Join(wire.Buckets, ","))
	return created(w, &api.NewAgentToken{Token: wire, Credential: relay.FormatToken(t.ID, secret)})
}

// deleteAgentToken deletes the agent token id, when there is one: it is
// how DELETE /tokens/{id} deletes agent tokens too. Agents connected with
// it are disconnected, and refused when they connect again.
func (h *handler) deleteAgentToken(w http.ResponseWriter, r *http.Request, id string) error {
	if err := h.st.DeleteAgentToken(r.Context(), id); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: agent token deleted", "token", id)
	if h.opts.Server != nil {
		h.opts.Server.DisconnectAgents(id)
	}
	return noContent(w)
}
