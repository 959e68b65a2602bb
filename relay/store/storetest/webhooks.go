package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
)

func (s *suite) TestWebhookLifecycle(t *testing.T) {
	st, fx := s.openFixture(t, "ci", false)
	ctx := context.Background()

	w := fx.Webhook(`{"ref":"main"}`)
	w.Request.Header.Add("X-Multi", "a")
	w.Request.Header.Add("X-Multi", "b")
	w.FunctionError = "boom at line 3"
	w.Logs = []string{"first", "second"}
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(ctx, w, ds))
	if w.ID == "" || w.ReceivedAt.IsZero() {
		t.Fatalf("SaveWebhook did not fill the ID or time: %+v", w)
	}
	for _, d := range ds {
		if d.ID == "" || d.WebhookID != w.ID || d.BucketID != fx.Bucket.ID || d.State != relay.DeliveryPending || d.CreatedAt.IsZero() {
			t.Fatalf("SaveWebhook did not fill the delivery: %+v", d)
		}
	}

	got, err := st.GetWebhook(ctx, w.ID)
	Must(t, err)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("GetWebhook =\n%+v\nwant\n%+v", got, w)
	}
	_, err = st.GetWebhook(ctx, "nope")
	WantNotFound(t, err)

	pending, err := PendingDeliveries(ctx, st)
	Must(t, err)
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
	Must(t, st.RecordAttempt(ctx, d, a1))
	if a1.DeliveryID != d.ID || d.UpdatedAt.IsZero() {
		t.Errorf("RecordAttempt did not fill a.DeliveryID or d.UpdatedAt: %+v %+v", a1, d)
	}
	// A successful one, numbered by the store.
	d.State, d.Attempts, d.LastStatus, d.LastError = relay.DeliverySucceeded, 2, 200, ""
	a2 := &relay.Attempt{Status: 200, DurationMS: 3}
	Must(t, st.RecordAttempt(ctx, d, a2))
	if a2.N != 2 {
		t.Errorf("second attempt numbered %d, want 2", a2.N)
	}
	WantConflict(t, st.RecordAttempt(ctx, d, &relay.Attempt{N: 2}))
	WantNotFound(t, st.RecordAttempt(ctx, &relay.Delivery{ID: "nope"}, &relay.Attempt{}))

	gd, as, err := st.GetDelivery(ctx, d.ID)
	Must(t, err)
	if !reflect.DeepEqual(gd, d) {
		t.Errorf("GetDelivery = %+v, want %+v", gd, d)
	}
	if len(as) != 2 || !reflect.DeepEqual(as[0], a1) || !reflect.DeepEqual(as[1], a2) {
		t.Errorf("attempts = %+v %+v, want %+v %+v", as[0], as[1], a1, a2)
	}
	_, _, err = st.GetDelivery(ctx, "nope")
	WantNotFound(t, err)

	pending, err = PendingDeliveries(ctx, st)
	Must(t, err)
	if len(pending) != 1 || pending[0].ID != ds[1].ID {
		t.Fatalf("PendingDeliveries after success = %+v", pending)
	}

	// A replay adds deliveries to the stored webhook.
	replay := []*relay.Delivery{{WebhookID: w.ID, OutputID: fx.Out1.ID}}
	Must(t, st.AddDeliveries(ctx, replay))
	if replay[0].BucketID != fx.Bucket.ID || replay[0].State != relay.DeliveryPending {
		t.Errorf("AddDeliveries filled %+v", replay[0])
	}
	WantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: "nope", OutputID: fx.Out1.ID}}))
	WantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{{WebhookID: w.ID, OutputID: "nope"}}))
	// All or nothing.
	ok := &relay.Delivery{WebhookID: w.ID, OutputID: fx.Out2.ID}
	WantNotFound(t, st.AddDeliveries(ctx, []*relay.Delivery{ok, {WebhookID: w.ID, OutputID: "nope"}}))
	_, _, err = st.GetDelivery(ctx, ok.ID)
	WantNotFound(t, err)
	Must(t, st.AddDeliveries(ctx, nil))

	pending, err = PendingDeliveries(ctx, st)
	Must(t, err)
	if len(pending) != 2 || pending[0].ID != ds[1].ID || pending[1].ID != replay[0].ID {
		t.Errorf("PendingDeliveries after replay = %v", ids(pending))
	}
}

