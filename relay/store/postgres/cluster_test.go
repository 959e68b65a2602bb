package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// watcher records the changes Watch reports.
type watcher struct {
	ch chan relay.StoreChange
}

func startWatch(t *testing.T, st *Store) *watcher {
	t.Helper()
	w := &watcher{ch: make(chan relay.StoreChange, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- st.Watch(ctx, func(c relay.StoreChange) {
			select {
			case w.ch <- c:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	// Watch listens once a first change goes through.
	deadline := time.Now().Add(10 * time.Second)
	for {
		must(t, st.CheckWrite(ctx))
		if _, err := st.Pool().Exec(ctx, `SELECT pg_notify($1, '')`, st.routesChan); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.ch:
			w.drain()
			return w
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch does not listen")
		}
	}
}

// drain forgets what was received.
func (w *watcher) drain() {
	for {
		select {
		case <-w.ch:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

// want waits for change c; other changes are skipped.
func (w *watcher) want(t *testing.T, what string, c relay.StoreChange) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-w.ch:
			if got == c {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no change %d reported", what, c)
		}
	}
}

// none checks that nothing is reported for a while.
func (w *watcher) none(t *testing.T, what string) {
	t.Helper()
	select {
	case c := <-w.ch:
		t.Errorf("%s: change %d reported, want none", what, c)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatch: a write that makes no delivery due unclaimed (leased
// deliveries, a release of nothing) notifies no one, and a store in
// another schema hears nothing of the writes. (That each write reaches
// every store's Watch as the right kind of change is
// storetest.TestWatchReportsChanges'.)
func TestWatch(t *testing.T) {
	st, dsn := newStore(t)
	other := openAt(t, dsn, storetest.Sealer(t, 1), Options{})
	apart, _ := newStore(t)
	ctx := context.Background()
	w := startWatch(t, other)
	wApart := startWatch(t, apart)

	fx := storetest.NewFixture(t, st, "watched", false)
	w.want(t, "CreateBucket etc.", relay.ChangeRoutes)
	w.drain()
	t0 := time.Unix(1000, 0).UTC()

	leased := fx.Deliveries()
	for _, d := range leased {
		d.LeaseOwner, d.LeaseID, d.LeaseUntil = "n1", "l1", t0.Add(time.Minute)
	}
	must(t, st.SaveWebhook(ctx, fx.Webhook("x"), leased))
	w.none(t, "SaveWebhook of leased deliveries")

	must(t, st.SaveWebhook(ctx, fx.Webhook("y"), fx.Deliveries()))
	w.want(t, "SaveWebhook of unleased deliveries", relay.ChangeWork)

	must(t, st.ReleaseClaims(ctx, "n1", nil))
	w.want(t, "ReleaseClaims", relay.ChangeWork)
	must(t, st.ReleaseClaims(ctx, "nobody", nil))
	w.none(t, "ReleaseClaims of nothing")

	wApart.none(t, "writes in another schema")
}

// TestWatchReportsAtStart: a Watch reports every kind of change once it
// listens, with no write made: the changes made before it listened (a
// node loads its routes, then watches) are not lost.
func TestWatchReportsAtStart(t *testing.T) {
	st, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan relay.StoreChange, 10)
	done := make(chan error, 1)
	go func() { done <- st.Watch(ctx, func(c relay.StoreChange) { got <- c }) }()
	seen := map[relay.StoreChange]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < 2 {
		select {
		case c := <-got:
			seen[c] = true
		case <-timeout:
			t.Fatalf("reported %v at start, want ChangeRoutes and ChangeWork", seen)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
}

// TestWatchReconnects: after its connection is killed, Watch reconnects
// and reports every kind of change.
func TestWatchReconnects(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	w := startWatch(t, st)
	var killed int
	must(t, st.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`, st.workChan).Scan(&killed))
	if killed != 1 {
		t.Fatalf("%d LISTEN connections terminated, want 1", killed)
	}
	w.want(t, "reconnected", relay.ChangeRoutes)
	w.want(t, "reconnected", relay.ChangeWork)
	// And it listens again.
	fx := storetest.NewFixture(t, st, "after", false)
	w.want(t, "CreateBucket after the reconnection", relay.ChangeRoutes)
	must(t, st.SaveWebhook(ctx, fx.Webhook("x"), fx.Deliveries()))
	w.want(t, "SaveWebhook after the reconnection", relay.ChangeWork)
}

// TestWatchStopsAtClose: Close ends the store's watches.
func TestWatchStopsAtClose(t *testing.T) {
	dsn := pgtest.DSN(t)
	st, err := Open(context.Background(), dsn, storetest.Sealer(t, 1), Options{})
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- st.Watch(context.Background(), func(relay.StoreChange) {}) }()
	time.Sleep(100 * time.Millisecond)
	must(t, st.Close())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Watch returned %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch still runs after Close")
	}
	if err := st.Watch(context.Background(), func(relay.StoreChange) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: %v, want ErrClosed", err)
	}
}

// TestExclusively: work of one name does not hold up the same name in
// another schema, and many at once across two stores on one database are
// never two inside. (The rest of the contract is
// storetest.TestExclusively's.)
func TestExclusively(t *testing.T) {
	st, dsn := newStore(t)
	other := openAt(t, dsn, storetest.Sealer(t, 1), Options{})
	apart, _ := newStore(t)
	ctx := context.Background()

	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := st.Exclusively(ctx, "purge", func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
		done <- err
	}()
	<-inside
	ran, err := apart.Exclusively(ctx, "purge", func(context.Context) error { return nil })
	must(t, err)
	if !ran {
		t.Error("work held up by the same name in another schema")
	}
	close(release)
	must(t, <-done)

	// Many at once: never two inside.
	var in, max, runs atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		s := st
		if g%2 == 1 {
			s = other
		}
		wg.Go(func() {
			for range 20 {
				ran, err := s.Exclusively(ctx, "race", func(context.Context) error {
					n := in.Add(1)
					for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
					}
					time.Sleep(time.Millisecond)
					in.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
				if ran {
					runs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if max.Load() != 1 || runs.Load() == 0 {
		t.Errorf("at most %d inside at once over %d runs, want 1", max.Load(), runs.Load())
	}
}

// TestNodeLock: a node name is held by one open store at a time.
func TestNodeLock(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, err := Open(ctx, dsn, storetest.Sealer(t, 1), Options{Node: "node-a"})
	must(t, err)
	_, err = Open(ctx, dsn, storetest.Sealer(t, 1), Options{Node: "node-a"})
	if err == nil || !strings.Contains(err.Error(), `node name "node-a" is in use by another running relay process`) {
		t.Fatalf("second Open with the same node name: %v", err)
	}
	t.Logf("second Open: %v", err)
	b := openAt(t, dsn, storetest.Sealer(t, 1), Options{Node: "node-b"})
	_ = b
	// Another schema may use the name.
	openAt(t, pgtest.DSN(t), storetest.Sealer(t, 1), Options{Node: "node-a"})
	must(t, a.Close())
	openAt(t, dsn, storetest.Sealer(t, 1), Options{Node: "node-a"})
}

// TestConcurrentOpen: stores opening an empty database together migrate
// it once, and all open.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 6)
	for i := range stores {
		wg.Go(func() {
			st, err := Open(context.Background(), dsn, storetest.Sealer(t, 1), Options{})
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = st
		})
	}
	wg.Wait()
	for _, st := range stores {
		if st != nil {
			defer st.Close()
		}
	}
	if stores[0] != nil {
		if n := count(t, stores[0], "schema_version", ""); n != 1 {
			t.Errorf("schema_version has %d rows", n)
		}
		if n := count(t, stores[0], "key_check", ""); n != 1 {
			t.Errorf("key_check has %d rows", n)
		}
	}
}

// TestCheckWrite: the probe succeeds on a writable database and fails on
// a read-only one.
func TestCheckWrite(t *testing.T) {
	st, dsn := newStore(t)
	ctx := context.Background()
	must(t, st.CheckWrite(ctx))
	ro := openAt(t, dsn+"&default_transaction_read_only=on", storetest.Sealer(t, 1), Options{})
	err := ro.CheckWrite(ctx)
	if err == nil {
		t.Fatal("CheckWrite on a read-only session succeeded")
	}
	t.Logf("read-only: %v", err)
}

// TestOpenErrorsHideThePassword: a DSN's password appears in no error.
func TestOpenErrorsHideThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://relay:S3CRETPASSWORD@127.0.0.1:1/db?connect_timeout=2",
		"host=127.0.0.1 port=1 user=relay password=S3CRETPASSWORD dbname=db connect_timeout=2",
		"postgres://relay:S3CRETPASSWORD@127.0.0.1:1/db?pool_max_conns=nope",
	} {
		_, err := Open(ctx, dsn, storetest.Sealer(t, 1), Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "S3CRETPASSWORD") {
			t.Errorf("error holds the password: %v", err)
		}
		t.Logf("%v", err)
	}
}

// TestNodeLockRetaken: when the node lock's connection is cut, the store
// takes the lock again on a new one.
func TestNodeLockRetaken(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	st := openAt(t, dsn, storetest.Sealer(t, 1), Options{Node: "node-r"})
	holder := func() int32 {
		var pid int32
		err := st.Pool().QueryRow(ctx, `SELECT COALESCE(max(pid), 0) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND classid = $1::int::oid
			AND objid = hashtext(current_schema() || ':node-r')::oid AND objsubid = 2`, lockNode).Scan(&pid)
		must(t, err)
		return pid
	}
	first := holder()
	if first == 0 {
		t.Fatal("no process holds the node lock")
	}
	_, err := st.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, first)
	must(t, err)
	deadline := time.Now().Add(nodeLockCheck + 10*time.Second) // a failure guard
	for {
		if pid := holder(); pid != 0 && pid != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node lock was not taken again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = Open(ctx, dsn, storetest.Sealer(t, 1), Options{Node: "node-r"})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Open under the name after the lock was taken again: %v", err)
	}
}

// TestOpenMissingSchema: a search_path naming no existing schema is
// refused with a clear error, and nothing is created.
func TestOpenMissingSchema(t *testing.T) {
	dsn := pgtest.WithSearchPath(t, pgtest.ServerDSN(t), "relayfn_test_no_such_schema")
	_, err := Open(context.Background(), dsn, storetest.Sealer(t, 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Fatalf("Open on a missing schema: %v", err)
	}
	t.Logf("Open: %v", err)
}
