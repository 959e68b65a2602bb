package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/relayfn/relayfn/relay/seal"
)

// migrations are the schema's versions: migrations[i] brings a database
// from version i to i+1. A released migration never changes; a change of
// the schema is a new one.
var migrations = []string{
	// 1: the schema of the SQLite store's version 10, for PostgreSQL.
	// Times are Unix nanoseconds (0: none); sealed columns are bytea.
	// Text compares and sorts by bytes (COLLATE "C"), as in SQLite,
	// whatever the database's collation: names list in the same order,
	// and time-ordered IDs compare as the times they were made at.
	`
-- key_check holds a known value sealed with the database's key, so that
-- Open refuses another key.
CREATE TABLE key_check (
	id    integer PRIMARY KEY CHECK (id = 1),
	value bytea NOT NULL
);

-- health_probe's one row is updated by CheckWrite.
CREATE TABLE health_probe (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL DEFAULT 0
);
INSERT INTO health_probe (id) VALUES (1);

CREATE TABLE buckets (
	id                 text COLLATE "C" PRIMARY KEY,
	name               text COLLATE "C" NOT NULL UNIQUE,
	description        text COLLATE "C" NOT NULL DEFAULT '',
	auth_type          text COLLATE "C" NOT NULL DEFAULT 'none',
	auth_username      text COLLATE "C" NOT NULL DEFAULT '',
	auth_password_hash text COLLATE "C" NOT NULL DEFAULT '',
	ephemeral          boolean NOT NULL DEFAULT false,
	created_at         bigint NOT NULL
);

-- bucket_id is NULL for an admin token.
CREATE TABLE tokens (
	id          text COLLATE "C" PRIMARY KEY,
	bucket_id   text COLLATE "C" REFERENCES buckets(id) ON DELETE CASCADE,
	name        text COLLATE "C" NOT NULL DEFAULT '',
	secret_hash text COLLATE "C" NOT NULL,
	created_at  bigint NOT NULL
);
CREATE INDEX tokens_bucket ON tokens(bucket_id);

CREATE TABLE functions (
	id         text COLLATE "C" PRIMARY KEY,
	name       text COLLATE "C" NOT NULL UNIQUE,
	driver     text COLLATE "C" NOT NULL DEFAULT '',
	version    integer NOT NULL,
	timeout_ns bigint NOT NULL DEFAULT 0,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL
);

-- Function source is not secret: it is stored in plaintext.
CREATE TABLE function_versions (
	function_id text COLLATE "C" NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
	version     integer NOT NULL,
	hash        text COLLATE "C" NOT NULL,
	source      text COLLATE "C" NOT NULL,
	created_at  bigint NOT NULL,
	PRIMARY KEY (function_id, version)
);

-- value is sealed with AAD (function_config, function_id, key, value).
CREATE TABLE function_config (
	function_id text COLLATE "C" NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
	key         text COLLATE "C" NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (function_id, key)
);

-- A function's spec (YAML), stored with it.
CREATE TABLE function_specs (
	function_id text COLLATE "C" PRIMARY KEY REFERENCES functions(id) ON DELETE CASCADE,
	spec        text COLLATE "C" NOT NULL,
	updated_at  bigint NOT NULL
);

-- A function attached to an input or output cannot be deleted (RESTRICT).
CREATE TABLE inputs (
	id          text COLLATE "C" PRIMARY KEY,
	bucket_id   text COLLATE "C" NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	name        text COLLATE "C" NOT NULL,
	description text COLLATE "C" NOT NULL DEFAULT '',
	function_id text COLLATE "C" REFERENCES functions(id) ON DELETE RESTRICT,
	response    text COLLATE "C" NOT NULL DEFAULT '{}',
	created_at  bigint NOT NULL,
	UNIQUE (bucket_id, name)
);
CREATE INDEX inputs_function ON inputs(function_id) WHERE function_id IS NOT NULL;

CREATE TABLE outputs (
	id                   text COLLATE "C" PRIMARY KEY,
	bucket_id            text COLLATE "C" NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
	name                 text COLLATE "C" NOT NULL,
	destination          text COLLATE "C" NOT NULL DEFAULT '',
	function_id          text COLLATE "C" REFERENCES functions(id) ON DELETE RESTRICT,
	response_function_id text COLLATE "C" REFERENCES functions(id) ON DELETE RESTRICT,
	lock_path            boolean NOT NULL DEFAULT false,
	timeout_ns           bigint NOT NULL DEFAULT 0,
	retry_max_attempts   integer NOT NULL DEFAULT 0,
	retry_backoff        text COLLATE "C" NOT NULL DEFAULT '',
	retry_initial_ns     bigint NOT NULL DEFAULT 0,
	retry_max_ns         bigint NOT NULL DEFAULT 0,
	internal             boolean NOT NULL DEFAULT false,
	disabled             boolean NOT NULL DEFAULT false,
	created_at           bigint NOT NULL,
	max_in_flight        integer NOT NULL DEFAULT 0,
	agent_window_ns      bigint NOT NULL DEFAULT 0,
	UNIQUE (bucket_id, name)
);
CREATE INDEX outputs_function ON outputs(function_id) WHERE function_id IS NOT NULL;
CREATE INDEX outputs_response_function ON outputs(response_function_id) WHERE response_function_id IS NOT NULL;

-- Agent credentials; bucket_ids is a JSON list.
CREATE TABLE agent_tokens (
	id          text COLLATE "C" PRIMARY KEY,
	name        text COLLATE "C" NOT NULL DEFAULT '',
	bucket_ids  text COLLATE "C" NOT NULL,
	secret_hash text COLLATE "C" NOT NULL,
	created_at  bigint NOT NULL
);

-- A bucket's retention policy, in nanoseconds (0: the server's default).
CREATE TABLE bucket_retention (
	bucket_id   text COLLATE "C" PRIMARY KEY REFERENCES buckets(id) ON DELETE CASCADE,
	payload_ns  bigint NOT NULL DEFAULT 0,
	metadata_ns bigint NOT NULL DEFAULT 0
);

-- What deleted buckets and outputs left behind, until Purge (kind
-- 'deleted') has removed their webhooks or deliveries.
CREATE TABLE tombstones (
	kind       text COLLATE "C" NOT NULL CHECK (kind IN ('bucket', 'output')),
	id         text COLLATE "C" NOT NULL,
	deleted_at bigint NOT NULL,
	PRIMARY KEY (kind, id)
);

-- The request log. raw_query, headers, body, function_error, logs,
-- received, function_outcome and answer_headers are sealed; for an
-- ephemeral bucket they and path and raw_path are NULL. path and raw_path
-- are bytea: a request's path may hold any byte (NUL, bytes that are not
-- UTF-8), and comes back as it was. Neither bucket_id
-- nor input_id has a foreign key: a webhook outlives its input, and a
-- deleted bucket's webhooks go in batches (Purge).
CREATE TABLE webhooks (
	id               text COLLATE "C" PRIMARY KEY,
	bucket_id        text COLLATE "C" NOT NULL,
	input_id         text COLLATE "C" NOT NULL,
	received_at      bigint NOT NULL,
	method           text COLLATE "C" NOT NULL DEFAULT '',
	path             bytea,
	raw_path         bytea,
	raw_query        bytea,
	headers          bytea,
	body             bytea,
	status           integer NOT NULL DEFAULT 0,
	function_error   bytea,
	logs             bytea,
	received         bytea,
	function_outcome bytea,
	answer_headers   bytea,
	answer_size      integer NOT NULL DEFAULT 0
);
-- A bucket's webhooks by ID: the request log's listing, retention and
-- the purge of a deleted bucket.
CREATE INDEX webhooks_bucket ON webhooks(bucket_id, id);

-- A delivery's last attempt lives in its row (attempt_*, sealed with the
-- attempt's AAD), the earlier ones in attempts. due_at is when a pending
-- delivery may next be claimed: its next attempt time, or the end of its
-- lease (lease_owner, lease_id; NULL when unclaimed). output_id has no
-- foreign key: a deleted output's deliveries go in batches (Purge).
CREATE TABLE deliveries (
	id                       text COLLATE "C" PRIMARY KEY,
	webhook_id               text COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	bucket_id                text COLLATE "C" NOT NULL,
	output_id                text COLLATE "C" NOT NULL,
	state                    text COLLATE "C" NOT NULL,
	attempts                 integer NOT NULL DEFAULT 0,
	next_attempt_at          bigint NOT NULL DEFAULT 0,
	last_status              integer NOT NULL DEFAULT 0,
	last_error               bytea,
	created_at               bigint NOT NULL,
	updated_at               bigint NOT NULL,
	due_at                   bigint NOT NULL DEFAULT 0,
	lease_owner              text COLLATE "C",
	lease_id                 text COLLATE "C",
	attempt_n                integer NOT NULL DEFAULT 0,
	attempt_started_at       bigint NOT NULL DEFAULT 0,
	attempt_duration_ms      double precision NOT NULL DEFAULT 0,
	attempt_status           integer NOT NULL DEFAULT 0,
	attempt_error            bytea,
	attempt_logs             bytea,
	attempt_response_headers bytea,
	attempt_response_body    bytea
);
-- The pending queue, per output: what claims read.
CREATE INDEX deliveries_due ON deliveries(output_id, due_at) WHERE state = 'pending';
-- A webhook's deliveries (its journey, the cascade of its deletion).
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);
-- An output's deliveries, newest first (listings, the purge of a deleted
-- output).
CREATE INDEX deliveries_output ON deliveries(output_id, id);

-- A delivery's attempts but its last; error, logs and the answer are
-- sealed with AAD (attempts, delivery_id, n, column).
CREATE TABLE attempts (
	delivery_id      text COLLATE "C" NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
	n                integer NOT NULL,
	started_at       bigint NOT NULL,
	duration_ms      double precision NOT NULL DEFAULT 0,
	status           integer NOT NULL DEFAULT 0,
	error            bytea,
	logs             bytea,
	response_headers bytea,
	response_body    bytea,
	PRIMARY KEY (delivery_id, n)
);
`,
}

// migrate applies the migrations of ms that the database lacks, in one
// transaction under an advisory lock of the schema, so that processes
// opening it together apply them once.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []string) error {
	// Most opens find the schema up to date: they write nothing (and so
	// work on a read-only replica or session).
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if exists {
		var v int
		if err := pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err == nil && v == len(ms) {
			return nil
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
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
		if _, err := tx.Exec(ctx, ms[i]); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(ms)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// keyCheckPlaintext is what the key_check row seals.
const keyCheckPlaintext = "relayfn key check"

// checkKey seals a known value into a new database, or checks that s opens
// the one already there.
func checkKey(ctx context.Context, q querier, s *seal.Sealer) error {
	aad := seal.AAD("key_check", "1", "value")
	var sealed []byte
	err := q.QueryRow(ctx, `SELECT value FROM key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := q.Exec(ctx, `INSERT INTO key_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
			s.Seal([]byte(keyCheckPlaintext), aad)); err != nil {
			return fmt.Errorf("key check: %w", err)
		}
		err = q.QueryRow(ctx, `SELECT value FROM key_check WHERE id = 1`).Scan(&sealed) // a concurrent Open may have won
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