func (s *suite) TestListDeliveries(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	a := NewFixture(t, st, "a", false)
	b := NewFixture(t, st, "b", false)
	var all []*relay.Delivery // oldest first
	var webhooks []*relay.Webhook
	for i := range 5 {
		for _, f := range []*Fixture{a, b} {
			w := f.Webhook(fmt.Sprint(i))
			ds := f.Deliveries()
			Must(t, st.SaveWebhook(ctx, w, ds))
			all = append(all, ds...)
			webhooks = append(webhooks, w)
		}
	}
	failed := all[0]
	failed.State, failed.Attempts = relay.DeliveryFailed, 1
	Must(t, st.RecordAttempt(ctx, failed, &relay.Attempt{Status: 500}))

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
		{"bucket", relay.DeliveryFilter{BucketID: a.Bucket.ID}, newest(func(d *relay.Delivery) bool { return d.BucketID == a.Bucket.ID })},
		{"output", relay.DeliveryFilter{OutputID: b.Out2.ID}, newest(func(d *relay.Delivery) bool { return d.OutputID == b.Out2.ID })},
		{"webhook", relay.DeliveryFilter{WebhookID: webhooks[3].ID}, newest(func(d *relay.Delivery) bool { return d.WebhookID == webhooks[3].ID })},
		{"state", relay.DeliveryFilter{State: relay.DeliveryFailed}, []string{failed.ID}},
		{"bucket and state", relay.DeliveryFilter{BucketID: b.Bucket.ID, State: relay.DeliveryFailed}, nil},
		{"limit", relay.DeliveryFilter{Limit: 3}, limit(newest(func(*relay.Delivery) bool { return true }), 3)},
		{"before", relay.DeliveryFilter{Before: all[4].CreatedAt}, newest(func(d *relay.Delivery) bool { return d.CreatedAt.Before(all[4].CreatedAt) })},
		{"none", relay.DeliveryFilter{BucketID: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListDeliveries(ctx, tt.f)
			Must(t, err)
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("got %v\nwant %v", ids(got), tt.want)
			}
		})
	}

	// The default limit is 100, and paging by Before visits everything once.
	for range 30 {
		Must(t, st.SaveWebhook(ctx, a.Webhook("more"), []*relay.Delivery{{OutputID: a.Out1.ID}, {OutputID: a.Out2.ID}, {OutputID: a.Out1.ID}}))
	}
	got, err := st.ListDeliveries(ctx, relay.DeliveryFilter{})
	Must(t, err)
	if len(got) != 100 {
		t.Errorf("ListDeliveries with no limit = %d deliveries, want 100", len(got))
	}
	seen := map[string]bool{}
	f := relay.DeliveryFilter{Limit: 7}
	for {
		page, err := st.ListDeliveries(ctx, f)
		Must(t, err)
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

func (s *suite) TestSaveWebhookErrors(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	a := NewFixture(t, st, "a", false)
	b := NewFixture(t, st, "b", false)

	dup := a.Webhook("x")
	Must(t, st.SaveWebhook(ctx, dup, nil))

	tests := []struct {
		name  string
		w     *relay.Webhook
		ds    []*relay.Delivery
		check func(testing.TB, error)
	}{
		{"missing bucket", &relay.Webhook{BucketID: "nope", InputID: "i"}, nil, WantNotFound},
		{"missing output", a.Webhook("x"), []*relay.Delivery{{OutputID: "nope"}}, WantNotFound},
		{"output of another bucket", a.Webhook("x"), []*relay.Delivery{{OutputID: b.Out1.ID}}, WantNotFound},
		{"duplicate webhook", &relay.Webhook{ID: dup.ID, BucketID: a.Bucket.ID}, nil, WantConflict},
		{"duplicate delivery", a.Webhook("x"), []*relay.Delivery{{ID: "d1", OutputID: a.Out1.ID}, {ID: "d1", OutputID: a.Out2.ID}}, WantConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countWebhooks(t, st)
			tt.check(t, st.SaveWebhook(ctx, tt.w, tt.ds))
			if after := countWebhooks(t, st); after != before {
				t.Errorf("a failed SaveWebhook stored a webhook")
			}
		})
	}
	if err := st.SaveWebhook(ctx, &relay.Webhook{}, nil); err == nil {
		t.Error("SaveWebhook without a bucket succeeded")
	}
	if err := st.SaveWebhook(ctx, a.Webhook("x"), []*relay.Delivery{{WebhookID: "other", OutputID: a.Out1.ID}}); err == nil {
		t.Error("SaveWebhook with another webhook's delivery succeeded")
	}
}

