package multinode

// The harness: the fnctl binary, its processes (nodes), a destination that
// records every arrival, and a load generator.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/client"
)

// guard bounds every wait of the harness: a failure guard, generous for
// a shared, slow machine, never a timing assertion.
const guard = 60 * time.Second

// The fnctl binary, built once for the package's tests and removed by
// TestMain.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// fnctlBinary builds cmd/fnctl once and returns its path. Without a go
// command the test is skipped.
func fnctlBinary(t testing.TB) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build fnctl")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "relayfn-multinode-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "fnctl")
		cmd := exec.Command(goCmd, "build", "-o", built.path, "github.com/relayfn/relayfn/cmd/fnctl")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// freeAddr returns a loopback address with a port free now, so that a
// node restarted after a SIGKILL listens where its callers send.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cluster is the nodes of a test. Its cleanup kills every node still
// running and, when the test failed, prints the tail of each node's log.
type cluster struct {
	t     testing.TB
	bin   string
	dir   string
	mu    sync.Mutex
	nodes []*node
}

func newCluster(t testing.TB) *cluster {
	c := &cluster{t: t, bin: fnctlBinary(t), dir: t.TempDir()}
	t.Cleanup(func() {
		c.mu.Lock()
		nodes := slices.Clone(c.nodes)
		c.mu.Unlock()
		for _, n := range nodes {
			n.kill()
		}
		if t.Failed() {
			for _, n := range nodes {
				n.dumpLogs(40)
			}
		}
	})
	return c
}

// nodeConfig is how a node is started: fnctl serve --config Config
// --listen Listen [--store Store] [--node Name], with Env added to the
// test's environment (less the proxy variables).
type nodeConfig struct {
	Name   string
	Config string
	Listen string
	Store  string
	Env    []string
}

// node is one fnctl serve process, started again after kill by start.
type node struct {
	c   *cluster
	cfg nodeConfig

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
	logs   []string
}

// addNode registers a node without starting it.
func (c *cluster) addNode(cfg nodeConfig) *node {
	n := &node{c: c, cfg: cfg}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// URL is the node's base URL.
func (n *node) URL() string { return "http://" + n.cfg.Listen }

// start starts the node and waits until its /healthz answers 200.
func (n *node) start() {
	t := n.c.t
	t.Helper()
	if err := n.startErr(); err != nil {
		t.Fatal(err)
	}
}

// startErr starts the node and waits until its /healthz answers 200
// {"status":"ok"} (a degraded store answers 200 too, by default); it
// does not fail the test, so that nodes may be started from goroutines.
func (n *node) startErr() error {
	args := []string{"serve", "--config", n.cfg.Config, "--listen", n.cfg.Listen}
	if n.cfg.Store != "" {
		args = append(args, "--store", n.cfg.Store)
	}
	if n.cfg.Name != "" {
		args = append(args, "--node", n.cfg.Name)
	}
	n.mu.Lock()
	logPath := filepath.Join(n.c.dir, fmt.Sprintf("%s.%d.log", n.cfg.Name, len(n.logs)+1))
	n.logs = append(n.logs, logPath)
	run := len(n.logs)
	n.mu.Unlock()
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.c.bin, args...)
	cmd.Dir = filepath.Dir(n.cfg.Config)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, n.cfg.Env...)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", n.cfg.Name, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(exited)
	}()
	began := time.Now()
	if err := n.waitHealthy(exited); err != nil {
		return err
	}
	n.c.t.Logf("node %s (run %d) healthy %v after its start", n.cfg.Name, run, time.Since(began).Round(time.Millisecond))
	return nil
}

