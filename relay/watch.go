package relay

import (
	"context"
	"errors"
	"time"

	"github.com/relayfn/relayfn/relay/store"
)

// Following a shared store.
//
// On a store several nodes share (a Watcher, see cluster.go), a change
// made through any node reaches every node at once: ChangeRoutes reloads
// the routes (at most one reload runs, and at most one more waits, however
// many changes come: a burst costs two reloads), and ChangeWork wakes the
// delivery engine's claimer, so that deliveries another node stored
// unclaimed, replayed or released are claimed at once rather than at the
// next poll. A watch that fails (a lost connection the store could not
// restore) is started again with a growing backoff until the shutdown.
// Every watch reports each kind of change once it listens (see Watcher),
// so that the routes are reloaded and due work claimed then, for the
// changes made while no watch ran.

// Backoff of the store watch's restarts.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 30 * time.Second
)

// watch follows w's changes until ctx ends.
func (s *Server) watch(ctx context.Context, w Watcher) {
	defer s.background.Done()
	reload := make(chan struct{}, 1)
	s.background.Add(1)
	go s.reloader(ctx, reload)
	onChange := func(c StoreChange) {
		switch c {
		case ChangeRoutes:
			select {
			case reload <- struct{}{}:
			default: // one is pending already
			}
		case ChangeWork:
			s.sched.kick()
		}
	}
	backoff := watchBackoffMin
	for {
		start := time.Now()
		err := w.Watch(ctx, onChange)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > watchBackoffMax {
			backoff = watchBackoffMin // it ran a while: a new failure
		}
		s.log.Warn("store watch stopped; restarting", "error", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// reloader reloads the routes each time reload is signalled, until ctx
// ends.
func (s *Server) reloader(ctx context.Context, reload <-chan struct{}) {
	defer s.background.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		}
		if err := s.Reload(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("reload after a change in the store", "error", err)
			continue
		}
		s.dropRevokedAgents(ctx)
	}
}

// dropRevokedAgents disconnects the agents connected here whose agent
// token was deleted (through another node's admin API: its own
// disconnects them at once, see DisconnectAgents).
func (s *Server) dropRevokedAgents(ctx context.Context) {
	seen := map[string]bool{}
	for _, a := range s.agents.list() {
		if seen[a.TokenID] {
			continue
		}
		seen[a.TokenID] = true
		_, err := s.store.GetAgentToken(ctx, a.TokenID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.log.Info("agent token deleted: disconnecting its agents", "agent_token", a.TokenID)
			s.DisconnectAgents(a.TokenID)
		case err != nil && ctx.Err() == nil:
			s.log.Error("check agent token", "agent_token", a.TokenID, "error", err)
		}
	}
}