// TestBatchIsolation checks that writes failing inside a batch fail alone.
func (s *suite) TestBatchIsolation(t *testing.T) {
	st, fx := s.openFixture(t, "a", false)
	ctx := context.Background()

	const n = 200
	errs := make([]error, n)
	ws := make([]*relay.Webhook, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ws[i] = fx.Webhook(fmt.Sprint(i))
		ds := fx.Deliveries()
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
			WantNotFound(t, errs[i])
			WantNotFound(t, err)
		} else {
			Must(t, errs[i])
			Must(t, err)
		}
	}
	if got, want := countDeliveries(t, st, relay.DeliveryFilter{}), 2*(n-(n+2)/3); got != want {
		t.Errorf("%d deliveries stored, want %d", got, want)
	}
}

// TestCanceledWriteIsNotStored: a write whose context ended before it ran
// fails with the context's error and stores nothing. It is tried a few
// times, since a store may notice the end at more than one point.
func (s *suite) TestCanceledWriteIsNotStored(t *testing.T) {
	st := s.open(t)
	fx := NewFixture(t, st, "a", false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		w := fx.Webhook("x")
		if err := st.SaveWebhook(ctx, w, fx.Deliveries()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		_, err := st.GetWebhook(context.Background(), w.ID)
		WantNotFound(t, err)
	}
	if n := countWebhooks(t, st); n != 0 {
		t.Errorf("%d webhooks stored by canceled writes", n)
	}
}

func (s *suite) TestConcurrentSaveWebhook(t *testing.T) {
	st, fx := s.openFixture(t, "a", false)
	ctx := context.Background()
	const n = 100
	ws := make([]*relay.Webhook, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ws[i] = fx.Webhook(fmt.Sprintf("body %d", i))
		wg.Go(func() {
			<-start
			if err := st.SaveWebhook(ctx, ws[i], fx.Deliveries()); err != nil {
				t.Errorf("SaveWebhook %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, w := range ws {
		got, err := st.GetWebhook(ctx, w.ID)
		Must(t, err)
		if string(got.Request.Body) != fmt.Sprintf("body %d", i) {
			t.Errorf("webhook %d body = %q", i, got.Request.Body)
		}
	}
	if got := countDeliveries(t, st, relay.DeliveryFilter{State: relay.DeliveryPending}); got != 2*n {
		t.Errorf("%d pending deliveries, want %d", got, 2*n)
	}
}

func (s *suite) TestEphemeralBucket(t *testing.T) {
	st, fx := s.openFixture(t, "eph", true)
	ctx := context.Background()

	w := fx.Webhook("EPHEMERAL-BODY")
	w.Request.Header.Set("Authorization", "secret")
	w.Logs = []string{"log"}
	w.FunctionError = "err"
	orig := *w
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(ctx, w, ds))
	if string(w.Request.Body) != "EPHEMERAL-BODY" || w.Request.Header.Get("Authorization") != "secret" || w.FunctionError != orig.FunctionError {
		t.Error("SaveWebhook changed the caller's webhook")
	}
	d := ds[0]
	d.Attempts = 1
	Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500, Error: "500", Logs: []string{"attempt log"}}))

	// Recording the next attempt keeps the first, still without logs.
	d.Attempts = 2
	Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500, Error: "500", Logs: []string{"attempt log"}}))
	_, as, err := st.GetDelivery(ctx, d.ID)
	Must(t, err)
	if len(as) != 2 {
		t.Fatalf("%d attempts, want 2", len(as))
	}
	for _, a := range as {
		if a.Logs != nil || a.Status != 500 || a.Error != "500" {
			t.Errorf("ephemeral attempt %d = %+v, want its status and error without logs", a.N, a)
		}
	}

	got, err := st.GetWebhook(ctx, w.ID)
	Must(t, err)
	want := &relay.Webhook{ID: w.ID, BucketID: w.BucketID, InputID: w.InputID, ReceivedAt: w.ReceivedAt,
		Request: relay.HTTPRequest{Method: http.MethodPost}, Status: 200}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetWebhook = %+v, want %+v", got, want)
	}
	pending, err := PendingDeliveries(ctx, st)
	Must(t, err)
	if len(pending) != 2 {
		t.Errorf("ephemeral deliveries: %d pending, want 2", len(pending))
	}

	// Turning the flag off applies to later webhooks only.
	fx.Bucket.Ephemeral = false
	Must(t, st.UpdateBucket(ctx, fx.Bucket))
	w2 := fx.Webhook("kept")
	Must(t, st.SaveWebhook(ctx, w2, nil))
	got, err = st.GetWebhook(ctx, w2.ID)
	Must(t, err)
	if string(got.Request.Body) != "kept" {
		t.Errorf("body of a webhook saved after the bucket stopped being ephemeral = %q", got.Request.Body)
	}
	// And on again: the next webhook's secrets are not written.
	fx.Bucket.Ephemeral = true
	Must(t, st.UpdateBucket(ctx, fx.Bucket))
	w3 := fx.Webhook("EPHEMERAL-AGAIN")
	Must(t, st.SaveWebhook(ctx, w3, nil))
	got, err = st.GetWebhook(ctx, w3.ID)
	Must(t, err)
	if got.Request.Body != nil || got.Request.Header != nil {
		t.Error("a webhook saved after the bucket became ephemeral again has its body or headers stored")
	}
}

