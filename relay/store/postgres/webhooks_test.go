package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
)

func TestWebhookLifecycle(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "ci", false)

	w := fx.webhook(`{"ref":"main"}`)
	w.Request.Header.Add("X-Multi", "a")
	w.Request.Header.Add("X-Multi", "b")
	w.FunctionError = "boom at line 3"
	w.Logs = []string{"first", "second"}
	ds := fx.deliveries()
	must(t, st.SaveWebhook(ctx, w, ds))
	if w.ID == "" || w.ReceivedAt.IsZero() {
		t.Fatalf("SaveWebhook did not fill the ID or time: %+v", w)
	}
	for _, d := range ds {
		if d.ID == "" || d.WebhookID != w.ID || d.BucketID != fx.bucket.ID || d.State != relay.DeliveryPending || d.CreatedAt.IsZero() {
			t.Fatalf("SaveWebhook did not fill the delivery: %+v", d)
		}
	}

	got, err := st.GetWebhook(ctx, w.ID)
	must(t, err)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("GetWebhook =\n%+v\nwant\n%+v", got, w)
	}
	_, err = st.GetWebhook(ctx, "nope")
	wantNotFound(t, err)

	pending, err := pendingDeliveries(ctx, st)
	must(t, err)
	if len(pending) != 2 || pending[0].ID != ds[0].ID || pending[1].ID != ds[1].ID {
		t.Fatalf("PendingDeliveries = %+v, want the two deliveries in order", pending)
	}
	if !reflect.DeepEqual(pending[0], ds[0]) {
		t.Errorf("pending[0] = %+v, want %+v", pending[0], ds[0])
	}

	// A failed attempt: still pending, retried later.
	d := pending[0]
	next := time.Now().Add(time.Minute).UTC()
	d.Attempts, d.LastStatus, d.LastError, d.NextAttemptAt = 1, 503, "503 Service Unavailable", next
	d.UpdatedAt = time.Time{}
	a1 := &relay.Attempt{N: 1, StartedAt: time.Now().UTC(), DurationMS: 12.5, Status: 503, Error: "503 Service Unavailable", Logs: []string{"tried"}}
	must(t, st.RecordAttempt(ctx, d, a1))
	if a1.DeliveryID != d.ID || d.UpdatedAt.IsZero() {
		t.Errorf("RecordAttempt did not fill a.DeliveryID or d.UpdatedAt: %+v %+v", a1, d)
	}
	// A successful one, numbered by the store.
	d.State, d.Attempts, d.LastStatus, d.LastError = relay.DeliverySucceeded, 2, 200, ""
	a2 := &relay.Attempt{Status: 200, DurationMS: 3}
	must(t, st.RecordAttempt(ctx, d, a2))
	if a2.N != 2 {
		t.Errorf("second attempt numbered %d, want 2", a2.N)
	}
	wantConflict(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: 2}))
	wantNotFound(t, st.RecordAttempt(ctx, &relay.Delivery{ID: "nope"}, &relay.Attempt{}))

	gd, as, err := st.GetDelivery(ctx, d.ID)
	must(t, err)
	if !reflect.DeepEqual(gd, d) {
		t.Errorf("GetDelivery = %+v, want %+v", gd, d)
	}
	if len(as) != 2 || !reflect.DeepEqual(as[0], a1) || !reflect.DeepEqual(as[1], a2) {
		t.Errorf("attempts = %+v %+v, want %+v %+v", as[0], as[1], a1, a2)
	}
	_, _, err = st.GetDelivery(ctx, "nope")
	wantNotFound(t, err)

	pending, err = pendingDeliveries(ctx, st)
	must(t, err)
	if len(pending) != 1 || pending[0].ID != ds[1].ID {
		t.Fatalf("PendingDeliveries after success = %+v", pending)
	}

	// A replay adds deliveries to the stored webhook.
	replay := []*relay.Delivery{{WebhookID: w.ID, OutputID: fx.out1.ID}}
	must(t, st.AddDeliveries(ctx, replay))
	if replay[0].BucketID != fx.bucket.ID || replay[0].State != relay.DeliveryPending {
		t.Errorf("AddDeliveries filled %+v", replay[0])
	}
	wantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: "nope", OutputID: fx.out1.ID}}))
	wantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: w.ID, OutputID: "nope"}}))
	// All or nothing.
	ok := &relay.Delivery{WebhookID: w.ID, OutputID: fx.out2.ID}
	wantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{ok, {WebhookID: w.ID, OutputID: "nope"}}))
	_, _, err = st.GetDelivery(ctx, ok.ID)
	wantNotFound(t, err)
	must(t, st.AddDeliveries(ctx, nil))

	pending, err = pendingDeliveries(ctx, st)
	must(t, err)
	if len(pending) != 2 || pending[0].ID != ds[1].ID || pending[1].ID != replay[0].ID {
		t.Errorf("PendingDeliveries after replay = %v", ids(pending))
	}
}

