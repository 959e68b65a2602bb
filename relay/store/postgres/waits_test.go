package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitSampler reads pg_stat_activity every few milliseconds and keeps
// what each backend of the database was waiting for, so that a test can
// say what made a slow call slow: a lock held by another transaction,
// the disk flushing the WAL, the checkpointer writing.
type waitSampler struct {
	mu      sync.Mutex
	samples []waitSample
	stop    context.CancelFunc
	done    chan struct{}
}

// waitSample is one backend seen waiting.
type waitSample struct {
	at    time.Time
	who   string // the backend type, or the start of a client's statement
	event string // wait_event_type/wait_event
}

// sampleWaits starts a sampler on dsn's database, stopped when t ends.
func sampleWaits(t *testing.T, dsn string) *waitSampler {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		cancel()
		t.Fatalf("wait sampler: %v", err)
	}
	s := &waitSampler{stop: cancel, done: make(chan struct{})}
	go s.run(ctx, conn)
	t.Cleanup(func() {
		s.stop()
		<-s.done
		conn.Close(context.Background())
	})
	return s
}

func (s *waitSampler) run(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rows, err := conn.Query(ctx, `SELECT backend_type, coalesce(left(query, 40), ''),
				wait_event_type || '/' || wait_event
			FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND wait_event IS NOT NULL AND wait_event_type <> 'Activity'
				AND (backend_type <> 'client backend' OR (state = 'active' AND datname = current_database()))`)
		if err != nil {
			return
		}
		now := time.Now()
		var got []waitSample
		for rows.Next() {
			var typ, query, event string
			if rows.Scan(&typ, &query, &event) != nil {
				continue
			}
			who := typ
			if typ == "client backend" {
				who = strings.Join(strings.Fields(query), " ")
			}
			got = append(got, waitSample{at: now, who: who, event: event})
		}
		rows.Close()
		s.mu.Lock()
		s.samples = append(s.samples, got...)
		s.mu.Unlock()
	}
}

// explain sums what the backends waited for between from and to (the
// samples are 2 ms apart): "who: event ×n" by most seen first.
func (s *waitSampler) explain(from, to time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, w := range s.samples {
		if !w.at.Before(from) && !w.at.After(to) {
			n[fmt.Sprintf("%q waits on %s", w.who, w.event)]++
		}
	}
	if len(n) == 0 {
		return "no backend seen waiting"
	}
	keys := slices.SortedFunc(maps.Keys(n), func(a, b string) int { return n[b] - n[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, n[k])
	}
	return strings.Join(parts, "; ")
}

// lockWaits counts the samples of client backends waiting on a
// heavyweight lock (another transaction's row, a relation).
func (s *waitSampler) lockWaits() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, w := range s.samples {
		if strings.HasPrefix(w.event, "Lock/") {
			n[fmt.Sprintf("%q waits on %s", w.who, w.event)]++
		}
	}
	return n
}
