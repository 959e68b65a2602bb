// Package config reads relay.yaml, the relay's configuration file, and
// applies its functions and buckets to a relay's store declaratively.
//
// # The file
//
//	server:
//	  listen: ":8080"                       # default ":8080"
//	  store: "sqlite://relayfn.db"          # default; or postgres://user@host:5432/db?sslmode=verify-full
//	  encryption_key_file: "relayfn.key"    # default with SQLite; 32 bytes (64 hex digits), made on first start
//	  node: "relay-1"                       # default: the host name; unique among the nodes of one store
//	  unknown_input_status: 200             # default 200
//	  max_body_bytes: 3145728               # default 3 MiB
//	  http:
//	    proxy: "http://smokescreen.internal:4750"
//	    no_proxy: "internal.example.com,10.0.0.0/8"
//	    proxy_role_header: X-Smokescreen-Role
//	  egress:
//	    acl_file: "egress-acl.yaml"         # Stripe Smokescreen format
//	    allow_ranges: ["10.1.0.0/16"]
//	    timeout: 30s
//	    max_response_bytes: 10485760
//	    max_redirects: 10
//	  admin:
//	    listen: "127.0.0.1:8081"            # optional: admin API and /metrics here only, not on listen
//	    token_file: "admin.token"           # where the first admin credential is written (then not printed)
//	  limits:                               # what clients may hold of the listener
//	    max_connections: 0                  # default 0: 80% of RLIMIT_NOFILE, within [64, 16384]
//	    min_body_rate: 240                  # bytes/s a body must keep up after the grace period
//	    min_body_rate_grace: 5s
//	    idle_timeout: 30s                   # keep-alive connections
//	    read_header_timeout: 5s
//	    read_timeout: 1m                    # a whole request
//	  health:
//	    degraded_status: 200                # /healthz when the store refuses writes: 200 or 503
//	  retention:                            # the request log's default retention (retention.go); absent: keep forever
//	    payload: 72h                        # bodies, headers, queries, answers, logs
//	    metadata: 30d                       # ids, statuses, times
//	    interval: 1m                        # how often the purge runs
//	  tls: {cert_file: "", key_file: ""}    # PEM files: the public listener serves https (and wss)
//	  modules:                              # what the functions' modules reach, besides HTTP
//	    smtp:                               # the email module's server; email is offered only with a host
//	      host: smtp.example.com
//	      port: 587                         # default 587, or 465 with implicit_tls
//	      username: relay                   # optional: AUTH PLAIN, only ever over TLS (or to localhost)
//	      password_env: RELAY_SMTP_PASSWORD # the environment variable holding the password
//	      from: "Relay <relay@example.com>" # default sender, and the only address functions may send as
//	      starttls: require                 # require (default) | opportunistic | none
//	      implicit_tls: false               # true: TLS from the first byte (port 465); starttls is then unused
//	    bigquery:
//	      endpoint: ""                      # optional: replaces https://bigquery.googleapis.com/bigquery/v2/
//	    mailgun:
//	      base_url: ""                      # optional: replaces https://api.mailgun.net (and a function's region)
//	functions:
//	  - name: github-to-slack
//	    file: functions/github_to_slack.lua # relative to relay.yaml; or source: | …
//	    timeout: 5s
//	    config: {SLACK_CHANNEL: "#ci"}
//	buckets:
//	  - name: ci
//	    description: CI notifications
//	    auth: {type: basic, username: ci, password_env: CI_PASSWORD}
//	    ephemeral: false
//	    retention: {payload: 24h, metadata: 7d} # this bucket's own; absent: the policy set with the admin API, or the server's
//	    inputs:
//	      - name: github
//	        id: 0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10
//	        function: github-to-slack
//	        response: {mode: static, status: 202, headers: {X-Handled: "yes"}, body: ok}
//	    outputs:
//	      - name: slack
//	        destination: https://hooks.slack.com/services/T000/B000/XXX
//	        function: ""
//	        response_function: ""
//	        lock_path: false
//	        timeout: 10s
//	        retries: {max_attempts: 8, backoff: exponential, initial_interval: 1s, max_interval: 5m}
//	        max_in_flight: 16
//	        internal: false                 # true: delivered only by agents (fnctl agent)
//	        agent_window: 10m               # internal outputs: how long deliveries wait for an agent
//	        disabled: false
//
// # Stores, keys and nodes
//
// server.store is a SQLite file (the default: one relay process) or a
// PostgreSQL URL, on which several relay processes (nodes) share the
// work. The URL carries the connection pool's settings as query
// parameters: pool_max_conns (default: the greater of 4 and the number of
// CPUs), pool_min_conns, pool_max_conn_lifetime, pool_max_conn_idle_time
// and pool_health_check_period (durations), besides libpq's own (sslmode
// and the like). Load parses it as the pool will, and no message shows
// its password (see RedactStore).
//
// The seal key is read from the environment variable RELAYFN_KEY (64 hex
// digits) when it is set, else from server.encryption_key_file, made on
// the first start when missing. With SQLite the file defaults to
// relayfn.key; with PostgreSQL there is no default (Server.KeyFile):
// every node must read the same key, from the same file contents or the
// same variable.
//
// server.node names the process among the nodes of one store (deliveries
// are claimed in its name); it defaults to the host name, and two live
// nodes may not share one.
//
// Durations are Go duration strings ("5s", "1m30s"). Unknown keys are
// errors. Paths in the file (function files, the key, ACL and token files)
// are relative to the file's folder. Every problem is reported with the
// field's path and line, as
//
//	relay.yaml: buckets[0].outputs[1].destination: line 21: "ftp://x" is not an http(s) URL
//
// # Secrets
//
// A bucket's basic-auth password is given as password (in the file, or as
// a reference {env: NAME} or {file: PATH}: see secrets.go) or as
// password_env (the name of an environment variable read by Load, so the
// file can be committed). Function configuration values may be references
// too. It is stored bcrypt-hashed. The SMTP password
// is only ever given as server.modules.smtp.password_env: Load reads it
// into SMTP.Password, which is neither printed nor encoded. Function
// configuration values are secrets too: the store encrypts them, and
// nothing in this package prints them.
//
// # Modules
//
// server.modules configures what the functions' bigquery, mailgun and
// email modules reach. All their traffic goes through the egress client
// (server.http and server.egress): bigquery and mailgun are always offered
// (their credentials come from the function's configuration), email only
// when server.modules.smtp.host is set. relay/app wires them (its
// ModuleDeps); this package does not link the modules.
//
// # Apply
//
// Apply makes a store match the file's functions and buckets; see Apply.
// The server section configures the process and is not applied.
package config

