package relay

import "context"

// Several relay processes (nodes) may share one store: PostgreSQL. Each
// accepts webhooks and admin requests, and the store is what they
// coordinate through: deliveries are claimed under leases (Store.ClaimDue),
// and a shared store also implements Watcher, so that a change made on one
// node reaches the others at once, and Exclusive, so that periodic work
// runs on one node at a time. The SQLite store serves one process and
// implements neither.

// StoreChange is a kind of change a Watcher reports.
type StoreChange int

const (
	// ChangeRoutes: buckets, inputs, outputs, tokens, functions, their
	// configuration, specs, agent tokens or retention policies changed:
	// every node reloads its routes.
	ChangeRoutes StoreChange = iota + 1
	// ChangeWork: deliveries became due that a node did not claim when it
	// stored them (stored unclaimed, replayed, or released): the nodes
	// claim at once instead of at their next poll.
	ChangeWork
)

// Watcher is implemented by a store several processes share. Watch calls
// fn for each change made through the store by any process, this one
// included, until ctx ends; it returns ctx's error then, or the error
// that stopped it. Once it listens, and again after a lost connection, it
// calls fn with every kind of change, since changes may have been made
// unseen before (a node loads its routes before it starts watching) or
// meanwhile. fn must not block.
type Watcher interface {
	Watch(ctx context.Context, fn func(StoreChange)) error
}

// Exclusive is implemented by a store several processes share. Exclusively
// runs fn unless another process is running work of the same name, and
// reports whether it ran it: periodic work (the retention purge) runs on
// one node at a time.
type Exclusive interface {
	Exclusively(ctx context.Context, name string, fn func(ctx context.Context) error) (ran bool, err error)
}
