package relay_test

// Data at rest: what a relay writes to its SQLite files (the database, its
// -wal and -shm) never holds a webhook's body, headers, query, function
// logs or errors, or function configuration in the clear; an ephemeral
// bucket's webhooks leave none of them at all; the relay's log never
// holds a secret; and a delivery abandoned by a shutdown past its grace
// period stays pending for the next start.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/api"
)

// newRestHarness starts the relay of these tests, logging to log (nil
// discards), with the webhook bodies capped at 1 MiB.
func newRestHarness(t *testing.T, log *slog.Logger) *relaytest.Relay {
	t.Helper()
	return relaytest.New(t, relaytest.Options{Logger: log, MaxBodyBytes: 1 << 20})
}

// marker returns a distinctive value: prefix and random upper-case hex.
func marker(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + strings.ToUpper(hex.EncodeToString(b))
}

// fileHits reports which markers appear in which of dir's files.
func fileHits(t *testing.T, dir string, markers map[string]string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, ent := range entries {
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for what, m := range markers {
			if bytes.Contains(data, []byte(m)) {
				hits = append(hits, fmt.Sprintf("%s (%s) in %s", what, m, ent.Name()))
			}
		}
	}
	return hits
}

// dbFiles lists the files in dir with their sizes.
func dbFiles(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, ent := range entries {
		fi, err := ent.Info()
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, fmt.Sprintf("%s %d bytes", ent.Name(), fi.Size()))
	}
	return strings.Join(s, ", ")
}

// checkFiles asserts that the files hold none of secret's markers (while the
// relay runs and after it stopped), and that they do hold the control
// markers, which are stored in plaintext by design: the scan sees what is
// there.
func checkFiles(t *testing.T, dir string, secret, control map[string]string) {
	t.Helper()
	if hits := fileHits(t, dir, secret); len(hits) > 0 {
		t.Errorf("plaintext on disk (%s):\n%s", dbFiles(t, dir), strings.Join(hits, "\n"))
	}
	if hits := fileHits(t, dir, control); len(hits) < len(control) {
		t.Errorf("the scan found only %q of the plaintext controls %v (%s)", hits, control, dbFiles(t, dir))
	}
}

