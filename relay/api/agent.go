package api

import (
	"net/http"
	"time"
)

// Agents: the wire types of agent tokens and connected agents in the admin
// API, and the messages of the agent protocol.
//
// An agent connects to AgentPath on the relay's public listener with a
// WebSocket (subprotocol AgentProtocol), its credential in the
// Authorization header ("Bearer <id>.<secret>") and the buckets it
// subscribes to as "bucket" query parameters (names or IDs; none means
// every bucket of its token), and its name as "name". A refused credential
// is answered before the upgrade, 401 or 403 with the reason as a text
// body. Then both sides exchange AgentMessage values as JSON text
// messages: the relay sends "welcome" and then "delivery"; the agent
// answers each delivery with one "result", and sends "drain" when it stops
// taking new deliveries (before it exits).

// AgentPath is where agents connect on the relay's public listener.
const AgentPath = "/v1/agent"

// AgentProtocol is the WebSocket subprotocol of the agent protocol.
const AgentProtocol = "relayfn-agent.v1"

// AgentMaxResponseBody is the most of a destination's answer body an
// agent reports.
const AgentMaxResponseBody = 64 << 10

// Agent message types.
const (
	AgentWelcome  = "welcome"
	AgentDelivery = "delivery"
	AgentResult   = "result"
	AgentDrain    = "drain"
)

// AgentMessage is one message of the agent protocol; Type says which
// fields are set.
type AgentMessage struct {
	Type string `json:"type"`
	// ID is a delivery's ID (delivery, result) or the agent's connection
	// ID (welcome).
	ID string `json:"id,omitempty"`

	// welcome: the buckets (names) the agent is subscribed to.
	Buckets []string `json:"buckets,omitempty"`

	// delivery: what to send, and where (the output's destination with
	// the webhook's path and query), within Timeout.
	Bucket  string      `json:"bucket,omitempty"`
	Output  string      `json:"output,omitempty"`
	Method  string      `json:"method,omitempty"`
	URL     string      `json:"url,omitempty"`
	Header  http.Header `json:"header,omitempty"`
	Body    []byte      `json:"body,omitempty"`
	Timeout Duration    `json:"timeout,omitempty"`

	// result: the destination's answer (Body at most
	// AgentMaxResponseBody bytes), or Error when there was none. Refused
	// means the agent would not send the request (a destination outside
	// its --allow list): the relay does not retry it.
	Status     int     `json:"status,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Error      string  `json:"error,omitempty"`
	Refused    bool    `json:"refused,omitempty"`
}

// AgentToken is an agent's credential, scoped to buckets (never its
// secret).
type AgentToken struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Buckets are the names of the buckets it grants.
	Buckets   []string  `json:"buckets"`
	CreatedAt time.Time `json:"created_at"`
}

// AgentTokenRequest makes an agent token (POST /v1/admin/agent-tokens).
type AgentTokenRequest struct {
	Name string `json:"name,omitempty"`
	// Buckets are names or IDs; at least one.
	Buckets []string `json:"buckets"`
}

// NewAgentToken is a new agent token with its credential, "<id>.<secret>",
// shown this once.
type NewAgentToken struct {
	Token      *AgentToken `json:"token"`
	Credential string      `json:"credential"`
}

// Agent is an agent connected to the relay (GET /v1/admin/agents).
type Agent struct {
	// ID names this connection.
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	TokenID string    `json:"token_id"`
	Buckets []string  `json:"buckets"`
	Remote  string    `json:"remote_addr"`
	Since   time.Time `json:"connected_at"`
	// InFlight deliveries were sent and not answered yet; Delivered and
	// Failed count the answered ones (a 2xx, or anything else) since it
	// connected.
	InFlight  int64 `json:"in_flight"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
}