func ids(ds []*relay.Delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.ID)
	}
	return s
}

func TestListDeliveries(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	a := newFixture(t, st, "a", false)
	b := newFixture(t, st, "b", false)
	var all []*relay.Delivery // oldest first
	var webhooks []*relay.Webhook
	for i := range 5 {
		for _, f := range []*fixture{a, b} {
			w := f.webhook(fmt.Sprint(i))
			ds := f.deliveries()
			must(t, st.SaveWebhook(ctx, w, ds))
			all = append(all, ds...)
			webhooks = append(webhooks, w)
		}
	}
	failed := all[0]
	failed.State, failed.Attempts = relay.DeliveryFailed, 1
	must(t, st.RecordAttempt(ctx, failed, &relay.Attempt{Status: 500}))

	newest := func(pred func(*relay.Delivery) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if pred(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	limit := func(s []string, n int) []string { return s[:min(n, len(s))] }
	tests := []struct {
		name string
		f    relay.DeliveryFilter
		want []string
	}{
		{"all", relay.DeliveryFilter{}, newest(func(*relay.Delivery) bool { return true })},
		{"bucket", relay.DeliveryFilter{BucketID: a.bucket.ID}, newest(func(d *relay.Delivery) bool { return d.BucketID == a.bucket.ID })},
		{"output", relay.DeliveryFilter{OutputID: b.out2.ID}, newest(func(d *relay.Delivery) bool { return d.OutputID == b.out2.ID })},
		{"webhook", relay.DeliveryFilter{WebhookID: webhooks[3].ID}, newest(func(d *relay.Delivery) bool { return d.WebhookID == webhooks[3].ID })},
		{"state", relay.DeliveryFilter{State: relay.DeliveryFailed}, []string{failed.ID}},
		{"bucket and state", relay.DeliveryFilter{BucketID: b.bucket.ID, State: relay.DeliveryFailed}, nil},
		{"limit", relay.DeliveryFilter{Limit: 3}, limit(newest(func(*relay.Delivery) bool { return true }), 3)},
		{"before", relay.DeliveryFilter{Before: all[4].CreatedAt}, newest(func(d *relay.Delivery) bool { return d.CreatedAt.Before(all[4].CreatedAt) })},
		{"none", relay.DeliveryFilter{BucketID: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListDeliveries(ctx, tt.f)
			must(t, err)
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("got %v\nwant %v", ids(got), tt.want)
			}
		})
	}

	// The default limit is 100, and paging by Before visits everything once.
	for range 30 {
		must(t, st.SaveWebhook(ctx, a.webhook("more"), []*relay.Delivery{{OutputID: a.out1.ID}, {OutputID: a.out2.ID}, {OutputID: a.out1.ID}}))
	}
	got, err := st.ListDeliveries(ctx, relay.DeliveryFilter{})
	must(t, err)
	if len(got) != 100 {
		t.Errorf("ListDeliveries with no limit = %d deliveries, want 100", len(got))
	}
	seen := map[string]bool{}
	f := relay.DeliveryFilter{Limit: 7}
	for {
		page, err := st.ListDeliveries(ctx, f)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			if seen[d.ID] {
				t.Fatalf("delivery %s listed twice", d.ID)
			}
			seen[d.ID] = true
		}
		f.Before = page[len(page)-1].CreatedAt
	}
	if want := len(all) + 90; len(seen) != want {
		t.Errorf("paging visited %d deliveries, want %d", len(seen), want)
	}
}

func TestSaveWebhookErrors(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	a := newFixture(t, st, "a", false)
	b := newFixture(t, st, "b", false)

	dup := a.webhook("x")
	must(t, st.SaveWebhook(ctx, dup, nil))

	tests := []struct {
		name  string
		w     *relay.Webhook
		ds    []*relay.Delivery
		check func(testing.TB, error)
	}{
		{"missing bucket", &relay.Webhook{BucketID: "nope", InputID: "i"}, nil, wantNotFound},
		{"missing output", a.webhook("x"), []*relay.Delivery{{OutputID: "nope"}}, wantNotFound},
		{"output of another bucket", a.webhook("x"), []*relay.Delivery{{OutputID: b.out1.ID}}, wantNotFound},
		{"duplicate webhook", &relay.Webhook{ID: dup.ID, BucketID: a.bucket.ID}, nil, wantConflict},
		{"duplicate delivery", a.webhook("x"), []*relay.Delivery{{ID: "d1", OutputID: a.out1.ID}, {ID: "d1", OutputID: a.out2.ID}}, wantConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, st, "webhooks", "")
			tt.check(t, st.SaveWebhook(ctx, tt.w, tt.ds))
			if after := count(t, st, "webhooks", ""); after != before {
				t.Errorf("a failed SaveWebhook stored a webhook")
			}
		})
	}
	if err := st.SaveWebhook(ctx, &relay.Webhook{}, nil); err == nil {
		t.Error("SaveWebhook without a bucket succeeded")
	}
	if err := st.SaveWebhook(ctx, a.webhook("x"), []*relay.Delivery{{WebhookID: "other", OutputID: a.out1.ID}}); err == nil {
		t.Error("SaveWebhook with another webhook's delivery succeeded")
	}
}

