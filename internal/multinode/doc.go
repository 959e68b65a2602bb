// Package multinode holds the end-to-end tests of relayfn run as real
// `fnctl serve` processes: the binary is built once, nodes are started,
// killed with SIGKILL and restarted as an operator would, and webhooks are
// sent to them over loopback from the test, which is also their
// destination. The package has no code of its own, only tests:
//
//   - TestSeveralNodes: three nodes on one PostgreSQL schema, 3,000
//     webhooks sent round-robin while node 2 is killed and restarted;
//     every acknowledged webhook is delivered, and a webhook delivered
//     twice was in flight on the killed node; then an admin change made
//     through node 1 takes effect on node 3 within 2 s; last, node 3 is
//     killed for good and the others deliver what it held when its
//     leases end. It needs RELAYFN_TEST_POSTGRES (see internal/pgtest),
//     as CI sets.
//   - TestNodesStartTogether: three nodes started at once on an empty
//     schema with the same relay.yaml: one migration, one admin token,
//     the file's bucket applied once, webhooks delivered through all.
//   - TestOneNodeSQLite: the checks of TestSeveralNodes with one node on
//     SQLite.
//   - TestScaleOut: the scale-out numbers (webhooks/s of one node on
//     PostgreSQL against SQLite, the CPU each webhook costs the node and
//     PostgreSQL, one node against two), run only with RELAYFN_SCALE=1.
//
// The numbers:
//
//	RELAYFN_SCALE=1 RELAYFN_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test \
//	    go test -count=1 -run TestScaleOut -v ./internal/multinode
//
// Each node's stderr goes to a file in the test's temporary folder; when a
// test fails, the tail of every node's log is printed.
package multinode
