package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// OutputStats returns, for each output that has deliveries, when one last
// succeeded and how many failed or are retrying, in one pass over the
// deliveries (the web console's overview). Deleted outputs are left out.
func (s *Store) OutputStats(ctx context.Context) (map[string]relay.OutputStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.output_id,
		COALESCE(MAX(d.updated_at) FILTER (WHERE d.state = 'succeeded'), 0),
		COUNT(*) FILTER (WHERE d.state = 'failed'),
		COUNT(*) FILTER (WHERE d.state = 'pending' AND d.attempts > 0)
		FROM deliveries d WHERE EXISTS (SELECT 1 FROM outputs o WHERE o.id = d.output_id)
		GROUP BY d.output_id`)
	out := map[string]relay.OutputStats{}
	_, err = collect(rows, err, func(r pgx.Rows) (struct{}, error) {
		var id string
		var last, failed, retrying int64
		if err := r.Scan(&id, &last, &failed, &retrying); err != nil {
			return struct{}{}, err
		}
		out[id] = relay.OutputStats{LastSuccess: unixtime.Time(last), Failed: int(failed), Retrying: int(retrying)}
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("output stats: %w", err)
	}
	return out, nil
}
