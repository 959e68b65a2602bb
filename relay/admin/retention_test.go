package admin_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

func TestRetentionAPI(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/admin/buckets", map[string]any{"name": "logs"})
	e.must(http.StatusCreated, "POST", "/v1/admin/buckets", map[string]any{"name": "plain"})

	defer func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	}()
	var br api.BucketRetention
	e.must(http.StatusOK, "PUT", "/v1/admin/buckets/logs/retention", api.RetentionPolicy{Payload: "72h", Metadata: "30d"}).json(t, &br)
	if br.Bucket != "logs" || br.Policy != (api.RetentionPolicy{Payload: "3d", Metadata: "30d"}) || br.Effective != br.Policy {
		t.Fatalf("PUT retention = %+v", br)
	}
	e.must(http.StatusOK, "GET", "/v1/admin/buckets/logs/retention", nil).json(t, &br)
	if br.Policy.Metadata != "30d" {
		t.Fatalf("GET retention = %+v", br)
	}

	var rep api.RetentionReport
	e.must(http.StatusOK, "GET", "/v1/admin/retention", nil).json(t, &rep)
	if rep.Interval != "1m0s" || len(rep.Buckets) != 2 || rep.Purged["payload"] != 0 || rep.Purged["metadata"] != 0 {
		t.Fatalf("GET /retention = %+v", rep)
	}
	got := map[string]api.BucketRetention{}
	for _, b := range rep.Buckets {
		got[b.Bucket] = b
	}
	if got["logs"].Policy.Payload != "3d" || got["plain"].Policy != (api.RetentionPolicy{}) {
		t.Fatalf("buckets = %+v", rep.Buckets)
	}

	for _, c := range []struct {
		body any
		want string
	}{
		{api.RetentionPolicy{Payload: "3w"}, "payload: invalid age"},
		{api.RetentionPolicy{Metadata: "-1h"}, "metadata: negative age"},
		{api.RetentionPolicy{Payload: "8d", Metadata: "7d"}, "payload: 8d is longer than metadata (7d)"},
		{`{"payload": "1h", "bodies": "1h"}`, "bodies"},
	} {
		r := e.do("PUT", "/v1/admin/buckets/logs/retention", c.body)
		if r.status != http.StatusBadRequest || !strings.Contains(r.errMsg(t), c.want) {
			t.Errorf("PUT %v: %d %s, want 400 with %q", c.body, r.status, r.body, c.want)
		}
	}
	e.must(http.StatusNotFound, "PUT", "/v1/admin/buckets/nope/retention", api.RetentionPolicy{Payload: "1h"})

	// {} clears the policy.
	br = api.BucketRetention{}
	e.must(http.StatusOK, "PUT", "/v1/admin/buckets/logs/retention", api.RetentionPolicy{}).json(t, &br)
	if br.Policy != (api.RetentionPolicy{}) {
		t.Fatalf("cleared policy = %+v", br)
	}
}

// TestRetentionEndToEnd: a webhook through the relay, delivered, then
// purged: its payload goes, it cannot be replayed, and then it goes.
func TestRetentionEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dest := newDestination(t)
	_, _, d := e.delivered(t, dest, "ci", "purge-me-payload")

	rs := e.store.(relay.RetentionStore)
	b, err := e.store.GetBucket(t.Context(), "ci")
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	res, err := rs.Purge(t.Context(), relay.Purge{Kind: relay.PurgePayload, BucketID: b.ID, Before: future, Limit: 10})
	if err != nil || res.Webhooks != 1 {
		t.Fatalf("payload purge = %+v, %v", res, err)
	}
	w, err := e.store.GetWebhook(t.Context(), d.WebhookID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Request.Body != nil || w.Request.Header != nil {
		t.Fatalf("webhook after the payload purge = %+v", w.Request)
	}
	e.fails(http.StatusConflict, "was purged", http.MethodPost, "/v1/admin/deliveries/"+d.ID+"/replay", nil)

	res, err = rs.Purge(t.Context(), relay.Purge{Kind: relay.PurgeMetadata, BucketID: b.ID, Before: future, Limit: 10})
	if err != nil || res.Webhooks != 1 {
		t.Fatalf("metadata purge = %+v, %v", res, err)
	}
	e.must(http.StatusNotFound, http.MethodGet, "/v1/admin/deliveries/"+d.ID, nil)
}

// TestDeleteBucketInBackground: deleting a bucket answers at once; its
// webhook is hidden at once, and the purge, kicked by the deletion,
// removes it in the background and says so in GET /retention.
func TestDeleteBucketInBackground(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dest := newDestination(t)
	_, _, d := e.delivered(t, dest, "doomed", "deleted-with-its-bucket")

	// Let the first run pass, so that the next one is the kick's.
	var rep api.RetentionReport
	relaytest.WaitFor(t, "the purge's run at start", func() bool {
		e.must(http.StatusOK, http.MethodGet, "/v1/admin/retention", nil).json(t, &rep)
		return rep.LastRun != nil
	})
	e.must(http.StatusNoContent, http.MethodDelete, "/v1/admin/buckets/doomed", nil)
	e.must(http.StatusNotFound, http.MethodGet, "/v1/admin/webhooks/"+d.WebhookID, nil)
	e.must(http.StatusNotFound, http.MethodGet, "/v1/admin/deliveries/"+d.ID, nil)

	// The interval is a minute: only the kick gets the purge to run now.
	relaytest.WaitFor(t, "the purge of the deleted bucket's webhook", func() bool {
		e.must(http.StatusOK, http.MethodGet, "/v1/admin/retention", nil).json(t, &rep)
		return rep.Purged["deleted"] != 0
	})
	if rep.Purged["deleted"] != 1 || rep.LastPurged["deleted"] != 1 || rep.LastRun == nil {
		t.Fatalf("GET /retention after the purge = %+v", rep)
	}
	var n int
	db := e.store.(interface{ DB() *sql.DB }).DB()
	if err := db.QueryRow(`SELECT COUNT(*) FROM webhooks WHERE id = ?`, d.WebhookID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("webhooks of the deleted bucket left: %d, %v", n, err)
	}
}
