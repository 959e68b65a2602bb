// Package postgres is the relay's store for several processes (nodes)
// sharing one PostgreSQL database. It keeps the same records as the
// embedded SQLite store (relay/store/sqlite), with the same behaviour,
// errors, ordering and encryption at rest, and adds what nodes need to
// work together: claims that never hand a delivery to two nodes, change
// notifications (relay.Watcher) and work that runs on one node at a time
// (relay.Exclusive).
//
// # Connecting
//
// Open takes a PostgreSQL URL or keyword/value DSN, as pgx reads it
// (postgres://user:password@host:5432/db?sslmode=verify-full). The store
// uses the first existing schema of the connection's search_path (set it
// with ?search_path=name to keep several relays, or tests, apart in one
// database); nothing is written to a schema named in the code. The pool's
// settings come from the DSN too: pool_max_conns (default: the larger of
// 4 and the number of CPUs), pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time and pool_health_check_period. Concurrent
// writes share transactions (see groupcommit.go), so a node needs few
// connections: on a 2-core machine a pool of 16 was slower than the
// default (more, smaller commits; internal/multinode's TestScaleOut
// measures it), and BenchmarkRecordAttempt compares 16 with the default. Beside the pool, the store keeps one connection for
// the node lock (when Options.Node is set; checked every few seconds, and
// the lock taken again when it was cut) and each Watch one for LISTEN.
// The DSN's password never appears in an error or a log.
//
// # Schema
//
// Open applies the versioned migrations the database lacks in one
// transaction under a transaction-level advisory lock, so that nodes
// started together do not race; a database whose schema is newer than the
// program is refused. Times are stored as Unix nanoseconds (bigint), as in
// SQLite, so that they round-trip exactly; sealed values, and a request's
// path (any bytes), as bytea; text compares by bytes (COLLATE "C"), so
// that listings sort as in SQLite whatever the database's collation.
//
// # Claims
//
// ClaimDue leases each output's due deliveries with one UPDATE whose
// subquery takes them with FOR UPDATE SKIP LOCKED from the partial index
// deliveries_due(output_id, due_at) WHERE state = 'pending': concurrent
// claims by several nodes skip each other's rows instead of waiting, and
// never return the same delivery. Every call makes a new lease ID, and
// RecordAttempt refuses (store.ErrLeaseLost) a result whose lease is no
// longer the delivery's. The lease owner is the node's name; Options.Node
// makes it unique among live processes with a session advisory lock.
//
// # Notifications
//
// Writes that change routes (buckets, inputs, outputs, tokens, functions
// and their versions, configuration and specs, agent tokens, retention
// policies) send a notification on the channel relayfn_routes_<schema>,
// and writes that make deliveries due without a lease (AddDeliveries,
// ReleaseClaims) one on relayfn_work_<schema>, in the same transaction:
// it reaches the listeners only if the write commits. Watch listens on
// both. A SaveWebhook whose deliveries are all claimed (the relay's hot
// path) sends nothing; one that stored unclaimed deliveries has a
// notification sent on relayfn_work after it committed, by a goroutine
// that sends one for all the SaveWebhooks that committed meanwhile:
// PostgreSQL commits notifying transactions one at a time, each holding
// a lock across its WAL flush, which would cap ingest at one webhook per
// flush when the relay is behind. After a lost connection, Watch
// reconnects with backoff and reports every kind of change.
//
// # Work on one node
//
// Exclusively holds a session advisory lock on the work's name (hashed
// with the schema) on one of the pool's connections while the work runs;
// a node that finds it taken skips the work.
//
// # Writes
//
// SaveWebhook is one round trip: the webhook's INSERT and one INSERT of
// all its deliveries are sent together (a pgx batch, one implicit
// transaction). The bucket and the outputs are checked by those
// statements themselves: the webhook's row is made from the bucket's, so
// that a missing bucket fails it and an ephemeral bucket's payload columns
// are NULL, and each delivery's from its output's. Concurrent SaveWebhooks
// share transactions (group commit): writers, half as many as the pool's
// connections, each take the calls queued meanwhile (up to 128) and store
// them with one INSERT of all their webhooks and one of all their
// deliveries, one commit for all; if that fails, each is stored alone, so
// that one call's failure is not the others'. Every caller is answered
// once its webhook is committed. RecordAttempt is one statement;
// concurrent ones are pipelined in one round trip and one transaction by
// writers a quarter as many as the pool's connections (each alone again
// when one of them fails). BenchmarkSaveWebhook, BenchmarkRecordAttempt
// and BenchmarkWebhookLifecycle measure them.
//
// # Encryption at rest
//
// As in SQLite: webhook queries, headers, bodies, function errors and
// logs, the request log's columns, attempt errors, logs and answers,
// delivery errors and function configuration values are sealed with the
// seal.Sealer given to Open, each bound to its table, row and column
// (seal.AAD). Open refuses a key other than the one the database was first
// opened with. A webhook saved while its bucket is ephemeral is stored
// without its path, query, headers, body, function error and logs, and
// attempts of its deliveries without their logs and answers.
//
// # Deletion
//
// DeleteBucket and DeleteOutput delete the bucket or output (with a
// bucket's inputs, outputs, tokens and retention policy) at once, and
// leave a tombstone: the webhooks of a deleted bucket and the deliveries
// of a deleted output stay until Purge with relay.PurgeDeleted removes
// them in small batches. Meanwhile no reader shows them and no claim
// takes them. Creating a bucket or an output with the ID of a deleted one
// first removes what the deleted one left.
//
// # Retention
//
// Purge empties the payload columns of a bucket's old webhooks, or
// deletes them with their deliveries and attempts, in batches: candidates
// are read by ID (IDs are time-ordered), then purged in one short
// transaction that rechecks that none has a pending delivery.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
)