// TestBatchIsolation checks that writes failing inside a batch fail alone.
func TestBatchIsolation(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "a", false)

	const n = 200
	errs := make([]error, n)
	ws := make([]*relay.Webhook, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ws[i] = fx.webhook(fmt.Sprint(i))
		ds := fx.deliveries()
		if i%3 == 0 {
			ds[1].OutputID = "missing" // fails after the webhook row was inserted
		}
		wg.Go(func() {
			<-start
			errs[i] = st.SaveWebhook(ctx, ws[i], ds)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		_, err := st.GetWebhook(ctx, ws[i].ID)
		if i%3 == 0 {
			wantNotFound(t, errs[i])
			wantNotFound(t, err)
		} else {
			must(t, errs[i])
			must(t, err)
		}
	}
	if got, want := count(t, st, "deliveries", ""), 2*(n-(n+2)/3); got != want {
		t.Errorf("%d deliveries stored, want %d", got, want)
	}
}

func TestCanceledWriteIsNotStored(t *testing.T) {
	st, _ := newStore(t)
	fx := newFixture(t, st, "a", false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := fx.webhook("x")
	if err := st.SaveWebhook(ctx, w, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	_, err := st.GetWebhook(context.Background(), w.ID)
	wantNotFound(t, err)
}

func TestConcurrentSaveWebhook(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "a", false)
	const n = 100
	ws := make([]*relay.Webhook, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ws[i] = fx.webhook(fmt.Sprintf("body %d", i))
		wg.Go(func() {
			<-start
			if err := st.SaveWebhook(ctx, ws[i], fx.deliveries()); err != nil {
				t.Errorf("SaveWebhook %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, w := range ws {
		got, err := st.GetWebhook(ctx, w.ID)
		must(t, err)
		if string(got.Request.Body) != fmt.Sprintf("body %d", i) {
			t.Errorf("webhook %d body = %q", i, got.Request.Body)
		}
	}
	if got := count(t, st, "deliveries", "state = 'pending'"); got != 2*n {
		t.Errorf("%d pending deliveries, want %d", got, 2*n)
	}
}

func TestEncryptedAtRest(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "a", false)

	markers := []string{
		"BODYMARKER-7f3a9c", "HEADERMARKER-c0ffee", "QUERYMARKER-b16b00b5", "CONFIGMARKER-deadbeef",
		"LOGMARKER-5eed", "FUNCERRMARKER-0ddba11", "ATTEMPTLOGMARKER-abad1dea", "ATTEMPTERRMARKER-feedface",
		"LASTERRMARKER-cafed00d", "ANSWERMARKER-b0dy", "ANSWERHEADERMARKER-5a1t",
	}
	f := &functions.Function{Name: "f", Source: "return"}
	must(t, st.CreateFunction(ctx, f))
	must(t, st.SetConfig(ctx, f.ID, "SECRET", "CONFIGMARKER-deadbeef"))
	for i := range 20 {
		w := fx.webhook(`{"secret":"BODYMARKER-7f3a9c"}`)
		w.Request.Header.Set("X-Api-Key", "HEADERMARKER-c0ffee")
		w.Request.RawQuery = "token=QUERYMARKER-b16b00b5"
		w.Logs = []string{"LOGMARKER-5eed"}
		w.FunctionError = "FUNCERRMARKER-0ddba11"
		ds := fx.deliveries()
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
				if bytes.Contains(b, []byte(fx.bucket.ID)) {
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

func TestEphemeralBucket(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "eph", true)

	w := fx.webhook("EPHEMERAL-BODY")
	w.Request.Header.Set("Authorization", "secret")
	w.Logs = []string{"log"}
	w.FunctionError = "err"
	orig := *w
	ds := fx.deliveries()
	must(t, st.SaveWebhook(ctx, w, ds))
	if string(w.Request.Body) != "EPHEMERAL-BODY" || w.Request.Header.Get("Authorization") != "secret" || w.FunctionError != orig.FunctionError {
		t.Error("SaveWebhook changed the caller's webhook")
	}
	d := ds[0]
	d.Attempts = 1
	must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500, Error: "500", Logs: []string{"attempt log"}}))

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
	d.Attempts = 2
	must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500, Error: "500", Logs: []string{"attempt log"}}))
	if n := count(t, st, "attempts", "delivery_id = $1 AND n = 1 AND logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral first attempt's logs are stored")
	}
	if n := count(t, st, "deliveries", "id = $1 AND attempt_n = 2 AND attempt_logs IS NULL", d.ID); n != 1 {
		t.Errorf("the ephemeral second attempt's logs are stored")
	}

	got, err := st.GetWebhook(ctx, w.ID)
	must(t, err)
	want := &relay.Webhook{ID: w.ID, BucketID: w.BucketID, InputID: w.InputID, ReceivedAt: w.ReceivedAt,
		Request: relay.HTTPRequest{Method: http.MethodPost}, Status: 200}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetWebhook = %+v, want %+v", got, want)
	}
	pending, err := pendingDeliveries(ctx, st)
	must(t, err)
	if len(pending) != 2 {
		t.Errorf("ephemeral deliveries: %d pending, want 2", len(pending))
	}

	// Turning the flag off applies to later webhooks only.
	fx.bucket.Ephemeral = false
	must(t, st.UpdateBucket(ctx, fx.bucket))
	w2 := fx.webhook("kept")
	must(t, st.SaveWebhook(ctx, w2, nil))
	got, err = st.GetWebhook(ctx, w2.ID)
	must(t, err)
	if string(got.Request.Body) != "kept" {
		t.Errorf("body of a webhook saved after the bucket stopped being ephemeral = %q", got.Request.Body)
	}
	// And on again: the next webhook's secrets are not written.
	fx.bucket.Ephemeral = true
	must(t, st.UpdateBucket(ctx, fx.bucket))
	w3 := fx.webhook("EPHEMERAL-AGAIN")
	must(t, st.SaveWebhook(ctx, w3, nil))
	if n := count(t, st, "webhooks", "id = $1 AND body IS NULL AND headers IS NULL", w3.ID); n != 1 {
		t.Error("a webhook saved after the bucket became ephemeral again has its body or headers stored")
	}
}

