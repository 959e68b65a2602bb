// Package sqlite is the relay's embedded store: one SQLite file, no server.
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL by default: a
// write that has returned survives a crash or SIGKILL of the process, but
// the last transactions before a power loss or kernel crash may be lost
// (the database itself stays consistent). Add ?synchronous=full to the DSN
// to make every commit survive a power loss too, at the cost of an fsync
// per commit; group commit (below) shares that fsync among concurrent
// writers.
//
// # Writes
//
// SQLite has one writer at a time. The store writes through one
// connection; SaveWebhook, AddDeliveries and RecordAttempt go through a
// group-commit queue: one goroutine takes the queued writes and commits
// them in batches, one transaction per batch. If a write of a batch fails,
// the batch is rolled back and each of its writes is retried in a
// transaction of its own, so that a failing write fails alone. Every
// caller is answered after its write has committed. RecordAttempt's
// writes, which no webhook's caller waits on, are lazy: a batch of only
// those waits up to a millisecond for a SaveWebhook to share its commit. A
// batch of only SaveWebhook and RecordAttempt writes runs its prepared
// statements on the driver's connection directly (hot.go). Reads use a
// separate pool of read-only connections and are not blocked by writes.
//
// # Claims
//
// The delivery engine claims due deliveries with ClaimDue: each claim
// leases a delivery to its owner until a time (due_at and lease_owner; an
// unclaimed pending delivery's due_at is its next attempt time), so the
// pending queue is one partial index, deliveries_due(output_id, due_at)
// WHERE state = 'pending': a claim reads only its output's part of it,
// earliest due first, and an expired lease is simply due. A fresh
// delivery stored with a lease (SaveWebhook with LeaseOwner set) is not
// due until the lease ends; RecordAttempt and ReleaseClaims end leases.
//
// The relay writes three times per webhook and output (the webhook, its
// delivery, the delivery's attempt), so the schema keeps those writes
// small: webhook and delivery IDs are time-ordered (relay.NewRecordID),
// so that their indexes grow at the end; the tables carry only the
// indexes those writes need (listings filter as they scan, newest first);
// and a delivery's last attempt lives in its row, so that a delivery that
// succeeds at once is one UPDATE. BenchmarkWebhookLifecycle measures it.
//
// # Encryption at rest
//
// Webhook queries, headers, bodies, function errors and logs, attempt
// errors and logs, delivery errors and function configuration values are
// sealed with the seal.Sealer given to Open (AES-256-GCM), each bound to
// its table, row and column, so that a value moved elsewhere does not
// open. Ids, names, methods, paths, statuses, times, function source and
// bucket, input, output and token settings (token secrets and passwords
// are bcrypt hashes) are stored in plaintext. Open refuses a key other
// than the one the database was first opened with.
//
// A webhook saved while its bucket is ephemeral is stored without its
// path, query, headers, body, function error and logs: only its ids,
// method, status and time. Attempts recorded while the bucket is ephemeral
// are stored without their logs.
//
// # Deletion
//
// Deleting a bucket deletes its inputs, outputs, tokens and retention
// policy; deleting an output, the output; both at once, in one short
// transaction of the group-commit writer. Their webhooks and deliveries
// (with attempts) stay in the database, hidden from every reader (a
// webhook is shown only while its bucket exists, a delivery while its
// output does) and never claimed, until the retention purge sweeps them
// in small batches (relay.PurgeDeleted, deleted.go): the tables have no
// index on bucket or output (which would cost every webhook another
// write), so finding them is a scan, done on a read connection without
// the write lock. Deleting an input keeps its webhooks. A function
// attached to an input or output cannot be deleted. TestDeletePaged
// measures it.
//
// # Retention
//
// Purge (retention.go) empties the payload columns of a bucket's old
// webhooks, or deletes them with their deliveries and attempts, in
// batches: candidates are read by ID range (IDs are time-ordered) on a
// read connection, then purged in one transaction of the group-commit
// writer with secure_delete on, so that freed and rewritten pages are
// zeroed. Each batch is a transaction of its own, taken in its turn from
// the writer's queue (writeAlone): the webhooks stored meanwhile wait for
// one batch at most, never for a run. Webhooks with a pending delivery
// are skipped. TestPurgePause measures how long a concurrent writer waits.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/internal/sealed"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
)

