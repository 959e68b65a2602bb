package main

// End-to-end tests of `fnctl serve` as a real process: a webhook
// acknowledged to its caller survives a SIGKILL and is delivered after a
// restart, a delivery recorded as succeeded is never sent again, and
// SIGTERM finishes the work in flight and exits 0.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
)

// The fnctl binary, built once for the package's tests by fnctlBinary and
// removed by TestMain.
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

// fnctlBinary builds the fnctl binary from this package (once) and returns
// its path. The test is skipped when there is no go command.
func fnctlBinary(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build fnctl")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "fnctl-serve-test-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "fnctl")
		cmd := exec.Command(goCmd, "build", "-o", built.path, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// inputID is the test relay's one input.
const inputID = "3d1f6a52-9b7e-4c1a-8f20-6e5d4c3b2a19"

// serveConfig is the relay.yaml of the tests: one bucket, one input whose
// function tags every webhook (and reads a secret from its
// configuration), one output to dest with fast retries.
const serveConfig = `server:
  store: "sqlite://relay.db"
  encryption_key_file: "relay.key"
  egress:
    allow_ranges: ["127.0.0.0/8"]
functions:
  - name: tag
    source: |
      if cfg:GetValue("SIGNING_KEY") ~= "" then
        r:SetRequestHeader("X-Relay-Test", "tagged")
      end
    config: {SIGNING_KEY: "%s"}
buckets:
  - name: durable
    inputs:
      - name: in
        id: ` + inputID + `
        function: tag
    outputs:
      - name: dest
        destination: "%s/hooks"
        timeout: 10s
        retries: {max_attempts: 50, initial_interval: 50ms, max_interval: 200ms}
`

// processLog collects a relay process's stderr and finds its listening
// address in the JSON log.
type processLog struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	addr    chan string
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "relayfn listening" && rec.Addr != "" {
			select {
			case l.addr <- rec.Addr:
			default:
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// messages returns the "msg" of every JSON log line.
func (l *processLog) messages() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg != "" {
			out = append(out, rec.Msg)
		}
	}
	return out
}

// process is a child process of a test, killed in the test's cleanup if
// it is still running.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// startProcess starts cmd with the test's environment less the proxy
// variables (children reach the loopback destinations directly) and less
// the variables named in drop, then env.
func startProcess(t *testing.T, cmd *exec.Cmd, env []string, drop ...string) *process {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name = strings.ToUpper(name); name {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		default:
			if slices.Contains(drop, name) {
				continue
			}
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// relayProcess is a running `fnctl serve`.
type relayProcess struct {
	*process
	log  *processLog
	addr string
}

// startRelay starts `fnctl serve --config relay.yaml --listen 127.0.0.1:0`
// in dir and waits until it listens.
func startRelay(t *testing.T, bin, dir string) *relayProcess {
	t.Helper()
	return startRelayOn(t, bin, dir, "127.0.0.1:0")
}

// startRelayOn starts `fnctl serve` on listen, as startRelay does.
func startRelayOn(t *testing.T, bin, dir, listen string) *relayProcess {
	t.Helper()
	p := &relayProcess{log: &processLog{addr: make(chan string, 1)}}
	cmd := exec.Command(bin, "serve", "--config", "relay.yaml", "--listen", listen)
	cmd.Dir = dir
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	p.process = startProcess(t, cmd, nil)
	select {
	case p.addr = <-p.log.addr:
	case <-p.exited:
		t.Fatalf("the relay exited before listening: %v\n%s", p.err, p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("the relay did not listen in time\n%s", p.log)
	}
	return p
}

// signal sends sig to the relay and waits for it to exit (a failure guard
// of grace, not a timing assertion).
func (p *relayProcess) signal(t *testing.T, sig os.Signal, grace time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.exited:
	case <-time.After(grace):
		t.Fatalf("the relay did not exit within %v of %v\n%s", grace, sig, p.log)
	}
}

// receipt is one request the destination received.
type receipt struct {
	seq    int
	epoch  int // which run of the relay sent it
	status int // what the destination answered
}

// destination records every delivery by the sequence number in its body,
// answering slowly so that deliveries are in flight when the relay stops.
type destination struct {
	t   *testing.T
	srv *httptest.Server
	// failFirst makes the first request of a sequence number answer 503.
	failFirst func(seq int) bool

	mu       sync.Mutex
	epoch    int
	receipts []receipt
	bad      []string // requests that were not as sent
	active   atomic.Int32
}

func newDestination(t *testing.T, failFirst func(int) bool) *destination {
	d := &destination{t: t, failFirst: failFirst, epoch: 1}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *destination) serve(w http.ResponseWriter, r *http.Request) {
	d.active.Add(1)
	defer d.active.Add(-1)
	body, _ := io.ReadAll(r.Body)
	var msg struct {
		Seq int `json:"seq"`
	}
	err := json.Unmarshal(body, &msg)
	d.mu.Lock()
	if err != nil || r.URL.Path != "/hooks" || r.Header.Get("X-Relay-Test") != "tagged" {
		d.bad = append(d.bad, fmt.Sprintf("%s %s %q %v", r.Method, r.URL, body, r.Header))
		d.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	status := http.StatusOK
	if d.failFirst != nil && d.failFirst(msg.Seq) && !slices.ContainsFunc(d.receipts, func(rc receipt) bool { return rc.seq == msg.Seq }) {
		status = http.StatusServiceUnavailable
	}
	d.receipts = append(d.receipts, receipt{seq: msg.Seq, epoch: d.epoch, status: status})
	d.mu.Unlock()
	time.Sleep(time.Duration(20+rand.IntN(31)) * time.Millisecond)
	w.WriteHeader(status)
}

func (d *destination) setEpoch(e int) {
	d.mu.Lock()
	d.epoch = e
	d.mu.Unlock()
}

func (d *destination) snapshot() ([]receipt, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.receipts), slices.Clone(d.bad)
}

// accepted counts the 2xx answers per sequence number.
func accepted(rs []receipt) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		if r.status/100 == 2 {
			m[r.seq]++
		}
	}
	return m
}

// traffic sends webhooks 0..n-1 from workers goroutines until stop is
// closed, and records the sequence numbers answered 2xx.
type traffic struct {
	mu    sync.Mutex
	acked map[int]bool
	count atomic.Int32
	half  chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

func sendTraffic(t *testing.T, url, run string, n, workers int) *traffic {
	tr := &traffic{acked: map[int]bool{}, half: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers},
		Timeout:   30 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)
	var next atomic.Int32
	var halfOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				seq := int(next.Add(1)) - 1
				if seq >= n {
					return
				}
				body := fmt.Sprintf(`{"seq":%d,"run":%q}`, seq, run)
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				if err != nil {
					continue // not acknowledged: the relay is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					continue
				}
				tr.mu.Lock()
				tr.acked[seq] = true
				tr.mu.Unlock()
				if int(tr.count.Add(1)) >= n/2 {
					halfOnce.Do(func() { close(tr.half) })
				}
			}
		}()
	}
	go func() { wg.Wait(); close(tr.done) }()
	return tr
}

