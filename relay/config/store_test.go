package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

// secret is the password of the URLs below: no message may show it.
const secret = "Hunter2Secret"

func TestStoreURLs(t *testing.T) {
	for _, c := range []struct {
		name  string
		store string
		want  string // "" when the store is accepted; else in the error
	}{
		{"sqlite default", "sqlite://relayfn.db", ""},
		{"sqlite path", "/var/lib/relayfn/relay.db", ""},
		{"postgres", "postgres://relay:" + secret + "@db.internal:5432/relayfn?sslmode=disable", ""},
		{"postgresql with pool settings", "postgresql://relay@db.internal/relayfn?pool_max_conns=20&pool_min_conns=2" +
			"&pool_max_conn_lifetime=1h&pool_max_conn_idle_time=10m&pool_health_check_period=30s", ""},
		{"password in the query", "postgres://db.internal/relayfn?user=relay&password=" + secret, ""},
		{"bad pool_max_conns", "postgres://relay:" + secret + "@db.internal/relayfn?pool_max_conns=lots", "pool_max_conns"},
		{"pool_max_conns one", "postgres://relay:" + secret + "@db.internal/relayfn?pool_max_conns=1", "at least 2"},
		{"pool_max_conns zero", "postgres://relay:" + secret + "@db.internal/relayfn?pool_max_conns=0", "pool_max_conns"},
		{"bad lifetime", "postgres://relay:" + secret + "@db.internal/relayfn?pool_max_conn_lifetime=forever", "pool_max_conn_lifetime"},
		{"bad sslmode", "postgres://relay:" + secret + "@db.internal/relayfn?sslmode=sometimes", "sslmode"},
		{"bad port", "postgres://relay:" + secret + "@db.internal:99999/relayfn", "xxxxx"},
		{"no database: the user's", "postgres://relay:" + secret + "@db.internal", ""},
		{"unparsable", "postgres://relay:" + secret + "@db internal/%zz", "not a PostgreSQL URL"},
		{"mysql", "mysql://relay:" + secret + "@db/relay", "unsupported store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := "server:\n  store: \"" + c.store + "\"\n"
			_, err := config.Parse([]byte(doc), config.ParseOptions{})
			if c.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %s", config.RedactStore(c.store))
			}
			t.Logf("%v", err)
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Path != "server.store" {
				t.Errorf("error %q does not name server.store", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestRedactStore(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sqlite://relayfn.db", "sqlite://relayfn.db"},
		{"relay.db", "relay.db"},
		{"postgres://relay:" + secret + "@db:5432/relayfn?sslmode=disable", "postgres://relay:xxxxx@db:5432/relayfn?sslmode=disable"},
		{"postgres://relay@db/relayfn", "postgres://relay@db/relayfn"},
		{"postgres://db/relayfn?password=" + secret + "&user=relay", "postgres://db/relayfn?password=xxxxx&user=relay"},
		{"postgresql://db/relayfn?sslpassword=" + secret, "postgresql://db/relayfn?sslpassword=xxxxx"},
		{"postgres://relay:" + secret + "@db internal/%zz", "postgres://xxxxx@db internal/%zz"},
		{"postgres://db internal/%zz?password=" + secret, "postgres://db internal/%zz?password=xxxxx"},
	} {
		if got := config.RedactStore(c.in); got != c.want {
			t.Errorf("RedactStore(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScrubStore(t *testing.T) {
	dsn := "postgres://relay:" + secret + "@db/relayfn?sslpassword=Other%2FSecret"
	msg := "failed: password " + secret + " and Other/Secret and Other%2FSecret"
	got := config.ScrubStore(msg, dsn)
	if strings.Contains(got, secret) || strings.Contains(got, "Other") {
		t.Errorf("ScrubStore = %q, still shows a password", got)
	}
	err := config.ScrubError(errors.New(msg), dsn)
	if strings.Contains(err.Error(), secret) {
		t.Errorf("ScrubError = %q", err)
	}
}

func TestKeyFileDefault(t *testing.T) {
	for _, c := range []struct{ store, file, want string }{
		{"sqlite://relayfn.db", "", "relayfn.key"},
		{"sqlite://relayfn.db", "/etc/relayfn/key", "/etc/relayfn/key"},
		{"postgres://db/relayfn", "", ""},
		{"postgres://db/relayfn", "/etc/relayfn/key", "/etc/relayfn/key"},
	} {
		s := config.Server{Store: c.store, EncryptionKeyFile: c.file}
		if got := s.KeyFile(); got != c.want {
			t.Errorf("store %s, encryption_key_file %q: KeyFile() = %q, want %q", c.store, c.file, got, c.want)
		}
	}
}

func TestNodeNames(t *testing.T) {
	for _, c := range []struct {
		node string
		ok   bool
	}{
		{"relay-1", true},
		{"ip-10-0-1-17.eu-west-1.compute.internal", true},
		{"pod_7:8080", true},
		{"", false},
		{"two words", false},
		{"relay/1", false},
		{strings.Repeat("n", config.MaxNodeLen+1), false},
	} {
		if err := config.CheckNode(c.node); (err == nil) != c.ok {
			t.Errorf("CheckNode(%q) = %v, want ok=%v", c.node, err, c.ok)
		}
	}
	_, err := config.Parse([]byte("server:\n  node: \"a b\"\n"), config.ParseOptions{})
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Path != "server.node" {
		t.Errorf("node \"a b\": error %v, want one naming server.node", err)
	}
	f, err := config.Parse([]byte("server:\n  node: relay-2\n"), config.ParseOptions{})
	if err != nil || f.Server.Node != "relay-2" {
		t.Errorf("node relay-2: %v, %+v", err, f)
	}
}