import (
	"fmt"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/egress/acl"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/netlimit"
)

// Defaults applied by Load and Parse to fields left out.
const (
	DefaultListen             = ":8080"
	DefaultStore              = "sqlite://relayfn.db"
	DefaultEncryptionKeyFile  = "relayfn.key"
	DefaultUnknownInputStatus = 200
	DefaultMaxBodyBytes       = relay.DefaultMaxBodyBytes
)

// File is a relay.yaml.
type File struct {
	Server    Server     `yaml:"server"`
	Functions []Function `yaml:"functions"`
	Buckets   []Bucket   `yaml:"buckets"`

	// Name is the file's name in error messages ("relay.yaml" when the
	// document did not come from a file).
	Name string `yaml:"-"`
	// Dir is the folder relative paths in the file are resolved against;
	// empty for a document that did not come from a file.
	Dir string `yaml:"-"`
	// PruneConfig makes Apply delete the configuration variables of the
	// file's functions that their config does not mention (fnctl apply
	// --prune). By default they are left alone.
	PruneConfig bool `yaml:"-"`

	// lines maps field paths ("buckets[0].name") to their line.
	lines map[string]int
}

// Server is the server section: how the process runs. Apply ignores it.
type Server struct {
	// Listen is the address the relay listens on.
	Listen string `yaml:"listen"`
	// Store is the store: sqlite://path (sqlite:///abs/path), a file
	// path, a file: URI, or postgres://… (with the pool's settings as
	// query parameters). A relative path is the store's business: it is
	// not resolved against the file's folder. It may hold a password:
	// log RedactStore(Store), never Store.
	Store string `yaml:"store"`
	// EncryptionKeyFile holds the 32-byte key that seals data at rest; it
	// is made on first start when missing. Empty means the default of
	// KeyFile. The environment variable RELAYFN_KEY, when set, is read
	// instead.
	EncryptionKeyFile string `yaml:"encryption_key_file"`
	// Node names this process among the nodes that share the store; empty
	// means the host name. Each live node needs its own.
	Node string `yaml:"node"`
	// UnknownInputStatus answers webhooks for inputs that do not exist.
	UnknownInputStatus int `yaml:"unknown_input_status"`
	// MaxBodyBytes caps webhook bodies; larger ones are answered 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// HTTP is the outbound proxy configuration.
	HTTP HTTP `yaml:"http"`
	// Egress is the outbound policy beyond the proxy.
	Egress Egress `yaml:"egress"`
	// Admin configures the admin API.
	Admin Admin `yaml:"admin"`
	// Modules configures the functions' modules with side effects.
	Modules Modules `yaml:"modules"`
	// Limits bounds what clients can hold of the listener's connections.
	Limits Limits `yaml:"limits"`
	// Health configures /healthz.
	Health Health `yaml:"health"`
	// TLS, when set, serves the public listener over TLS (https, and wss
	// for agents).
	TLS TLS `yaml:"tls"`
	// Retention is the request log's default retention (see retention.go).
	Retention ServerRetention `yaml:"retention"`
}