func TestAtRestNoPlaintext(t *testing.T) {
	h := newRestHarness(t, nil)
	ctx := context.Background()
	m := map[string]string{
		"body":                   marker("BODY"),
		"header value":           marker("HEADER"),
		"query":                  marker("QUERY"),
		"input function log":     marker("INLOG"),
		"output function log":    marker("OUTLOG"),
		"destination answer":     marker("ANSWER"),
		"function config value":  marker("CONFIG"),
		"function error":         marker("FNERR"),
		"destination answer hdr": marker("ANSHDR"),
		"function's body change": marker("CHANGE"),
		"function's answer":      marker("FNANSWER"),
		"function's answer hdr":  marker("FNANSHDR"),
	}
	// Paths and names are stored in plaintext by design: the control.
	control := map[string]string{"path": marker("PATH")}
	dest := newRecorder(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("X-Answer", m["destination answer hdr"])
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(m["destination answer"]))
	})
	// Function source is stored in plaintext: the markers a function
	// writes are upper-cased at run time, so the source holds only their
	// lower-case form.
	inFn := h.Function("enrich", fmt.Sprintf(`
print(string.upper(%q))
r:SetRequestHeader("X-Config", cfg:GetValue("API_KEY"))
r:SetRequestBody(r.RequestBody .. string.upper(%q))
r:SetResponseBody(string.upper(%q))
r:SetResponseHeader("X-Fn", string.upper(%q))
`, strings.ToLower(m["input function log"]), strings.ToLower(m["function's body change"]),
		strings.ToLower(m["function's answer"]), strings.ToLower(m["function's answer hdr"])))
	if err := h.Store.SetConfig(ctx, inFn.ID, "API_KEY", m["function config value"]); err != nil {
		t.Fatal(err)
	}
	brokenFn := h.Function("broken", fmt.Sprintf(`error(string.upper(%q))`, strings.ToLower(m["function error"])))
	outFn := h.Function("stamp", fmt.Sprintf(`print(string.upper(%q))`, strings.ToLower(m["output function log"])))
	respFn := h.Function("answer", `print(r.RequestBody) print(r.RequestHeader["X-Answer"])`)
	b := h.Bucket(&relay.Bucket{Name: "secret"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in", FunctionID: inFn.ID})
	broken := h.Input(&relay.Input{BucketID: b.ID, Name: "broken", FunctionID: brokenFn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL, FunctionID: outFn.ID, ResponseFunctionID: respFn.ID})
	// A destination that refuses connections: its error is recorded.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h.Output(&relay.Output{BucketID: b.ID, Name: "dead", Destination: deadURL, Retries: relay.RetryPolicy{MaxAttempts: 2}})

	const n = 20
	for i := range n {
		q := url.Values{"data": {m["query"]}, "i": {fmt.Sprint(i)}}
		resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID+"/"+control["path"]+"?"+q.Encode(),
			fmt.Sprintf(`{"i":%d,"data":%q}`, i, m["body"]), http.Header{"X-Data": {m["header value"]}})
		if resp.StatusCode != 200 {
			t.Fatalf("webhook %d: status %d", i, resp.StatusCode)
		}
	}
	h.Send("POST", "/v1/webhooks/"+broken.ID, m["body"], http.Header{"X-Data": {m["header value"]}})
	succeeded := h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, n)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryFailed, n)

	// What was sent arrived, and is in the store, sealed: the checks of
	// the files below are not vacuous.
	got := dest.received()
	if len(got) != n {
		t.Fatalf("destination got %d requests, want %d", len(got), n)
	}
	for _, r := range got {
		if !strings.Contains(r.body, m["body"]) || r.header.Get("X-Data") != m["header value"] ||
			r.header.Get("X-Config") != m["function config value"] || !strings.Contains(r.query, m["query"]) {
			t.Fatalf("destination got %+v", r)
		}
	}
	stored := webhooks(t, h)
	if len(stored) != n+1 {
		t.Fatalf("%d webhooks stored, want %d", len(stored), n+1)
	}
	var sawErr, sawLog bool
	for _, w := range stored {
		if strings.Contains(w.FunctionError, m["function error"]) {
			sawErr = true
			continue
		}
		if !bytes.Contains(w.Request.Body, []byte(m["body"])) || w.Request.Header.Get("X-Data") != m["header value"] ||
			!strings.Contains(w.Request.RawQuery, m["query"]) || w.Request.Header.Get("X-Config") != m["function config value"] {
			t.Fatalf("stored webhook %+v", w)
		}
		sawLog = sawLog || strings.Contains(strings.Join(w.Logs, "\n"), m["input function log"])
		// The request log: the request as received, the change, the
		// answer the function set and the caller got.
		if w.Received == nil || bytes.Contains(w.Received.Body, []byte(m["function's body change"])) ||
			!bytes.Contains(w.Request.Body, []byte(m["function's body change"])) ||
			w.Function == nil || w.Function.Response == nil || string(w.Function.Response.Body) != m["function's answer"] ||
			w.Answer.Header.Get("X-Fn") != m["function's answer hdr"] {
			t.Fatalf("stored webhook's journey: received %+v function %+v answer %+v", w.Received, w.Function, w.Answer)
		}
	}
	if !sawErr || !sawLog {
		t.Fatalf("the function error (%v) or log (%v) was not stored", sawErr, sawLog)
	}
	_, attempts, err := h.Store.GetDelivery(ctx, succeeded[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	last := attempts[len(attempts)-1]
	if string(last.ResponseBody) != m["destination answer"] || last.ResponseHeader.Get("X-Answer") != m["destination answer hdr"] {
		t.Fatalf("the attempt's destination answer was not stored: %q %v", last.ResponseBody, last.ResponseHeader)
	}
	logs := strings.Join(last.Logs, "\n")
	for _, k := range []string{"output function log", "destination answer", "destination answer hdr"} {
		if !strings.Contains(logs, m[k]) {
			t.Fatalf("attempt logs lack the %s: %q", k, logs)
		}
	}
	// Errors are sealed too: the failed delivery's error, known through
	// the store, is not in its raw columns.
	failed, err := h.Store.ListDeliveries(ctx, relay.DeliveryFilter{State: relay.DeliveryFailed, Limit: 1})
	if err != nil || len(failed) != 1 || failed[0].LastError == "" {
		t.Fatalf("failed deliveries %+v, %v", failed, err)
	}
	rawErrors(t, h.DBPath, failed[0].ID, failed[0].LastError)

	// While the relay runs: the database, its -wal and -shm.
	t.Logf("files while the relay runs: %s", dbFiles(t, h.Dir))
	checkFiles(t, h.Dir, m, control)
	h.Stop()
	// After Close: what stays on disk for good.
	t.Logf("files after close: %s", dbFiles(t, h.Dir))
	checkFiles(t, h.Dir, m, control)
}

func TestAtRestEphemeralBucket(t *testing.T) {
	h := newRestHarness(t, nil)
	m := map[string]string{
		"body":                marker("BODY"),
		"header value":        marker("HEADER"),
		"query":               marker("QUERY"),
		"path":                marker("PATH"),
		"input function log":  marker("INLOG"),
		"output function log": marker("OUTLOG"),
		"function error":      marker("FNERR"),
		"destination answer":  marker("ANSWER"),
	}
	// The destination fails the first request: the retry is sent from
	// memory, as the store has no body to reload.
	dest := newRecorder(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("X-Answer", m["destination answer"])
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(m["destination answer"]))
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(m["destination answer"]))
	})
	inFn := h.Function("enrich", fmt.Sprintf(`print(string.upper(%q)) r:SetRequestHeader("X-Seen", "1")
r:SetResponseHeader("X-Fn", r.RequestHeader["X-Data"])`, strings.ToLower(m["input function log"])))
	outFn := h.Function("stamp", fmt.Sprintf(`print(string.upper(%q))`, strings.ToLower(m["output function log"])))
	brokenFn := h.Function("broken", fmt.Sprintf(`error(string.upper(%q))`, strings.ToLower(m["function error"])))
	b := h.Bucket(&relay.Bucket{Name: "private", Ephemeral: true})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in", FunctionID: inFn.ID})
	broken := h.Input(&relay.Input{BucketID: b.ID, Name: "broken", FunctionID: brokenFn.ID})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL, FunctionID: outFn.ID, Retries: relay.RetryPolicy{MaxAttempts: 3}})

	const n = 5
	for i := range n {
		resp, _ := h.Send("PUT", "/v1/webhooks/"+in.ID+"/"+m["path"]+"?data="+m["query"],
			fmt.Sprintf("%d:%s", i, m["body"]), http.Header{"X-Data": {m["header value"]}})
		if resp.StatusCode != 200 {
			t.Fatalf("webhook %d: status %d", i, resp.StatusCode)
		}
	}
	h.Send("POST", "/v1/webhooks/"+broken.ID, m["body"], nil)
	h.WaitDeliveries(relay.DeliveryFilter{BucketID: b.ID}, relay.DeliverySucceeded, n)

	// Delivered in full, the retry included.
	got := dest.received()
	if len(got) != n+1 {
		t.Fatalf("destination got %d requests, want %d (one retry)", len(got), n+1)
	}
	for _, r := range got {
		if r.method != "PUT" || r.path != "/"+m["path"] || !strings.Contains(r.query, m["query"]) ||
			!strings.Contains(r.body, m["body"]) || r.header.Get("X-Data") != m["header value"] || r.header.Get("X-Seen") != "1" {
			t.Fatalf("destination got %+v", r)
		}
	}

	// The rows hold ids, method, status and time only.
	db, err := sql.Open("sqlite", h.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, method, status, received_at, path IS NULL, raw_query IS NULL, headers IS NULL,
		body IS NULL, function_error IS NULL, logs IS NULL FROM webhooks WHERE bucket_id = ?`, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	webhookIDs := map[string]bool{}
	for rows.Next() {
		var id, method string
		var status int
		var received int64
		var nulls [6]bool
		if err := rows.Scan(&id, &method, &status, &received, &nulls[0], &nulls[1], &nulls[2], &nulls[3], &nulls[4], &nulls[5]); err != nil {
			t.Fatal(err)
		}
		webhookIDs[id] = true
		if nulls != [6]bool{true, true, true, true, true, true} {
			t.Errorf("webhook %s: path, raw_query, headers, body, function_error, logs IS NULL = %v, want all NULL", id, nulls)
		}
		if method == "" || status != 200 || received == 0 {
			t.Errorf("webhook %s: method %q, status %d, received_at %d", id, method, status, received)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(webhookIDs) != n+1 {
		t.Fatalf("%d webhooks stored, want %d", len(webhookIDs), n+1)
	}
	var attempts, withLogs, withErr int
	// A delivery's last attempt is in its row, earlier ones in attempts.
	if err := db.QueryRow(`SELECT count(*), count(logs), count(error) FROM (
		SELECT a.logs, a.error FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.bucket_id = ?1
		UNION ALL
		SELECT attempt_logs, attempt_error FROM deliveries WHERE bucket_id = ?1 AND attempt_n > 0)`,
		b.ID).Scan(&attempts, &withLogs, &withErr); err != nil {
		t.Fatal(err)
	}
	if attempts != n+1 || withLogs != 0 {
		t.Errorf("%d attempts, %d with logs; want %d, none with logs", attempts, withLogs, n+1)
	}
	for id := range webhookIDs {
		w, err := h.Store.GetWebhook(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if w.Request.Body != nil || w.Request.Header != nil || w.Request.RawQuery != "" || w.Request.Path != "" || w.Logs != nil || w.FunctionError != "" {
			t.Errorf("GetWebhook of an ephemeral webhook: %+v", w)
		}
	}
	db.Close()

	checkFiles(t, h.Dir, m, nil)
	h.Stop()
	checkFiles(t, h.Dir, m, nil)
}

// rawErrors checks that the delivery's last_error and its attempts' errors
// are stored sealed: their raw bytes do not hold msg.
func rawErrors(t *testing.T, dbPath, deliveryID, msg string) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lastErr []byte
	if err := db.QueryRow(`SELECT last_error FROM deliveries WHERE id = ?`, deliveryID).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if len(lastErr) == 0 || bytes.Contains(lastErr, []byte(msg)) {
		t.Errorf("deliveries.last_error is %q, want %q sealed", lastErr, msg)
	}
	rows, err := db.Query(`SELECT error FROM attempts WHERE delivery_id = ?1
		UNION ALL SELECT attempt_error FROM deliveries WHERE id = ?1 AND attempt_n > 0`, deliveryID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e []byte
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		if len(e) == 0 || bytes.Contains(e, []byte(msg)) {
			t.Errorf("attempts.error is %q, want %q sealed", e, msg)
		}
		n++
	}
	if n == 0 {
		t.Error("the failed delivery has no attempts")
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var logBuf relaytest.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newRestHarness(t, log)
	secrets := map[string]string{
		"function config value (relay.yaml)": marker("CFGSECRET"),
		"function config value (API)":        marker("CFGAPI"),
		"basic-auth password":                marker("PASSWORD"),
		"wrong basic-auth password":          marker("WRONGPW"),
		"wrong token secret":                 marker("WRONGTOK"),
		"destination path secret":            marker("SLACKPATH"),
		"destination query secret":           marker("SLACKQUERY"),
		"wrong admin secret":                 marker("WRONGADMIN"),
	}
	dest := newRecorder(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	basicID, tokenID := uuid.NewString(), uuid.NewString()
	doc := fmt.Sprintf(`functions:
  - name: sign
    source: |
      local k = cfg:GetValue("SIGNING_KEY")
      r:SetRequestHeader("X-Signed", (k ~= "" and cfg:GetValue("EXTRA") ~= "") and "yes" or "no")
    config: {SIGNING_KEY: %q, EXTRA: "x"}
buckets:
  - name: basic
    auth: {type: basic, username: hook, password: %q}
    inputs:
      - {name: in, id: %s, function: sign}
    outputs:
      - {name: dest, destination: "%s/basic"}
      - name: slack
        destination: "%s/services/T000/B000/%s?token=%s"
        retries: {max_attempts: 2, initial_interval: 10ms}
  - name: tokens
    auth: {type: token}
    inputs:
      - {name: in, id: %s, function: sign}
    outputs:
      - {name: dest, destination: "%s/token"}
`, secrets["function config value (relay.yaml)"], secrets["basic-auth password"], basicID, dest.srv.URL,
		deadURL, secrets["destination path secret"], secrets["destination query secret"], tokenID, dest.srv.URL)

	adminReq := func(method, path, body string, cred string) (int, []byte) {
		t.Helper()
		resp, b := h.Send(method, admin.Prefix+strings.TrimPrefix(path, "/"), body, http.Header{"Authorization": {"Bearer " + cred}})
		return resp.StatusCode, []byte(b)
	}
	if code, body := adminReq("POST", "apply", doc, h.AdminToken); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	code, body := adminReq("POST", "buckets/tokens/tokens", `{"name":"ci"}`, h.AdminToken)
	if code != 201 {
		t.Fatalf("create a bucket token: %d %s", code, body)
	}
	var nt api.NewToken
	if err := json.Unmarshal(body, &nt); err != nil {
		t.Fatal(err)
	}
	cred := nt.Credential
	_, tokSecret, ok := relay.ParseToken(cred)
	if !ok {
		t.Fatalf("credential %q", cred)
	}
	secrets["bucket token secret"] = tokSecret
	_, adminSecret, _ := relay.ParseToken(h.AdminToken)
	secrets["admin token secret"] = adminSecret
	if code, body := adminReq("PUT", "functions/sign/config/EXTRA", fmt.Sprintf(`{"value":%q}`, secrets["function config value (API)"]), h.AdminToken); code != 204 {
		t.Fatalf("set config: %d %s", code, body)
	}
	adminID, _, _ := relay.ParseToken(h.AdminToken)
	if code, _ := adminReq("GET", "buckets", "", adminID+"."+secrets["wrong admin secret"]); code != 401 {
		t.Fatalf("a wrong admin secret was answered %d", code)
	}

	basic := func(user, pass string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header
	}
	tokenID0, _, _ := relay.ParseToken(cred)
	for _, tt := range []struct {
		path   string
		header http.Header
		status int
	}{
		{"/v1/webhooks/" + basicID, basic("hook", secrets["basic-auth password"]), 200},
		{"/v1/webhooks/" + basicID, basic("hook", secrets["wrong basic-auth password"]), 401},
		{"/v1/webhooks/" + tokenID, http.Header{"Authorization": {"Bearer " + cred}}, 200},
		{"/v1/webhooks/" + tokenID, http.Header{"X-Relay-Token": {cred}}, 200},
		{"/v1/webhooks/" + tokenID + "?token=" + url.QueryEscape(cred), nil, 200},
		{"/v1/webhooks/" + tokenID, http.Header{"Authorization": {"Bearer " + tokenID0 + "." + secrets["wrong token secret"]}}, 401},
		{"/v1/webhooks/" + uuid.NewString() + "?token=" + url.QueryEscape(cred), nil, 200},
	} {
		resp, _ := h.Send("POST", tt.path, "x", tt.header)
		if resp.StatusCode != tt.status {
			t.Fatalf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
	}
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 4)
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliveryFailed, 1)
	for _, r := range dest.received() {
		if r.header.Get("X-Signed") != "yes" {
			t.Fatalf("the function did not see its configuration: %+v", r)
		}
	}
	h.Stop()

	logs := logBuf.String()
	for _, want := range []string{`"msg":"delivery attempt"`, `"msg":"admin: applied relay.yaml"`, `"msg":"admin: bucket token created"`, `"msg":"admin: function config set"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s %q:\n%s", what, s, logs)
		}
	}
	t.Logf("%d log lines, none with any of %d secrets", strings.Count(logs, "\n"), len(secrets))
}