// TestDeliveriesListedNewestFirst checks the order listings rely on:
// deliveries made later list first, across webhooks and replays.
func (s *suite) TestDeliveriesListedNewestFirst(t *testing.T) {
	st, fx := s.openFixture(t, "order", false)
	ctx := context.Background()
	var made []string
	for range 5 {
		w := fx.Webhook("x")
		ds := fx.Deliveries()
		Must(t, st.SaveWebhook(ctx, w, ds))
		replay := []*relay.Delivery{{WebhookID: w.ID, OutputID: fx.Out1.ID}}
		Must(t, st.AddDeliveries(ctx, replay))
		made = append(made, ds[0].ID, ds[1].ID, replay[0].ID)
	}
	listed, err := st.ListDeliveries(ctx, relay.DeliveryFilter{})
	Must(t, err)
	got := ids(listed)
	for i, j := 0, len(made)-1; i < j; i, j = i+1, j-1 {
		made[i], made[j] = made[j], made[i]
	}
	if !reflect.DeepEqual(got, made) {
		t.Errorf("listed\n%v\nwant newest first\n%v", got, made)
	}
}

// TestRequestBytesKept: what a caller can send comes back byte for byte:
// a path decoded from any escapes (a NUL, bytes that are not UTF-8), a
// query and body of any bytes, headers of many values.
func (s *suite) TestRequestBytesKept(t *testing.T) {
	st, fx := s.openFixture(t, "bytes", false)
	ctx := context.Background()
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		name    string
		path    string
		rawPath string
	}{
		{"plain", "/a/b", ""},
		{"escaped slash", "/a/b/c", "/a/b%2Fc"},
		{"NUL", "/a\x00b", ""},
		{"not UTF-8", "/caf\xe9/\xff\xfe", ""},
		{"unicode", "/ünï/cødé/✓", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := fx.Webhook("")
			w.Request.Path, w.Request.RawPath = tt.path, tt.rawPath
			w.Request.RawQuery = "q=%00%ff&x=\x01\xfe"
			w.Request.Body = body
			w.Request.Header = http.Header{"X-Many": {"a", "", "b c", "ünï"}, "X-Empty": {""}}
			w.Logs = []string{"line\x00with NUL", "ünï ✓"}
			w.FunctionError = "error at line 3:\n\tdetails"
			Must(t, st.SaveWebhook(ctx, w, fx.Deliveries()))
			got, err := st.GetWebhook(ctx, w.ID)
			Must(t, err)
			if r := got.Request; r.Path != tt.path || r.RawPath != tt.rawPath || r.RawQuery != w.Request.RawQuery ||
				!bytes.Equal(r.Body, body) || !reflect.DeepEqual(r.Header, w.Request.Header) {
				t.Errorf("GetWebhook's request: path %+q raw path %+q query %+q headers %+q, body kept %v; want %+q %+q %+q %+q",
					r.Path, r.RawPath, r.RawQuery, r.Header, bytes.Equal(r.Body, body), tt.path, tt.rawPath, w.Request.RawQuery, w.Request.Header)
			}
			if !reflect.DeepEqual(got.Logs, w.Logs) || got.FunctionError != w.FunctionError {
				t.Errorf("GetWebhook's logs %+q and function error %+q, want %+q and %+q", got.Logs, got.FunctionError, w.Logs, w.FunctionError)
			}
			sums, err := st.ListWebhooks(ctx, relay.WebhookFilter{Limit: 1})
			Must(t, err)
			if len(sums) != 1 || sums[0].ID != w.ID || sums[0].Path != tt.path {
				t.Errorf("ListWebhooks = %+v, want the webhook with path %q", sums, tt.path)
			}
		})
	}
}