// finish stops the senders and returns the acknowledged sequence numbers.
func (tr *traffic) finish() map[int]bool {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.acked)
}

// storeState is what the store holds about the test's webhooks.
type storeState struct {
	stored    map[int]bool                // sequence numbers with a stored webhook
	state     map[int]relay.DeliveryState // delivery state by sequence number
	succeeded map[int]bool
	pending   int
}

// readStore opens the relay's store with its key, as an operator would
// with the relay stopped, and reads every delivery and its webhook's
// sequence number.
func readStore(t *testing.T, dir string) storeState {
	t.Helper()
	ctx := context.Background()
	key, created, err := seal.LoadOrCreateKey(filepath.Join(dir, "relay.key"))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("the relay did not keep its encryption key in the working folder")
	}
	sl, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "relay.db"), sl)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := storeState{stored: map[int]bool{}, state: map[int]relay.DeliveryState{}, succeeded: map[int]bool{}}
	for _, d := range ds {
		wh, err := st.GetWebhook(ctx, d.WebhookID)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(wh.Request.Body, &msg); err != nil {
			t.Fatalf("webhook %s: body %q: %v", wh.ID, wh.Request.Body, err)
		}
		if prev, ok := s.state[msg.Seq]; ok {
			t.Fatalf("sequence number %d has two deliveries (%s and %s)", msg.Seq, prev, d.State)
		}
		s.stored[msg.Seq] = true
		s.state[msg.Seq] = d.State
		switch d.State {
		case relay.DeliverySucceeded:
			s.succeeded[msg.Seq] = true
		case relay.DeliveryPending:
			s.pending++
		}
	}
	return s
}