// waitHealthy polls /healthz until it answers 200 {"status":"ok"}.
func (n *node) waitHealthy(exited chan struct{}) error {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(guard)
	for {
		resp, err := hc.Get(n.URL() + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == `{"status":"ok"}` {
				return nil
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		select {
		case <-exited:
			return fmt.Errorf("node %s exited before it was healthy: %v", n.cfg.Name, n.exitErr())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s was not healthy within %v (last: %v)", n.cfg.Name, guard, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// pid is the running process's id, 0 when none runs.
func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	select {
	case <-n.exited:
		return 0
	default:
	}
	return n.cmd.Process.Pid
}

// signal sends sig and waits for the process to exit (within guard).
func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v to %s: %w", sig, n.cfg.Name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(guard):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("node %s did not exit within %v of %v", n.cfg.Name, guard, sig)
	}
}

// kill ends the process with SIGKILL, if it runs.
func (n *node) kill() {
	if err := n.signal(syscall.SIGKILL); err != nil {
		n.c.t.Error(err)
	}
}

// dumpLogs prints the last lines of each of the node's logs.
func (n *node) dumpLogs(lines int) {
	n.mu.Lock()
	logs := slices.Clone(n.logs)
	n.mu.Unlock()
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			n.c.t.Logf("%s: %v", path, err)
			continue
		}
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		n.c.t.Logf("last %d lines of %s:\n%s", len(all), filepath.Base(path), strings.Join(all, "\n"))
	}
}

// logText is everything the node's runs have logged so far.
func (n *node) logText() string {
	n.mu.Lock()
	logs := slices.Clone(n.logs)
	n.mu.Unlock()
	var b strings.Builder
	for _, path := range logs {
		data, _ := os.ReadFile(path)
		b.Write(data)
	}
	return b.String()
}

// adminToken waits for the admin token that the node's first start wrote
// to path (server.admin.token_file).
func adminToken(t testing.TB, path string) string {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		data, err := os.ReadFile(path)
		if tok := strings.TrimSpace(string(data)); err == nil && tok != "" {
			return tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin token in %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminClient is an admin API client of a node.
func adminClient(n *node, token string) *client.Client {
	return client.New(n.URL(), token, &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second})
}

// arrival is one request the destination received.
type arrival struct {
	id   string // the webhook's id: "seq.try", or a probe's id
	at   time.Time
	path string
}

// destination is an httptest server that records every request by the
// webhook id in its X-Test-Id header and answers 200, after delay when
// that is set (deliveries are then in flight when a node is killed).
type destination struct {
	srv   *httptest.Server
	delay func() time.Duration

	count atomic.Int64
	mu    sync.Mutex
	byID  map[string][]arrival
	bad   []string
}

func newDestination(t testing.TB, delay func() time.Duration) *destination {
	d := &destination{delay: delay, byID: map[string][]arrival{}}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *destination) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	id := r.Header.Get("X-Test-Id")
	d.mu.Lock()
	if err != nil || id == "" || !bytes.Contains(body, []byte(`"id":"`+id+`"`)) {
		d.bad = append(d.bad, fmt.Sprintf("%s %s id %q body %.80q err %v", r.Method, r.URL, id, body, err))
		d.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d.byID[id] = append(d.byID[id], arrival{id: id, at: at, path: r.URL.Path})
	d.mu.Unlock()
	d.count.Add(1)
	if d.delay != nil {
		time.Sleep(d.delay())
	}
	w.WriteHeader(http.StatusOK)
}

// arrivals returns a copy of the arrivals by id, and the bad requests.
func (d *destination) arrivals() (map[string][]arrival, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string][]arrival, len(d.byID))
	for id, as := range d.byID {
		m[id] = slices.Clone(as)
	}
	return m, slices.Clone(d.bad)
}

// first returns the first arrival of id.
func (d *destination) first(id string) (arrival, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	as := d.byID[id]
	if len(as) == 0 {
		return arrival{}, false
	}
	return as[0], true
}

