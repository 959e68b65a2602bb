package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvKey is the environment variable that, when set, holds the seal key
// (64 hex digits, the key file's format) instead of
// server.encryption_key_file: every node of a relay on PostgreSQL must
// read the same key, and a secret store can hand it to each as a
// variable.
const EnvKey = "RELAYFN_KEY"

// IsPostgres reports whether store names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// KeyFile returns the key file the relay reads (or makes on the first
// start): server.encryption_key_file when given, else, for a SQLite
// store, DefaultEncryptionKeyFile in the working folder. A PostgreSQL
// store has no default, since every node must read the same key: it is
// "" unless the file names one (then the key comes from EnvKey, or the
// relay refuses to start).
func (s *Server) KeyFile() string {
	if s.EncryptionKeyFile != "" || IsPostgres(s.Store) {
		return s.EncryptionKeyFile
	}
	return DefaultEncryptionKeyFile
}

// CheckStore checks a store URL as server.store takes it: a SQLite file
// (sqlite://path, a path, a file: URI) or a PostgreSQL URL, whose
// connection and pool settings (pool_max_conns and the like) are parsed
// as the store will parse them. Its error never shows a password.
func CheckStore(store string) error {
	if IsPostgres(store) {
		return checkPostgres(store)
	}
	u, err := url.Parse(store)
	if err != nil {
		return fmt.Errorf("%q is not a store URL (want sqlite://path, a file path or postgres://…)", RedactStore(store))
	}
	switch u.Scheme {
	case "sqlite", "file", "":
		if u.Host+u.Path == "" && u.Opaque == "" {
			return fmt.Errorf("%q names no database file (want sqlite://relayfn.db)", RedactStore(store))
		}
	default:
		return fmt.Errorf("unsupported store %q (want sqlite or postgres)", u.Scheme)
	}
	return nil
}

// checkPostgres parses a PostgreSQL URL with the pool's own parser.
func checkPostgres(dsn string) error {
	if _, err := url.Parse(dsn); err != nil {
		return fmt.Errorf("%s is not a PostgreSQL URL (want postgres://user@host:5432/db)", RedactStore(dsn))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parser's message quotes the URL (redacted, best effort) and
		// the offending value: keep only what follows the URL, with any
		// password scrubbed.
		msg := err.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
		return fmt.Errorf("%s: %s", RedactStore(dsn), ScrubStore(msg, dsn))
	}
	if cfg.MaxConns < minPoolConns {
		return fmt.Errorf("%s: pool_max_conns is %d, want at least %d (a node holds a connection for work that runs on one node at a time while it works on others)",
			RedactStore(dsn), cfg.MaxConns, minPoolConns)
	}
	return nil
}

// minPoolConns is the least pool_max_conns a PostgreSQL store may have.
const minPoolConns = 2

// passwordParams are the query parameters of a PostgreSQL URL that hold
// secrets.
var passwordParams = []string{"password", "sslpassword"}

// RedactStore returns a store URL fit for logs and messages: a
// PostgreSQL URL's password (in its user part or its query) is replaced
// with "xxxxx"; a SQLite path is returned as it is.
func RedactStore(store string) string {
	if !IsPostgres(store) {
		if strings.Contains(store, "@") || strings.Contains(store, "://") {
			return redact(store)
		}
		return store
	}
	u, err := url.Parse(store)
	if err != nil {
		// Unparsable: keep the scheme and whatever follows the last '@'
		// (the host and database), never the part before it.
		scheme, rest, _ := strings.Cut(store, "://")
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			rest = "xxxxx" + rest[i:]
		}
		return scheme + "://" + queryPasswords.ReplaceAllString(rest, "${1}=xxxxx")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for _, p := range passwordParams {
			if q.Has(p) {
				q.Set(p, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted() // the user part's password, as relay.RedactURL
}

// queryPasswords matches a password parameter in the query of a URL that
// does not parse.
var queryPasswords = regexp.MustCompile(`(?i)\b(password|sslpassword)=[^&]*`)

// ScrubStore returns msg with every secret of the store URL store (the
// passwords RedactStore hides) replaced with "xxxxx": for the messages of
// the libraries a store uses, which may quote their input.
func ScrubStore(msg, store string) string {
	if !IsPostgres(store) {
		return msg
	}
	var secrets []string
	if u, err := url.Parse(store); err == nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw, url.UserPassword("", pw).String()[1:])
		}
		q := u.Query()
		for _, p := range passwordParams {
			if v := q.Get(p); v != "" {
				secrets = append(secrets, v, url.QueryEscape(v))
			}
		}
	} else {
		// Unparsable: hide whatever stands between "://" and the last '@'.
		if _, rest, ok := strings.Cut(store, "://"); ok {
			if i := strings.LastIndex(rest, "@"); i > 0 {
				secrets = append(secrets, rest[:i])
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// ScrubError returns err with ScrubStore applied to its message, or nil.
func ScrubError(err error, store string) error {
	if err == nil {
		return nil
	}
	msg := ScrubStore(err.Error(), store)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

// scrubbed is an error whose message was scrubbed of secrets; it still
// unwraps to the original, for errors.Is.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// MaxNodeLen bounds a node name's length.
const MaxNodeLen = 253

// CheckNode checks a node name (server.node, fnctl serve --node): 1 to
// MaxNodeLen letters, digits, '.', '-', '_' or ':', so that every host
// name is one.
// Each node sharing a store needs its own.
func CheckNode(node string) error {
	if node == "" {
		return fmt.Errorf("empty node name")
	}
	if len(node) > MaxNodeLen {
		return fmt.Errorf("node name %q is longer than %d characters", truncate(node, MaxNodeLen), MaxNodeLen)
	}
	for _, c := range node {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return fmt.Errorf("node name %q: %q is not allowed (want letters, digits, '.', '-', '_' or ':')", node, c)
		}
	}
	return nil
}
