package relay

import "time"

// StopLeaseRenewals stops s's engine from renewing its leases, so that a
// test can let them run out.
func StopLeaseRenewals(s *Server) {
	s.sched.mu.Lock()
	s.sched.noRenew = true
	s.sched.mu.Unlock()
}

// SetClaimPoll sets the longest s's claimer sleeps without a round, so
// that a test can tell a round the store's notification started from one
// the poll did.
func SetClaimPoll(s *Server, d time.Duration) {
	s.sched.mu.Lock()
	s.sched.poll = d
	s.sched.mu.Unlock()
}