var (
	_ relay.Store          = (*Store)(nil)
	_ relay.RetentionStore = (*Store)(nil)
	_ relay.WriteChecker   = (*Store)(nil)
	_ relay.Watcher        = (*Store)(nil)
	_ relay.Exclusive      = (*Store)(nil)
)

// ErrClosed is returned by a closed Store's SaveWebhook and Watch.
var ErrClosed = errors.New("postgres: store is closed")

// Options configure a Store.
type Options struct {
	// Node names this process among those sharing the database: the owner
	// of the deliveries it claims. When set, Open takes a session advisory
	// lock on the name, held until Close, and fails when another live
	// process holds it, so that two processes never claim under one name.
	// Empty takes no lock (a single process, or tools). The lock's key is
	// a 32-bit hash of the schema and the name: two names that collide
	// are refused as if they were one.
	Node string
	// Log receives what the store reports on its own (a lost LISTEN
	// connection); nil discards it.
	Log *slog.Logger
}

// Store is a relay.Store in a PostgreSQL database, shared by any number of
// processes. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	log    *slog.Logger
	name   string // the database, for messages: host:port/database

	// connConfig is the pool's connection configuration, for the
	// dedicated connections (node lock, LISTEN).
	connConfig *pgx.ConnConfig
	// schema is the schema the store lives in; the notification channels
	// carry it, so that stores in other schemas do not wake each other.
	schema               string
	routesChan, workChan string
	nodeConn             *pgx.Conn     // holds the node lock; nil without Options.Node
	nodeDone             chan struct{} // closed when keepNodeLock has stopped
	node                 string
	closeCtx             context.Context
	closeFn              context.CancelFunc
	closeOnce            sync.Once
	closeErr             error
	watchers             sync.WaitGroup
	watchMu              sync.Mutex
	closed               bool
	// workKick wakes workNotifier; notifierDone is closed when it stops.
	workKick     chan struct{}
	notifierDone chan struct{}
	// saves and attempts queue SaveWebhook and RecordAttempt for their
	// writers (group commit).
	saves    groupQueue[*saveReq]
	attempts groupQueue[*attemptReq]
}

