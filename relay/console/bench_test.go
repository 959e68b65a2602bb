package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// BenchmarkPages measures the server's render time of the console's pages
// (the handler alone, no network) over a realistic store: 10 buckets of 3
// inputs and 3 outputs, 30 functions of 5 versions with 3 config
// variables each, and 20,000 webhooks with one delivery each (5% failed).
// The request log's first page (50 rows) is measured plain, filtered, and
// 100 pages deep, and a webhook's detail page.
func BenchmarkPages(b *testing.B) {
	r := relaytest.New(b, relaytest.Options{})
	ctx := context.Background()
	var fnIDs []string
	for i := range 30 {
		f := r.Function(fmt.Sprintf("fn-%02d", i), "-- v1\n")
		for v := 2; v <= 5; v++ {
			if _, err := r.Store.AddVersion(ctx, f.ID, fmt.Sprintf("-- v%d\nlog.info(%q)\n", v, f.Name), ""); err != nil {
				b.Fatal(err)
			}
		}
		for _, k := range []string{"API_KEY", "SIGNING_SECRET", "CHANNEL"} {
			if err := r.Store.SetConfig(ctx, f.ID, k, "value"); err != nil {
				b.Fatal(err)
			}
		}
		fnIDs = append(fnIDs, f.ID)
	}
	var outs []*relay.Output
	for i := range 10 {
		bk := r.Bucket(&relay.Bucket{Name: fmt.Sprintf("bucket-%02d", i), Auth: relay.BucketAuth{Type: relay.AuthNone}})
		for j := range 3 {
			r.Input(&relay.Input{BucketID: bk.ID, Name: fmt.Sprintf("in-%d", j), FunctionID: fnIDs[(i*3+j)%30]})
			outs = append(outs, r.Output(&relay.Output{BucketID: bk.ID, Name: fmt.Sprintf("out-%d", j),
				Destination: fmt.Sprintf("https://dest-%d.example.com/hook?key=k", j), Disabled: true}))
		}
	}
	const webhooks = 20000
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < webhooks; i += 4 {
				out := outs[i%len(outs)]
				now := time.Now().UTC()
				w := &relay.Webhook{ID: relay.NewRecordID(), BucketID: out.BucketID, InputID: "in", ReceivedAt: now,
					Request: relay.HTTPRequest{Method: "POST", Path: "/", Header: http.Header{"Content-Type": {"application/json"}},
						Body: []byte(`{"event":"order.created","id":` + fmt.Sprint(i) + `}`)}, Status: 200}
				state := relay.DeliverySucceeded
				if i%20 == 0 {
					state = relay.DeliveryFailed
				}
				d := &relay.Delivery{ID: relay.NewRecordID(), WebhookID: w.ID, BucketID: out.BucketID, OutputID: out.ID,
					State: state, Attempts: 1, LastStatus: 200, CreatedAt: now, UpdatedAt: now}
				if err := r.Store.SaveWebhook(ctx, w, []*relay.Delivery{d}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("stored %d webhooks in %v", webhooks, time.Since(start).Round(time.Millisecond))

	// Sign in once; every page then renders with the session cookie.
	h := r.App.Console
	req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(url.Values{"token": {r.AdminToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	// The request log's newest webhook, and a cursor 100 pages deep.
	ws, err := r.Store.ListWebhooks(ctx, relay.WebhookFilter{Limit: 5001})
	if err != nil || len(ws) != 5001 {
		b.Fatalf("ListWebhooks: %d, %v", len(ws), err)
	}
	newest, cursor := ws[0].ID, ws[5000].ID
	// The overview's counts: one pass over the deliveries, which the
	// overview keeps for a few seconds.
	b.Run("output-stats", func(b *testing.B) {
		for b.Loop() {
			if st, err := r.Store.OutputStats(ctx); err != nil || len(st) != len(outs) {
				b.Fatalf("OutputStats: %d outputs, %v", len(st), err)
			}
		}
	})
	for _, p := range []struct{ name, path, want string }{
		{"overview", "/ui/", "bucket-09"},
		{"functions", "/ui/functions", "fn-29"},
		{"editor", "/ui/functions/fn-07", "CHANNEL"},
		{"deliveries", "/ui/deliveries", "bucket-"},
		{"request-log", "/ui/webhooks", "wh-"},
		{"request-log-filtered", "/ui/webhooks?bucket=bucket-03&state=failed&since=1h", "bucket-03"},
		{"request-log-page-100", "/ui/webhooks?before=" + cursor, "wh-"},
		{"webhook", "/ui/webhooks/" + newest, "order.created"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", p.path, nil)
				req.AddCookie(cookies[0])
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), p.want) {
					b.Fatalf("GET %s: %d", p.path, rec.Code)
				}
			}
		})
	}
}
