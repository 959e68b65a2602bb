// Package admin is the relay's admin REST API, mounted under /v1/admin/.
//
// # Authentication
//
// Every request carries an admin token: "Authorization: Bearer
// <id>.<secret>". Tokens are stored as bcrypt hashes; a verified
// credential is remembered in memory (by a SHA-256 of hash and secret) so
// that bcrypt runs once per client, not once per request. A missing,
// malformed, unknown or bucket (rather than admin) token is answered 401.
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
// deliveries by ID. Durations in requests are Go duration strings ("5s")
// or nanoseconds; the model types in answers write nanoseconds. Every
// change is followed by a reload of the relay's routing. Secrets (token
// secrets, basic-auth passwords, function configuration values) are never
// answered, except a token's credential once, and never logged.
//
// # Endpoints
//
//	GET    /v1/admin/tokens                          admin tokens
//	POST   /v1/admin/tokens                          TokenRequest → 201 NewToken (credential shown once)
//	DELETE /v1/admin/tokens/{id}                     an admin or bucket token (not the last admin token: 409)
//
//	GET    /v1/admin/buckets                         []relay.Bucket
//	POST   /v1/admin/buckets                         BucketRequest → 201 relay.Bucket
//	GET    /v1/admin/buckets/{bucket}                relay.Bucket
//	PATCH  /v1/admin/buckets/{bucket}                BucketRequest → relay.Bucket
//	DELETE /v1/admin/buckets/{bucket}                with its inputs, outputs, tokens and webhooks
//	GET    /v1/admin/buckets/{bucket}/tokens         []relay.Token
//	POST   /v1/admin/buckets/{bucket}/tokens         TokenRequest → 201 NewToken
//
//	GET    /v1/admin/buckets/{bucket}/inputs         []relay.Input
//	POST   /v1/admin/buckets/{bucket}/inputs         InputRequest → 201 relay.Input
//	GET    /v1/admin/inputs/{id}                     relay.Input
//	PATCH  /v1/admin/inputs/{id}                     InputRequest → relay.Input (function: attach by name or ID, "" detaches)
//	DELETE /v1/admin/inputs/{id}
//
//	GET    /v1/admin/buckets/{bucket}/outputs        []relay.Output
//	POST   /v1/admin/buckets/{bucket}/outputs        OutputRequest → 201 relay.Output
//	GET    /v1/admin/outputs/{id}                    relay.Output
//	PATCH  /v1/admin/outputs/{id}                    OutputRequest → relay.Output (function, response_function: attach)
//	DELETE /v1/admin/outputs/{id}
//
//	GET    /v1/admin/functions                       []functions.Function, without source
//	POST   /v1/admin/functions                       FunctionRequest → 201 functions.Function (400 "source: fn.lua:3: …" on a syntax error)
//	GET    /v1/admin/functions/{function}            functions.Function with its current source
//	PUT    /v1/admin/functions/{function}            FunctionRequest → functions.Function (a changed source is a new version)
//	PATCH  /v1/admin/functions/{function}            the same as PUT
//	DELETE /v1/admin/functions/{function}            409 while an input or output uses it
//	GET    /v1/admin/functions/{function}/versions   []functions.Version, without source
//	GET    /v1/admin/functions/{function}/versions/{n}  functions.Version with its source
//	GET    /v1/admin/functions/{function}/config     ConfigKeys: the keys only, never the values
//	PUT    /v1/admin/functions/{function}/config     {"KEY": "value", …}: exactly these variables → ConfigKeys
//	DELETE /v1/admin/functions/{function}/config     every variable
//	GET    /v1/admin/functions/{function}/config/{key}  ConfigKeys{[key]} when set, else 404; never the value
//	PUT    /v1/admin/functions/{function}/config/{key}  ConfigValue → 204
//	DELETE /v1/admin/functions/{function}/config/{key}  204, or 404 when not set
//	POST   /v1/admin/functions/{function}/invoke     InvokeRequest → runtime.Result (nothing stored or forwarded)
//
//	GET    /v1/admin/deliveries                      ?bucket=&output=&webhook=&state=&before=&limit= → []relay.Delivery, newest first
//	GET    /v1/admin/deliveries/{id}                 DeliveryDetail (the delivery with its attempts)
//	POST   /v1/admin/deliveries/{id}/replay          → 201 relay.Delivery: a new pending delivery of the same webhook to the same output
//
//	POST   /v1/admin/apply                           relay.yaml (sources inline) [?dry_run=true] [?prune=true] → config.Report
package admin
