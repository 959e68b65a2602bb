package relay

import (
	"context"
	"sync"
	"time"
)

// The delivery engine.
//
// Deliveries live in the store; the engine holds in memory only those it
// is about to attempt (the ready set), each leased to this process in the
// store, so that no other process attempts it meanwhile and a crashed
// process's work comes due again when its leases end.
//
// Work enters the ready set two ways. The ingress hands a fresh
// delivery over at once, request included, after storing it already
// leased (no store round trip, no polling delay). Everything else (retries,
// replays, deliveries a restart resumes, fresh ones that found the ready
// set full) is claimed from the store in bounded batches by one claimer
// goroutine, which sleeps on one timer set for the earliest due delivery.
// Bodies of claimed deliveries are read from the store when attempted,
// except those of ephemeral buckets, which live only in memory.
//
// The ready set is a queue per output (a lane). A fixed pool of workers
// takes jobs from the lanes in turn (round-robin over the lanes that have
// work and room), and a lane never has more than its output's
// max_in_flight attempts running: a destination that hangs holds that many
// workers, never all of them. The ready set is capped in count and in
// request bytes, in all and per output; past a cap, a fresh delivery stays
// in the store, due at once, and is claimed when room frees up.

// job is a delivery held in memory. req holds the request of a fresh
// delivery (or of an ephemeral bucket's); nil means read it from the store.
type job struct {
	d         *Delivery
	req       *HTTPRequest
	ephemeral bool
	size      int64 // bytes of req counted against the caps
	// slot is set while the job holds one of its lane's max_in_flight.
	slot bool
	// released is set when the job's claim went back to the store (no
	// agent took it): the delivery may be claimed again before done.
	released bool
	// taken is set once a worker took the job.
	taken bool
	// leaseID names the claim the job holds its delivery under (the
	// ingress's for a fresh delivery, ClaimDue's for a claimed one): the
	// lease the engine renews, and the one RecordAttempt checks.
	leaseID string
	// lost is set when a renewal found the job's lease no longer its
	// own: another process may have claimed the delivery, and the job's
	// attempt must not be recorded.
	lost bool
	// reclaimed is the delivery as a claim returned it while the job was
	// being attempted: its retry was recorded before the worker told the
	// engine (or its lease ran out mid-attempt). retry queues it, unless
	// it is older than the attempt the job recorded; forget queues it when
	// the attempt's record was refused (this claim replaced the job's).
	reclaimed *Delivery
}

// lane is an output's part of the ready set.
type lane struct {
	id       string
	limit    int // max_in_flight
	inFlight int
	queue    []*job
	head     int
	// reserved counts admissions whose jobs are not pushed yet.
	reserved int
	// queued marks a lane in the engine's run queue.
	queued bool
	// backlog means the store may hold due deliveries of this output that
	// are not in memory: room in the lane calls the claimer.
	backlog bool
}

func (l *lane) ready() int { return len(l.queue) - l.head }

// held is how many of the lane's deliveries are in memory.
func (l *lane) held() int { return l.ready() + l.inFlight + l.reserved }

func (l *lane) runnable() bool { return l.ready() > 0 && l.inFlight < l.limit }

func (l *lane) pop() *job {
	j := l.queue[l.head]
	l.queue[l.head] = nil
	l.head++
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	} else if l.head > 64 && l.head*2 > len(l.queue) {
		n := copy(l.queue, l.queue[l.head:])
		clear(l.queue[n:])
		l.queue, l.head = l.queue[:n], 0
	}
	return j
}

// claimTarget is how many claimed deliveries a lane keeps ready: enough
// to keep its workers busy between two claims, few enough that a claimed
// delivery is attempted well within its lease.
func claimTarget(limit int) int { return max(4*limit, 32) }

// claimPoll is the longest the claimer sleeps without a round.
const claimPoll = 30 * time.Second

// sharedClaimPoll is claimPoll on a store several nodes share (a
// Watcher): the store reports the work other nodes add or release
// (ChangeWork) at once, but not a retry another node recorded and then
// died before it fell due, nor a lease that ran out; polling every few
// seconds finds those soon, at the cost of one cheap claim query per node
// and poll.
const sharedClaimPoll = 5 * time.Second

// laneCap is the most deliveries one lane holds in memory: half the
// ready set, so that a flood to one output leaves room for the others.
func (e *engine) laneCap(limit int) int { return max(64*limit, e.maxHeld/2) }