// missing returns the ids of want that have not arrived.
func (d *destination) missing(want map[string]time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id := range want {
		if len(d.byID[id]) == 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// load is a run of the load generator: webhooks First..First+N-1 sent to
// URLs round-robin by sequence number, from Concurrency senders. A
// webhook not answered 2xx (a node down) is sent again to the next URL as
// a new webhook (its id's try goes up), as a sender's retry through a
// load balancer would, up to maxTries times, 20 ms apart.
type load struct {
	URLs        []string
	First, N    int
	Concurrency int
	// Run tags every body, so that a log holding it would show.
	Run string
	// OnAck, when set, is called after each acknowledgement with the
	// number so far (from the senders' goroutines).
	OnAck func(acked int)
}

// loadResult is what a run of the load generator saw.
type loadResult struct {
	// First and N are the load's sequence numbers.
	First, N int
	// Acked holds the ids answered 2xx, with the time of the answer.
	Acked map[string]time.Time
	// Unacked holds the ids sent but not answered 2xx (refused, cut or
	// answered otherwise): they may or may not have been stored.
	Unacked map[string]bool
	// Lost counts sequence numbers never acknowledged at all.
	Lost    int
	Elapsed time.Duration
}

// maxTries is how often the load generator sends a sequence number: 30
// tries 20 ms apart outlast a node's restart.
const maxTries = 30

// ours reports whether id ("seq.try") is of one of the load's sequence
// numbers.
func (r loadResult) ours(id string) bool {
	seq, _, ok := strings.Cut(id, ".")
	n, err := strconv.Atoi(seq)
	return ok && err == nil && n >= r.First && n < r.First+r.N
}

// pad makes a webhook body about 1 KB, the size of a small real one.
var pad = strings.Repeat("x", 900)

// run sends the load and returns what it saw.
func (l load) run(ctx context.Context) loadResult {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: l.Concurrency * 2, MaxIdleConnsPerHost: l.Concurrency}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var (
		mu    sync.Mutex
		res   = loadResult{First: l.First, N: l.N, Acked: map[string]time.Time{}, Unacked: map[string]bool{}}
		next  atomic.Int64
		acked atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= l.N {
					return
				}
				seq := l.First + i
				ok := false
				for try := 0; try < maxTries && !ok && ctx.Err() == nil; try++ {
					id := fmt.Sprintf("%d.%d", seq, try)
					url := l.URLs[(seq+try)%len(l.URLs)]
					ok = send(ctx, hc, url, id, l.Run)
					mu.Lock()
					if ok {
						res.Acked[id] = time.Now()
					} else {
						res.Unacked[id] = true
					}
					mu.Unlock()
					if !ok {
						time.Sleep(20 * time.Millisecond)
					}
				}
				if !ok {
					mu.Lock()
					res.Lost++
					mu.Unlock()
					continue
				}
				if n := acked.Add(1); l.OnAck != nil {
					l.OnAck(int(n))
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// send posts one webhook and reports whether it was answered 2xx.
func send(ctx context.Context, hc *http.Client, url, id, run string) bool {
	body := `{"id":"` + id + `","run":"` + run + `","pad":"` + pad + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Id", id)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// cpuTicks is a process's user plus system CPU time, in clock ticks
// (1/100 s on Linux), from /proc/PID/stat; 0 when it cannot be read.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: the fields
	// after it start at the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// ticksPerSecond is Linux's USER_HZ, the unit of /proc/PID/stat's times.
const ticksPerSecond = 100

// processesNamed returns the pids of the processes whose command name
// (/proc/PID/comm) is name.
func processesNamed(name string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuSnapshot is the CPU ticks of a set of processes at one time.
type cpuSnapshot map[int]int64

func snapshotCPU(pids []int) cpuSnapshot {
	s := cpuSnapshot{}
	for _, pid := range pids {
		s[pid] = cpuTicks(pid)
	}
	return s
}

// since is the CPU the processes of now spent after before: processes
// new in now count from 0; processes gone from now are not counted (their
// last ticks are lost with them).
func (now cpuSnapshot) since(before cpuSnapshot) time.Duration {
	var ticks int64
	for pid, t := range now {
		ticks += t - before[pid]
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond
}

// logProblems logs, for each node, how many of its JSON log lines are at
// level WARN or ERROR, and the first few: they are not failures by
// themselves (a node killed mid-load leaves its peers something to say),
// but they are where a failure's cause is found.
func logProblems(t testing.TB, nodes []*node) {
	t.Helper()
	for _, n := range nodes {
		var lines []string
		for _, line := range strings.Split(n.logText(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
				lines = append(lines, line)
			}
		}
		if len(lines) == 0 {
			continue
		}
		shown := lines[:min(len(lines), 5)]
		t.Logf("node %s logged %d warnings and errors; the first %d:\n%s", n.cfg.Name, len(lines), len(shown), strings.Join(shown, "\n"))
	}
}
