package postgres

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

func TestEncryptedAtRest(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := storetest.NewFixture(t, st, "a", false)

	markers := []string{
		"BODYMARKER-7f3a9c", "HEADERMARKER-c0ffee", "QUERYMARKER-b16b00b5", "CONFIGMARKER-deadbeef",
		"LOGMARKER-5eed", "FUNCERRMARKER-0ddba11", "ATTEMPTLOGMARKER-abad1dea", "ATTEMPTERRMARKER-feedface",
		"LASTERRMARKER-cafed00d", "ANSWERMARKER-b0dy", "ANSWERHEADERMARKER-5a1t",
	}
	f := &functions.Function{Name: "f", Source: "return"}
	must(t, st.CreateFunction(ctx, f))
	must(t, st.SetConfig(ctx, f.ID, "SECRET", "CONFIGMARKER-deadbeef"))
	for i := range 20 {
		w := fx.Webhook(`{"secret":"BODYMARKER-7f3a9c"}`)
		w.Request.Header.Set("X-Api-Key", "HEADERMARKER-c0ffee")
		w.Request.RawQuery = "token=QUERYMARKER-b16b00b5"
		w.Logs = []string{"LOGMARKER-5eed"}
		w.FunctionError = "FUNCERRMARKER-0ddba11"
		ds := fx.Deliveries()
		must(t, st.SaveWebhook(ctx, w, ds))
		if i%5 == 0 {
			d := ds[0]
			for n := 1; n <= 2; n++ {
				d.Attempts, d.LastError = n, "LASTERRMARKER-cafed00d"
				must(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: n, Error: "ATTEMPTERRMARKER-feedface",
					Logs: []string{"ATTEMPTLOGMARKER-abad1dea"}, ResponseBody: []byte("ANSWERMARKER-b0dy"),
					ResponseHeader: http.Header{"X-Salt": {"ANSWERHEADERMARKER-5a1t"}}}))
			}
		}
	}
	// The plaintext really went in: the store opens what it sealed.
	cfg, err := st.Config(ctx, f.ID)
	must(t, err)
	if cfg["SECRET"] != "CONFIGMARKER-deadbeef" {
		t.Fatalf("config round trip: %q", cfg["SECRET"])
	}
	sawBucket := false
	for _, table := range []string{"webhooks", "deliveries", "attempts", "function_config"} {
		rows, err := st.Pool().Query(ctx, `SELECT * FROM `+table)
		must(t, err)
		n := 0
		for rows.Next() {
			n++
			vals, err := rows.Values()
			must(t, err)
			for _, v := range vals {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				}
				if bytes.Contains(b, []byte(fx.Bucket.ID)) {
					sawBucket = true // the check sees plaintext
				}
				for _, m := range markers {
					if bytes.Contains(b, []byte(m)) {
						t.Errorf("%s holds the plaintext %q", table, m)
					}
				}
			}
		}
		must(t, rows.Err())
		if n == 0 {
			t.Errorf("%s is empty", table)
		}
	}
	if !sawBucket {
		t.Error("no row holds the bucket ID: the check sees nothing")
	}
}

// TestEphemeralBucketColumnsNull: a webhook of an ephemeral bucket leaves
// its secret columns NULL in the tables, and its attempts no logs, in the
// deliveries row and once moved to the attempts table. (What readers see
// of it is storetest.TestEphemeralBucket's.)
func TestEphemeralBucketColumnsNull(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	e := storetest.SaveEphemeral(t, st)
	w, d := e.Webhook, e.Delivery

	var nulls int
	must(t, st.Pool().QueryRow(ctx, `SELECT (path IS NULL)::int + (raw_query IS NULL)::int + (headers IS NULL)::int
		+ (body IS NULL)::int + (function_error IS NULL)::int + (logs IS NULL)::int FROM webhooks WHERE id = $1`, w.ID).Scan(&nulls))
	if nulls != 6 {
		t.Errorf("%d of the 6 secret webhook columns are NULL", nulls)
	}
	if n := count(t, st, "deliveries", "id = $1 AND attempt_n = 1 AND attempt_logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral attempt's logs are stored")
	}
	// Recording the next attempt moves the first to the attempts table,
	// still without logs.
	e.Attempt(t, st, 2)
	if n := count(t, st, "attempts", "delivery_id = $1 AND n = 1 AND logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral first attempt's logs are stored")
	}
	if n := count(t, st, "deliveries", "id = $1 AND attempt_n = 2 AND attempt_logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral second attempt's logs are stored")
	}
}

