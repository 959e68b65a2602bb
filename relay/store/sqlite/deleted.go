package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/relayfn/relayfn/relay"
)

// What deleted buckets and outputs left: DeleteBucket and DeleteOutput
// delete the catalog rows and leave a row in deleted_owners; the webhooks
// and deliveries stay, hidden from readers (the conditions below), until
// PurgeDeleted sweeps them.

// Conditions that hide what a deleted bucket or output left.
const (
	// liveWebhook holds for a webhook w whose bucket exists.
	liveWebhook = `EXISTS (SELECT 1 FROM buckets b WHERE b.id = w.bucket_id)`
	// liveDelivery holds for a delivery d whose output exists (the
	// outputs of a deleted bucket are deleted with it).
	liveDelivery = `EXISTS (SELECT 1 FROM outputs o WHERE o.id = d.output_id)`
	// orphanWebhook holds for a webhook w whose bucket was deleted.
	orphanWebhook = `NOT ` + liveWebhook
	// orphanDelivery holds for a delivery d whose output was deleted.
	orphanDelivery = `NOT ` + liveDelivery
)

// A sweep's cursor (relay.Purge.After and relay.PurgeResult.Next) is its
// phase, "w" (webhooks of deleted buckets) or "d" (deliveries of deleted
// outputs), a colon and the last ID looked at in that phase's table.
const (
	sweepWebhooks   = "w"
	sweepDeliveries = "d"
)

// purgeDeleted runs one batch of a sweep of relay.PurgeDeleted. A sweep
// starts with After "": it marks the deletions recorded in deleted_owners
// (nothing to do when there are none), then walks the webhooks by ID and
// deletes, a batch at a time, those whose bucket no longer exists, with
// their deliveries and attempts (only when a bucket was deleted); then
// the deliveries whose output no longer exists, with their attempts (only
// when an output was deleted). Each batch reads at most scanWindow
// records. The batch that ends the sweep removes the
// marks it started with: a deletion recorded meanwhile waits for the next
// sweep. Candidates are read on the read pool, without the write lock;
// each batch is deleted in one transaction of its own (purgeWrite),
// rechecking that its bucket or output is still gone.
func (s *Store) purgeDeleted(ctx context.Context, p relay.Purge) (relay.PurgeResult, error) {
	res := relay.PurgeResult{Next: p.After}
	phase, after, _ := strings.Cut(p.After, ":")
	if p.After == "" {
		var err error
		if phase, err = s.startSweep(ctx); err != nil || phase == "" {
			return res, err
		}
	}
	switch phase {
	case sweepWebhooks:
		ids, last, done, err := scanIDs(ctx, s.rdb, "webhooks w", orphanWebhook, nil, after, "", p.Limit)
		if err != nil {
			return res, fmt.Errorf("sqlite: purge deleted: webhooks: %w", err)
		}
		if len(ids) > 0 {
			err = s.purgeWrite(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
				res.Webhooks, err = purgeTx(ctx, tx, relay.PurgeDeleted, ids, orphanWebhook)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("sqlite: purge deleted: webhooks: %w", err)
			}
		}
		if !done {
			res.Next, res.More = sweepWebhooks+":"+last, true
			return res, nil
		}
		outputs, err := s.sweepHas(ctx, "output")
		if err != nil || !outputs {
			return res, s.endSweep(ctx, &res, err)
		}
		res.Next, res.More = sweepDeliveries+":", true
		return res, nil
	case sweepDeliveries:
		ids, last, done, err := scanIDs(ctx, s.rdb, "deliveries d", orphanDelivery, nil, after, "", p.Limit)
		if err != nil {
			return res, fmt.Errorf("sqlite: purge deleted: deliveries: %w", err)
		}
		if len(ids) > 0 {
			err = s.purgeWrite(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
				res.Deliveries, err = purgeRows(ctx, tx, "deliveries d", ids, orphanDelivery, func(in string) []string {
					return []string{`DELETE FROM attempts WHERE delivery_id IN ` + in, `DELETE FROM deliveries WHERE id IN ` + in}
				})
				return err
			})
			if err != nil {
				return res, fmt.Errorf("sqlite: purge deleted: deliveries: %w", err)
			}
		}
		if !done {
			res.Next, res.More = sweepDeliveries+":"+last, true
			return res, nil
		}
		return res, s.endSweep(ctx, &res, nil)
	}
	return res, fmt.Errorf("sqlite: purge deleted: invalid cursor %q", p.After)
}