// engine schedules the deliveries of a Server.
type engine struct {
	s     *Server
	owner string
	lease time.Duration

	maxHeld  int
	maxBytes int64

	// poll is the longest the claimer sleeps without a round: claimPoll,
	// or sharedClaimPoll on a shared store.
	poll time.Duration

	mu    sync.Mutex
	cond  *sync.Cond // a lane became runnable, or the engine closed
	lanes map[string]*lane
	runq  []*lane // runnable lanes, in turn
	// held maps the IDs of the deliveries in memory whose attempt is not
	// recorded yet to their jobs: a claim returns them again only if their
	// lease ran out, and then they are not queued twice.
	held     map[string]*job
	heldN    int
	heldSize int64
	closed   bool
	late     []string // deliveries leased after close, to release
	// ephemeral keeps the requests of ephemeral buckets' deliveries that
	// wait in the store for a retry: they are stored nowhere else.
	ephemeral map[string]*HTTPRequest
	// parked maps an internal output with no agent connected to when the
	// oldest of its waiting deliveries reaches its agent window: until
	// then (or until an agent connects) none of them is claimed.
	parked map[string]time.Time
	// noRenew stops lease renewals (tests of lease loss).
	noRenew bool

	// The claimer's state: a round is needed (room freed, work added), and
	// the time of the earliest due delivery it knows of.
	round    bool
	wakeAt   time.Time
	notify   chan struct{}
	claimerN sync.WaitGroup
	// renewN waits for the renewer, which runs until the workers are done.
	renewN sync.WaitGroup
}

func newEngine(s *Server) *engine {
	e := &engine{
		s:         s,
		owner:     s.opts.Node,
		lease:     s.opts.Lease,
		maxHeld:   s.opts.MaxReady,
		maxBytes:  s.opts.MaxReadyBytes,
		lanes:     map[string]*lane{},
		held:      map[string]*job{},
		ephemeral: map[string]*HTTPRequest{},
		parked:    map[string]time.Time{},
		notify:    make(chan struct{}, 1),
		poll:      claimPoll,
	}
	if _, ok := s.opts.Store.(Watcher); ok {
		e.poll = sharedClaimPoll
	}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// limitOf is an output's max_in_flight, from the current routes.
func (e *engine) limitOf(outputID string) int {
	if or := e.s.routes.Load().outputs[outputID]; or != nil && or.output.MaxInFlight > 0 {
		return or.output.MaxInFlight
	}
	return DefaultMaxInFlight
}

// laneLocked returns the lane of an output, making it when missing.
func (e *engine) laneLocked(outputID string) *lane {
	l := e.lanes[outputID]
	if l == nil {
		l = &lane{id: outputID, limit: e.limitOf(outputID)}
		e.lanes[outputID] = l
	}
	return l
}

// admit reserves room for a fresh delivery of size request bytes, which
// the caller then stores leased to this process and hands over with push,
// or gives back with unreserve. force admits past the caps (an ephemeral
// bucket's delivery, whose request lives nowhere else, or one a caller
// waits for). A delivery not admitted is stored unclaimed and due: the
// claimer takes it when room frees up.
func (e *engine) admit(outputID string, size int64, force bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.laneLocked(outputID)
	if e.closed {
		return false
	}
	if !force && (e.heldN >= e.maxHeld || e.heldSize+size > e.maxBytes || l.held() >= e.laneCap(l.limit)) {
		l.backlog = true
		return false
	}
	l.reserved++
	e.heldN++
	e.heldSize += size
	return true
}

// unreserve gives back an admission whose delivery was not stored.
func (e *engine) unreserve(outputID string, size int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.laneLocked(outputID)
	l.reserved--
	e.heldN--
	e.heldSize -= size
}

// push hands an admitted fresh delivery to its lane.
func (e *engine) push(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.laneLocked(j.d.OutputID)
	l.reserved--
	if e.closed {
		// Stored leased: released at shutdown (when it comes this late,
		// at the next start of this Node, or when the lease ends).
		e.heldN--
		e.heldSize -= j.size
		e.late = append(e.late, j.d.ID)
		return
	}
	if j.leaseID == "" {
		j.leaseID = j.d.LeaseID
	}
	e.held[j.d.ID] = j
	l.queue = append(l.queue, j)
	e.wakeLaneLocked(l)
}

// wakeLaneLocked queues l in the run queue when it can run.
func (e *engine) wakeLaneLocked(l *lane) {
	if !l.queued && l.runnable() {
		l.queued = true
		e.runq = append(e.runq, l)
		e.cond.Signal()
	}
}

// next blocks for the next job to attempt, taking one from each runnable
// lane in turn; ok is false once the engine is closed.
func (e *engine) next() (*job, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.closed {
			return nil, false
		}
		for len(e.runq) > 0 {
			l := e.runq[0]
			e.runq[0] = nil
			e.runq = e.runq[1:]
			l.queued = false
			if !l.runnable() {
				continue // its limit went down since it was queued
			}
			j := l.pop()
			j.slot = true
			j.taken = true
			l.inFlight++
			e.wakeLaneLocked(l) // to the back of the turn
			return j, true
		}
		e.cond.Wait()
	}
}

