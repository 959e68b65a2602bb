package multinode

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay/client"
)

// EnvScale runs TestScaleOut when set to 1.
const EnvScale = "RELAYFN_SCALE"

// scaleSetup is one way of running the relay that TestScaleOut measures:
// the nodes that receive the load, and the admin client of their store.
type scaleSetup struct {
	name    string
	nodes   []*node
	admin   *client.Client
	inputID string
	pg      bool
}

// scaleRun is one measured run of a setup.
type scaleRun struct {
	setup   string
	acked   int
	ingest  float64       // webhooks acknowledged per second
	e2e     float64       // webhooks delivered per second, from the first send to the last arrival
	node    time.Duration // CPU of the setup's nodes
	pgOwn   time.Duration // CPU of the PostgreSQL backends serving the setup's nodes
	pgAll   time.Duration // CPU of every postgres process (other tenants included)
	self    time.Duration // CPU of the test process: load generator and destination
	elapsed time.Duration
	load    string // /proc/loadavg's 1-minute figure at the end
	waits   string // what the nodes' PostgreSQL backends were doing (sampled)
}

// perWebhook is d per acknowledged webhook, in microseconds.
func (r scaleRun) perWebhook(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(r.acked)
}

// TestScaleOut measures, in one run on this machine, with the same
// function-less bucket, load generator and concurrency (16 senders):
// webhooks/s of one node on PostgreSQL against one on SQLite; the CPU per
// webhook of the relay node (/proc/PID/stat utime+stime) and of
// PostgreSQL (its backends serving the node, and every postgres process);
// and one node on PostgreSQL against two. The setups take turns, three
// rounds in a rotating order, so that the machine's load drifts over all
// alike. Run with RELAYFN_SCALE=1 (and RELAYFN_TEST_POSTGRES);
// RELAYFN_SCALE_N sets the webhooks per run (3,000).
func TestScaleOut(t *testing.T) {
	if os.Getenv(EnvScale) != "1" {
		t.Skip(EnvScale + "=1 runs the scale-out measurement (see the package documentation)")
	}
	n := 3000
	if v := os.Getenv("RELAYFN_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("RELAYFN_SCALE_N=%q: want a number of at least 100", v)
		}
	}
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	pgConn, err := pgx.Connect(ctx, pgtest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pgConn.Close(ctx)

	c := newCluster(t)
	dest := newDestination(t, nil)
	key := writeKey(t, c.dir)
	tokenOf := func(nd *node) string {
		return adminToken(t, filepath.Join(filepath.Dir(nd.cfg.Config), "admin.token"))
	}

	sq := c.newNode("sqlite", key, "sqlite://"+filepath.Join(c.dir, "relay.db"))
	sq.start()
	sqAdmin := adminClient(sq, tokenOf(sq))
	sqInput, _ := routes(t, sqAdmin, dest.srv.URL)

	// RELAYFN_SCALE_PG_PARAMS adds to the nodes' store URL, such as
	// pool_max_conns=16 (the store's default pool is 4 connections).
	if p := os.Getenv("RELAYFN_SCALE_PG_PARAMS"); p != "" {
		dsn += "&" + p
	}
	pa := c.newNode("pgA", key, pgStore(t, dsn, "pgA"))
	pa.start()
	pgAdmin := adminClient(pa, tokenOf(pa))
	pgInput, _ := routes(t, pgAdmin, dest.srv.URL)
	pb := c.newNode("pgB", key, pgStore(t, dsn, "pgB"))
	pb.start()

	setups := []scaleSetup{
		{name: "SQLite, 1 node", nodes: []*node{sq}, admin: sqAdmin, inputID: sqInput},
		{name: "PostgreSQL, 1 node", nodes: []*node{pa}, admin: pgAdmin, inputID: pgInput, pg: true},
		{name: "PostgreSQL, 2 nodes", nodes: []*node{pa, pb}, admin: pgAdmin, inputID: pgInput, pg: true},
	}
	next := 0
	measure := func(s scaleSetup, count int) scaleRun {
		var urls []string
		var pids []int
		for _, nd := range s.nodes {
			urls = append(urls, nd.URL()+"/v1/webhooks/"+s.inputID)
			pids = append(pids, nd.pid())
		}
		var names []string
		for _, nd := range s.nodes {
			names = append(names, "relayfn-"+nd.cfg.Name)
		}
		backends := func() []int { return backendPIDs(t, pgConn, names) }
		self := os.Getpid()

		nodeBefore, ownBefore := snapshotCPU(pids), snapshotCPU(backends())
		allBefore, selfBefore := snapshotCPU(processesNamed("postgres")), cpuTicks(self)
		l := load{URLs: urls, First: next, N: count, Concurrency: 16, Run: "scale"}
		next += count
		var waits *waitSampler
		if s.pg {
			waits = sampleWaits(t, names)
		}
		start := time.Now()
		res := l.run(ctx)
		if waits != nil {
			waits.stop()
		}
		if res.Lost > 0 || len(res.Unacked) > 0 {
			t.Fatalf("%s: %d webhooks not acknowledged", s.name, len(res.Unacked))
		}
		waitDelivered(t, s.admin, dest, res.Acked)
		var last time.Time
		for id := range res.Acked {
			if a, ok := dest.first(id); ok && a.at.After(last) {
				last = a.at
			}
		}
		r := scaleRun{
			setup: s.name, acked: len(res.Acked),
			ingest:  float64(len(res.Acked)) / res.Elapsed.Seconds(),
			e2e:     float64(len(res.Acked)) / last.Sub(start).Seconds(),
			node:    snapshotCPU(pids).since(nodeBefore),
			pgOwn:   snapshotCPU(backends()).since(ownBefore),
			pgAll:   snapshotCPU(processesNamed("postgres")).since(allBefore),
			self:    time.Duration(cpuTicks(self)-selfBefore) * time.Second / ticksPerSecond,
			elapsed: time.Since(start),
			load:    loadAvg(),
		}
		if waits != nil {
			r.waits = waits.String()
		}
		return r
	}

	// Warm up every setup (connections, pools, caches), unmeasured.
	for _, s := range setups {
		measure(s, 500)
	}
	t.Logf("load average before: %s; %d webhooks per run, 16 senders, bodies of about 1 KB", loadAvg(), n)
	t.Logf("%-20s %8s %8s %9s %9s %9s %9s %9s %5s", "setup", "acked/s", "deliv/s",
		"node µs", "pgOwn µs", "pgAll µs", "self µs", "node/pg", "load")
	var runs []scaleRun
	pgWebhooks := 500 * 2 // the warm-up's
	for round := range 3 {
		for i := range setups {
			s := setups[(i+round)%len(setups)]
			r := measure(s, n)
			runs = append(runs, r)
			if s.pg {
				pgWebhooks += r.acked
			}
			ratio := "-"
			if s.pg && r.pgOwn > 0 {
				ratio = fmt.Sprintf("%.2f", float64(r.node)/float64(r.pgOwn))
			}
			t.Logf("%-20s %8.0f %8.0f %9.0f %9.0f %9.0f %9.0f %9s %5s %s", r.setup, r.ingest, r.e2e,
				r.perWebhook(r.node), r.perWebhook(r.pgOwn), r.perWebhook(r.pgAll), r.perWebhook(r.self), ratio, r.load, r.waits)
		}
	}

	logTableStats(t, pgConn, dsn, pgWebhooks)
	t.Logf("medians of the three rounds (µs are CPU per webhook; CPU from /proc/PID/stat in 10 ms ticks):")
	for _, s := range setups {
		var rs []scaleRun
		for _, r := range runs {
			if r.setup == s.name {
				rs = append(rs, r)
			}
		}
		med := func(f func(scaleRun) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		node := med(func(r scaleRun) float64 { return r.perWebhook(r.node) })
		pgOwn := med(func(r scaleRun) float64 { return r.perWebhook(r.pgOwn) })
		line := fmt.Sprintf("%-20s acked %6.0f/s  delivered %6.0f/s  node %5.0f µs  pg backends %5.0f µs  all postgres %5.0f µs  test process %5.0f µs",
			s.name, med(func(r scaleRun) float64 { return r.ingest }), med(func(r scaleRun) float64 { return r.e2e }),
			node, pgOwn, med(func(r scaleRun) float64 { return r.perWebhook(r.pgAll) }),
			med(func(r scaleRun) float64 { return r.perWebhook(r.self) }))
		if s.pg && pgOwn > 0 {
			line += fmt.Sprintf("  → nodes per PostgreSQL core %.1f", node/pgOwn)
		}
		t.Logf("%s", line)
	}
}

// backendPIDs returns the pids of the PostgreSQL backends whose
// application_name is one of names.
func backendPIDs(t testing.TB, conn *pgx.Conn, names []string) []int {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE application_name = ANY($1)`, names)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// loadAvg is the 1-minute load average of the machine.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// waitSampler samples, every 10 ms, what the PostgreSQL backends of the
// named applications are doing (pg_stat_activity's state and wait
// event), to tell CPU from waiting on WAL flushes, locks or the node.
type waitSampler struct {
	done   chan struct{}
	exited chan struct{}
	counts map[string]int
	total  int
}

func sampleWaits(t testing.TB, names []string) *waitSampler {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	w := &waitSampler{done: make(chan struct{}), exited: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(w.exited)
		defer conn.Close(ctx)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
			rows, err := conn.Query(ctx, `SELECT state || coalesce(':' || wait_event_type || ':' || wait_event, ':cpu')
				FROM pg_stat_activity WHERE application_name = ANY($1)`, names)
			if err != nil {
				return
			}
			states, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return
			}
			for _, st := range states {
				w.counts[st]++
				w.total++
			}
		}
	}()
	return w
}

func (w *waitSampler) stop() {
	close(w.done)
	<-w.exited
}

// String lists the states seen, the most frequent first, as shares of
// all samples of all backends.
func (w *waitSampler) String() string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range w.counts {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return b.n - a.n })
	var parts []string
	for _, e := range all[:min(len(all), 5)] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", e.k, 100*float64(e.n)/float64(w.total)))
	}
	return strings.Join(parts, ", ")
}

// logTableStats logs what PostgreSQL did per webhook in the schema of
// dsn (pg_stat_user_tables: rows inserted, updated, deleted, index and
// sequential scans), over webhooks webhooks. The statistics reach the
// view within a second or so of the work.
func logTableStats(t testing.TB, conn *pgx.Conn, dsn string, webhooks int) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	time.Sleep(1500 * time.Millisecond)
	rows, err := conn.Query(context.Background(), `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del,
		coalesce(idx_scan, 0), seq_scan, seq_tup_read FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	t.Logf("PostgreSQL's work per webhook, by table, over the %d webhooks sent to PostgreSQL (pg_stat_user_tables):", webhooks)
	t.Logf("  %-22s %8s %8s %8s %8s %8s %8s %10s", "table", "ins", "upd", "hot upd", "del", "idx scan", "seq scan", "seq rows")
	for rows.Next() {
		var name string
		var ins, upd, hot, del, idx, seq, seqRows int64
		if err := rows.Scan(&name, &ins, &upd, &hot, &del, &idx, &seq, &seqRows); err != nil {
			t.Fatal(err)
		}
		if ins+upd+del+idx+seq == 0 {
			continue
		}
		w := float64(webhooks)
		t.Logf("  %-22s %8.2f %8.2f %8.2f %8.2f %8.2f %8.3f %10.1f", name, float64(ins)/w, float64(upd)/w, float64(hot)/w,
			float64(del)/w, float64(idx)/w, float64(seq)/w, float64(seqRows)/w)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
