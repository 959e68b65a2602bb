// Package store holds what every implementation of the relay's store
// shares: the errors a caller tests for. It is a leaf, so that clients,
// the admin API and the stores agree on these errors without linking one
// another.
package store

import "errors"

// ErrNotFound is returned (wrapped) by stores for a missing record.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) by stores for a name already taken.
var ErrConflict = errors.New("already exists")

// ErrLeaseLost is returned (wrapped) by stores when a process records or
// renews a claim that is no longer its own: its lease ran out and the
// delivery was claimed again, or it ended.
var ErrLeaseLost = errors.New("lease lost")