// Lock keys: advisory locks are taken on (class, hashtext(schema:name)),
// a class per use, so that they never meet the locks of another use or of
// another schema.
const (
	lockMigrate   int32 = 0x72660001
	lockNode      int32 = 0x72660002
	lockExclusive int32 = 0x72660003
)

// Open connects to the database dsn names, brings its schema up to date
// and checks that s is the key it was written with. See the package
// documentation for the DSN's settings.
func Open(ctx context.Context, dsn string, s *seal.Sealer, opts Options) (*Store, error) {
	if s == nil {
		return nil, errors.New("postgres: open: a seal.Sealer is required")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", scrub(err, dsn))
	}
	password := cfg.ConnConfig.Password
	name := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	fail := func(err error) (*Store, error) {
		return nil, fmt.Errorf("postgres: open %s: %w", name, scrubPassword(err, password))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Store{pool: pool, sealer: s, log: log, name: name, connConfig: cfg.ConnConfig, node: opts.Node}
	st.closeCtx, st.closeFn = context.WithCancel(context.Background())
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return fail(err)
	}
	if schema == nil {
		pool.Close()
		return fail(errors.New("no schema of the search_path exists (create it, or fix search_path)"))
	}
	st.schema = *schema
	st.routesChan, st.workChan = channel("relayfn_routes", st.schema), channel("relayfn_work", st.schema)
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return fail(err)
	}
	if err := checkKey(ctx, pool, s); err != nil {
		pool.Close()
		return fail(err)
	}
	if opts.Node != "" {
		if err := st.lockNode(ctx, opts.Node); err != nil {
			pool.Close()
			return fail(err)
		}
	}
	st.workKick, st.notifierDone = make(chan struct{}, 1), make(chan struct{})
	go st.workNotifier()
	st.saves.start(max(1, int(cfg.MaxConns)/2), maxSaveBatch, st.commitSaves)
	st.attempts.start(max(1, int(cfg.MaxConns)/4), maxAttemptBatch, st.commitAttempts)
	return st, nil
}

// channel is the notification channel base_schema, kept within
// PostgreSQL's 63 bytes (a long schema name is replaced by its hash).
func channel(base, schema string) string {
	c := base + "_" + schema
	if len(c) > 63 {
		h := fnv.New64a()
		h.Write([]byte(schema))
		c = base + "_" + strconv.FormatUint(h.Sum64(), 16)
	}
	return c
}

// lockNode takes the node lock on a connection of its own, kept until
// Close.
func (s *Store) lockNode(ctx context.Context, node string) error {
	conn, err := s.takeNodeLock(ctx, node)
	if err != nil {
		return err
	}
	s.nodeConn = conn
	s.nodeDone = make(chan struct{})
	go s.keepNodeLock(node)
	return nil
}

// takeNodeLock connects and takes the node lock.
func (s *Store) takeNodeLock(ctx context.Context, node string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("node lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext(current_schema() || ':' || $2))`,
		lockNode, node).Scan(&ok); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("node lock: %w", err)
	}
	if !ok {
		conn.Close(ctx)
		return nil, fmt.Errorf("node name %q is in use by another running relay process on this database", node)
	}
	return conn, nil
}

// nodeLockCheck is how often the node lock's connection is checked: after
// an outage, the name is unguarded for at most about as long (a ping a
// second costs the database nothing worth counting).
const nodeLockCheck = time.Second

// keepNodeLock checks the node lock's connection until Close, and takes
// the lock again on a new connection when it was lost (the database
// restarted, the connection was cut): while it is lost, another process
// could start under the name, which it reports.
func (s *Store) keepNodeLock(node string) {
	defer close(s.nodeDone)
	t := time.NewTicker(nodeLockCheck)
	defer t.Stop()
	for {
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.closeCtx, nodeLockCheck)
		err := s.nodeConn.Ping(ctx)
		if err != nil && s.closeCtx.Err() == nil {
			s.log.Warn("postgres: the node lock's connection is lost; taking the lock again", "node", node, "error", err)
			s.nodeConn.Close(ctx)
			conn, err := s.takeNodeLock(ctx, node)
			if err != nil {
				s.log.Error("postgres: node lock", "node", node, "error", err)
			} else {
				s.nodeConn = conn
			}
		}
		cancel()
	}
}