// A relay that stops past its grace period abandons the sends in flight:
// Shutdown says they stay pending and resume on the next Start, and an
// acknowledged webhook must not be lost to a slow destination.
func TestShutdownPastGraceKeepsDeliveryPending(t *testing.T) {
	h := newRestHarness(t, nil)
	release := make(chan struct{})
	inFlight := make(chan struct{}, 1)
	dest := newRecorder(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			inFlight <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	b := h.Bucket(&relay.Bucket{Name: "slow"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL, Timeout: time.Minute})
	if resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID, "acknowledged", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case <-inFlight:
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery was not sent")
	}
	// The grace period is over before the destination answers.
	shutdownPastGrace(t, h, "the abandoned delivery")

	// The next start delivers it.
	h.Restart()
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
}

// The same, when the grace period ends while the output's function runs
// (here, waiting on an HTTP call): the relay cut the function short, so
// the delivery is not the function's failure and stays pending.
func TestShutdownPastGraceInOutputFunctionKeepsDeliveryPending(t *testing.T) {
	h := newRestHarness(t, nil)
	release := make(chan struct{})
	inFunction := make(chan struct{}, 1)
	var calls atomic.Int32
	lookup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			inFunction <- struct{}{}
			<-release
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(lookup.Close)
	defer close(release)
	dest := newRecorder(t, nil)
	fn := h.Function("enrich", fmt.Sprintf(`
local http = require("http")
local resp, err = http.get(%q)
if err then error(err) end
r:SetRequestHeader("X-Enriched", resp.body)
`, lookup.URL))
	b := h.Bucket(&relay.Bucket{Name: "slow"})
	in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	h.Output(&relay.Output{BucketID: b.ID, Name: "dest", Destination: dest.srv.URL, FunctionID: fn.ID})
	if resp, _ := h.Send("POST", "/v1/webhooks/"+in.ID, "acknowledged", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case <-inFunction:
	case <-time.After(20 * time.Second):
		t.Fatal("the output function did not run")
	}
	shutdownPastGrace(t, h, "the delivery whose output function the shutdown cut short")
	h.Restart()
	h.WaitDeliveries(relay.DeliveryFilter{}, relay.DeliverySucceeded, 1)
	if got := dest.received(); len(got) != 1 || got[0].header.Get("X-Enriched") != "ok" {
		t.Fatalf("destination got %+v", got)
	}
}

// shutdownPastGrace shuts h's relay down with its grace period already
// over, and checks that its one delivery, described by what, stays
// pending.
func shutdownPastGrace(t *testing.T, h *relaytest.Relay, what string) {
	t.Helper()
	ctx := context.Background()
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.Server.Shutdown(expired); err == nil {
		t.Fatal("Shutdown past its grace period returned nil")
	}
	ds, err := h.Store.ListDeliveries(ctx, relay.DeliveryFilter{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %v, %v", ds, err)
	}
	if ds[0].State != relay.DeliveryPending {
		t.Fatalf("%s was recorded %q (attempts %d, error %q): want pending, to be resumed on the next start",
			what, ds[0].State, ds[0].Attempts, ds[0].LastError)
	}
}