// TestErrorMeansNotStored: among concurrent SaveWebhooks through both
// handles, some canceled before they ran and some failing, each call that
// returns nil stored its webhook and deliveries, and each that returns an
// error stored nothing; a canceled one fails with its context's error.
func (s *suite) TestErrorMeansNotStored(t *testing.T) {
	a, b := s.pair(t)
	handles := []Store{a, b}
	ctx := context.Background()
	fx := NewFixture(t, a, "errors", false)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	const n = 150
	ws := make([]*relay.Webhook, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ws[i] = fx.Webhook(fmt.Sprint(i))
		ds := fx.Deliveries()
		c := ctx
		switch i % 3 {
		case 0:
			c = canceled
		case 1:
			ds[1].OutputID = "missing"
		}
		st := handles[i%2]
		wg.Go(func() {
			<-start
			errs[i] = st.SaveWebhook(c, ws[i], ds)
		})
	}
	close(start)
	wg.Wait()
	stored := 0
	for i, w := range ws {
		_, err := b.GetWebhook(ctx, w.ID)
		switch {
		case i%3 == 0 && !errors.Is(errs[i], context.Canceled):
			t.Errorf("canceled SaveWebhook %d: err = %v, want context.Canceled", i, errs[i])
		case i%3 == 1 && !errors.Is(errs[i], store.ErrNotFound):
			t.Errorf("SaveWebhook %d to a missing output: err = %v, want store.ErrNotFound", i, errs[i])
		case i%3 == 2 && errs[i] != nil:
			t.Errorf("SaveWebhook %d: %v", i, errs[i])
		}
		if errs[i] == nil {
			Must(t, err)
			stored++
		} else {
			WantNotFound(t, err)
		}
	}
	if got := countDeliveries(t, a, relay.DeliveryFilter{}); got != 2*stored {
		t.Errorf("%d deliveries stored, want %d of the %d webhooks stored", got, 2*stored, stored)
	}
}
