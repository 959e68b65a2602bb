package records

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
)

func TestRefused(t *testing.T) {
	now := time.Unix(1000, 0).UTC()
	for name, err := range map[string]error{
		"bucket without name":   Bucket(&relay.Bucket{}, now),
		"input without bucket":  Input(&relay.Input{Name: "in"}, now),
		"output without name":   Output(&relay.Output{BucketID: "b"}, now),
		"token without secret":  Token(&relay.Token{}, now),
		"agent without buckets": AgentToken(&relay.AgentToken{SecretHash: "h"}, now),
		"function without name": Function(&functions.Function{Source: "x"}, now),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDefaults(t *testing.T) {
	now := time.Unix(1000, 0).UTC()
	b := &relay.Bucket{Name: "b"}
	in := &relay.Input{Name: "in", BucketID: "b"}
	out := &relay.Output{Name: "out", BucketID: "b", ID: "given"}
	f := &functions.Function{Name: "f", Source: "src"}
	for _, err := range []error{Bucket(b, now), Input(in, now), Output(out, now), Function(f, now)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if b.ID == "" || b.Auth.Type != relay.AuthNone || !b.CreatedAt.Equal(now) {
		t.Errorf("bucket = %+v", b)
	}
	if in.ID == "" || in.Response.Mode != relay.ResponseDefault || !in.CreatedAt.Equal(now) {
		t.Errorf("input = %+v", in)
	}
	if out.ID != "given" || !out.CreatedAt.Equal(now) {
		t.Errorf("output = %+v", out)
	}
	if f.ID == "" || f.Version != 1 || f.Hash != SourceHash("src") || !f.UpdatedAt.Equal(now) {
		t.Errorf("function = %+v", f)
	}
}

func TestCheckRefs(t *testing.T) {
	rows := map[string]bool{"buckets/b": true, "functions/f": true}
	exists := func(_ context.Context, table, id string) (bool, error) { return rows[table+"/"+id], nil }
	ctx := context.Background()
	if err := CheckRefs(ctx, exists, "input", "in", "b", "f", ""); err != nil {
		t.Errorf("existing refs: %v", err)
	}
	for _, c := range []struct{ bucket, fn, want string }{
		{"nob", "f", `input "in": bucket "nob": not found`},
		{"b", "nof", `input "in": function "nof": not found`},
	} {
		err := CheckRefs(ctx, exists, "input", "in", c.bucket, c.fn)
		if !errors.Is(err, store.ErrNotFound) || err.Error() != c.want {
			t.Errorf("CheckRefs(%s, %s) = %v; want %s", c.bucket, c.fn, err, c.want)
		}
	}
}

func TestWebhook(t *testing.T) {
	now := time.Unix(1000, 0).UTC()
	if err := Webhook(&relay.Webhook{}, nil, now); err == nil {
		t.Error("a webhook without a bucket was accepted")
	}
	if err := Webhook(&relay.Webhook{BucketID: "b"}, []*relay.Delivery{{BucketID: "other"}}, now); err == nil {
		t.Error("a delivery of another bucket was accepted")
	}
	w := &relay.Webhook{BucketID: "b"}
	ds := []*relay.Delivery{{OutputID: "o1"}, {OutputID: "o2"}}
	if err := Webhook(w, ds, now); err != nil {
		t.Fatal(err)
	}
	if w.ID == "" || !w.ReceivedAt.Equal(now) {
		t.Errorf("webhook defaults: ID %q, ReceivedAt %v", w.ID, w.ReceivedAt)
	}
	for i, d := range ds {
		if d.ID == "" || d.WebhookID != w.ID || d.BucketID != "b" || d.State != relay.DeliveryPending ||
			!d.CreatedAt.Equal(now.Add(time.Duration(i))) || !d.UpdatedAt.Equal(d.CreatedAt) {
			t.Errorf("delivery %d defaults: %+v", i, d)
		}
	}
}
