// Package admin is the relay's admin REST API, mounted under /v1/admin/.
//
// # Authentication
//
// Every request carries an admin token: "Authorization: Bearer
// <id>.<secret>". Token secrets are 256-bit random values stored as
// SHA-256 hashes; tokens of earlier versions, stored as bcrypt hashes,
// keep working (a verified one is remembered in memory, so that bcrypt
// runs once per client). A missing, malformed, unknown or bucket (rather
// than admin) token is answered 401, an unknown id at the cost of a known
// one; an id with 5 failed bcrypt checks within a minute is answered 429.
// Bootstrap makes the first admin token of a fresh store; the credential
// of a token is shown once, when it is made.
//
// # Conventions
//
// Bodies are JSON (apply takes YAML). Errors are {"error": "..."} with 400
// for a request that fails validation (the message names the field, as
// "destination: \"ftp://x\" is not an http(s) URL"), 401, 404 for a
// missing object, 405, 409 for a taken name or an object in use, 413 for
// a body over the limit, and 500 with the details only in the relay's
// log. Creates answer 201 with the object, deletes 204. Buckets and
// functions are addressed by ID or name, inputs, outputs, tokens and
// deliveries by ID. Request and answer bodies are the types of package
// relay/api. Durations are Go duration strings ("5s") both ways; requests
// may also give nanoseconds. Every change is followed by a reload of the
// relay's routing. Secrets (token
// secrets, basic-auth passwords, function configuration values) are never
// answered, except a token's credential once, and never logged.
//
// # Endpoints
//
//	GET    /v1/admin/tokens                          admin tokens
//	POST   /v1/admin/tokens                          api.TokenRequest → 201 api.NewToken (credential shown once)
//	DELETE /v1/admin/tokens/{id}                     an admin, bucket or agent token (not the last admin token: 409)
//
//	GET    /v1/admin/buckets                         []api.Bucket
//	POST   /v1/admin/buckets                         api.BucketRequest → 201 api.Bucket
//	GET    /v1/admin/buckets/{bucket}                api.Bucket
//	PATCH  /v1/admin/buckets/{bucket}                api.BucketRequest → api.Bucket
//	DELETE /v1/admin/buckets/{bucket}                with its inputs, outputs, tokens and webhooks
//	GET    /v1/admin/buckets/{bucket}/tokens         []api.Token
//	POST   /v1/admin/buckets/{bucket}/tokens         api.TokenRequest → 201 api.NewToken
//
//	GET    /v1/admin/buckets/{bucket}/inputs         []api.Input
//	POST   /v1/admin/buckets/{bucket}/inputs         api.InputRequest → 201 api.Input
//	GET    /v1/admin/inputs/{id}                     api.Input
//	PATCH  /v1/admin/inputs/{id}                     api.InputRequest → api.Input (function: attach by name or ID, "" detaches)
//	DELETE /v1/admin/inputs/{id}
//
//	GET    /v1/admin/buckets/{bucket}/outputs        []api.Output
//	POST   /v1/admin/buckets/{bucket}/outputs        api.OutputRequest → 201 api.Output
//	GET    /v1/admin/outputs/{id}                    api.Output
//	PATCH  /v1/admin/outputs/{id}                    api.OutputRequest → api.Output (function, response_function: attach)
//	DELETE /v1/admin/outputs/{id}
//
//	GET    /v1/admin/functions                       []api.Function, without source
//	POST   /v1/admin/functions                       api.FunctionRequest → 201 api.Function (400 "source: fn.lua:3: …" on a syntax error)
//	GET    /v1/admin/functions/{function}            api.Function with its current source
//	PUT    /v1/admin/functions/{function}            api.FunctionRequest → api.Function (a changed source is a new version)
//	PATCH  /v1/admin/functions/{function}            the same as PUT
//	DELETE /v1/admin/functions/{function}            409 while an input or output uses it
//	GET    /v1/admin/functions/{function}/versions   []api.Version, without source
//	GET    /v1/admin/functions/{function}/versions/{n}  api.Version with its source
//	GET    /v1/admin/functions/{function}/config     ConfigKeys: the keys only, never the values
//	PUT    /v1/admin/functions/{function}/config     {"KEY": "value", …}: exactly these variables → api.ConfigKeys
//	DELETE /v1/admin/functions/{function}/config     every variable
//	GET    /v1/admin/functions/{function}/config/{key}  api.ConfigKeys{[key]} when set, else 404; never the value
//	PUT    /v1/admin/functions/{function}/config/{key}  api.ConfigValue → 204
//	DELETE /v1/admin/functions/{function}/config/{key}  204, or 404 when not set
//	POST   /v1/admin/functions/{function}/invoke     api.InvokeRequest → api.Result (nothing stored or forwarded)
//
//	GET    /v1/admin/deliveries                      ?bucket=&output=&webhook=&state=&before=&limit= → []api.Delivery, newest first
//	GET    /v1/admin/deliveries/{id}                 api.DeliveryDetail (the delivery with its attempts)
//	POST   /v1/admin/deliveries/{id}/replay          → 201 api.Delivery: a new pending delivery of the same webhook to the same output
//
//	POST   /v1/admin/apply                           relay.yaml (sources inline) [?dry_run=true] [?prune=true] → api.Report
//
//	GET    /v1/admin/agents                          []api.Agent: the agents connected to this relay
//	GET    /v1/admin/agent-tokens                    []api.AgentToken
//	POST   /v1/admin/agent-tokens                    api.AgentTokenRequest → 201 api.NewAgentToken (credential shown once)
package admin