// TLS is server.tls: the public listener's certificate (with its chain)
// and key, PEM files.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Limits is server.limits: the connection cap, the minimum request body
// rate and the timeouts of the listener. Zero fields take the defaults of
// package netlimit.
type Limits struct {
	// MaxConnections caps the connections open at once; 0 means 80% of
	// the process's file descriptor limit (RLIMIT_NOFILE), within
	// [64, 16384].
	MaxConnections int `yaml:"max_connections"`
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, after MinBodyRateGrace; 0 means 240.
	MinBodyRate int `yaml:"min_body_rate"`
	// MinBodyRateGrace is how long a body is given before MinBodyRate
	// applies; 0 means 5s.
	MinBodyRateGrace Duration `yaml:"min_body_rate_grace"`
	// IdleTimeout closes keep-alive connections idle this long; 0 means 30s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ReadHeaderTimeout bounds the reading of a request's headers; 0
	// means 5s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds the reading of a whole request; 0 means 1m.
	ReadTimeout Duration `yaml:"read_timeout"`
}

// NetLimit returns the limits as package netlimit takes them.
func (l Limits) NetLimit() netlimit.Config {
	return netlimit.Config{
		MaxConnections:    l.MaxConnections,
		MinBodyRate:       l.MinBodyRate,
		MinBodyRateGrace:  time.Duration(l.MinBodyRateGrace),
		IdleTimeout:       time.Duration(l.IdleTimeout),
		ReadHeaderTimeout: time.Duration(l.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(l.ReadTimeout),
	}
}

// Health is server.health.
type Health struct {
	// DegradedStatus is /healthz's status when the store refuses writes
	// (disk full, read-only): 200 (the default) or 503, so that a load
	// balancer can take the relay out of rotation.
	DegradedStatus int `yaml:"degraded_status"`
}

// HTTP is server.http: the forward proxy every outbound request goes
// through.
type HTTP struct {
	// Proxy is an http://, https:// or socks5:// URL.
	Proxy string `yaml:"proxy"`
	// NoProxy lists hosts that bypass Proxy, in NO_PROXY syntax.
	NoProxy string `yaml:"no_proxy"`
	// ProxyRoleHeader names the header that carries the bucket's name to
	// the proxy; empty means X-Smokescreen-Role.
	ProxyRoleHeader string `yaml:"proxy_role_header"`
}

// Egress is server.egress: the address guard's exceptions and the ACL.
type Egress struct {
	// ACLFile is a policy in Stripe Smokescreen's format.
	ACLFile string `yaml:"acl_file"`
	// AllowRanges are CIDR prefixes (or single addresses) let through
	// although they are private, loopback and so on.
	AllowRanges []string `yaml:"allow_ranges"`
	// Timeout bounds an outbound request without a deadline of its own.
	Timeout Duration `yaml:"timeout"`
	// MaxResponseBytes caps outbound response bodies.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// MaxRedirects is how many redirects an outbound request follows.
	MaxRedirects int `yaml:"max_redirects"`
}

// Admin is server.admin.
type Admin struct {
	// Listen, when set (such as "127.0.0.1:8081"), serves the admin API
	// and /metrics on this separate address and not on Listen, which then
	// serves only the webhooks and /healthz. Empty serves everything on
	// Listen.
	Listen string `yaml:"listen"`
	// TokenFile is where the relay writes the first admin credential (mode
	// 0600) when it makes one at start-up. Empty means the credential is
	// only printed, once.
	TokenFile string `yaml:"token_file"`
}

// Modules is server.modules: the services the functions' bigquery,
// mailgun and email modules reach, through the egress client.
type Modules struct {
	// SMTP is the email module's mail server. Without a host the email
	// module is not offered: require("email") fails.
	SMTP SMTP `yaml:"smtp"`
	// BigQuery configures the bigquery module.
	BigQuery BigQueryModule `yaml:"bigquery"`
	// Mailgun configures the mailgun module.
	Mailgun MailgunModule `yaml:"mailgun"`
}

// SMTP is server.modules.smtp: the submission server the email module
// sends through.
type SMTP struct {
	// Host is the server's host name or IP address, without a port.
	Host string `yaml:"host"`
	// Port is the server's port: 587 when left out, or 465 with
	// ImplicitTLS.
	Port int `yaml:"port"`
	// Username, when set, authenticates with AUTH PLAIN, which is only
	// ever sent over TLS (or to localhost). It needs PasswordEnv.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password.
	// Load reads it into Password.
	PasswordEnv string `yaml:"password_env"`
	// Password is the password read from PasswordEnv. It is never printed
	// (String leaves it out) nor encoded.
	Password string `yaml:"-" json:"-"`
	// From is the default sender ("relay@example.com" or "Relay
	// <relay@example.com>"). When set, it is also the only address
	// functions may send as (the display name may differ).
	From string `yaml:"from"`
	// StartTLS is require (the default: STARTTLS or no mail),
	// opportunistic (STARTTLS when the server offers it) or none: the
	// values of builtins.StartTLSRequire and its siblings.
	StartTLS string `yaml:"starttls"`
	// ImplicitTLS speaks TLS from the first byte (port 465) instead of
	// upgrading with STARTTLS; StartTLS is then not used.
	ImplicitTLS bool `yaml:"implicit_tls"`
}

// String describes the settings without the password.
func (s SMTP) String() string {
	pw := ""
	if s.Password != "" {
		pw = " password=[redacted]"
	}
	return fmt.Sprintf("{host=%s port=%d username=%s%s from=%s starttls=%s implicit_tls=%t}",
		s.Host, s.Port, s.Username, pw, s.From, s.StartTLS, s.ImplicitTLS)
}

// BigQueryModule is server.modules.bigquery.
type BigQueryModule struct {
	// Endpoint replaces BigQuery's API base URL
	// (https://bigquery.googleapis.com/bigquery/v2/), for a regional or
	// private endpoint or an emulator. Optional.
	Endpoint string `yaml:"endpoint"`
}

// MailgunModule is server.modules.mailgun.
type MailgunModule struct {
	// BaseURL replaces Mailgun's API host (https://api.mailgun.net, or
	// https://api.eu.mailgun.net for a function that asks for region
	// "eu"), for a proxy or a stand-in. Optional.
	BaseURL string `yaml:"base_url"`
}

// Function is a function to create or update.
type Function struct {
	// Name identifies the function; inputs and outputs refer to it by name.
	Name string `yaml:"name"`
	// File is the Lua source's path, relative to the file. At most one of
	// File and Source is given; with neither, the entry refers to a
	// function already on the relay (pushed with fnctl function push),
	// whose source Apply leaves alone (see Reference).
	File string `yaml:"file,omitempty"`
	// Source is the Lua source. Load fills it from File.
	Source string `yaml:"source,omitempty"`
	// Timeout is the invocation deadline; 0 means the engine's default.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Config is the function's configuration variables: values, or
	// references to an environment variable or a file ({env: NAME},
	// {file: PATH}) resolved by Parse. Apply sets them; it deletes the
	// variables not listed only with File.PruneConfig, so they can also be
	// managed with fnctl function config.
	Config map[string]string `yaml:"config,omitempty"`
	// Spec lists spec files or folders (relative to the file) that fnctl
	// apply runs against File before applying, as fnctl function push
	// --spec does: a failing test refuses the apply. It needs File.
	Spec []string `yaml:"spec,omitempty"`
	// Reference is set by Parse when the entry gives neither file nor
	// source: it names a function on the relay, which must exist.
	Reference bool `yaml:"-"`
}

// Bucket is a bucket with its inputs and outputs.
type Bucket struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description,omitempty"`
	Auth        Auth    `yaml:"auth,omitempty"`
	Ephemeral   bool    `yaml:"ephemeral,omitempty"`
	Inputs      []Input `yaml:"inputs,omitempty"`
	// Outputs are the bucket's destinations. Apply deletes the bucket's
	// inputs and outputs that are not listed.
	Outputs []Output `yaml:"outputs,omitempty"`
	// Retention is the bucket's own retention (see retention.go).
	Retention *Retention `yaml:"retention,omitempty"`
}