// sent gives back j's place among its output's max_in_flight once its
// request is answered: recording the attempt does not hold the
// destination.
func (e *engine) sent(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.freeSlotLocked(j)
}

func (e *engine) freeSlotLocked(j *job) *lane {
	l := e.laneLocked(j.d.OutputID)
	if j.slot {
		j.slot = false
		l.inFlight--
		e.wakeLaneLocked(l)
	}
	return l
}

// done ends an attempted job: its delivery is recorded (finished, or back
// in the store for a retry).
func (e *engine) done(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.freeSlotLocked(j)
	if !j.released {
		e.unholdLocked(j)
	}
	e.heldN--
	e.heldSize -= j.size
	if l.backlog && l.ready() <= claimTarget(l.limit)/2 && e.heldN < e.maxHeld {
		l.backlog = false // until the claim says otherwise
		e.kickLocked()
	}
	if l.held() == 0 && !l.backlog {
		delete(e.lanes, l.id)
	}
}

// unholdLocked forgets j's delivery as held, unless it is held by another
// job (claimed again since j's attempt was recorded).
func (e *engine) unholdLocked(j *job) {
	if e.held[j.d.ID] == j {
		delete(e.held, j.d.ID)
	}
}

// retry keeps an ephemeral bucket's request for the retry of j, due at
// at, and sets the claimer's timer for it. j's attempt is recorded: a
// claim may return its delivery from now on, even before j is done; one
// that returned it before this call (see claimedLocked) is queued here.
func (e *engine) retry(j *job, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unholdLocked(j)
	if r := j.reclaimed; r != nil {
		j.reclaimed = nil
		if r.Attempts >= j.d.Attempts {
			// Claimed after the retry was recorded: it is leased to
			// this process now, and only this job knows it.
			nj := &job{d: r}
			if j.ephemeral && j.req != nil {
				nj.req, nj.ephemeral = j.req, true
			}
			e.queueClaimedLocked(nj)
			return
		}
		// Claimed before the retry was recorded, which ended the lease:
		// the store has it due at at.
	}
	if j.ephemeral && j.req != nil {
		e.ephemeral[j.d.ID] = j.req
	}
	e.wakeLocked(at)
}

// release forgets j, whose claim the caller releases in the store: no
// agent took it. A parkUntil not zero parks j's output until then (see
// engine.parked).
func (e *engine) release(j *job, parkUntil time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unholdLocked(j)
	j.released = true
	if j.ephemeral && j.req != nil {
		e.ephemeral[j.d.ID] = j.req
	}
	if parkUntil.IsZero() {
		return
	}
	if cur, ok := e.parked[j.d.OutputID]; !ok || parkUntil.Before(cur) {
		e.parked[j.d.OutputID] = parkUntil
	}
	e.wakeLocked(parkUntil)
}

// agentsChanged unparks every output: an agent connected, and the
// deliveries waiting for one are claimed now, oldest first.
func (e *engine) agentsChanged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.parked)
	e.kickLocked()
}

// wake sets the claimer's timer for a delivery due at at, unless it is
// set earlier.
func (e *engine) wake(at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.wakeLocked(at)
}

func (e *engine) wakeLocked(at time.Time) {
	if e.wakeAt.IsZero() || at.Before(e.wakeAt) {
		e.wakeAt = at
		e.notifyLocked()
	}
}

// kick asks the claimer for a round: work was added to the store.
func (e *engine) kick() {
	e.mu.Lock()
	e.kickLocked()
	e.mu.Unlock()
}

func (e *engine) kickLocked() {
	e.round = true
	e.notifyLocked()
}

func (e *engine) notifyLocked() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// reload takes new routes: output limits may have changed, outputs come
// and go.
func (e *engine) reload() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.lanes {
		l.limit = e.limitOf(l.id)
		e.wakeLaneLocked(l)
	}
	e.cond.Broadcast()
	e.kickLocked()
}

// depth is how many deliveries the engine holds in memory.
func (e *engine) depth() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.heldN
}

