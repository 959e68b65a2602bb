package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

func (s *suite) TestAgentTokens(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	a, b := &relay.Bucket{Name: "a"}, &relay.Bucket{Name: "b"}
	Must(t, st.CreateBucket(ctx, a))
	Must(t, st.CreateBucket(ctx, b))

	tok := &relay.AgentToken{Name: "office", BucketIDs: []string{a.ID, b.ID}, SecretHash: "sha256:x"}
	Must(t, st.CreateAgentToken(ctx, tok))
	got, err := st.GetAgentToken(ctx, tok.ID)
	Must(t, err)
	if got.Name != "office" || !slices.Equal(got.BucketIDs, tok.BucketIDs) || got.SecretHash != "sha256:x" || !got.CreatedAt.Equal(tok.CreatedAt) {
		t.Errorf("GetAgentToken = %+v, want %+v", got, tok)
	}
	WantConflict(t, st.CreateAgentToken(ctx, &relay.AgentToken{ID: tok.ID, BucketIDs: []string{a.ID}, SecretHash: "y"}))
	WantNotFound(t, st.CreateAgentToken(ctx, &relay.AgentToken{BucketIDs: []string{"nope"}, SecretHash: "y"}))
	if err := st.CreateAgentToken(ctx, &relay.AgentToken{SecretHash: "y"}); err == nil {
		t.Error("CreateAgentToken without a bucket succeeded")
	}
	// Agent tokens are not caller tokens, nor the reverse.
	WantNotFound(t, errOf(st.GetToken(ctx, tok.ID)))
	bt := &relay.Token{BucketID: a.ID, SecretHash: "sha256:z"}
	Must(t, st.CreateToken(ctx, bt))
	WantNotFound(t, errOf(st.GetAgentToken(ctx, bt.ID)))

	second := &relay.AgentToken{BucketIDs: []string{b.ID}, SecretHash: "sha256:w", CreatedAt: tok.CreatedAt.Add(time.Second)}
	Must(t, st.CreateAgentToken(ctx, second))
	// A deleted bucket leaves the token, which no longer grants it.
	Must(t, st.DeleteBucket(ctx, b.ID))
	toks, err := st.ListAgentTokens(ctx)
	Must(t, err)
	if len(toks) != 2 || toks[0].ID != tok.ID || toks[1].ID != second.ID {
		t.Fatalf("ListAgentTokens = %+v", toks)
	}
	Must(t, st.DeleteAgentToken(ctx, tok.ID))
	WantNotFound(t, st.DeleteAgentToken(ctx, tok.ID))
	WantNotFound(t, errOf(st.GetAgentToken(ctx, tok.ID)))
}

func (s *suite) TestOutputAgentWindow(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	b := &relay.Bucket{Name: "a"}
	Must(t, st.CreateBucket(ctx, b))
	out := &relay.Output{BucketID: b.ID, Name: "svc", Destination: "http://svc.lan/x", Internal: true, AgentWindow: 2 * time.Second}
	Must(t, st.CreateOutput(ctx, out))
	got, err := st.GetOutput(ctx, out.ID)
	Must(t, err)
	if !got.Internal || got.AgentWindow != 2*time.Second {
		t.Errorf("GetOutput = %+v", got)
	}
	got.AgentWindow = time.Minute
	Must(t, st.UpdateOutput(ctx, got))
	if got, _ = st.GetOutput(ctx, out.ID); got.AgentWindow != time.Minute {
		t.Errorf("after UpdateOutput, agent window = %s", got.AgentWindow)
	}
}
