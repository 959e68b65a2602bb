package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/relayfn/relayfn/relay"
)

// Backoff of Watch's reconnections.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// Watch calls fn for each change made through a store of this database
// and schema, by any process, this one included, until ctx ends or the
// store is closed: it listens on a connection of its own. Once it
// listens it calls fn with every kind of change, since changes made
// before were not heard; after a lost connection it reconnects, with
// backoff, and then does the same, for the changes missed meanwhile. It
// returns ctx's error, ErrClosed, or the error of its first connection.
// fn must not block.
func (s *Store) Watch(ctx context.Context, fn func(relay.StoreChange)) error {
	s.watchMu.Lock()
	if s.closed {
		s.watchMu.Unlock()
		return ErrClosed
	}
	s.watchers.Add(1)
	s.watchMu.Unlock()
	defer s.watchers.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()
	done := func() error {
		if s.closeCtx.Err() != nil {
			return ErrClosed
		}
		return ctx.Err()
	}

	conn, err := s.listen(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return done()
		}
		return fmt.Errorf("postgres: watch: %w", err)
	}
	// Changes made before the LISTEN were not heard (a node loads its
	// routes before it starts watching): the caller learns of every kind
	// now, as after a reconnection.
	fn(relay.ChangeRoutes)
	fn(relay.ChangeWork)
	wait := watchRetryMin
	for {
		err := s.receive(ctx, conn, fn)
		conn.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return done()
		}
		s.log.Warn("postgres: watch: connection lost; reconnecting", "error", err)
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return done()
			case <-t.C:
			}
			wait = min(2*wait, watchRetryMax)
			conn, err = s.listen(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return done()
			}
			s.log.Warn("postgres: watch: reconnect", "error", err)
		}
		s.log.Info("postgres: watch: reconnected")
		wait = watchRetryMin
		fn(relay.ChangeRoutes)
		fn(relay.ChangeWork)
	}
}

// listen opens a connection that listens on the store's channels.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return nil, err
	}
	for _, ch := range []string{s.routesChan, s.workChan} {
		if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize()); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	return conn, nil
}

// receive passes conn's notifications to fn until an error.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, fn func(relay.StoreChange)) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case s.routesChan:
			fn(relay.ChangeRoutes)
		case s.workChan:
			fn(relay.ChangeWork)
		}
	}
}

// Exclusively runs fn unless a process sharing this database and schema
// runs work of the same name, and reports whether it ran it. It holds a
// session advisory lock on the name on one of the pool's connections for
// the while.
func (s *Store) Exclusively(ctx context.Context, name string, fn func(ctx context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: exclusively %s: %w", name, err)
	}
	defer conn.Release()
	const key = `hashtext(current_schema() || ':' || $2)`
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, `+key+`)`, lockExclusive, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: exclusively %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1, `+key+`)`, lockExclusive, name); err != nil {
			// A connection whose lock may still be held does not go
			// back to the pool: closing it releases the lock.
			conn.Conn().Close(uctx)
		}
	}()
	return true, fn(ctx)
}

// CheckWrite makes a probe write, an update of the one row of
// health_probe, and returns its error: nil when the database accepts
// writes. The relay's /healthz reports "degraded" on an error.
func (s *Store) CheckWrite(ctx context.Context) error {
	tag, err := s.pool.Exec(ctx, `UPDATE health_probe SET n = n + 1 WHERE id = 1`)
	if err == nil && tag.RowsAffected() == 0 {
		err = errors.New("the probe row is missing")
	}
	if err != nil {
		if connectionLost(err) {
			return fmt.Errorf("postgres: write probe: %w: %w", relay.ErrStoreUnreachable, err)
		}
		return fmt.Errorf("postgres: write probe: %w", err)
	}
	return nil
}

// connectionLost reports whether err is the server's absence rather than
// its answer: a connection that could not be made, was closed or timed
// out, or a server shutting down or terminating the session.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// kickWork asks the work notifier to wake the nodes: SaveWebhook stored
// deliveries unclaimed. Kicks that come while a notification is being
// sent make one more.
func (s *Store) kickWork() {
	select {
	case s.workKick <- struct{}{}:
	default:
	}
}

// workNotifier sends a notification on the work channel after each
// kick, until Close. It runs apart from SaveWebhook's transaction:
// PostgreSQL commits the transactions that notify one at a time (they
// hold a lock across their commit's WAL flush), so a notification in
// every SaveWebhook of unclaimed deliveries would cap ingest at one
// commit per flush. Here, the SaveWebhooks commit together, and one
// notification, sent after their commits and without waiting for its own
// flush (losing it in a crash costs a poll interval), covers all those
// that committed before it.
func (s *Store) workNotifier() {
	defer close(s.notifierDone)
	for {
		select {
		case <-s.closeCtx.Done():
			return
		case <-s.workKick:
		}
		ctx, cancel := context.WithTimeout(s.closeCtx, 10*time.Second)
		_, err := s.pool.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')`, s.workChan)
		cancel()
		if err != nil && s.closeCtx.Err() == nil {
			s.log.Warn("postgres: notify work", "error", err)
		}
	}
}