// start runs the claimer, which starts with a round, and the renewer of
// the leases, until ctx ends.
func (e *engine) start(ctx context.Context) {
	e.mu.Lock()
	e.round = true
	e.mu.Unlock()
	e.claimerN.Add(1)
	go e.claimer(ctx)
	e.renewN.Add(1)
	go e.renewer(ctx)
}

// close stops the workers from taking jobs and the claimer from claiming.
func (e *engine) close() {
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.notifyLocked()
	e.mu.Unlock()
}

// unattempted returns the IDs of the jobs left in the lanes, once the
// engine is closed and its workers and claimer have stopped.
func (e *engine) unattempted() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := e.late
	for _, l := range e.lanes {
		for _, j := range l.queue[l.head:] {
			ids = append(ids, j.d.ID)
		}
	}
	return ids
}

// claimedLocked takes a delivery a claim returned.
func (e *engine) claimedLocked(d *Delivery) {
	if h := e.held[d.ID]; h != nil {
		if h.taken {
			// Being attempted: its retry may be recorded already, and
			// then this claim is the only one that knows it is due. If
			// not, the attempt's lease ran out and this claim replaced
			// it: the attempt's record is refused (Server.record), and
			// forget queues the delivery under this claim.
			h.reclaimed = d
			return
		}
		// Ours already: its lease ran out while it waited, and it waits
		// on under this claim.
		h.leaseID, h.d.LeaseID, h.lost = d.LeaseID, d.LeaseID, false
		return
	}
	j := &job{d: d}
	if req, ok := e.ephemeral[d.ID]; ok {
		delete(e.ephemeral, d.ID)
		j.req, j.ephemeral = req, true
	}
	e.queueClaimedLocked(j)
}

// queueClaimedLocked puts a claimed delivery's job in its lane.
func (e *engine) queueClaimedLocked(j *job) {
	if e.closed {
		e.late = append(e.late, j.d.ID) // released at shutdown
		return
	}
	l := e.laneLocked(j.d.OutputID)
	if j.leaseID == "" {
		j.leaseID = j.d.LeaseID
	}
	e.held[j.d.ID] = j
	e.heldN++
	l.queue = append(l.queue, j)
	e.wakeLaneLocked(l)
}

// claimer claims due deliveries from the store in rounds: when asked to
// (room freed, work added) and when its one timer, set for the earliest
// due delivery it knows of, fires.
func (e *engine) claimer(ctx context.Context) {
	defer e.claimerN.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return
		}
		now := e.s.opts.Now()
		need := e.round || (!e.wakeAt.IsZero() && !now.Before(e.wakeAt))
		if need {
			e.round = false
			if !e.wakeAt.IsZero() && !now.Before(e.wakeAt) {
				e.wakeAt = time.Time{} // the round sets the next one
			}
		}
		// Work another process adds to the store (and a lost wake-up) is
		// found within e.poll.
		wait := e.poll
		if !e.wakeAt.IsZero() {
			wait = min(wait, e.wakeAt.Sub(now))
		}
		e.mu.Unlock()
		if need {
			next, ok := e.claimRound(ctx, now)
			if ok {
				e.mu.Lock()
				if e.wakeAt.IsZero() || next.Before(e.wakeAt) {
					e.wakeAt = next
				}
				e.mu.Unlock()
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-e.notify:
		case <-timer.C:
			e.mu.Lock()
			e.round = true
			e.mu.Unlock()
		case <-ctx.Done():
			return
		}
		timer.Stop()
	}
}

// claimRound claims due deliveries for every output with room, and
// returns when the next one falls due among the outputs that still have
// room (ok false when none is pending).
func (e *engine) claimRound(ctx context.Context, now time.Time) (time.Time, bool) {
	next, ok := e.claimOpen(ctx, now)
	// Parked outputs wake the claimer when their first window ends.
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, until := range e.parked {
		if !ok || until.Before(next) {
			next, ok = until, true
		}
	}
	return next, ok
}

