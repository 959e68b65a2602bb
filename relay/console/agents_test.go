package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/agent"
)

// The overview says whether an internal output has an agent, and lists
// the agents connected for each bucket.
func TestOverviewShowsAgents(t *testing.T) {
	ctx := context.Background()
	r := relaytest.New(t, relaytest.Options{})
	b := r.Bucket(&relay.Bucket{Name: "ops"})
	r.Output(&relay.Output{BucketID: b.ID, Name: "svc", Destination: "http://svc.lan/hooks", Internal: true})
	c := newClient(t, r)
	signIn(t, c, r)

	page := func() string {
		t.Helper()
		res, body := c.do("GET", "/ui/", nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("overview: %d", res.StatusCode)
		}
		return body
	}
	if body := page(); !strings.Contains(body, "no agent connected") || strings.Contains(body, "<h3>Agents</h3>") {
		t.Errorf("overview without an agent: want %q and no agent list", "no agent connected")
	}

	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok := &relay.AgentToken{BucketIDs: []string{b.ID}, SecretHash: hash}
	if err := r.Store.CreateAgentToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Options{Server: r.URL, Token: relay.FormatToken(tok.ID, secret), Name: "lan-agent-1"})
	}()
	t.Cleanup(func() { cancel(); <-done })
	relaytest.WaitFor(t, "the agent connected", func() bool { return len(r.Server.Agents()) == 1 })

	body := page()
	for _, want := range []string{"agent connected", "<h3>Agents</h3>", "lan-agent-1"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview with an agent: %q missing", want)
		}
	}
	if strings.Contains(body, "no agent connected") {
		t.Error("overview with an agent still says no agent connected")
	}
}
