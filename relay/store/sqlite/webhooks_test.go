package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	sl := storetest.Sealer(t, 1)
	ctx := context.Background()

	st := openAt(t, path, sl)
	fx := storetest.NewFixture(t, st, "a", false)
	f := &functions.Function{Name: "f", Source: "return"}
	must(t, st.CreateFunction(ctx, f))
	must(t, st.SetConfig(ctx, f.ID, "KEY", "value"))
	w := fx.Webhook("persisted")
	ds := fx.Deliveries()
	must(t, st.SaveWebhook(ctx, w, ds))
	must(t, st.Close())
	must(t, st.Close()) // idempotent
	if err := st.SaveWebhook(ctx, fx.Webhook("late"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SaveWebhook after Close: err = %v, want ErrClosed", err)
	}

	st = openAt(t, "sqlite://"+path, sl)
	got, err := st.GetWebhook(ctx, w.ID)
	must(t, err)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("after reopen: %+v, want %+v", got, w)
	}
	pending, err := storetest.PendingDeliveries(ctx, st)
	must(t, err)
	if !reflect.DeepEqual(pending, ds) {
		t.Errorf("pending after reopen = %+v, want %+v", pending, ds)
	}
	cfg, err := st.Config(ctx, f.ID)
	must(t, err)
	if cfg["KEY"] != "value" {
		t.Errorf("config after reopen = %v", cfg)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	sl := storetest.Sealer(t, 1)
	st := openAt(t, path, sl)
	fx := storetest.NewFixture(t, st, "a", false)
	ctx := context.Background()

	const n = 300
	ws := make([]*relay.Webhook, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ws[i] = fx.Webhook("x")
		wg.Go(func() { errs[i] = st.SaveWebhook(ctx, ws[i], fx.Deliveries()) })
	}
	time.Sleep(time.Millisecond)
	must(t, st.Close())
	wg.Wait()

	st = openAt(t, path, sl)
	stored := 0
	for i := range n {
		_, err := st.GetWebhook(ctx, ws[i].ID)
		switch {
		case errs[i] == nil:
			must(t, err)
			stored++
		case errors.Is(errs[i], ErrClosed):
			wantNotFound(t, err)
		default:
			t.Errorf("SaveWebhook %d: %v", i, errs[i])
		}
	}
	t.Logf("%d of %d writes made it before Close", stored, n)
}

// TestSurvivesSIGKILL kills a writing process and checks that every
// webhook it acknowledged is in the database.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "relay.db")
	key := bytes.Repeat([]byte{9}, seal.KeySize)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.v")
	cmd.Env = append(os.Environ(), "RELAYFN_CRASH_DB="+path, "RELAYFN_CRASH_KEY="+hex.EncodeToString(key))
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	var acked []string
	killed := false
	for sc.Scan() {
		line := sc.Text()
		id, ok := strings.CutPrefix(line, "ACK ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == 200 && !killed {
			must(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the writer stopped after %d acknowledgements", len(acked))
	}

	sl, err := seal.New(key)
	must(t, err)
	st := openAt(t, path, sl)
	ctx := context.Background()
	for _, id := range acked {
		w, err := st.GetWebhook(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged webhook lost after SIGKILL: %v", err)
		}
		if string(w.Request.Body) != "crash "+id {
			t.Fatalf("webhook %s body = %q", id, w.Request.Body)
		}
	}
	t.Logf("%d acknowledged webhooks survived SIGKILL", len(acked))
}

// TestCrashWriter is the process TestSurvivesSIGKILL kills: it saves
// webhooks from several goroutines until killed, printing the ID of each
// one acknowledged.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv("RELAYFN_CRASH_DB")
	if path == "" {
		t.Skip("run by TestSurvivesSIGKILL")
	}
	key, err := hex.DecodeString(os.Getenv("RELAYFN_CRASH_KEY"))
	must(t, err)
	sl, err := seal.New(key)
	must(t, err)
	st, err := Open(context.Background(), path, sl)
	must(t, err)
	fx := storetest.NewFixture(t, st, "crash", false)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				w := fx.Webhook("")
				w.ID = uuid.NewString()
				w.Request.Body = []byte("crash " + w.ID)
				if err := st.SaveWebhook(context.Background(), w, fx.Deliveries()); err != nil {
					fmt.Println("ERR", err)
					return
				}
				mu.Lock()
				fmt.Println("ACK", w.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.db")
	st := openAt(t, path, storetest.Sealer(t, 1))
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "a", false)

	markers := []string{
		"BODYMARKER-7f3a9c", "HEADERMARKER-c0ffee", "QUERYMARKER-b16b00b5", "CONFIGMARKER-deadbeef",
		"LOGMARKER-5eed", "FUNCERRMARKER-0ddba11", "ATTEMPTLOGMARKER-abad1dea", "ATTEMPTERRMARKER-feedface",
		"LASTERRMARKER-cafed00d",
	}
	f := &functions.Function{Name: "f", Source: "return"}
	must(t, st.CreateFunction(ctx, f))
	must(t, st.SetConfig(ctx, f.ID, "SECRET", "CONFIGMARKER-deadbeef"))
	for i := range 50 {
		w := fx.Webhook(`{"secret":"BODYMARKER-7f3a9c"}`)
		w.Request.Header.Set("X-Api-Key", "HEADERMARKER-c0ffee")
		w.Request.RawQuery = "token=QUERYMARKER-b16b00b5"
		w.Logs = []string{"LOGMARKER-5eed"}
		w.FunctionError = "FUNCERRMARKER-0ddba11"
		ds := fx.Deliveries()
		must(t, st.SaveWebhook(ctx, w, ds))
		if i%10 == 0 {
			d := ds[0]
			d.Attempts, d.LastError = 1, "LASTERRMARKER-cafed00d"
			must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Error: "ATTEMPTERRMARKER-feedface", Logs: []string{"ATTEMPTLOGMARKER-abad1dea"}}))
		}
	}
	// The plaintext really went in: the store opens what it sealed.
	cfg, err := st.Config(ctx, f.ID)
	must(t, err)
	if cfg["SECRET"] != "CONFIGMARKER-deadbeef" {
		t.Fatalf("config round trip: %q", cfg["SECRET"])
	}

	check := func(stage string) {
		t.Helper()
		files, err := filepath.Glob(path + "*")
		must(t, err)
		sawWAL := false
		for _, file := range files {
			data, err := os.ReadFile(file)
			must(t, err)
			if strings.HasSuffix(file, "-wal") && len(data) > 0 {
				sawWAL = true
			}
			for _, m := range markers {
				if bytes.Contains(data, []byte(m)) {
					t.Errorf("%s: %s holds the plaintext %q", stage, filepath.Base(file), m)
				}
			}
			// The plain metadata is there, which shows the check can see
			// plaintext.
			if strings.HasSuffix(file, ".db") && stage == "after close" && !bytes.Contains(data, []byte(fx.Bucket.ID)) {
				t.Errorf("%s: %s does not hold the bucket ID", stage, filepath.Base(file))
			}
		}
		if stage == "open" && !sawWAL {
			t.Errorf("no WAL file to check while open (files %v)", files)
		}
	}
	check("open")
	must(t, st.Close())
	check("after close")
}

func TestWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	ctx := context.Background()
	st := openAt(t, path, storetest.Sealer(t, 1))
	sealed := storetest.SaveSealed(t, st)
	must(t, st.Close())

	// Open refuses another key.
	_, err := Open(ctx, path, storetest.Sealer(t, 2))
	wantErr(t, err, seal.ErrOpen)
	if !strings.Contains(err.Error(), "encryption key") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open with the wrong key: error %q does not explain itself", err)
	}
	t.Logf("Open: %v", err)

	// Values sealed with another key do not open, without a panic or
	// plaintext in the error.
	st = openAt(t, path, storetest.Sealer(t, 1))
	st.sealer = storetest.Sealer(t, 2)
	sealed.WantUnreadable(t, st)
}

// TestSwappedCiphertext checks that a sealed value copied to another row or
// column does not open.
func TestSwappedCiphertext(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "a", false)
	w1, w2 := fx.Webhook("one"), fx.Webhook("two")
	must(t, st.SaveWebhook(ctx, w1, nil))
	must(t, st.SaveWebhook(ctx, w2, nil))

	_, err := st.wdb.Exec(`UPDATE webhooks SET body = (SELECT body FROM webhooks WHERE id = ?) WHERE id = ?`, w1.ID, w2.ID)
	must(t, err)
	_, err = st.GetWebhook(ctx, w2.ID)
	wantErr(t, err, seal.ErrOpen)

	_, err = st.wdb.Exec(`UPDATE webhooks SET raw_query = body WHERE id = ?`, w1.ID)
	must(t, err)
	_, err = st.GetWebhook(ctx, w1.ID)
	wantErr(t, err, seal.ErrOpen)
}

// TestEphemeralBucketColumns: an ephemeral bucket's webhooks and attempts
// leave their secret columns NULL (the contract suite checks what the
// store returns).
func TestEphemeralBucketColumns(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	e := storetest.SaveEphemeral(t, st)
	fx, w, d := e.Fixture, e.Webhook, e.Delivery

	var nulls int
	must(t, st.DB().QueryRow(`SELECT (path IS NULL) + (raw_query IS NULL) + (headers IS NULL) + (body IS NULL)
		+ (function_error IS NULL) + (logs IS NULL) FROM webhooks WHERE id = ?`, w.ID).Scan(&nulls))
	if nulls != 6 {
		t.Errorf("%d of the 6 secret webhook columns are NULL", nulls)
	}
	if n := count(t, st, "deliveries", "id = ? AND attempt_n = 1 AND attempt_logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral attempt's logs are stored")
	}
	// Recording the next attempt moves the first to the attempts table,
	// still without logs.
	e.Attempt(t, st, 2)
	if n := count(t, st, "attempts", "delivery_id = ? AND n = 1 AND logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral first attempt's logs are stored")
	}
	if n := count(t, st, "deliveries", "id = ? AND attempt_n = 2 AND attempt_logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral second attempt's logs are stored")
	}

	// Off and on again: the next webhook's secrets are not written.
	fx.Bucket.Ephemeral = false
	must(t, st.UpdateBucket(ctx, fx.Bucket))
	must(t, st.SaveWebhook(ctx, fx.Webhook("kept"), nil))
	fx.Bucket.Ephemeral = true
	must(t, st.UpdateBucket(ctx, fx.Bucket))
	w3 := fx.Webhook("EPHEMERAL-AGAIN")
	must(t, st.SaveWebhook(ctx, w3, nil))
	if n := count(t, st, "webhooks", "id = ? AND body IS NULL AND headers IS NULL", w3.ID); n != 1 {
		t.Error("a webhook saved after the bucket became ephemeral again has its body or headers stored")
	}
}
