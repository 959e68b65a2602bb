package storetest

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

func (s *suite) TestWebhookJourney(t *testing.T) {
	st, fx := s.openFixture(t, "log", false)
	ctx := context.Background()

	w := fx.Webhook(`{"rewritten":true}`)
	received := w.Request
	received.Body = []byte(`{"original":true}`)
	received.Header = http.Header{"Content-Type": {"text/plain"}, "X-Gone": {"deleted by the function"}}
	w.Request.Header = http.Header{"Content-Type": {"application/json"}, "X-New": {"added"}}
	w.Received = &received
	w.Logs = []string{"saw it"}
	w.Function = &relay.FunctionOutcome{Response: &relay.FunctionResponse{Status: 202, Header: http.Header{"X-A": {"b"}}, Body: []byte("ok")}, DurationMS: 1.5}
	w.Answer = relay.Answer{Header: http.Header{"X-A": {"b"}}, BodySize: 2}
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(ctx, w, ds))
	got, err := st.GetWebhook(ctx, w.ID)
	Must(t, err)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("GetWebhook =\n%+v\nwant\n%+v", got, w)
	}
	changes := got.Changes()
	want := []relay.Change{
		{Field: "header Content-Type", From: "text/plain", To: "application/json"},
		{Field: "header X-Gone", From: "deleted by the function", To: ""},
		{Field: "header X-New", From: "", To: "added"},
		{Field: "body", From: `{"original":true}`, To: `{"rewritten":true}`},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("Changes = %+v, want %+v", changes, want)
	}

	// Two attempts: the first moves to the attempts table with its answer.
	d := ds[0]
	for i, body := range []string{"boom", "fine"} {
		d.State, d.Attempts = relay.DeliveryPending, i+1
		a := &relay.Attempt{Status: 500 - 300*i, ResponseHeader: http.Header{"Content-Type": {"text/plain"}}, ResponseBody: []byte(body)}
		Must(t, st.RecordAttempt(ctx, d, a))
	}
	_, as, err := st.GetDelivery(ctx, d.ID)
	Must(t, err)
	if len(as) != 2 || string(as[0].ResponseBody) != "boom" || string(as[1].ResponseBody) != "fine" ||
		as[0].ResponseHeader.Get("Content-Type") != "text/plain" {
		t.Fatalf("attempts = %+v, want the answers boom then fine", as)
	}

	Must(t, st.SetWebhookAnswer(ctx, w.ID, 504, relay.Answer{BodySize: 7}))
	got, err = st.GetWebhook(ctx, w.ID)
	Must(t, err)
	if got.Status != 504 || got.Answer.BodySize != 7 || got.Answer.Header != nil {
		t.Errorf("after SetWebhookAnswer: status %d answer %+v", got.Status, got.Answer)
	}
	WantNotFound(t, st.SetWebhookAnswer(ctx, "nope", 200, relay.Answer{}))
}

func (s *suite) TestWebhookJourneyEphemeral(t *testing.T) {
	st, fx := s.openFixture(t, "eph", true)
	ctx := context.Background()
	w := fx.Webhook(`secret`)
	r := w.Request
	w.Received = &r
	w.Function = &relay.FunctionOutcome{Stopped: true}
	w.Answer = relay.Answer{Header: http.Header{"X-Secret": {"s"}}, BodySize: 3}
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(ctx, w, ds))
	Must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500, ResponseHeader: http.Header{"X": {"y"}}, ResponseBody: []byte("secret answer")}))
	got, err := st.GetWebhook(ctx, w.ID)
	Must(t, err)
	if got.Received != nil || got.Function != nil || got.Answer.Header != nil || got.Answer.BodySize != 0 {
		t.Errorf("ephemeral webhook kept its journey: %+v", got)
	}
	_, as, err := st.GetDelivery(ctx, ds[0].ID)
	Must(t, err)
	if len(as) != 1 || as[0].ResponseBody != nil || as[0].ResponseHeader != nil || as[0].Status != 500 {
		t.Errorf("ephemeral attempt = %+v, want its status only", as)
	}
}

func (s *suite) TestListWebhooks(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	a := NewFixture(t, st, "a", false)
	b := NewFixture(t, st, "b", false)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for i := range 6 {
		fx := a
		if i%2 == 1 {
			fx = b
		}
		w := fx.Webhook("x")
		w.ID = relay.NewRecordID()
		w.ReceivedAt = base.Add(time.Duration(i) * time.Minute)
		if i == 2 {
			w.FunctionError = "boom"
		}
		if i == 3 {
			w.Status = 401
		}
		ds := fx.Deliveries()[:1]
		Must(t, st.SaveWebhook(ctx, w, ds))
		if i == 4 {
			ds[0].State = relay.DeliveryFailed
			Must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
		}
		ids = append(ids, w.ID)
		time.Sleep(2 * time.Millisecond) // distinct UUIDv7 milliseconds
	}
	list := func(f relay.WebhookFilter) []string {
		t.Helper()
		ws, err := st.ListWebhooks(ctx, f)
		Must(t, err)
		var out []string
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    relay.WebhookFilter
		want []string
	}{
		{"all", relay.WebhookFilter{}, []string{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"bucket", relay.WebhookFilter{BucketID: b.Bucket.ID}, []string{ids[5], ids[3], ids[1]}},
		{"input", relay.WebhookFilter{InputID: a.Input.ID}, []string{ids[4], ids[2], ids[0]}},
		{"status", relay.WebhookFilter{Status: 401}, []string{ids[3]}},
		{"function error", relay.WebhookFilter{FunctionError: true}, []string{ids[2]}},
		{"failed", relay.WebhookFilter{Failed: true}, []string{ids[4], ids[3], ids[2]}},
		{"delivery state", relay.WebhookFilter{DeliveryState: relay.DeliveryFailed}, []string{ids[4]}},
		{"since until", relay.WebhookFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, []string{ids[2], ids[1]}},
		{"page", relay.WebhookFilter{Before: ids[3], Limit: 2}, []string{ids[2], ids[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{DeliveryState: relay.DeliveryFailed})
	Must(t, err)
	if ws[0].Deliveries[relay.DeliveryFailed] != 1 || ws[0].Path != "/extra" {
		t.Errorf("summary = %+v", ws[0])
	}
	ws, err = st.ListWebhooks(ctx, relay.WebhookFilter{FunctionError: true})
	Must(t, err)
	if ws[0].FunctionError != "boom" {
		t.Errorf("function error = %q", ws[0].FunctionError)
	}
}