func TestWrongKey(t *testing.T) {
	path := pgtest.DSN(t)
	ctx := context.Background()
	st := openAt(t, path, storetest.Sealer(t, 1), Options{})
	sealed := storetest.SaveSealed(t, st)
	must(t, st.Close())

	// Open refuses another key.
	_, err := Open(ctx, path, storetest.Sealer(t, 2), Options{})
	wantErr(t, err, seal.ErrOpen)
	if !strings.Contains(err.Error(), "encryption key") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Open with the wrong key: error %q does not explain itself", err)
	}
	t.Logf("Open: %v", err)

	// Values sealed with another key do not open, without a panic or
	// plaintext in the error.
	st = openAt(t, path, storetest.Sealer(t, 1), Options{})
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

	_, err := st.Pool().Exec(ctx, `UPDATE webhooks SET body = (SELECT body FROM webhooks WHERE id = $1) WHERE id = $2`, w1.ID, w2.ID)
	must(t, err)
	_, err = st.GetWebhook(ctx, w2.ID)
	wantErr(t, err, seal.ErrOpen)

	_, err = st.Pool().Exec(ctx, `UPDATE webhooks SET raw_query = body WHERE id = $1`, w1.ID)
	must(t, err)
	_, err = st.GetWebhook(ctx, w1.ID)
	wantErr(t, err, seal.ErrOpen)
}

// TestGroupCommitMixed: webhooks saved at once to an ephemeral bucket, a
// normal one and a missing one share transactions, yet each is stored by
// its own bucket's rules, and the missing bucket's fail alone.
func TestGroupCommitMixed(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	eph := storetest.NewFixture(t, st, "eph", true)
	kept := storetest.NewFixture(t, st, "kept", false)
	const n = 150
	ws := make([]*relay.Webhook, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		f := []*storetest.Fixture{eph, kept, kept}[i%3]
		ws[i] = f.Webhook(fmt.Sprint("body ", i))
		ws[i].Request.RawPath = "/a%2Fb"
		ds := f.Deliveries()
		if i%3 == 2 {
			ws[i].BucketID = "missing"
			ds = nil
		}
		wg.Go(func() {
			<-start
			errs[i] = st.SaveWebhook(ctx, ws[i], ds)
		})
	}
	close(start)
	wg.Wait()
	for i, w := range ws {
		got, err := st.GetWebhook(ctx, w.ID)
		switch i % 3 {
		case 0:
			must(t, errs[i])
			must(t, err)
			if got.Request.Body != nil || got.Request.Path != "" || got.Request.RawPath != "" || got.Request.Header != nil {
				t.Errorf("webhook %d of the ephemeral bucket kept its payload: %+v", i, got.Request)
			}
		case 1:
			must(t, errs[i])
			must(t, err)
			if string(got.Request.Body) != fmt.Sprint("body ", i) || got.Request.RawPath != "/a%2Fb" || got.Request.Path != "/extra" {
				t.Errorf("webhook %d: %+v", i, got.Request)
			}
		case 2:
			wantNotFound(t, errs[i])
			wantNotFound(t, err)
		}
	}
	if got := count(t, st, "deliveries", ""); got != 2*2*n/3 {
		t.Errorf("%d deliveries, want %d", got, 2*2*n/3)
	}
}
