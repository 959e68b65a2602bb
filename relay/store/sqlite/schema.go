package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are the schema's versions, in order: migrations[i] takes the
// schema from version i to i+1. Applied migrations are never edited; a
// change to the schema is a new entry at the end.
//
// Times are INTEGER Unix nanoseconds (0 for the zero time). Columns of type
// BLOB named in the comments as sealed hold seal.Sealer messages whose AAD
// is seal.AAD(table, row ID, column).
var migrations = []string{
	// 1: the initial schema.
	`
-- key_check holds one sealed, known value: Open checks that its key opens
-- it, so that a database is never used with another key.
CREATE TABLE key_check (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value BLOB NOT NULL
);

CREATE TABLE buckets (
	id                 TEXT PRIMARY KEY,
	name               TEXT NOT NULL UNIQUE,
	description        TEXT NOT NULL DEFAULT '',
	auth_type          TEXT NOT NULL DEFAULT 'none',
	auth_username      TEXT NOT NULL DEFAULT '',
	auth_password_hash TEXT NOT NULL DEFAULT '',
	ephemeral          INTEGER NOT NULL DEFAULT 0,
	created_at         INTEGER NOT NULL
);

-- bucket_id is NULL for an admin token.
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,
	bucket_id   TEXT REFERENCES buckets(id) ON DELETE CASCADE,
	name        TEXT NOT NULL DEFAULT '',
	secret_hash TEXT NOT NULL,
	created_at  INTEGER NOT NULL
);
CREATE INDEX tokens_bucket ON tokens(bucket_id);

CREATE TABLE functions (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	driver     TEXT NOT NULL DEFAULT '',
	version    INTEGER NOT NULL,
	timeout_ns INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Function source is not secret: it is stored in plaintext.
CREATE TABLE function_versions (
	function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
	version     INTEGER NOT NULL,
	hash        TEXT NOT NULL,
	source      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (function_id, version)
) WITHOUT ROWID;

-- value is sealed with AAD (function_config, function_id/key, value).
CREATE TABLE function_config (
	function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
	key         TEXT NOT NULL,
	value       BLOB NOT NULL,
	PRIMARY KEY (function_id, key)
) WITHOUT ROWID;

-- A function attached to an input or output cannot be deleted (RESTRICT):
-- detaching it silently would let webhooks through untransformed.
CREATE TABLE inputs (
	id          TEXT PRIMARY KEY,
	bucket_id   TEXT NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	function_id TEXT REFERENCES functions(id) ON DELETE RESTRICT,
	response    TEXT NOT NULL DEFAULT '{}',
	created_at  INTEGER NOT NULL,
	UNIQUE (bucket_id, name)
);
CREATE INDEX inputs_function ON inputs(function_id) WHERE function_id IS NOT NULL;

CREATE TABLE outputs (
	id                   TEXT PRIMARY KEY,
	bucket_id            TEXT NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	name                 TEXT NOT NULL,
	destination          TEXT NOT NULL DEFAULT '',
	function_id          TEXT REFERENCES functions(id) ON DELETE RESTRICT,
	response_function_id TEXT REFERENCES functions(id) ON DELETE RESTRICT,
	lock_path            INTEGER NOT NULL DEFAULT 0,
	timeout_ns           INTEGER NOT NULL DEFAULT 0,
	retry_max_attempts   INTEGER NOT NULL DEFAULT 0,
	retry_backoff        TEXT NOT NULL DEFAULT '',
	retry_initial_ns     INTEGER NOT NULL DEFAULT 0,
	retry_max_ns         INTEGER NOT NULL DEFAULT 0,
	internal             INTEGER NOT NULL DEFAULT 0,
	disabled             INTEGER NOT NULL DEFAULT 0,
	created_at           INTEGER NOT NULL,
	UNIQUE (bucket_id, name)
);
CREATE INDEX outputs_function ON outputs(function_id) WHERE function_id IS NOT NULL;
CREATE INDEX outputs_response_function ON outputs(response_function_id) WHERE response_function_id IS NOT NULL;

-- raw_query, headers (JSON), body, function_error and logs (JSON) are
-- sealed; for an ephemeral bucket they and path are NULL. input_id has no
-- foreign key: a webhook outlives its input, but not its bucket.
CREATE TABLE webhooks (
	id             TEXT PRIMARY KEY,
	bucket_id      TEXT NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	input_id       TEXT NOT NULL,
	received_at    INTEGER NOT NULL,
	method         TEXT NOT NULL DEFAULT '',
	path           TEXT,
	raw_query      BLOB,
	headers        BLOB,
	body           BLOB,
	status         INTEGER NOT NULL DEFAULT 0,
	function_error BLOB,
	logs           BLOB
);
CREATE INDEX webhooks_bucket ON webhooks(bucket_id, received_at);

-- last_error is sealed.
CREATE TABLE deliveries (
	id              TEXT PRIMARY KEY,
	webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	bucket_id       TEXT NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	output_id       TEXT NOT NULL REFERENCES outputs(id) ON DELETE CASCADE,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      BLOB,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
-- Every index is written on the hot path (a delivery is inserted and
-- updated once per attempt), so there are few: the pending queue (partial:
-- finished deliveries leave it), and what cascading deletes of webhooks and
-- buckets look up. Listings go newest first by rowid (insertion order);
-- filters on output or state scan; deleting an output scans its bucket's
-- deliveries.
CREATE INDEX deliveries_pending ON deliveries(created_at) WHERE state = 'pending';
CREATE INDEX deliveries_bucket ON deliveries(bucket_id);
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);

-- error and logs (JSON) are sealed with AAD (attempts, delivery_id/n, column);
-- logs is NULL for an ephemeral bucket.
CREATE TABLE attempts (
	delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
	n           INTEGER NOT NULL,
	started_at  INTEGER NOT NULL,
	duration_ms REAL NOT NULL DEFAULT 0,
	status      INTEGER NOT NULL DEFAULT 0,
	error       BLOB,
	logs        BLOB,
	PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;
`,

	// 2: fewer writes per webhook. Every index of webhooks and deliveries
	// is written once per webhook on the relay's hot path, so only the
	// ones that path needs remain: webhooks by ID, deliveries by ID (the
	// table itself, WITHOUT ROWID) and the pending queue. The last attempt
	// of a delivery lives in its row (the attempt_* columns), so that
	// recording a first attempt is one UPDATE; the attempts table holds
	// the earlier ones. Deliveries no longer reference their webhook: both
	// go with their bucket. New webhook and delivery IDs are time-ordered
	// (UUIDv7), so listing by ID, newest first, is listing by creation.
	`
DROP INDEX webhooks_bucket;

-- What the foreign key of a delivery on its output and bucket refers to.
CREATE UNIQUE INDEX outputs_bucket_id ON outputs(id, bucket_id);

-- last_error and attempt_error/attempt_logs are sealed, the attempt's
-- columns with the AAD of an attempt (attempts, id/attempt_n, column) so
-- that they move to the attempts table as they are. attempt_n is 0 while
-- no attempt was made; attempt_logs is NULL for an ephemeral bucket.
CREATE TABLE deliveries_v2 (
	id                  TEXT PRIMARY KEY,
	webhook_id          TEXT NOT NULL,
	bucket_id           TEXT NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	output_id           TEXT NOT NULL,
	state               TEXT NOT NULL,
	attempts            INTEGER NOT NULL DEFAULT 0,
	next_attempt_at     INTEGER NOT NULL DEFAULT 0,
	last_status         INTEGER NOT NULL DEFAULT 0,
	last_error          BLOB,
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	attempt_n           INTEGER NOT NULL DEFAULT 0,
	attempt_started_at  INTEGER NOT NULL DEFAULT 0,
	attempt_duration_ms REAL NOT NULL DEFAULT 0,
	attempt_status      INTEGER NOT NULL DEFAULT 0,
	attempt_error       BLOB,
	attempt_logs        BLOB,
	FOREIGN KEY (output_id, bucket_id) REFERENCES outputs(id, bucket_id) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO deliveries_v2 (id, webhook_id, bucket_id, output_id, state, attempts, next_attempt_at,
	last_status, last_error, created_at, updated_at,
	attempt_n, attempt_started_at, attempt_duration_ms, attempt_status, attempt_error, attempt_logs)
SELECT d.id, d.webhook_id, d.bucket_id, d.output_id, d.state, d.attempts, d.next_attempt_at,
	d.last_status, d.last_error, d.created_at, d.updated_at,
	COALESCE(a.n, 0), COALESCE(a.started_at, 0), COALESCE(a.duration_ms, 0), COALESCE(a.status, 0), a.error, a.logs
FROM deliveries d
LEFT JOIN attempts a ON a.delivery_id = d.id
	AND a.n = (SELECT MAX(n) FROM attempts WHERE delivery_id = d.id);

DELETE FROM attempts WHERE (delivery_id, n) IN (SELECT id, attempt_n FROM deliveries_v2 WHERE attempt_n > 0);
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;

-- The pending queue, oldest first (entries hold the ID after created_at).
CREATE INDEX deliveries_pending ON deliveries(created_at) WHERE state = 'pending';
`,

	// 3: the delivery engine claims due deliveries in batches, per output,
	// with a lease. due_at is when a pending delivery may next be claimed:
	// its next attempt time, or the end of the lease of the process that
	// claimed it (lease_owner, NULL when unclaimed). An expired lease makes
	// the delivery due again. The pending queue is indexed by output, so
	// that one output's backlog never stands in the way of another's
	// claims. outputs.max_in_flight caps an output's concurrent attempts
	// (0: the relay's default).
	`
ALTER TABLE outputs ADD COLUMN max_in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
UPDATE deliveries SET due_at = next_attempt_at WHERE state = 'pending';
DROP INDEX deliveries_pending;
CREATE INDEX deliveries_due ON deliveries(output_id, due_at) WHERE state = 'pending';
`,
	// 4: the caller's encoding of a webhook's extra path, when it is not
	// the default one (as "a%2Fb"); NULL otherwise and for an ephemeral
	// bucket, like path. The write probe's table.
	`ALTER TABLE webhooks ADD COLUMN raw_path TEXT;

-- health_probe is written and emptied by CheckWrite, to learn whether the
-- store accepts writes (disk full, read-only).
CREATE TABLE health_probe (
	id  INTEGER PRIMARY KEY,
	pad BLOB
);`,
	// 5: a function's spec (YAML, with its request bodies inline), stored
	// with the function: a new version is saved only when it passes.
	`CREATE TABLE function_specs (
	function_id TEXT PRIMARY KEY REFERENCES functions(id) ON DELETE CASCADE,
	spec        TEXT NOT NULL,
	updated_at  INTEGER NOT NULL
) WITHOUT ROWID;`,
	// 6: the request log. A webhook keeps the request as received when its
	// input function changed it (received, sealed JSON), what else the
	// function did (function_outcome, sealed JSON: stopped, the answer it
	// set) and the caller's answer (status; answer_headers, sealed JSON;
	// answer_size). Each attempt keeps the destination's answer: headers
	// (sealed JSON) and the first 64 KB of the body (sealed), in the
	// delivery's row for its last attempt and in attempts for the earlier
	// ones, sealed with the attempt's AAD. These payload columns are NULL
	// for an ephemeral bucket, and can be set to NULL by a retention purge
	// before the rows go. A webhook's deliveries are found by webhook_id.
	`ALTER TABLE webhooks ADD COLUMN received BLOB;
ALTER TABLE webhooks ADD COLUMN function_outcome BLOB;
ALTER TABLE webhooks ADD COLUMN answer_headers BLOB;
ALTER TABLE webhooks ADD COLUMN answer_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN attempt_response_headers BLOB;
ALTER TABLE deliveries ADD COLUMN attempt_response_body BLOB;
ALTER TABLE attempts ADD COLUMN response_headers BLOB;
ALTER TABLE attempts ADD COLUMN response_body BLOB;
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);`,
	// 7: agents. outputs.agent_window_ns is how long an internal output's
	// deliveries wait for an agent (0: relay.DefaultAgentWindow);
	// agent_tokens are the credentials of agents, scoped to buckets
	// (bucket_ids, a JSON list), apart from the callers' tokens. A token
	// naming a deleted bucket no longer grants it.
	`
ALTER TABLE outputs ADD COLUMN agent_window_ns INTEGER NOT NULL DEFAULT 0;
CREATE TABLE agent_tokens (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	bucket_ids  TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	created_at  INTEGER NOT NULL
);
`,
	// 8: retention. A bucket's retention policy (relay.Retention), in
	// nanoseconds (0: the server's default); a bucket without a row
	// follows the server's defaults.
	`CREATE TABLE bucket_retention (
	bucket_id   TEXT PRIMARY KEY REFERENCES buckets(id) ON DELETE CASCADE,
	payload_ns  INTEGER NOT NULL DEFAULT 0,
	metadata_ns INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;`,
	// 9: a claim's ID (relay.Delivery.LeaseID), new for each claim, so
	// that a process whose lease ran out cannot record over a newer
	// claim's result.
	`ALTER TABLE deliveries ADD COLUMN lease_id TEXT;`,
	// 10: deleting a bucket or an output no longer cascades into its
	// webhooks and deliveries, which only a scan of those tables finds
	// (they have no index on bucket or output, which would cost every
	// webhook another write): DeleteBucket and DeleteOutput remove the
	// catalog rows at once and leave a row in deleted_owners, and the
	// retention purge (relay.PurgeDeleted) removes what they left in small
	// batches. Readers skip webhooks whose bucket and deliveries whose
	// output is gone. webhooks and deliveries are rebuilt without their
	// foreign keys on buckets and outputs (SQLite cannot drop a foreign
	// key in place), with SQLite's procedure for changing a table's
	// definition, as migration 2 did; attempts keep cascading from
	// deliveries, and the indexes are made again. The rebuild copies both
	// tables, bodies included: on a large database it takes about as long
	// as copying the file, needs as much free disk again as the two
	// tables, and holds the write lock meanwhile (it runs at Open, before
	// the relay serves).
	//
	// deleted_owners holds the IDs of deleted buckets and outputs (kind
	// 'bucket' or 'output') whose records may remain; sweep marks those
	// a running sweep of relay.PurgeDeleted started with, which it
	// removes when it ends.
	`
CREATE TABLE webhooks_v10 (
	id               TEXT PRIMARY KEY,
	bucket_id        TEXT NOT NULL,
	input_id         TEXT NOT NULL,
	received_at      INTEGER NOT NULL,
	method           TEXT NOT NULL DEFAULT '',
	path             TEXT,
	raw_query        BLOB,
	headers          BLOB,
	body             BLOB,
	status           INTEGER NOT NULL DEFAULT 0,
	function_error   BLOB,
	logs             BLOB,
	raw_path         TEXT,
	received         BLOB,
	function_outcome BLOB,
	answer_headers   BLOB,
	answer_size      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO webhooks_v10 (rowid, id, bucket_id, input_id, received_at, method, path, raw_query, headers, body,
	status, function_error, logs, raw_path, received, function_outcome, answer_headers, answer_size)
SELECT rowid, id, bucket_id, input_id, received_at, method, path, raw_query, headers, body,
	status, function_error, logs, raw_path, received, function_outcome, answer_headers, answer_size
FROM webhooks;
DROP TABLE webhooks;
ALTER TABLE webhooks_v10 RENAME TO webhooks;

CREATE TABLE deliveries_v10 (
	id                       TEXT PRIMARY KEY,
	webhook_id               TEXT NOT NULL,
	bucket_id                TEXT NOT NULL,
	output_id                TEXT NOT NULL,
	state                    TEXT NOT NULL,
	attempts                 INTEGER NOT NULL DEFAULT 0,
	next_attempt_at          INTEGER NOT NULL DEFAULT 0,
	last_status              INTEGER NOT NULL DEFAULT 0,
	last_error               BLOB,
	created_at               INTEGER NOT NULL,
	updated_at               INTEGER NOT NULL,
	attempt_n                INTEGER NOT NULL DEFAULT 0,
	attempt_started_at       INTEGER NOT NULL DEFAULT 0,
	attempt_duration_ms      REAL NOT NULL DEFAULT 0,
	attempt_status           INTEGER NOT NULL DEFAULT 0,
	attempt_error            BLOB,
	attempt_logs             BLOB,
	due_at                   INTEGER NOT NULL DEFAULT 0,
	lease_owner              TEXT,
	attempt_response_headers BLOB,
	attempt_response_body    BLOB,
	lease_id                 TEXT
) WITHOUT ROWID;
INSERT INTO deliveries_v10 (id, webhook_id, bucket_id, output_id, state, attempts, next_attempt_at, last_status,
	last_error, created_at, updated_at, attempt_n, attempt_started_at, attempt_duration_ms, attempt_status,
	attempt_error, attempt_logs, due_at, lease_owner, attempt_response_headers, attempt_response_body, lease_id)
SELECT id, webhook_id, bucket_id, output_id, state, attempts, next_attempt_at, last_status,
	last_error, created_at, updated_at, attempt_n, attempt_started_at, attempt_duration_ms, attempt_status,
	attempt_error, attempt_logs, due_at, lease_owner, attempt_response_headers, attempt_response_body, lease_id
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v10 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries(output_id, due_at) WHERE state = 'pending';
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);

CREATE TABLE deleted_owners (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	deleted_at INTEGER NOT NULL,
	sweep      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`,
}

// migrate brings the schema of the database behind db up to date.
func migrate(ctx context.Context, db *sql.DB) error {
	return applyMigrations(ctx, db, migrations)
}

// applyMigrations applies the migrations of ms that db lacks, in one
// transaction, following SQLite's procedure for changing a table's
// definition: foreign keys off while tables are rebuilt, checked before
// the commit.
func applyMigrations(ctx context.Context, db *sql.DB, ms []string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	// foreign_keys cannot change inside a transaction.
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case err == sql.ErrNoRows:
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: reading the schema version: %w", err)
	}
	if version > len(ms) {
		return fmt.Errorf("migrate: the database's schema version %d is newer than this program's (%d)", version, len(ms))
	}
	if version == len(ms) {
		return nil
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	broken := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if broken {
		return fmt.Errorf("migrate: to version %d: a foreign key no longer holds", len(ms))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(ms)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