// claimOpen claims due deliveries for every output with room that is not
// parked (see claimRound).
//
// An internal output with no agent of its bucket connected here is not
// claimed for its deliveries to wait in this process: another node may
// have the agent (the deliveries are its), and the store's ChangeWork
// wakes it when they are released or stored unclaimed. Such an output is
// claimed only to check on its waiting deliveries, and then parked
// (engine.parked) until the earliest agent window among them ends: the
// claimed ones within their window are released at once, in one call;
// the ones past it are queued, and a worker fails them (or hands them to
// an agent that connected meanwhile). On one node, that is the agent
// window of package agents.go; on several, deliveries an agent connected
// elsewhere does not take within their window fail the same way.
func (e *engine) claimOpen(ctx context.Context, now time.Time) (time.Time, bool) {
	rt := e.s.routes.Load()
	quota := map[string]int{}
	var open []string // outputs with room after this round
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return time.Time{}, false
	}
	skip := map[string]bool{}
	for id, until := range e.parked {
		or := rt.outputs[id]
		if or == nil || !or.output.Internal || !now.Before(until) || e.s.agents.connected(or.bucket.ID) {
			delete(e.parked, id)
			continue
		}
		skip[id] = true
	}
	// The agentless internal outputs this round checks on.
	check := map[string]*outputRoute{}
	room := e.maxHeld - e.heldN
	for id, or := range rt.outputs {
		if skip[id] {
			continue
		}
		if or.output.Internal && !e.s.agents.connected(or.bucket.ID) {
			check[id] = or
		}
		l := e.lanes[id]
		limit, ready := e.limitOf(id), 0
		if l != nil {
			limit, ready = l.limit, l.ready()+l.reserved
		}
		if n := claimTarget(limit) - ready; n > 0 {
			quota[id] = n
		}
	}
	// The room left is shared fairly among the outputs that want some.
	if len(quota) > 0 {
		share := max(1, room/len(quota))
		for id, n := range quota {
			quota[id] = min(n, share)
		}
	}
	if room <= 0 {
		clear(quota)
	}
	e.mu.Unlock()

	retry := func(err error, what string) (time.Time, bool) {
		e.s.log.Error("delivery engine: "+what, "error", err)
		return now.Add(time.Second), true
	}
	var ds []*Delivery
	if len(quota) > 0 {
		var err error
		ds, err = e.s.store.ClaimDue(ctx, Claim{Owner: e.owner, Now: now, Lease: e.lease, Quota: quota})
		if err != nil {
			if ctx.Err() != nil {
				return time.Time{}, false
			}
			return retry(err, "claim due deliveries")
		}
	}
	got := map[string]int{}
	var release []string // claims of agentless outputs, within their windows
	parkAt := map[string]time.Time{}
	e.mu.Lock()
	for _, d := range ds {
		got[d.OutputID]++
		if or := check[d.OutputID]; or != nil && e.held[d.ID] == nil && !e.s.agents.connected(or.bucket.ID) {
			if deadline := d.CreatedAt.Add(agentWindow(or.output)); now.Before(deadline) {
				release = append(release, d.ID)
				if at, ok := parkAt[d.OutputID]; !ok || deadline.Before(at) {
					parkAt[d.OutputID] = deadline
				}
				continue
			}
		}
		e.claimedLocked(d)
	}
	for id, or := range check {
		n, asked := quota[id]
		if !asked {
			continue // not checked: no room this round
		}
		at, released := parkAt[id]
		if !released {
			if got[id] >= n {
				continue // all past their windows, and maybe more: claimed again as room frees up
			}
			at = now.Add(agentWindow(or.output)) // none waits: any that comes waits a whole window
		}
		e.parked[id] = at
		skip[id] = true
	}
	for id := range rt.outputs {
		if skip[id] {
			continue
		}
		n, asked := quota[id]
		l := e.lanes[id]
		switch {
		case asked && got[id] >= n:
			// Maybe more: claim again when room frees up.
			e.laneLocked(id).backlog = true
		case asked || room > 0 && (l == nil || l.ready() < claimTarget(l.limit)):
			if l != nil {
				l.backlog = false
			}
			open = append(open, id)
		default:
			e.laneLocked(id).backlog = true
		}
	}
	e.mu.Unlock()
	if len(release) > 0 {
		if err := e.s.store.ReleaseClaims(context.WithoutCancel(ctx), e.owner, release); err != nil {
			// Their leases end on their own.
			e.s.log.Error("delivery engine: release deliveries waiting for an agent", "count", len(release), "error", err)
		}
	}
	if len(open) == 0 {
		return time.Time{}, false
	}
	next, ok, err := e.s.store.NextDue(ctx, open)
	if err != nil {
		if ctx.Err() != nil {
			return time.Time{}, false
		}
		return retry(err, "next due delivery")
	}
	return next, ok
}

// agentWindow is how long a delivery of the internal output o waits for
// an agent.
func agentWindow(o *Output) time.Duration {
	if o.AgentWindow > 0 {
		return o.AgentWindow
	}
	return DefaultAgentWindow
}
