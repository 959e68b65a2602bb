package relay

import (
	"context"
	"slices"
	"time"
)

// Leases.
//
// Every delivery the engine holds (queued or being attempted, fresh or
// claimed) is leased to this process in the store under a claim, which
// job.leaseID names. A lease is short (Options.Lease, DefaultLease), so
// that the deliveries of a node that died come due on the others soon;
// the renewer extends the leases of all held deliveries every lease/3
// with one Store.RenewClaims call, so that an attempt may take longer
// than a lease. A lease the store reports lost (it ran out, because the
// store could not be reached for a while or the process stalled, and
// another claim may have taken the delivery) is dropped: a queued job is
// forgotten, and a job being attempted is not recorded (the store refuses
// its record anyway: RecordAttempt checks the claim).

// renewEvery is how often the leases are renewed: three renewals fit in a
// lease, so that one or two failed rounds lose none.
func (e *engine) renewEvery() time.Duration { return max(e.lease/3, time.Millisecond) }

// renewer renews the leases of the held deliveries until ctx ends: the
// server's shutdown ends it once the workers are done, so that the
// attempts of a shutdown's grace period keep their leases.
func (e *engine) renewer(ctx context.Context) {
	defer e.renewN.Done()
	t := time.NewTicker(e.renewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.renewRound(ctx)
	}
}

// renewalLeaseLocked is the claim under which j's delivery is held: the
// claim that took it again while it was attempted (see job.reclaimed), or
// its own.
func (j *job) renewalLeaseLocked() string {
	if j.reclaimed != nil {
		return j.reclaimed.LeaseID
	}
	if j.lost {
		return ""
	}
	return j.leaseID
}

// renewRound renews the leases of every held delivery in one store call,
// and drops the ones reported lost.
func (e *engine) renewRound(ctx context.Context) {
	e.mu.Lock()
	if e.noRenew {
		e.mu.Unlock()
		return
	}
	refs := make([]LeaseRef, 0, len(e.held))
	for id, j := range e.held {
		if lid := j.renewalLeaseLocked(); lid != "" {
			refs = append(refs, LeaseRef{ID: id, LeaseID: lid})
		}
	}
	e.mu.Unlock()
	if len(refs) == 0 {
		return
	}
	lost, err := e.s.store.RenewClaims(ctx, e.s.opts.Now().Add(e.lease), refs)
	if err != nil {
		if ctx.Err() == nil {
			e.s.log.Error("delivery engine: renew leases", "count", len(refs), "error", err)
		}
		return
	}
	if len(lost) == 0 {
		return
	}
	sent := make(map[string]string, len(refs))
	for _, r := range refs {
		sent[r.ID] = r.LeaseID
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range lost {
		j := e.held[id]
		if j == nil || sent[id] == "" || j.renewalLeaseLocked() != sent[id] {
			// Recorded, released or claimed again since the round
			// began: the report is about a claim the engine no longer
			// holds the delivery under.
			continue
		}
		e.leaseLostLocked(j)
	}
}

// leaseLostLocked drops j's claim, which a renewal found lost.
func (e *engine) leaseLostLocked(j *job) {
	if j.reclaimed != nil {
		// The claim that took the delivery again mid-attempt is lost:
		// another process holds the delivery now.
		e.s.leaseLost(j, "renewal")
		j.reclaimed = nil
		return
	}
	if j.taken {
		// Being attempted: the worker does not record it (and counts
		// the loss then).
		j.lost = true
		return
	}
	// Queued: forgotten at once.
	e.s.leaseLost(j, "renewal")
	l := e.lanes[j.d.OutputID]
	if l != nil {
		if i := slices.Index(l.queue[l.head:], j); i >= 0 {
			l.queue = slices.Delete(l.queue, l.head+i, l.head+i+1)
		}
		if l.head >= len(l.queue) {
			l.queue, l.head = l.queue[:0], 0
		}
	}
	e.unholdLocked(j)
	e.heldN--
	e.heldSize -= j.size
	if l != nil && l.held() == 0 && !l.backlog {
		delete(e.lanes, l.id)
	}
}

// isLost reports whether a renewal found j's lease lost.
func (e *engine) isLost(j *job) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return j.lost
}

// forget drops j, being attempted, whose attempt was not recorded because
// its lease is lost; done still ends it. It returns the delivery as a
// claim of this process took it again meanwhile (see job.reclaimed), if
// one did: only j knew of that claim, which the caller checks and
// requeues (requeueReclaimed).
func (e *engine) forget(j *job) *Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unholdLocked(j)
	r := j.reclaimed
	j.reclaimed = nil
	return r
}

// requeueReclaimed queues r, which a claim of this process took while j
// was attempted and whose lease the caller found still held, unless a
// claim returned it again since.
func (e *engine) requeueReclaimed(j *job, r *Delivery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[r.ID] != nil {
		return
	}
	nj := &job{d: r}
	if j.ephemeral && j.req != nil {
		nj.req, nj.ephemeral = j.req, true
	}
	e.queueClaimedLocked(nj)
}

// leaseLost logs and counts a lost lease, found at a renewal or at the
// record of an attempt: ids only.
func (s *Server) leaseLost(j *job, when string) {
	s.metrics.leaseLost.Inc()
	s.log.Warn("delivery lease lost: another node may attempt the delivery", "delivery", j.d.ID,
		"output", j.d.OutputID, "webhook", j.d.WebhookID, "node", s.opts.Node, "found_at", when)
}
