// Package api holds the wire types of the relay's admin API: every request
// and response body, as JSON. It is a leaf: it imports only the standard
// library and relay/store (for the store's two errors, itself a leaf), so
// a client (relay/client, fnctl, a CI script in Go) links neither the Lua
// engine nor the BigQuery SDK. relay/admin converts between these types
// and the relay's model.
//
// Durations are Go duration strings ("5s", "1m30s") both ways; when
// reading, a JSON number of nanoseconds is accepted too. Times are RFC
// 3339. Enumerations (auth types, response modes, delivery states,
// backoffs) are plain strings with the values the relay's model defines.
//
// It also holds the agent protocol's messages (agent.go): fnctl agent
// speaks it over a WebSocket to the relay's public listener.
package api

import "github.com/relayfn/relayfn/relay/store"

// Prefix is the path the admin API is mounted under.
const Prefix = "/v1/admin/"

// MaxDeliveries caps the limit of a delivery listing.
const MaxDeliveries = 1000

// ErrNotFound and ErrConflict are the store's errors (relay/store): a
// client's error for a 404 or a 409 answer matches them with errors.Is,
// as a store's own error does.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = store.ErrConflict
)