// Pool returns the store's connection pool, for inspection (tests,
// diagnostics). Sealed columns read through it stay sealed.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// Close stops the watches, releases the node lock and closes the pool.
// It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// The queued SaveWebhooks are stored first.
		s.saves.close()
		s.attempts.close()
		s.watchMu.Lock()
		s.closed = true
		s.watchMu.Unlock()
		s.closeFn()
		s.watchers.Wait()
		<-s.notifierDone
		if s.nodeConn != nil {
			<-s.nodeDone
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// A connection the network already lost is no error: its
			// session, and the lock with it, is gone either way.
			if err := s.nodeConn.Close(ctx); err != nil && !connectionLost(err) {
				s.closeErr = fmt.Errorf("postgres: close: node lock: %w", err)
			}
			cancel()
		}
		s.pool.Close()
	})
	return s.closeErr
}

// scrub removes the password of dsn from err's message, for the errors of
// parsing dsn (pgx's own messages redact it; this makes sure).
func scrub(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, dsn) || dsn == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, dsn, "<dsn>"))
}

// scrubPassword removes password from err's message.
func scrubPassword(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

// scrubbed is an error whose message had a password taken out; errors.Is
// and As still see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// querier is a pool, a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// routesTx runs fn in a transaction that also notifies the nodes that
// routes changed: catalog writes.
func (s *Store) routesTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return notify(ctx, tx, s.routesChan)
	})
}

// notify sends a notification on ch, delivered when tx commits.
func notify(ctx context.Context, q querier, ch string) error {
	if _, err := q.Exec(ctx, `SELECT pg_notify($1, '')`, ch); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// nullString is s, or NULL when s is empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// sealValue seals b bound to table, row id and column.
func (s *Store) sealValue(b []byte, table, id, column string) []byte {
	return sealed.Value(s.sealer, b, table, id, column)
}

// sealOptional seals b, or returns nil (NULL) when b is empty.
func (s *Store) sealOptional(b []byte, table, id, column string) []byte {
	if len(b) == 0 {
		return nil
	}
	return s.sealValue(b, table, id, column)
}

// openValue opens a value sealed by sealValue; NULL opens to nil.
func (s *Store) openValue(b []byte, table, id, column string) ([]byte, error) {
	return sealed.Open(s.sealer, b, table, id, column)
}

// PostgreSQL error codes the store tells apart.
const (
	codeUnique     = "23505"
	codeForeignKey = "23503"
	codeNotNull    = "23502"
	// A NUL or bytes that are not UTF-8 in a text value.
	codeBadText        = "22021"
	codeUntranslatable = "22P05"
)

// pgCode returns err's PostgreSQL error code and column, if it has one.
func pgCode(err error) (code, column string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ColumnName
	}
	return "", ""
}

// mapWriteErr turns constraint violations into ErrConflict or ErrNotFound
// and adds context to every other error.
func mapWriteErr(err error, kind, name string) error {
	code, _ := pgCode(err)
	if code == codeBadText || code == codeUntranslatable {
		return fmt.Errorf("%s %q: a text field holds a NUL character or bytes that are not UTF-8, which PostgreSQL does not store: %w", kind, name, err)
	}
	return storeerr.Write(err, kind, name, code == codeUnique, code == codeForeignKey)
}

// checkUpdated returns err, or a not-found error when tag affected no row.
func checkUpdated(tag pgconn.CommandTag, err error, kind, id string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storeerr.NotFound(kind, id)
	}
	return nil
}

// exists reports whether table has a row with id.
func exists(ctx context.Context, q querier, table, id string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}

// mustExist returns a not-found error for kind when table has no row id.
func mustExist(ctx context.Context, q querier, table, kind, id string) error {
	ok, err := exists(ctx, q, table, id)
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	if !ok {
		return storeerr.NotFound(kind, id)
	}
	return nil
}

// collect scans every row of rows with scan.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
