package relay

// StopLeaseRenewals stops s's engine from renewing its leases, so that a
// test can let them run out.
func StopLeaseRenewals(s *Server) {
	s.sched.mu.Lock()
	s.sched.noRenew = true
	s.sched.mu.Unlock()
}
