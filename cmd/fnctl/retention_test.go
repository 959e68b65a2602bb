package main

import (
	"testing"

	"github.com/relayfn/relayfn/relay/api"
)

func TestRemoteRetention(t *testing.T) {
	t.Parallel()
	r := newAdminRelay(t)
	r.ok("bucket", "create", "ci")
	r.ok("bucket", "create", "plain")

	out := r.ok("bucket", "retention", "ci", "--payload", "72h", "--metadata", "30d")
	contains(t, "set", out, "Bucket:", "ci", "Payload:", "3d", "Metadata:", "30d")
	// A flag left out keeps its value.
	var br api.BucketRetention
	r.okJSON(&br, "bucket", "retention", "ci", "--payload", "24h")
	if br.Policy != (api.RetentionPolicy{Payload: "1d", Metadata: "30d"}) {
		t.Fatalf("policy after --payload alone = %+v", br.Policy)
	}
	out = r.ok("bucket", "get", "ci")
	contains(t, "get", out, "Retention:", "payload 1d, metadata 30d")
	out = r.ok("bucket", "get", "plain")
	contains(t, "get plain", out, "payload forever, metadata forever (server defaults)")

	out = r.ok("retention")
	contains(t, "retention", out, "Default payload:", "forever", "Interval:", "1m0s", "Last run:", "Last run purged:",
		"records of deleted buckets and outputs",
		"BUCKET", "ci", "1d", "30d", "plain", "(server defaults)")
	var rep api.RetentionReport
	r.okJSON(&rep, "retention")
	if len(rep.Buckets) != 2 {
		t.Fatalf("retention -o json = %+v", rep)
	}

	out, errOut, code := r.run("bucket", "retention", "ci", "--payload", "40d")
	if code == 0 {
		t.Fatalf("a payload age past the metadata age was accepted: %s", out)
	}
	contains(t, "bad age", errOut, "payload: 40d is longer than metadata (30d)")

	br = api.BucketRetention{}
	r.okJSON(&br, "bucket", "retention", "ci", "--clear")
	if br.Policy != (api.RetentionPolicy{}) {
		t.Fatalf("policy after --clear = %+v", br.Policy)
	}
}
