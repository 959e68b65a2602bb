package multinode

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
)

// attemptTimeout is the output's attempt timeout: a delivery in flight
// when a node dies was sent at most this long before.
const attemptTimeout = 5 * time.Second

// serverConfig is the relay.yaml of every node: the server section only
// (the routes are made through the admin API of the first node, so that a
// node's restart applies nothing over later admin changes).
const serverConfig = `server:
  egress:
    allow_ranges: ["127.0.0.0/8"]
  admin:
    token_file: "admin.token"
`

// sharedKey is the seal key every node of a test uses: hex, as the key
// file and RELAYFN_KEY hold it, and the key file's path.
type sharedKey struct {
	hex, path string
}

// writeKey writes a random seal key to dir/relayfn.key.
func writeKey(t testing.TB, dir string) sharedKey {
	t.Helper()
	key := make([]byte, 32)
	crand.Read(key)
	k := sharedKey{hex: hex.EncodeToString(key), path: filepath.Join(dir, "relayfn.key")}
	if err := os.WriteFile(k.path, []byte(k.hex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// newNode adds a node named name with a folder of its own holding its
// relay.yaml, on store. Nodes on PostgreSQL get the key as their
// operators are told to give it (RELAYFN_KEY); a node on SQLite reads the
// key file (server.encryption_key_file).
func (c *cluster) newNode(name string, key sharedKey, store string) *node {
	c.t.Helper()
	dir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	yaml := serverConfig
	var env []string
	if strings.HasPrefix(store, "postgres") {
		env = append(env, "RELAYFN_KEY="+key.hex)
	} else {
		yaml += fmt.Sprintf("  encryption_key_file: %q\n", key.path)
	}
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return c.addNode(nodeConfig{Name: name, Config: cfg, Listen: freeAddr(c.t), Store: store, Env: env})
}

// pgStore is the node's store URL on the schema of dsn, naming the node
// as the connections' application_name (so that PostgreSQL's backends
// serving it can be told apart).
func pgStore(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "relayfn-"+name)
	u.RawQuery = q.Encode()
	return u.String()
}

// routes makes the test's bucket through c: one input, one output to
// dest with fast retries. It returns the input's and the output's IDs.
func routes(t testing.TB, c *client.Client, dest string) (inputID, outputID string) {
	t.Helper()
	ctx := context.Background()
	name := "multinode"
	if _, err := c.CreateBucket(ctx, api.BucketRequest{Name: &name}); err != nil {
		t.Fatal(err)
	}
	inName := "in"
	in, err := c.CreateInput(ctx, name, api.InputRequest{Name: &inName})
	if err != nil {
		t.Fatal(err)
	}
	outName, destination := "dest", dest+"/hooks"
	timeout := api.Duration(attemptTimeout)
	out, err := c.CreateOutput(ctx, name, api.OutputRequest{
		Name: &outName, Destination: &destination, Timeout: &timeout,
		Retries: &api.RetriesRequest{MaxAttempts: 50, InitialInterval: api.Duration(50 * time.Millisecond),
			MaxInterval: api.Duration(500 * time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return in.ID, out.ID
}

// jitter is the destination's answer delay: 20–100 ms, so that
// deliveries are in flight when a node is killed (a node attempts up to
// 16 at once to the output: 160 deliveries/s at the longest delay, more
// than a node on this machine receives).
func jitter() time.Duration { return time.Duration(20+rand.IntN(81)) * time.Millisecond }

// killWindow is when the victim node was killed and when it was up again.
type killWindow struct {
	kill, restarted time.Time
}

// loadWithKill sends webhooks first..first+n-1 round-robin to nodes from
// 16 senders and, once a third are acknowledged, kills victim with
// SIGKILL and, with restart, starts it again (same node name, same
// address); without, the window's restarted is the kill's time.
func loadWithKill(t *testing.T, nodes []*node, victim *node, inputID string, first, n int, restart bool) (loadResult, killWindow) {
	t.Helper()
	var urls []string
	for _, nd := range nodes {
		urls = append(urls, nd.URL()+"/v1/webhooks/"+inputID)
	}
	third := make(chan struct{})
	var once sync.Once
	l := load{URLs: urls, First: first, N: n, Concurrency: 16, Run: "RUN" + hex.EncodeToString([]byte(t.Name()))[:8],
		OnAck: func(k int) {
			if k >= n/3 {
				once.Do(func() { close(third) })
			}
		}}
	done := make(chan loadResult, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- l.run(ctx) }()
	select {
	case <-third:
	case res := <-done:
		t.Fatalf("the load ended before a third was acknowledged: %d acknowledged, %d lost", len(res.Acked), res.Lost)
	case <-time.After(guard):
		t.Fatal("a third of the load was not acknowledged in time")
	}
	var w killWindow
	w.kill = time.Now()
	victim.kill()
	w.restarted = w.kill
	if restart {
		victim.start()
		w.restarted = time.Now()
	}
	var res loadResult
	select {
	case res = <-done:
	case <-time.After(guard):
		cancel()
		res = <-done
		t.Fatalf("the load did not end in time: %d acknowledged", len(res.Acked))
	}
	return res, w
}

// waitDelivered waits until every acknowledged webhook has arrived and the
// store holds no pending delivery (a failure guard, not a timing
// assertion).
func waitDelivered(t *testing.T, admin *client.Client, dest *destination, acked map[string]time.Time) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(guard)
	for {
		missing := dest.missing(acked)
		var pending []*api.Delivery
		var err error
		if len(missing) == 0 {
			pending, err = admin.ListDeliveries(context.Background(), client.DeliveryQuery{State: "pending", Limit: 1})
			if err == nil && len(pending) == 0 {
				took := time.Since(start)
				failed, err := admin.ListDeliveries(context.Background(), client.DeliveryQuery{State: "failed", Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range failed {
					t.Errorf("delivery %s of webhook %s failed after %d attempts", d.ID, d.WebhookID, d.Attempts)
				}
				return took
			}
		}
		if time.Now().After(deadline) {
			if len(missing) > 10 {
				missing = missing[:10]
			}
			t.Fatalf("after %v: acknowledged webhooks not delivered (first 10): %v; pending deliveries: %d (%v)",
				guard, missing, len(pending), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkDeliveries checks that every acknowledged webhook arrived, that
// nothing arrived unlike it was sent, and that a webhook that arrived more
// than once first arrived within the kill window: in flight on the killed
// node (sent at most an attempt's timeout before the kill) or until its
// lease ended. It logs the counts.
func checkDeliveries(t *testing.T, dest *destination, res loadResult, w killWindow, lease time.Duration) {
	t.Helper()
	arr, bad := dest.arrivals()
	if len(bad) > 0 {
		t.Errorf("the destination got %d requests unlike those sent, such as %s", len(bad), bad[0])
	}
	for id := range res.Acked {
		if len(arr[id]) == 0 {
			t.Errorf("acknowledged webhook %s never arrived", id)
		}
	}
	from, until := w.kill.Add(-attemptTimeout), w.restarted.Add(lease)
	var dups []string
	unacked := 0
	var last time.Time
	for id, as := range arr {
		if !res.ours(id) {
			continue
		}
		if as[0].at.After(last) {
			last = as[0].at
		}
		if _, ok := res.Acked[id]; !ok {
			if !res.Unacked[id] {
				t.Errorf("webhook %s arrived but was never sent", id)
			}
			unacked++
		}
		if len(as) < 2 {
			continue
		}
		first := as[0].at
		dups = append(dups, fmt.Sprintf("%s ×%d first %+dms second %+dms after the kill", id, len(as),
			first.Sub(w.kill).Milliseconds(), as[1].at.Sub(w.kill).Milliseconds()))
		if first.Before(from) || first.After(until) {
			t.Errorf("webhook %s arrived %d times, first at %s, outside the kill window [%s, %s]",
				id, len(as), first.Format("15:04:05.000"), from.Format("15:04:05.000"), until.Format("15:04:05.000"))
		}
	}
	sort.Strings(dups)
	t.Logf("%d webhooks acknowledged, %d sends not acknowledged (%d of them delivered anyway: stored before the answer was lost), "+
		"%d sequence numbers never acknowledged; %d sent in %v; the killed node was up again %v after the kill",
		len(res.Acked), len(res.Unacked), unacked, res.Lost, len(res.Acked)+len(res.Unacked), res.Elapsed.Round(time.Millisecond),
		w.restarted.Sub(w.kill).Round(time.Millisecond))
	t.Logf("the last webhook first arrived %v after the kill", last.Sub(w.kill).Round(time.Millisecond))
	t.Logf("%d webhooks delivered more than once (at least once: in flight on the killed node)", len(dups))
	for i, d := range dups {
		if i == 20 {
			t.Logf("  … and %d more", len(dups)-i)
			break
		}
		t.Logf("  %s", d)
	}
}

// changeLatency changes the output's destination three times through
// admin (on one node) and measures, each time, how long until a webhook
// sent to probe (another node, or the same) is delivered to the new
// destination: from the admin API's answer to the answer of the first
// probe delivered there. A probe is sent every 10 ms.
func changeLatency(t *testing.T, admin *client.Client, probe *node, dest *destination, inputID, outputID string) []time.Duration {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	type sent struct {
		id       string
		answered time.Time
	}
	var lat []time.Duration
	for i := range 3 {
		path := fmt.Sprintf("/moved-%d", i)
		destination := dest.srv.URL + path
		if _, err := admin.UpdateOutput(ctx, outputID, api.OutputRequest{Destination: &destination}); err != nil {
			t.Fatal(err)
		}
		changed := time.Now()
		var probes []sent
		found := -1
		for k := 0; found < 0; k++ {
			id := fmt.Sprintf("probe-%d-%d", i, k)
			if !send(ctx, hc, probe.URL()+"/v1/webhooks/"+inputID, id, "probe") {
				t.Fatalf("probe %s was not acknowledged", id)
			}
			probes = append(probes, sent{id: id, answered: time.Now()})
			for j, p := range probes {
				if a, ok := dest.first(p.id); ok && a.path == path {
					found = j
					break
				}
			}
			if time.Since(changed) > guard {
				t.Fatalf("no webhook sent to %s reached the new destination within %v of the change", probe.cfg.Name, guard)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// An earlier probe may still be on its way: wait for every probe
		// so that the first one delivered to the new destination is known.
		deadline := time.Now().Add(guard)
		for j := 0; j < len(probes); j++ {
			for {
				if _, ok := dest.first(probes[j].id); ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("probe %s never arrived", probes[j].id)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		first := -1
		for j, p := range probes {
			a, _ := dest.first(p.id)
			switch {
			case a.path == path && first < 0:
				first = j
			case a.path != path && first >= 0:
				t.Errorf("probe %s went to %s after probe %s had gone to the new destination %s",
					p.id, a.path, probes[first].id, path)
			}
		}
		lat = append(lat, probes[first].answered.Sub(changed))
	}
	return lat
}

// newInputWindow creates a new input through admin (on one node), three
// times, and at once sends webhooks to it through probe (another node),
// one after the other, until one is delivered. It returns, for each, how
// many webhooks probe acknowledged and never delivered (an input the
// routes do not know yet must be looked up in the store, not answered as
// unknown: 200 and nothing stored), and how long after the creation's
// answer the first delivered one was answered.
func newInputWindow(t *testing.T, admin *client.Client, probe *node, dest *destination) (lost []int, took []time.Duration) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	for i := range 3 {
		name := fmt.Sprintf("new-%d", i)
		in, err := admin.CreateInput(ctx, "multinode", api.InputRequest{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		var ids []string
		delivered := -1
		for k := 0; delivered < 0; k++ {
			id := fmt.Sprintf("input-%d-%d", i, k)
			if !send(ctx, hc, probe.URL()+"/v1/webhooks/"+in.ID, id, "new-input") {
				t.Fatalf("webhook %s to the new input was not acknowledged", id)
			}
			ids = append(ids, id)
			if k == 0 {
				took = append(took, 0)
			}
			took[i] = time.Since(created)
			// A webhook stored is delivered within the guard: wait for
			// the first, then see which of the others arrived.
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) && delivered < 0 {
				for j, id := range ids {
					if _, ok := dest.first(id); ok {
						delivered = j
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			if time.Since(created) > guard {
				t.Fatalf("no webhook sent to the new input through %s was delivered within %v", probe.cfg.Name, guard)
			}
		}
		n := 0
		for _, id := range ids[:delivered] {
			if _, ok := dest.first(id); !ok {
				n++
			}
		}
		lost = append(lost, n)
	}
	return lost, took
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func durations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

// TestSeveralNodes runs three fnctl serve nodes on one PostgreSQL schema,
// sends 3,000 webhooks round-robin to them while node 2 is killed with
// SIGKILL and started again, and checks that every acknowledged webhook
// is delivered and that no webhook is delivered twice unless it was in
// flight on the killed node. Then an admin change made through node 1
// must take effect on node 3 within 2 s. Last, node 3 is killed for good
// during 600 more webhooks: the deliveries it held are delivered by the
// others when its leases end (relay.DefaultLease, 30 s: most of the
// test's time).
func TestSeveralNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	c := newCluster(t)
	dest := newDestination(t, jitter)
	key := writeKey(t, c.dir)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node%d", i)
		nodes = append(nodes, c.newNode(name, key, pgStore(t, dsn, name)))
	}
	start := time.Now()
	nodes[0].start()
	admin1 := adminClient(nodes[0], adminToken(t, filepath.Join(filepath.Dir(nodes[0].cfg.Config), "admin.token")))
	inputID, outputID := routes(t, admin1, dest.srv.URL)
	nodes[1].start()
	nodes[2].start()
	t.Logf("three nodes up in %v", time.Since(start).Round(time.Millisecond))

	res, w := loadWithKill(t, nodes, nodes[1], inputID, 0, 3000, true)
	drained := waitDelivered(t, admin1, dest, res.Acked)
	t.Logf("all delivered %v after the last answer", drained.Round(time.Millisecond))
	checkDeliveries(t, dest, res, w, relay.DefaultLease)
	logProblems(t, nodes)

	lat := changeLatency(t, admin1, nodes[2], dest, inputID, outputID)
	t.Logf("an output's new destination, changed through node 1, took effect on node 3 after %s (median %v)",
		durations(lat), median(lat).Round(time.Millisecond))
	// The product promises 2 s. One measurement may be slowed by the
	// shared machine; the median of three may not.
	if m := median(lat); m > 2*time.Second {
		t.Errorf("an admin change took effect on another node after %s: the median %v is over 2 s", durations(lat), m)
	}

	lost, took := newInputWindow(t, admin1, nodes[2], dest)
	t.Logf("an input created through node 1: node 3 acknowledged %v webhooks to it that were never delivered; "+
		"the first delivered was answered %s after the creation", lost, durations(took))
	for i, n := range lost {
		if n > 0 {
			t.Errorf("new input %d: %d webhooks acknowledged by another node and never delivered", i, n)
		}
	}

	// A node that does not come back: its peers take the deliveries it
	// held when their leases end (relay.DefaultLease), and the senders
	// send what it refuses to the next node.
	t.Logf("node 3 is killed and not started again")
	res, w = loadWithKill(t, nodes, nodes[2], inputID, 100000, 600, false)
	drained = waitDelivered(t, admin1, dest, res.Acked)
	t.Logf("all delivered %v after the last answer", drained.Round(time.Millisecond))
	checkDeliveries(t, dest, res, w, relay.DefaultLease)
	logProblems(t, nodes)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// TestOneNodeSQLite runs the checks of TestSeveralNodes on one node with
// its SQLite store: 1,000 webhooks while the node is killed and started
// again, and an admin change seen by the node itself.
func TestOneNodeSQLite(t *testing.T) {
	c := newCluster(t)
	dest := newDestination(t, jitter)
	key := writeKey(t, c.dir)
	n := c.newNode("node1", key, "sqlite://"+filepath.Join(c.dir, "relay.db"))
	n.start()
	admin := adminClient(n, adminToken(t, filepath.Join(filepath.Dir(n.cfg.Config), "admin.token")))
	inputID, outputID := routes(t, admin, dest.srv.URL)

	res, w := loadWithKill(t, []*node{n}, n, inputID, 0, 1000, true)
	waitDelivered(t, admin, dest, res.Acked)
	checkDeliveries(t, dest, res, w, relay.DefaultLease)
	logProblems(t, []*node{n})

	lat := changeLatency(t, admin, n, dest, inputID, outputID)
	t.Logf("an output's new destination took effect after %s", durations(lat))
}

// togetherInput is the input of TestNodesStartTogether's relay.yaml.
const togetherInput = "6f0c3a52-4b1e-4d8a-9c27-1e5d7a9b1020"

// TestNodesStartTogether starts three nodes at once on an empty schema,
// each with the same relay.yaml holding a bucket (which fnctl serve
// --config applies): they migrate and apply one after the other, one
// admin token is made, the bucket, input and output exist once, and
// webhooks sent to every node are delivered.
func TestNodesStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	c := newCluster(t)
	dest := newDestination(t, nil)
	key := writeKey(t, c.dir)
	file := fmt.Sprintf(`buckets:
  - name: together
    inputs:
      - name: in
        id: %s
    outputs:
      - name: dest
        destination: "%s/hooks"
`, togetherInput, dest.srv.URL)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node%d", i)
		n := c.newNode(name, key, pgStore(t, dsn, name))
		f, err := os.OpenFile(n.cfg.Config, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(file); err != nil {
			t.Fatal(err)
		}
		f.Close()
		nodes = append(nodes, n)
	}
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() { errs <- n.startErr() }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	var tokens []string
	for _, n := range nodes {
		if data, err := os.ReadFile(filepath.Join(filepath.Dir(n.cfg.Config), "admin.token")); err == nil {
			tokens = append(tokens, strings.TrimSpace(string(data)))
		}
	}
	if len(tokens) != 1 {
		t.Fatalf("%d nodes wrote an admin token, want 1", len(tokens))
	}
	ctx := context.Background()
	for _, n := range nodes {
		admin := adminClient(n, tokens[0])
		buckets, err := admin.ListBuckets(ctx)
		if err != nil {
			t.Fatalf("node %s: %v", n.cfg.Name, err)
		}
		if len(buckets) != 1 || buckets[0].Name != "together" {
			t.Fatalf("node %s lists %d buckets, want the one of the file", n.cfg.Name, len(buckets))
		}
		ins, err := admin.ListInputs(ctx, "together")
		if err != nil {
			t.Fatal(err)
		}
		outs, err := admin.ListOutputs(ctx, "together")
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != 1 || !strings.EqualFold(ins[0].ID, togetherInput) || len(outs) != 1 {
			t.Fatalf("node %s: %d inputs and %d outputs, want the file's one each", n.cfg.Name, len(ins), len(outs))
		}
	}

	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL()+"/v1/webhooks/"+togetherInput)
	}
	res := load{URLs: urls, N: 300, Concurrency: 8, Run: "together"}.run(ctx)
	if len(res.Unacked) > 0 {
		t.Fatalf("%d webhooks not acknowledged", len(res.Unacked))
	}
	waitDelivered(t, adminClient(nodes[0], tokens[0]), dest, res.Acked)
	logProblems(t, nodes)
}