var _ relay.Store = (*Store)(nil)

// ErrClosed is returned by writes to a closed Store.
var ErrClosed = errors.New("sqlite: store is closed")

const (
	// defaultBusyTimeout is how long a connection waits for a lock held by
	// another process before failing with SQLITE_BUSY, in milliseconds.
	defaultBusyTimeout = 10000
	// maxBatch bounds the writes committed in one transaction.
	maxBatch = 256
	// maxYields bounds the turns the writer yields to let writes queue
	// up before it commits a batch.
	maxYields = 8
	// lazyWait is the longest a batch of lazy writes (attempts recorded)
	// waits for a write that a caller waits on (a webhook stored), to
	// share its commit.
	lazyWait = time.Millisecond
	// checkpointInterval is the least time between two checkpoints of the
	// background checkpointer.
	checkpointInterval = 100 * time.Millisecond
	// autoCheckpointPages is the WAL size, in pages, at which the writer
	// checkpoints itself: a backstop for a checkpointer that falls behind.
	autoCheckpointPages = 4000
)

// Store is a relay.Store in a SQLite database file. It is safe for
// concurrent use; several Stores (or processes) may open the same file,
// though only one at a time writes.
type Store struct {
	rdb    *sql.DB // read-only connections
	wdb    *sql.DB // the one write connection
	cdb    *sql.DB // the checkpointer's connection
	sealer *seal.Sealer

	// stmts are the group-commit writes' statements, prepared on wdb;
	// read-only after Open.
	stmts map[string]*sql.Stmt
	// getWebhook is qGetWebhook, prepared on rdb.
	getWebhook *sql.Stmt

	mu     sync.RWMutex // guards closed and sending on queue
	closed bool
	queue  chan *writeReq
	done   chan struct{} // closed when the writer has stopped

	kick     chan struct{} // the writer's commits, for the checkpointer
	ckptDone chan struct{} // closed when the checkpointer has stopped

	ephemeral idCache[bool]   // bucket ID → ephemeral
	outputs   idCache[string] // output ID → bucket ID

	// raw runs the batches of hot writes; the writer's alone.
	raw rawTx
}

// idCache is a map by record ID that goroutines share: the facts about
// buckets and outputs that SaveWebhook would otherwise read for every
// webhook.
//
// ephemeral holds buckets' ephemeral flags. Bucket writes run outside the
// group-commit transactions (on the same single connection), so what those
// transactions read is committed; each forgets its bucket once it has
// committed, so a SaveWebhook that starts after UpdateBucket returned sees
// the new flag (one running meanwhile may see either).
//
// outputs holds the bucket of each output SaveWebhook found in its
// bucket, so that it checks each output once rather than for every
// delivery. Outputs never change buckets; DeleteOutput forgets its output
// and DeleteBucket every output, both in the group-commit writer before
// they delete and again once they have committed, so that a SaveWebhook
// after them in the writer's queue reads the outputs table again.
type idCache[V comparable] struct {
	mu sync.Mutex
	m  map[string]V
}

func (c *idCache[V]) get(id string) (v V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok = c.m[id]
	return v, ok
}

func (c *idCache[V]) put(id string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]V)
	}
	c.m[id] = v
}