// scanWindow bounds the rows one read of a purge batch looks at: a batch
// whose candidates are few and far between (past the last record a
// deleted bucket left, or a bucket's old webhooks among other buckets')
// reads the table a window at a time, each a short read, rather than in one
// statement that would hold its snapshot for as long (and keep the
// checkpointer from resetting the WAL, which then grows until the writer
// checkpoints it itself, holding up the webhooks behind it).
const scanWindow = 2000

// scanIDs reads the records of table (with its alias: "webhooks w") whose
// IDs follow after (and precede before, unless it is ""), up to
// scanWindow of them, and returns the IDs of those that meet match (an
// expression of the record; matchArgs are its parameters), at most
// limit: it stops at the limit-th. last is the last ID it read (after
// when none), and done reports that it read to the end of the range.
func scanIDs(ctx context.Context, q querier, table, match string, matchArgs []any, after, before string, limit int) (ids []string, last string, done bool, err error) {
	alias := table[strings.LastIndexByte(table, ' ')+1:]
	query := `SELECT ` + alias + `.id, ` + match + ` FROM ` + table + ` WHERE ` + alias + `.id > ?`
	args := append(slices.Clone(matchArgs), after)
	if before != "" {
		query += ` AND ` + alias + `.id < ?`
		args = append(args, before)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY `+alias+`.id LIMIT ?`, append(args, scanWindow)...)
	if err != nil {
		return nil, "", false, err
	}
	defer rows.Close()
	last, n := after, 0
	for rows.Next() {
		var id string
		var ok bool
		if err := rows.Scan(&id, &ok); err != nil {
			return nil, "", false, err
		}
		last, n = id, n+1
		if ok {
			ids = append(ids, id)
			if len(ids) == limit {
				return ids, last, false, rows.Err()
			}
		}
	}
	return ids, last, n < scanWindow, rows.Err()
}

// startSweep marks the deletions recorded so far as the ones a new sweep
// covers, and returns the sweep's first phase, or "" when nothing was
// deleted.
func (s *Store) startSweep(ctx context.Context) (phase string, err error) {
	var buckets, outputs bool
	err = s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_owners WHERE kind = 'bucket'),
		EXISTS (SELECT 1 FROM deleted_owners WHERE kind = 'output')`).Scan(&buckets, &outputs)
	if err != nil {
		return "", fmt.Errorf("sqlite: purge deleted: %w", err)
	}
	if !buckets && !outputs {
		return "", nil
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE deleted_owners SET sweep = 1`)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: purge deleted: %w", err)
	}
	if buckets {
		return sweepWebhooks, nil
	}
	return sweepDeliveries, nil
}

// sweepHas reports whether the running sweep covers a deleted record of
// kind ("bucket" or "output").
func (s *Store) sweepHas(ctx context.Context, kind string) (bool, error) {
	var ok bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_owners WHERE sweep = 1 AND kind = ?)`, kind).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: purge deleted: %w", err)
	}
	return ok, nil
}

// endSweep ends the sweep that res ends, unless err: the deletions it
// covered are done.
func (s *Store) endSweep(ctx context.Context, res *relay.PurgeResult, err error) error {
	res.Next, res.More = "", false
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM deleted_owners WHERE sweep = 1`)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: purge deleted: %w", err)
	}
	return nil
}
