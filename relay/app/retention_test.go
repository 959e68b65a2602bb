package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/app"
)

// TestRetentionFromFile: server.retention reaches the purge, which runs at
// start; /v1/admin/retention and /metrics show it.
func TestRetentionFromFile(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "server:\n  retention: {payload: 72h, metadata: 30d, interval: 1h}\nbuckets:\n  - name: ci\n    retention: {payload: 1h}\n")
	a := start(t, f, app.Options{QuietToken: true, Apply: true})
	pub := "http://" + a.Addr().String()
	deadline := time.Now().Add(10 * time.Second)
	var rep api.RetentionReport
	for {
		req, _ := http.NewRequest(http.MethodGet, pub+"/v1/admin/retention", nil)
		req.Header.Set("Authorization", "Bearer "+a.AdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&rep)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.LastRun != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rep.LastRun == nil || rep.Interval != "1h0m0s" || rep.Default != (api.RetentionPolicy{Payload: "3d", Metadata: "30d"}) ||
		len(rep.Buckets) != 1 || rep.Buckets[0].Effective != (api.RetentionPolicy{Payload: "1h", Metadata: "30d"}) {
		t.Fatalf("GET /v1/admin/retention = %+v", rep)
	}
	req, _ := http.NewRequest(http.MethodGet, pub+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+a.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `relayfn_retention_purged_total{kind="payload"} 0`) {
		t.Fatalf("/metrics lacks relayfn_retention_purged_total:\n%.2000s", body)
	}
}
