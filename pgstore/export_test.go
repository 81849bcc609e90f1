package pgstore

import "context"

// RenewClaims renews c's claims at once, as its background renewal does
// every third of the lease.
func RenewClaims(ctx context.Context, c *Checkpoint) error { return c.renew(ctx) }

// RenewersRunning counts the claim renewals s has running.
func RenewersRunning(s *Store) int {
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	return len(s.renewers)
}
