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
//  6. Workers deliver: the output's function runs, the extra path is
//     appended to the destination, as the caller encoded it, unless the
//     output locks its path (a path the function set is resolved within the
//     destination's), and the request is sent through the egress client
//     under the bucket's name.
//     Network errors, 408, 429 and 5xx are retried with exponential backoff
//     and jitter up to the output's max_attempts; other answers are final:
//     a 2xx is a success, anything else a failure.
//     After the final attempt the output's response function runs with the
//     destination's answer as its request (status in r.Metadata.status).
//
// Delivery is at least once: a webhook acknowledged to its caller survives
// a crash and is delivered after a restart; one whose success was recorded
// is never sent again. A delivery in flight when the process died is sent
// again. Deliveries of an ephemeral bucket live in memory only (the store
// never holds their bodies) and are marked failed if the relay restarts
// before they finish.
package relay