func (c *idCache[V]) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *idCache[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// Open opens (creating it when missing) the database named by dsn and
// brings its schema up to date. dsn is a file path, sqlite://path
// (sqlite:///abs/path for an absolute path) or a file: URI; its query may
// hold synchronous=normal|full|extra|off (default normal) and
// busy_timeout=<milliseconds> (default 10000), and, for a file: URI,
// SQLite's URI parameters. In-memory databases are refused. s seals what
// the store encrypts at rest.
func Open(ctx context.Context, dsn string, s *seal.Sealer) (*Store, error) {
	if s == nil {
		return nil, errors.New("sqlite: open: a seal.Sealer is required")
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	wdb, err := sql.Open("sqlite", cfg.driverDSN(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, err)
	}
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, readOnly(err))
	}
	if err := checkKey(ctx, wdb, s); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, readOnly(err))
	}
	if err := checkWritable(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, readOnly(err))
	}
	rdb, err := sql.Open("sqlite", cfg.driverDSN(false))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	if err := rdb.PingContext(ctx); err != nil {
		rdb.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, err)
	}
	cdb, err := sql.Open("sqlite", cfg.driverDSN(false))
	if err != nil {
		rdb.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.name, err)
	}
	cdb.SetMaxOpenConns(1)
	cdb.SetMaxIdleConns(1)
	cdb.SetConnMaxLifetime(0)
	cdb.SetConnMaxIdleTime(0)
	st := &Store{
		rdb:      rdb,
		wdb:      wdb,
		cdb:      cdb,
		sealer:   s,
		stmts:    make(map[string]*sql.Stmt, len(preparedQueries)),
		queue:    make(chan *writeReq, maxBatch),
		done:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		ckptDone: make(chan struct{}),
	}
	for _, q := range preparedQueries {
		stmt, err := wdb.PrepareContext(ctx, q)
		if err != nil {
			st.closeDBs()
			return nil, fmt.Errorf("sqlite: open %s: prepare: %w", cfg.name, err)
		}
		st.stmts[q] = stmt
	}
	if st.getWebhook, err = rdb.PrepareContext(ctx, qGetWebhook); err != nil {
		st.closeDBs()
		return nil, fmt.Errorf("sqlite: open %s: prepare: %w", cfg.name, err)
	}
	go st.writer()
	go st.checkpointer()
	return st, nil
}

// keyCheckPlaintext is what the key_check row seals.
const keyCheckPlaintext = "relayfn key check"

