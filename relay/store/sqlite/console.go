package sqlite

import (
	"context"
	"fmt"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/internal/unixtime"
)

// OutputStats returns, for each output that has deliveries, when one last
// succeeded and how many failed or are retrying, in one pass over the
// deliveries (the web console's overview). Deleted outputs are left out.
func (s *Store) OutputStats(ctx context.Context) (map[string]relay.OutputStats, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT output_id,
		COALESCE(MAX(CASE WHEN state = 'succeeded' THEN updated_at END), 0),
		SUM(state = 'failed'),
		SUM(state = 'pending' AND attempts > 0)
		FROM deliveries GROUP BY output_id HAVING output_id IN (SELECT id FROM outputs)`)
	if err != nil {
		return nil, fmt.Errorf("output stats: %w", err)
	}
	defer rows.Close()
	out := map[string]relay.OutputStats{}
	for rows.Next() {
		var id string
		var last int64
		var st relay.OutputStats
		if err := rows.Scan(&id, &last, &st.Failed, &st.Retrying); err != nil {
			return nil, fmt.Errorf("output stats: %w", err)
		}
		st.LastSuccess = unixtime.Time(last)
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("output stats: %w", err)
	}
	return out, nil
}
