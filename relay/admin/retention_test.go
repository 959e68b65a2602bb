package admin_test

import (
	"net/http"
	"strings"
	"testing"

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