func TestWrongKey(t *testing.T) {
	path := pgtest.DSN(t)
	ctx := context.Background()
	st := openAt(t, path, testSealer(t, 1), Options{})
	fx := newFixture(t, st, "a", false)
	f := &functions.Function{Name: "f"}
	must(t, st.CreateFunction(ctx, f))
	must(t, st.SetConfig(ctx, f.ID, "K", "TOPSECRET"))
	w := fx.webhook("TOPSECRET")
	ds := fx.deliveries()
	ds[0].LastError = "TOPSECRET"
	must(t, st.SaveWebhook(ctx, w, ds))
	must(t, st.RecordAttempt(ctx, ds[1], &relay.Attempt{Error: "TOPSECRET"}))
	must(t, st.Close())

	// Open refuses another key.
	_, err := Open(ctx, path, testSealer(t, 2), Options{})
	wantErr(t, err, seal.ErrOpen)
	if !strings.Contains(err.Error(), "encryption key") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Open with the wrong key: error %q does not explain itself", err)
	}
	t.Logf("Open: %v", err)

	// Values sealed with another key do not open, without a panic or
	// plaintext in the error.
	st = openAt(t, path, testSealer(t, 1), Options{})
	st.sealer = testSealer(t, 2)
	errs := map[string]error{
		"GetWebhook":     errOf(st.GetWebhook(ctx, w.ID)),
		"Config":         errOf(st.Config(ctx, f.ID)),
		"ListDeliveries": errOf(pendingDeliveries(ctx, st)),
		"GetDelivery":    errOf2(st.GetDelivery(ctx, ds[1].ID)),
	}
	for name, err := range errs {
		if !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s with the wrong key: err = %v, want one wrapping seal.ErrOpen", name, err)
			continue
		}
		if strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("%s: error %q holds plaintext", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	// Plaintext records are still readable.
	if _, err := st.GetBucket(ctx, "a"); err != nil {
		t.Errorf("GetBucket with the wrong key: %v", err)
	}
}

func errOf2[A, B any](_ A, _ B, err error) error { return err }

// TestSwappedCiphertext checks that a sealed value copied to another row or
// column does not open.
func TestSwappedCiphertext(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	fx := newFixture(t, st, "a", false)
	w1, w2 := fx.webhook("one"), fx.webhook("two")
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
	eph := newFixture(t, st, "eph", true)
	kept := newFixture(t, st, "kept", false)
	const n = 150
	ws := make([]*relay.Webhook, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		f := []*fixture{eph, kept, kept}[i%3]
		ws[i] = f.webhook(fmt.Sprint("body ", i))
		ws[i].Request.RawPath = "/a%2Fb"
		ds := f.deliveries()
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