// checkKey seals a known value into a new database, or checks that s opens
// the one already there.
func checkKey(ctx context.Context, db *sql.DB, s *seal.Sealer) error {
	aad := seal.AAD("key_check", "1", "value")
	var sealed []byte
	err := db.QueryRowContext(ctx, `SELECT value FROM key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		_, err := db.ExecContext(ctx, `INSERT INTO key_check (id, value) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`,
			s.Seal([]byte(keyCheckPlaintext), aad))
		if err != nil {
			return fmt.Errorf("key check: %w", err)
		}
		return checkKey(ctx, db, s) // a concurrent Open may have won
	}
	if err != nil {
		return fmt.Errorf("key check: %w", err)
	}
	plain, err := s.Open(sealed, aad)
	if err != nil || string(plain) != keyCheckPlaintext {
		return fmt.Errorf("the encryption key is not the one this database was written with (was the key file replaced or lost?): %w", seal.ErrOpen)
	}
	return nil
}

// DB returns the store's pool of read-only connections, for inspection
// (tests, diagnostics). Sealed columns read through it stay sealed.
func (s *Store) DB() *sql.DB { return s.rdb }

// Close commits the writes already queued, stops the writer and closes the
// database. Writes after Close fail with ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	<-s.ckptDone

	// Let SQLite refresh its query planner statistics; failures are
	// harmless.
	_, _ = s.wdb.Exec(`PRAGMA optimize`)
	rawErr := s.closeRaw(context.Background())
	if err := errors.Join(rawErr, s.closeDBs()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// closeDBs closes the prepared statements and both pools.
func (s *Store) closeDBs() error {
	var errs []error
	for _, stmt := range s.stmts {
		errs = append(errs, stmt.Close())
	}
	if s.getWebhook != nil {
		errs = append(errs, s.getWebhook.Close())
	}
	errs = append(errs, s.cdb.Close(), s.rdb.Close(), s.wdb.Close())
	return errors.Join(errs...)
}

// txExec runs query in tx, through its prepared statement when it has one.
// The writes of every webhook pass their arguments as driver values
// (int64, string, []byte, nil): database/sql converts other types (int, a
// named string type) by reflection, with an allocation each.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if stmt := s.txStmt(ctx, tx, query); stmt != nil {
		return stmt.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txQueryRow runs query in tx, through its prepared statement when it has
// one.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if stmt := s.txStmt(ctx, tx, query); stmt != nil {
		return stmt.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txStmts are the prepared statements bound to one transaction of the
// group-commit writer. A batch runs the same few statements for each of
// its writes: binding each once per transaction rather than once per use
// saves a tx.StmtContext (allocations and locks) per statement.
type txStmts struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

// txStmtsKey is the context key of a transaction's txStmts.
type txStmtsKey struct{}

// withTxStmts returns ctx carrying a cache of the statements bound to tx.
// The cache is used only by the goroutine running the transaction.
func withTxStmts(ctx context.Context, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, txStmtsKey{}, &txStmts{tx: tx, m: make(map[string]*sql.Stmt, len(preparedQueries))})
}

// txStmt is query's prepared statement bound to tx, or nil when query is
// not prepared; from ctx's cache when ctx carries one for tx. Statements
// bound to a transaction are closed when it ends.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	stmt := s.stmts[query]
	if stmt == nil {
		return nil
	}
	c, ok := ctx.Value(txStmtsKey{}).(*txStmts)
	if !ok || c.tx != tx {
		return tx.StmtContext(ctx, stmt)
	}
	if bound := c.m[query]; bound != nil {
		return bound
	}
	bound := tx.StmtContext(ctx, stmt)
	c.m[query] = bound
	return bound
}

// dsnConfig is a parsed DSN.
type dsnConfig struct {
	name        string // a path or a file: URI, without the query
	uri         bool   // name is a file: URI
	query       url.Values
	synchronous string
	busyTimeout int
}

// parseDSN parses a path, sqlite://path or file: URI.
func parseDSN(dsn string) (*dsnConfig, error) {
	cfg := &dsnConfig{synchronous: "NORMAL", busyTimeout: defaultBusyTimeout}
	rest := dsn
	switch {
	case strings.HasPrefix(rest, "sqlite://"):
		rest = strings.TrimPrefix(rest, "sqlite://")
	case strings.HasPrefix(rest, "sqlite:"):
		rest = strings.TrimPrefix(rest, "sqlite:")
	case strings.HasPrefix(rest, "file:"):
		cfg.uri = true
	}
	name, rawQuery, _ := strings.Cut(rest, "?")
	if !cfg.uri {
		if p, err := url.PathUnescape(name); err == nil && strings.HasPrefix(dsn, "sqlite:") {
			name = p
		}
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dsn %q: %w", name, err)
	}
	if v := q.Get("synchronous"); v != "" {
		switch up := strings.ToUpper(v); up {
		case "OFF", "NORMAL", "FULL", "EXTRA":
			cfg.synchronous = up
		default:
			return nil, fmt.Errorf("sqlite: dsn %q: synchronous=%q: want off, normal, full or extra", name, v)
		}
		q.Del("synchronous")
	}
	if v := q.Get("busy_timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("sqlite: dsn %q: busy_timeout=%q: want milliseconds", name, v)
		}
		cfg.busyTimeout = ms
		q.Del("busy_timeout")
	}
	path := name
	if cfg.uri {
		path = strings.TrimPrefix(path, "file:")
	}
	if path == "" || path == ":memory:" || strings.EqualFold(q.Get("mode"), "memory") {
		return nil, fmt.Errorf("sqlite: dsn %q: a database file is required (in-memory databases are not supported)", dsn)
	}
	cfg.name = name
	cfg.query = q
	return cfg, nil
}

// driverDSN is the DSN for the write connection (write) or the read pool.
func (c *dsnConfig) driverDSN(write bool) string {
	q := url.Values{}
	for k, v := range c.query {
		q[k] = append([]string(nil), v...)
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.busyTimeout))
	q.Add("_pragma", "foreign_keys(1)")
	// Savepoints and statement journals stay in memory.
	q.Add("_pragma", "temp_store(MEMORY)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+c.synchronous+")")
		// Take the write lock at BEGIN, so that a transaction never fails
		// half-way with SQLITE_BUSY when upgrading its lock.
		q.Set("_txlock", "immediate")
		// The checkpointer copies the WAL into the database off the
		// writer's path; the writer checkpoints only when it falls behind.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages))
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return c.name + "?" + q.Encode()
}

// writeReq is a write queued for the group-commit writer.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
	lazy bool
	// alone: the write runs in a transaction of its own (writeAlone).
	alone bool
	// hot is fn as a hot write (writeHot), or nil.
	hot func(ctx context.Context, t hotTx) error
}

// write runs fn in a transaction of the group-commit writer and returns its
// result once that transaction has committed (or fn has failed and been
// rolled back). fn may run more than once, so it must not keep state
// between runs. A write whose ctx is done before the writer takes it is
// not run; once taken, it is awaited, so that an error always means
// "not written".
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.enqueue(ctx, &writeReq{fn: fn})
}

// writeAlone is write for background work (a purge batch): fn runs in a
// transaction of its own, in its turn in the writer's queue, so that the
// writes queued before it commit without waiting for it, and those
// queued after it wait for fn alone, not for a batch it would share.
func (s *Store) writeAlone(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.enqueue(ctx, &writeReq{fn: fn, alone: true})
}

// enqueue queues req for the writer and waits for its result.
func (s *Store) enqueue(ctx context.Context, req *writeReq) error {
	req.ctx, req.done = ctx, make(chan error, 1)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	return <-req.done
}

// writer commits the queued writes in batches until the queue is closed
// and empty. A write to run alone ends the batch being filled, and runs
// after it.
func (s *Store) writer() {
	defer close(s.done)
	defer close(s.kick)
	batch := make([]*writeReq, 0, maxBatch)
	var held *writeReq // a write to run alone, taken while filling a batch
	for {
		req := held
		held = nil
		if req == nil {
			var ok bool
			if req, ok = <-s.queue; !ok {
				return
			}
		}
		batch = append(batch[:0], req)
		if !req.alone {
			// Let the goroutines that are about to write queue up: one
			// commit for all of them costs about what one costs alone.
			// While yielding brings more, yield again (a few times at
			// most): under load, the writes of callers answered by the
			// last commit arrive over several turns of the scheduler.
			for range maxYields {
				n := len(batch)
				runtime.Gosched()
				held = s.fill(&batch)
				if held != nil || len(batch) == n || len(batch) >= maxBatch {
					break
				}
			}
		}
		if held == nil && lazyOnly(batch) {
			// Nobody waits on these writes to answer a caller: give them
			// a moment to share the commit of one that does.
			t := time.NewTimer(lazyWait)
		wait:
			for len(batch) < maxBatch {
				select {
				case r, ok := <-s.queue:
					if !ok {
						break wait
					}
					if r.alone {
						held = r
						break wait
					}
					batch = append(batch, r)
					if !r.lazy {
						held = s.fill(&batch)
						break wait
					}
				case <-t.C:
					break wait
				}
			}
			t.Stop()
		}
		s.commitBatch(batch)
		clear(batch)
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// fill adds the writes already queued to batch, up to maxBatch, and
// returns the write to run alone that stopped it, if any.
func (s *Store) fill(batch *[]*writeReq) (held *writeReq) {
	for len(*batch) < maxBatch {
		select {
		case r, ok := <-s.queue:
			if !ok {
				return nil
			}
			if r.alone {
				return r
			}
			*batch = append(*batch, r)
		default:
			return nil
		}
	}
	return nil
}

// lazyOnly reports whether every write of batch is lazy.
func lazyOnly(batch []*writeReq) bool {
	for _, r := range batch {
		if !r.lazy || r.alone {
			return false
		}
	}
	return true
}

// checkpointer copies committed WAL frames into the database file after
// the writer's commits, at most once per checkpointInterval, so that the
// writer rarely has to. It stops when the writer has.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	for range s.kick {
		// A PASSIVE checkpoint never waits for readers or the writer. An
		// error (another process checkpointing, say) is harmless: the
		// next run or the writer's own checkpoint does the work.
		_, _ = s.cdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		t := time.NewTimer(checkpointInterval)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
		}
	}
}

// commitBatch runs batch in one transaction and answers every write. If a
// write or the transaction fails, each write is retried in a transaction
// of its own.
func (s *Store) commitBatch(batch []*writeReq) {
	// Statements run under a context of their own: a caller's cancellation
	// must not interrupt a transaction shared with other callers.
	ctx := context.Background()
	results := make([]error, len(batch))
	// Optimistically, the whole batch in one transaction. Writes rarely
	// fail; when one does, nothing of the batch is committed and every
	// write gets a transaction of its own, so that one write's failure is
	// not the others'. A batch of hot writes runs on the driver (see
	// hotTx), or again through database/sql when one needs it.
	var err error
	if hotOnly(batch) {
		err = s.runRaw(ctx, batch, results)
	}
	if !hotOnly(batch) || errors.Is(err, errNeedsSQL) {
		clear(results)
		err = s.runSQL(ctx, batch, results)
	}
	if err != nil {
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			results[i] = s.inTx(ctx, r.fn)
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// runSQL runs batch in one database/sql transaction, and returns the
// first error of a write or of the transaction. The writes whose context
// is done are not run; their results are set.
func (s *Store) runSQL(ctx context.Context, batch []*writeReq, results []error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ctx = withTxStmts(ctx, tx)
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := r.fn(ctx, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// probeBytes is the size of CheckWrite's row: larger than a page, so that
// it needs pages of its own, as a webhook's body does.
const probeBytes = 16 << 10

// CheckWrite makes a probe write through the group-commit writer, a
// 16 KiB row inserted and deleted in one committed transaction, and
// returns its error: nil when the store accepts writes, an error when it
// refuses them (disk full, a read-only file or file system, I/O errors).
// The relay's /healthz reports "degraded" on such an error.
func (s *Store) CheckWrite(ctx context.Context) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO health_probe (pad) VALUES (zeroblob(?))`, probeBytes); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM health_probe`)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: write probe: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction of the write connection.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// nullString is s, or NULL when s is empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// boolInt is b as 0 or 1.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sealValue seals b bound to table, row id and column.
func (s *Store) sealValue(b []byte, table, id, column string) []byte {
	return sealed.Value(s.sealer, b, table, id, column)
}

// sealOptional seals b, or returns NULL when b is empty.
func (s *Store) sealOptional(b []byte, table, id, column string) any {
	if len(b) == 0 {
		return nil
	}
	return s.sealValue(b, table, id, column)
}

// openValue opens a value sealed by sealValue; NULL opens to nil.
func (s *Store) openValue(b []byte, table, id, column string) ([]byte, error) {
	return sealed.Open(s.sealer, b, table, id, column)
}

// constraint reports which constraint, if any, err violated.
func constraint(err error) (unique, foreignKey bool) {
	if err == nil {
		// The common case, before se escapes to the heap: a write calls
		// this for every statement.
		return false, false
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false, false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true, false
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return false, true
	}
	return false, false
}

// mapWriteErr turns constraint violations into ErrConflict or ErrNotFound
// and adds context to every other error.
func mapWriteErr(err error, kind, name string) error {
	if isReadOnly(err) {
		return fmt.Errorf("%s %q: %w: %v", kind, name, ErrReadOnly, err)
	}
	unique, fk := constraint(err)
	return storeerr.Write(err, kind, name, unique, fk)
}

// exists reports whether table has a row with id.
func exists(ctx context.Context, q querier, table, id string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
