// Package relay is the webhook relay: buckets of inputs and outputs, the
// ingress that receives webhooks on /v1/webhooks/{input_id}[/extra/path],
// bucket authentication, the answer to the caller, and durable delivery to
// the outputs' destinations through the egress client.
//
// # Request flow
//
//  1. CONNECT (which the egress client never sends) is refused with 405,
//     and an extra path with a "." or ".." segment after percent-decoding
//     with 400, before the input is looked up. The input is looked up, by
//     its UUID in any case, in an in-memory routing snapshot (rebuilt by
//     Reload after every change), so the hot path reads no database. An
//     unknown input answers as a known input of a bucket without auth in
//     default mode does (the body read, 413 over the limit, else 200 and
//     an empty body) unless Options.UnknownInputStatus says otherwise.
//  2. Bucket auth (basic or token) is checked (see Verifier): unknown token
//     ids and users cost what known ones do, and ids whose bcrypt checks
//     keep failing are answered 429. Every relay credential is removed
//     from the forwarded request (every X-Relay-Token, every token query
//     parameter, every Authorization value that is a relay credential),
//     the rest of the query kept byte for byte. A body over
//     Options.MaxBodyBytes is 413.
//  3. The input's function runs. A function error, or r:StopForwarding(),
//     means no delivery is made.
//  4. The webhook and one pending delivery per enabled output are committed
//     to the store in one transaction before the caller gets an answer.
//  5. The caller is answered by the input's response mode: default (200 at
//     once), static, function (what the function set), or destination (the
//     first output's first answer, or 504 after the input's timeout). In
//     default and function mode a response the function set is answered; in
//     destination mode too, when the function stopped forwarding.
//  6. The delivery engine (below) hands each delivery to a worker: the
//     output's function runs, the extra path is appended to the
//     destination, as the caller encoded it, unless the output locks its
//     path (a path the function set is resolved within the destination's),
//     and the request is sent through the egress client under the bucket's
//     name. RetryPolicy decides what follows an attempt: network errors,
//     timeouts, 408, 429 and 5xx are retried with exponential (or fixed)
//     backoff and jitter up to the output's max_attempts; an egress denial,
//     a destination that cannot be requested and every other answer are
//     final: a 2xx is a success, anything else a failure. After the final
//     attempt the output's response function runs with the destination's
//     answer as its request (status in r.Metadata.status).
//
// # The delivery engine
//
// Pending deliveries live in the store; the relay holds in memory only the
// ones it is about to attempt, each leased to it in the store (Store.ClaimDue)
// so that no other process attempts it meanwhile.
//
//   - A fresh delivery is stored already leased to this process and handed
//     to the engine with its request: no polling delay, no store round trip.
//   - Retries, replays and the deliveries a restart resumes are claimed from
//     the store in bounded batches, per output, by one claimer that sleeps
//     on one timer set for the earliest due delivery. Their requests are
//     read from the store when attempted.
//   - Memory is bounded: Options.MaxReady deliveries and
//     Options.MaxReadyBytes request bytes at most (an output at most half of
//     them); past that, a fresh delivery waits in the store, due, and is
//     claimed when room frees up.
//   - Options.Workers attempts run at once in all, and at most an output's
//     max_in_flight (DefaultMaxInFlight) to one output; the workers take the
//     outputs with work in turn, so a destination that hangs holds only its
//     own max_in_flight workers and slows no other output.
//   - A lease (Options.Lease, DefaultLease: 30s) ends when the attempt is
//     recorded, when the relay shuts down without attempting the delivery,
//     or when its time is up: a process that died leaves its deliveries due
//     again then. The engine renews the leases of every delivery it holds
//     (queued or in flight) every third of a lease, in one store call, so
//     an attempt may outlast its lease. A lease found lost (it ran out and
//     another process may have claimed the delivery) drops the delivery
//     from memory unattempted, or, in flight, keeps its attempt from being
//     recorded (the store refuses it: Store.RecordAttempt), logged and
//     counted (relayfn_delivery_lease_lost_total). A process that restarts
//     under the same Options.Node name takes its predecessor's leases back
//     at once; two running processes must not share a name.
//
// # Several nodes
//
// Several relay processes (nodes) may share one PostgreSQL store behind a
// load balancer, each with an Options.Node name of its own (cluster.go).
// Each accepts webhooks and admin requests and delivers what it claims. A
// store several nodes share reports changes (Watcher): Start follows them,
// reloading the routes when any node changes them and claiming at once the
// deliveries other nodes store unclaimed, replay or release (watch.go);
// the claimer also polls every few seconds rather than every 30. The
// retention purge runs on one node at a time (Exclusive). A delivery is
// attempted by the node that holds its lease; when a node dies, the others
// take its deliveries once their leases run out. A webhook to an input the
// node's routes do not know is looked up in the store (another node may
// have made the input a moment ago, its notice not yet here): concurrent
// webhooks to one ID share a lookup, and a node looks up at most 50 IDs a
// second (bursts of 50), so that webhooks to made-up IDs cannot flood the
// database; past that, they are answered as unknown without a lookup
// (relayfn_unknown_input_lookups_total counts them by result).
//
// # The request log
//
// Each stored webhook keeps its journey (journey.go): the request as
// received when the input's function changed it (Webhook.Received; the
// store keeps only what differs from the request as forwarded), what else
// the function did (FunctionOutcome, kept when it stopped forwarding or set
// an answer), the caller's answer (Webhook.Status, Answer), and on every
// attempt the destination's answer (Attempt.ResponseHeader and the first
// MaxRecordedResponseBody bytes of Attempt.ResponseBody). None of it is
// kept for an ephemeral bucket. Store.ListWebhooks lists the log.
//
// Server.Subscribe follows the live event stream (events.go): every
// webhook answered on the ingress, refused ones included, and every
// attempt recorded. Publishing never blocks: each subscriber has a
// bounded buffer, and one that falls behind misses events and is told how
// many; without subscribers, publishing costs an atomic load.
//
// # Agents
//
// An internal output is never dialed: a worker that takes one of its
// deliveries hands it to the agent hub (agents.go), which sends it over
// the WebSocket of one connected agent of the bucket (api.AgentPath on the
// public listener) and waits for the agent's report, recorded as the
// attempt like a direct send's answer. With no agent of the bucket
// connected to this node, the output's deliveries are neither admitted
// fresh nor held: they wait in the store, due, no attempt spent (another
// node may have the agent, and claims them), and the output is parked (not
// claimed) until an agent connects here or the oldest waiting delivery's
// agent window ends, when it fails. A delivery whose agent disconnects
// before reporting goes back to the store and is sent again. An agent
// connects to one node, and the deliveries of its buckets reach it from
// any node; but a caller waiting in destination mode is answered only by
// an agent connected to the node that received its webhook, and an
// ephemeral bucket's deliveries (whose requests live in the receiving
// node's memory) only through an agent connected to that node.
//
// Delivery is at least once: a webhook acknowledged to its caller survives
// a crash and is delivered after a restart; one whose success was recorded
// is never sent again. A delivery in flight when the process died is sent
// again. Shutdown finishes the attempts in flight (or, past its grace
// period, records them pending as they were) and releases the leases of
// the deliveries not attempted. Deliveries of an ephemeral bucket keep
// their requests in memory only (the store never holds their bodies),
// whatever the memory caps, and are marked failed if the relay restarts
// before they finish.
package relay