// waitDelivered waits until the destination has accepted every
// acknowledged webhook and the store has no pending delivery left (a
// failure guard, not a timing assertion).
func waitDelivered(t *testing.T, dest *destination, dir string, acked map[int]bool, p *relayProcess) {
	t.Helper()
	db := openReadOnly(t, filepath.Join(dir, "relay.db"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The store first: a delivery is recorded after the destination
		// got it, so with none pending the destination has seen them all.
		var pending int
		if err := db.QueryRow(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		rs, _ := dest.snapshot()
		got := accepted(rs)
		var missing []int
		for seq := range acked {
			if got[seq] == 0 {
				missing = append(missing, seq)
			}
		}
		if len(missing) == 0 && pending == 0 {
			return
		}
		if pending == 0 || time.Now().After(deadline) {
			slices.Sort(missing)
			t.Fatalf("acknowledged webhooks %v never reached the destination; %d deliveries still pending\n%s", missing, pending, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeConfig(t *testing.T, dir, secret, dest string) {
	t.Helper()
	cfg := fmt.Sprintf(serveConfig, secret, dest)
	if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkLogs fails when the relay's log holds a secret or webhook data.
func checkLogs(t *testing.T, p *relayProcess, secrets ...string) {
	t.Helper()
	logs := p.log.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the relay's log holds %q:\n%s", s, logs)
		}
	}
}

func TestServeDurableAcrossSIGKILL(t *testing.T) {
	bin := fnctlBinary(t)
	dir := t.TempDir()
	dest := newDestination(t, func(seq int) bool { return seq%10 == 3 })
	run, secret := "RUN"+randHex(), "SECRET"+randHex()
	writeConfig(t, dir, secret, dest.srv.URL)
	const total, workers = 300, 8

	p1 := startRelay(t, bin, dir)
	tr := sendTraffic(t, "http://"+p1.addr+"/v1/webhooks/"+inputID, run, total, workers)
	select {
	case <-tr.half:
	case <-tr.done:
		t.Fatalf("fewer than half the webhooks were acknowledged\n%s", p1.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("half the webhooks were not acknowledged in time\n%s", p1.log)
	}
	inFlight := dest.active.Load()
	p1.signal(t, syscall.SIGKILL, 10*time.Second)
	acked := tr.finish()
	checkLogs(t, p1, run, secret)

	// The relay is dead: what it recorded is all it will know.
	before, _ := dest.snapshot()
	dest.setEpoch(2)
	atKill := readStore(t, dir)
	for seq := range acked {
		if !atKill.stored[seq] {
			t.Errorf("webhook %d was acknowledged but is not in the store", seq)
		}
	}
	// A delivery the destination accepted but whose success the relay did
	// not record was in flight when it died: at least once allows it to
	// be sent again.
	inFlightAtKill := 0
	for seq := range accepted(before) {
		if !atKill.succeeded[seq] {
			inFlightAtKill++
		}
	}

	p2 := startRelay(t, bin, dir)
	waitDelivered(t, dest, dir, acked, p2)
	p2.signal(t, syscall.SIGTERM, 40*time.Second)
	if code := p2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the restarted relay exited %d after SIGTERM\n%s", code, p2.log)
	}
	checkLogs(t, p2, run, secret)

	rs, bad := dest.snapshot()
	if len(bad) > 0 {
		t.Fatalf("the destination got requests unlike those sent: %q", bad)
	}
	got := accepted(rs)
	for seq := range acked {
		if got[seq] == 0 {
			t.Errorf("acknowledged webhook %d never reached the destination", seq)
		}
	}
	resent := 0
	for _, r := range rs {
		if r.epoch != 2 {
			continue
		}
		if atKill.succeeded[r.seq] {
			t.Errorf("webhook %d was sent again after the restart although its success was recorded", r.seq)
		}
		resent++
	}
	final := readStore(t, dir)
	for seq := range acked {
		if final.state[seq] != relay.DeliverySucceeded {
			t.Errorf("the delivery of acknowledged webhook %d is %q, want succeeded", seq, final.state[seq])
		}
	}
	if final.pending != 0 {
		t.Errorf("%d deliveries still pending", final.pending)
	}
	dups, unacked := 0, 0
	for seq, n := range got {
		if n > 1 {
			dups++
		}
		if !acked[seq] {
			unacked++
		}
	}
	t.Logf("acknowledged %d of %d; stored at the kill %d (succeeded %d, pending %d); destination handlers active at the kill %d",
		len(acked), total, len(atKill.stored), len(atKill.succeeded), atKill.pending, inFlight)
	t.Logf("delivered %d distinct webhooks (%d not acknowledged to their caller); requests after the restart %d; accepted before the kill but not recorded (in flight) %d; delivered twice (at least once) %d",
		len(got), unacked, resent, inFlightAtKill, dups)
}

func TestServeGracefulShutdown(t *testing.T) {
	bin := fnctlBinary(t)
	dir := t.TempDir()
	dest := newDestination(t, func(seq int) bool { return seq%7 == 2 })
	run, secret := "RUN"+randHex(), "SECRET"+randHex()
	writeConfig(t, dir, secret, dest.srv.URL)
	const total, workers = 200, 8

	p1 := startRelay(t, bin, dir)
	tr := sendTraffic(t, "http://"+p1.addr+"/v1/webhooks/"+inputID, run, total, workers)
	select {
	case <-tr.half:
	case <-tr.done:
		t.Fatalf("fewer than half the webhooks were acknowledged\n%s", p1.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("half the webhooks were not acknowledged in time\n%s", p1.log)
	}
	// Webhooks keep arriving while the relay stops; the grace period is
	// 30s: the guard is longer.
	inFlight := dest.active.Load()
	p1.signal(t, syscall.SIGTERM, 40*time.Second)
	acked := tr.finish()
	if code := p1.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the relay exited %d after SIGTERM, want 0\n%s", code, p1.log)
	}
	msgs := p1.log.messages()
	if !slices.Contains(msgs, "stopped") {
		t.Errorf("the relay did not log that it stopped\n%s", p1.log)
	}
	for _, m := range []string{"http shutdown", "delivery shutdown"} {
		if slices.Contains(msgs, m) {
			t.Errorf("the relay did not finish in its grace period (%q)\n%s", m, p1.log)
		}
	}
	checkLogs(t, p1, run, secret)

	before, _ := dest.snapshot()
	dest.setEpoch(2)
	atStop := readStore(t, dir)
	for seq := range acked {
		if !atStop.stored[seq] {
			t.Errorf("webhook %d was acknowledged but is not in the store", seq)
		}
	}
	// Every delivery in flight at SIGTERM was finished and recorded: each
	// one the destination accepted is recorded as succeeded.
	for seq := range accepted(before) {
		if !atStop.succeeded[seq] {
			t.Errorf("webhook %d was accepted by the destination before the stop, but its delivery is %q", seq, atStop.state[seq])
		}
	}

	p2 := startRelay(t, bin, dir)
	waitDelivered(t, dest, dir, acked, p2)
	p2.signal(t, syscall.SIGTERM, 40*time.Second)
	if code := p2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the restarted relay exited %d after SIGTERM\n%s", code, p2.log)
	}
	checkLogs(t, p2, run, secret)

	rs, bad := dest.snapshot()
	if len(bad) > 0 {
		t.Fatalf("the destination got requests unlike those sent: %q", bad)
	}
	got := accepted(rs)
	for seq := range acked {
		if got[seq] == 0 {
			t.Errorf("acknowledged webhook %d never reached the destination", seq)
		}
	}
	resumed := 0
	for _, r := range rs {
		if r.epoch != 2 {
			continue
		}
		if atStop.succeeded[r.seq] {
			t.Errorf("webhook %d was sent again after the restart although its success was recorded", r.seq)
		}
		resumed++
	}
	// Nothing was in flight when the process ended: no webhook is
	// accepted twice.
	for seq, n := range got {
		if n > 1 {
			t.Errorf("webhook %d was accepted %d times", seq, n)
		}
	}
	final := readStore(t, dir)
	for seq := range acked {
		if final.state[seq] != relay.DeliverySucceeded {
			t.Errorf("the delivery of acknowledged webhook %d is %q, want succeeded", seq, final.state[seq])
		}
	}
	t.Logf("acknowledged %d of %d; destination handlers active at SIGTERM %d; at the stop %d stored, %d succeeded, %d pending; requests after the restart %d; delivered %d distinct webhooks",
		len(acked), total, inFlight, len(atStop.stored), len(atStop.succeeded), atStop.pending, resumed, len(got))
}

func randHex() string { return fmt.Sprintf("%016X", rand.Uint64()) }

// openReadOnly opens the relay's database for reading beside the running
// relay.
func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
