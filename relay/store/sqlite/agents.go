package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/records"
	"github.com/relayfn/relayfn/relay/store/internal/storeerr"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

const agentTokenColumns = `id, name, bucket_ids, secret_hash, created_at`

// CreateAgentToken saves t, filling t.ID (when empty) and t.CreatedAt.
// Its buckets must exist.
func (s *Store) CreateAgentToken(ctx context.Context, t *relay.AgentToken) error {
	if err := records.AgentToken(t, unixtime.Now()); err != nil {
		return err
	}
	ids, err := json.Marshal(t.BucketIDs)
	if err != nil {
		return fmt.Errorf("agent token %s: %w", t.ID, err)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, b := range t.BucketIDs {
			if err := mustExist(ctx, tx, "buckets", "bucket", b); err != nil {
				return fmt.Errorf("agent token %s: %w", t.ID, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO agent_tokens (`+agentTokenColumns+`) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.Name, string(ids), t.SecretHash, unixtime.Nanos(t.CreatedAt))
		return mapWriteErr(err, "agent token", t.ID)
	})
}

// GetAgentToken finds an agent token by ID.
func (s *Store) GetAgentToken(ctx context.Context, id string) (*relay.AgentToken, error) {
	t, err := scanAgentToken(s.rdb.QueryRowContext(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound("agent token", id)
	}
	if err != nil {
		return nil, fmt.Errorf("agent token %q: %w", id, err)
	}
	return t, nil
}

// ListAgentTokens lists the agent tokens, oldest first.
func (s *Store) ListAgentTokens(ctx context.Context) ([]*relay.AgentToken, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list agent tokens: %w", err)
	}
	defer rows.Close()
	var toks []*relay.AgentToken
	for rows.Next() {
		t, err := scanAgentToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list agent tokens: %w", err)
		}
		toks = append(toks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agent tokens: %w", err)
	}
	return toks, nil
}

// DeleteAgentToken deletes an agent token.
func (s *Store) DeleteAgentToken(ctx context.Context, id string) error {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM agent_tokens WHERE id = ?`, id)
	return checkUpdated(res, mapWriteErr(err, "agent token", id), "agent token", id)
}

func scanAgentToken(sc scanner) (*relay.AgentToken, error) {
	var t relay.AgentToken
	var ids string
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &ids, &t.SecretHash, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ids), &t.BucketIDs); err != nil {
		return nil, fmt.Errorf("agent token %s: buckets: %w", t.ID, err)
	}
	t.CreatedAt = unixtime.Time(created)
	return &t, nil
}
