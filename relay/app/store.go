package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
)

// Store is what the app needs of a store: the relay's Store and the
// retention purge's RetentionStore. The SQLite store (one process) and the
// PostgreSQL store (several nodes) both are; a shared store is also a
// relay.Watcher and a relay.Exclusive, and both are relay.WriteCheckers,
// which /healthz asks.
type Store interface {
	relay.Store
	relay.RetentionStore
}

// keySource is where the seal key comes from: a key given as is (by
// Options.Key or the environment variable config.EnvKey), or a key file,
// made on the first start when missing.
type keySource struct {
	key  []byte
	env  bool   // key came from config.EnvKey
	file string // the key file, when key is nil
}

// keySource finds the seal key's source without reading or writing a
// file: Options.Key, else config.EnvKey when set, else the key file of
// server.encryption_key_file (or SQLite's default). A PostgreSQL store
// has no default key file: its nodes must share one key.
func (a *App) keySource(s config.Server) (keySource, error) {
	if a.opts.Key != nil {
		return keySource{key: a.opts.Key}, nil
	}
	if v := a.getenv(config.EnvKey); v != "" {
		key, err := seal.ParseKey(v)
		if err != nil {
			return keySource{}, fmt.Errorf("%s: %w", config.EnvKey, err)
		}
		if s.EncryptionKeyFile != "" {
			a.Log.Info("the encryption key is read from "+config.EnvKey+"; server.encryption_key_file is not read",
				"file", s.EncryptionKeyFile)
		}
		return keySource{key: key, env: true}, nil
	}
	file := s.KeyFile()
	if file == "" {
		return keySource{}, errors.New("server.encryption_key_file: a PostgreSQL store needs the key every node shares: " +
			"set server.encryption_key_file (a file of 64 hex digits, made on the first start when missing, " +
			"then copied to every node) or the environment variable " + config.EnvKey + " (64 hex digits, such as " +
			"`openssl rand -hex 32` prints)")
	}
	return keySource{file: file}, nil
}

// field names the key's source in messages.
func (k keySource) field() string {
	switch {
	case k.env:
		return config.EnvKey
	case k.key != nil:
		return "the encryption key"
	}
	return "server.encryption_key_file"
}

// load returns the key, making the key file when it is missing (and
// reporting made).
func (k keySource) load() (key []byte, made bool, err error) {
	if k.key != nil {
		return k.key, false, nil
	}
	key, made, err = seal.LoadOrCreateKey(k.file)
	if err != nil {
		return nil, false, fmt.Errorf("server.encryption_key_file: %w", err)
	}
	return key, made, nil
}

// storeError explains an error of opening the store: never with the
// store URL's password, and, when the key does not open the database,
// with where the key came from.
func (a *App) storeError(ks keySource, made bool, err error) error {
	store := a.File.Server.Store
	err = config.ScrubError(err, store)
	where := "server.store"
	if config.IsPostgres(store) {
		where = "server.store " + config.RedactStore(store)
	}
	if !errors.Is(err, seal.ErrOpen) {
		return fmt.Errorf("%s: %w", where, err)
	}
	var hint string
	switch {
	case made:
		hint = fmt.Sprintf("the key file %s did not exist, so a new key was made (and removed again), "+
			"but the database was written with another key: restore the key file, or set %s", ks.file, config.EnvKey)
	case ks.env:
		hint = "the key in " + config.EnvKey + " is not the one the database was written with"
	case ks.file != "":
		hint = fmt.Sprintf("the key in %s is not the one the database was written with", ks.file)
	default:
		hint = "the encryption key is not the one the database was written with"
	}
	return fmt.Errorf("%s: refused: %s: %w", where, hint, err)
}

// registerNodeInfo registers relayfn_node_info{node, store}, always 1:
// each node serves its own /metrics, and this series says which node
// (and which kind of store) a scrape came from without a label on every
// other series.
func registerNodeInfo(reg prometheus.Registerer, node, store string) error {
	kind := "sqlite"
	if config.IsPostgres(store) {
		kind = "postgres"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "relayfn_node_info",
		Help:        "Always 1: the node this relay process is (server.node, or the host name) and its kind of store.",
		ConstLabels: prometheus.Labels{"node": node, "store": kind},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// exclusivelyRetry is how long a node waits before trying again work that
// another node is running.
const exclusivelyRetry = 100 * time.Millisecond

// exclusively runs fn on one node at a time when the store is shared
// (relay.Exclusive): a node that finds another running work of the same
// name waits for it to end, then runs fn itself. With a store of one
// process it simply runs fn.
func exclusively(ctx context.Context, st Store, name string, fn func(ctx context.Context) error) error {
	ex, ok := st.(relay.Exclusive)
	if !ok {
		return fn(ctx)
	}
	for {
		ran, err := ex.Exclusively(ctx, name, fn)
		if ran || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(exclusivelyRetry):
		}
	}
}