// Auth is what callers of a bucket's inputs present.
type Auth struct {
	// Type is none (the default), basic or token. Token auth uses tokens
	// made with the admin API; the file does not hold them.
	Type     relay.AuthType `yaml:"type,omitempty"`
	Username string         `yaml:"username,omitempty"`
	// Password is the basic-auth password.
	Password string `yaml:"password,omitempty"`
	// PasswordEnv names the environment variable holding the password
	// instead. Load reads it into Password.
	PasswordEnv string `yaml:"password_env,omitempty"`
}

// Input is a public endpoint of a bucket.
type Input struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// ID is the input's UUID, the endpoint /v1/webhooks/{id}. It is used
	// when the input is created; left out, a UUID is made. An input's ID
	// never changes.
	ID string `yaml:"id,omitempty"`
	// Function is the name of the function that runs on every webhook.
	Function string   `yaml:"function,omitempty"`
	Response Response `yaml:"response,omitempty"`
}

// Response is how an input answers its caller.
type Response struct {
	// Mode is default, static, function or destination.
	Mode relay.ResponseMode `yaml:"mode,omitempty"`
	// Status, Headers and Body are the static answer.
	Status  int               `yaml:"status,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty"`
	// Timeout bounds the wait for the destination in destination mode.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Output is a destination of a bucket's webhooks.
type Output struct {
	Name string `yaml:"name"`
	// Destination is an http(s) URL, or a path on the relay itself
	// ("/v1/webhooks/{input_id}"), which Parse and Apply resolve against
	// server.listen (see SelfPath).
	Destination string `yaml:"destination"`
	// SelfPath is the path a destination written relative to the relay
	// gave; Destination then holds it resolved against server.listen, and
	// Apply resolves it again, so that a listen address changed after
	// parsing (fnctl serve --listen) is the one used.
	SelfPath string `yaml:"-"`
	// Function runs once per delivery before it is sent.
	Function string `yaml:"function,omitempty"`
	// ResponseFunction runs after the final attempt, on the answer.
	ResponseFunction string `yaml:"response_function,omitempty"`
	// LockPath keeps the destination's path as is.
	LockPath bool `yaml:"lock_path,omitempty"`
	// Timeout bounds one attempt; 0 means the relay's default (10s).
	Timeout Duration `yaml:"timeout,omitempty"`
	Retries Retries  `yaml:"retries,omitempty"`
	// MaxInFlight caps the attempts to this output that run at once; 0
	// means the relay's default (16).
	MaxInFlight int `yaml:"max_in_flight,omitempty"`
	// Internal outputs are delivered only by agents (fnctl agent)
	// subscribed to the bucket; the relay never dials them.
	Internal bool `yaml:"internal,omitempty"`
	// AgentWindow is how long an internal output's deliveries wait for
	// an agent to connect; 0 means the relay's default (10m).
	AgentWindow Duration `yaml:"agent_window,omitempty"`
	Disabled    bool     `yaml:"disabled,omitempty"`
}

// Retries is an output's retry policy; zero fields take the relay's
// defaults.
type Retries struct {
	MaxAttempts int `yaml:"max_attempts,omitempty"`
	// Backoff is exponential (the default) or fixed.
	Backoff         relay.Backoff `yaml:"backoff,omitempty"`
	InitialInterval Duration      `yaml:"initial_interval,omitempty"`
	MaxInterval     Duration      `yaml:"max_interval,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("5s").
type Duration time.Duration

// String returns the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// IsZero reports whether d is zero, so omitempty leaves it out.
func (d Duration) IsZero() bool { return d == 0 }

// Resolve returns path resolved against the file's folder: unchanged when
// it is absolute or the file has no folder.
func (f *File) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || f.Dir == "" {
		return path
	}
	return filepath.Join(f.Dir, filepath.FromSlash(path))
}

// EgressConfig returns the egress client's configuration from
// server.http and server.egress, with the ACL file read and checked.
func (f *File) EgressConfig() (egress.Config, error) {
	s := f.Server
	cfg := egress.Config{
		Proxy:            s.HTTP.Proxy,
		NoProxy:          s.HTTP.NoProxy,
		ProxyRoleHeader:  s.HTTP.ProxyRoleHeader,
		AllowRanges:      s.Egress.AllowRanges,
		Timeout:          time.Duration(s.Egress.Timeout),
		MaxResponseBytes: s.Egress.MaxResponseBytes,
		MaxRedirects:     s.Egress.MaxRedirects,
	}
	if s.Egress.ACLFile != "" {
		a, err := acl.LoadFile(f.Resolve(s.Egress.ACLFile))
		if err != nil {
			return egress.Config{}, fmt.Errorf("%s: server.egress.acl_file: %w", f.Name, err)
		}
		cfg.ACL = a
	}
	return cfg, nil
}

// docFile is the part of a File that Apply reads, as Document writes it.
type docFile struct {
	Functions []docFunction `yaml:"functions,omitempty"`
	Buckets   []Bucket      `yaml:"buckets,omitempty"`
}

// docFunction is a Function with its source inline. Config is a pointer so
// that a given but empty config (delete every variable) is kept apart from
// none (leave the variables alone).
type docFunction struct {
	Name    string             `yaml:"name"`
	Source  *string            `yaml:"source,omitempty"` // nil: a reference`
	Timeout Duration           `yaml:"timeout,omitempty"`
	Config  *map[string]string `yaml:"config,omitempty"`
}

// Document returns the file's functions and buckets as a self-contained
// relay.yaml: function sources inline instead of file, passwords instead
// of password_env, and no server section. It is what fnctl apply sends to
// a relay's admin API. It holds secrets (configuration values, passwords):
// send it only over a trusted connection, and do not log it.
func (f *File) Document() ([]byte, error) {
	doc := docFile{Buckets: make([]Bucket, len(f.Buckets))}
	for _, fn := range f.Functions {
		d := docFunction{Name: fn.Name, Timeout: fn.Timeout}
		if !fn.Reference {
			src := fn.Source
			d.Source = &src
		}
		if fn.Config != nil {
			cfg := fn.Config
			d.Config = &cfg
		}
		doc.Functions = append(doc.Functions, d)
	}
	for i, b := range f.Buckets {
		if b.Auth.PasswordEnv != "" {
			b.Auth.PasswordEnv = ""
		}
		if b.Auth.Type == "none" {
			b.Auth = Auth{}
		}
		doc.Buckets[i] = b
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", f.Name, err)
	}
	return out, nil
}
