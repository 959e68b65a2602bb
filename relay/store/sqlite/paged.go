package sqlite

import (
	"context"
	"errors"
	"strings"
)

// deleteWebhooks returns the statements that delete the webhooks of the
// "(?,…)" list in, with their deliveries and attempts.
func deleteWebhooks(in string) []string {
	return []string{
		`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE webhook_id IN ` + in + `)`,
		`DELETE FROM deliveries WHERE webhook_id IN ` + in,
		`DELETE FROM webhooks WHERE id IN ` + in,
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
