package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// deletePage is how many webhooks or deliveries one transaction of a
// paged deletion removes.
const deletePage = 500

// deleteBucketRecords deletes the webhooks of a bucket, with their
// deliveries and attempts, page after page, before the bucket's row goes:
// each page is found by ID order on a read connection, without the write
// lock, and deleted in one short transaction of the group-commit writer,
// so that ingest goes on meanwhile. What arrives after the last page goes
// with the bucket's row, in its cascade.
func (s *Store) deleteBucketRecords(ctx context.Context, bucketID string) error {
	return s.deletePaged(ctx, `SELECT id FROM webhooks WHERE id > ? AND bucket_id = ? ORDER BY id LIMIT ?`, bucketID,
		deleteWebhooks)
}

// deleteWebhooks returns the statements that delete the webhooks of the
// "(?,…)" list in, with their deliveries and attempts.
func deleteWebhooks(in string) []string {
	return []string{
		`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE webhook_id IN ` + in + `)`,
		`DELETE FROM deliveries WHERE webhook_id IN ` + in,
		`DELETE FROM webhooks WHERE id IN ` + in,
	}
}

// deleteOutputRecords deletes the deliveries of an output, with their
// attempts, page after page, as deleteBucketRecords does.
func (s *Store) deleteOutputRecords(ctx context.Context, outputID string) error {
	return s.deletePaged(ctx, `SELECT id FROM deliveries WHERE id > ? AND output_id = ? ORDER BY id LIMIT ?`, outputID,
		func(in string) []string {
			return []string{
				`DELETE FROM attempts WHERE delivery_id IN ` + in,
				`DELETE FROM deliveries WHERE id IN ` + in,
			}
		})
}

// deletePaged selects pages of IDs with query (cursor, owner, limit) and
// deletes each with the statements stmts returns for its "(?,…)" list.
func (s *Store) deletePaged(ctx context.Context, query, owner string, stmts func(in string) []string) error {
	after := ""
	for {
		ids, err := queryIDs(ctx, s.rdb, query, after, owner, deletePage)
		if err != nil || len(ids) == 0 {
			return err
		}
		in, args := idList(ids)
		err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			for _, q := range stmts(in) {
				if _, err := tx.ExecContext(ctx, q, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(ids) < deletePage {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// idList returns the "(?,…)" list of ids, for an IN clause, and the
// arguments that go with it.
func idList(ids []string) (in string, args []any) {
	args = make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")", args
}

// queryIDs runs query, which selects one ID column, and returns the IDs.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, errors.Join(rows.Err(), rows.Close())
}
