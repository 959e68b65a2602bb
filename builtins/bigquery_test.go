package builtins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/internal/bqfake"
	"github.com/relayfn/relayfn/runtime"
)

const (
	bqProject = "proj-123"
	bqDataset = "events"
)

// bqEgress is a real egress client that lets loopback through (the fake
// listens there) and ignores the proxy environment.
func bqEgress(t *testing.T, cfg egress.Config) *egress.Client {
	t.Helper()
	cfg.Getenv = func(string) string { return "" }
	ec, err := egress.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	return ec
}

func bqEngine(t *testing.T, opts builtins.BigQueryOptions) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.BigQuery(opts)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// bqFakeEngine is the usual setup: a plain-HTTP fake with a table, reached
// through egress, without authentication.
func bqFakeEngine(t *testing.T, schema ...bqfake.Field) (*bqfake.Server, *runtime.Engine) {
	t.Helper()
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	fake.CreateTable(bqProject, bqDataset, "webhooks", schema...)
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	return fake, bqEngine(t, builtins.BigQueryOptions{
		Endpoint:         fake.Endpoint(),
		HTTPClient:       ec.HTTPClient,
		InsecureSkipAuth: true,
	})
}

func bqRun(t *testing.T, e *runtime.Engine, src string, config map[string]string, timeout time.Duration) *runtime.Result {
	t.Helper()
	fn, err := e.Compile("bq.lua", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e.Run(context.Background(), fn, &runtime.Input{
		Request:  runtime.Request{Method: "POST", Path: "/", Header: http.Header{}},
		Config:   config,
		Metadata: map[string]string{"bucket_name": "ci"},
		Timeout:  timeout,
	})
}

// bqLogs runs src and returns its log, failing on a function error.
func bqLogs(t *testing.T, e *runtime.Engine, src string) []string {
	t.Helper()
	res := bqRun(t, e, src, nil, 0)
	if res.Err != nil {
		t.Fatalf("run: %v\nlogs: %q", res.Err, res.Logs)
	}
	return res.Logs
}

const bqInit = `
local bigquery = require("bigquery")
local err = bigquery.initialize("proj-123", "events", "")
if err then error(err) end
`

var bqSchema = []bqfake.Field{
	{Name: "id", Type: "STRING"},
	{Name: "count", Type: "INTEGER"},
	{Name: "amount", Type: "FLOAT"},
	{Name: "paid", Type: "BOOLEAN"},
	{Name: "tags", Type: "STRING", Repeated: true},
	{Name: "customer", Type: "RECORD"},
}

func TestBigQueryInsert(t *testing.T) {
	fake, e := bqFakeEngine(t, bqSchema...)
	bqLogs(t, e, bqInit+`
err = bigquery.insert("webhooks", {
  id = "evt_1", count = 42, amount = 19.5, paid = true,
  tags = {"a", "b"}, customer = {email = "ada@example.com", vip = false},
})
if err then error(err) end
print("ok")
`)
	reqs := fake.RequestsOf("tabledata.insertAll")
	if len(reqs) != 1 {
		t.Fatalf("insertAll requests: %d, want 1 (all: %+v)", len(reqs), fake.Requests())
	}
	req := reqs[0]
	if want := "/bigquery/v2/projects/proj-123/datasets/events/tables/webhooks/insertAll"; req.Path != want {
		t.Errorf("path %q, want %q", req.Path, want)
	}
	if req.Status != http.StatusOK || len(req.Rows) != 1 {
		t.Fatalf("status %d, rows %d", req.Status, len(req.Rows))
	}
	if req.Rows[0].InsertID == "" {
		t.Error("row has no insertId (no deduplication)")
	}
	want := map[string]any{
		"id":       "evt_1",
		"count":    json.Number("42"), // an integer, not "42" or 42.0
		"amount":   json.Number("19.5"),
		"paid":     true,
		"tags":     []any{"a", "b"},
		"customer": map[string]any{"email": "ada@example.com", "vip": false},
	}
	if !reflect.DeepEqual(req.Rows[0].JSON, want) {
		t.Errorf("row sent:\n%#v\nwant:\n%#v", req.Rows[0].JSON, want)
	}
	if rows := fake.Rows(bqProject, bqDataset, "webhooks"); len(rows) != 1 || rows[0]["id"] != "evt_1" {
		t.Errorf("stored rows: %v", rows)
	}
}

func TestBigQueryRecordExists(t *testing.T) {
	fake, e := bqFakeEngine(t, bqSchema...)
	logs := bqLogs(t, e, bqInit+`
err = bigquery.insert("webhooks", {id = "evt_1", count = 42, paid = true})
if err then error(err) end
for _, c in ipairs({
  {"id", "evt_1"}, {"id", "evt_2"}, {"count", 42}, {"count", 7}, {"paid", true}, {"paid", false},
  {"id", "x' OR '1'='1"},
}) do
  local exists, err = bigquery.record_exists("webhooks", c[1], c[2])
  if err then error(err) end
  print(c[1], tostring(c[2]), tostring(exists), type(exists))
end
`)
	want := []string{
		"id\tevt_1\ttrue\tboolean",
		"id\tevt_2\tfalse\tboolean",
		"count\t42\ttrue\tboolean",
		"count\t7\tfalse\tboolean",
		"paid\ttrue\ttrue\tboolean",
		"paid\tfalse\tfalse\tboolean",
		"id\tx' OR '1'='1\tfalse\tboolean",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}

	queries := fake.RequestsOf("jobs.query")
	if len(queries) != len(want) {
		t.Fatalf("jobs.query requests: %d, want %d", len(queries), len(want))
	}
	q := queries[0]
	if wantSQL := "SELECT 1 FROM `proj-123.events.webhooks` WHERE `id` = @value LIMIT 1"; q.Query != wantSQL {
		t.Errorf("query %q, want %q", q.Query, wantSQL)
	}
	if p := q.Params["value"]; p != (bqfake.Param{Type: "STRING", Value: "evt_1"}) {
		t.Errorf("parameter %+v", p)
	}
	if p := queries[2].Params["value"]; p != (bqfake.Param{Type: "INT64", Value: "42"}) {
		t.Errorf("integer parameter %+v", p)
	}
	if p := queries[4].Params["value"]; p != (bqfake.Param{Type: "BOOL", Value: "true"}) {
		t.Errorf("boolean parameter %+v", p)
	}
	if p := queries[6].Params["value"]; p.Value != "x' OR '1'='1" || strings.Contains(queries[6].Query, "OR") {
		t.Errorf("injection attempt: query %q, parameter %+v", queries[6].Query, p)
	}
	// As with BigQuery, an empty result carries no rows, so the client reads
	// them from jobs.getQueryResults.
	if n := len(fake.RequestsOf("jobs.getQueryResults")); n != 4 {
		t.Errorf("getQueryResults requests: %d, want 4 (one per empty result)", n)
	}
}

func TestBigQueryBadIdentifiersRefused(t *testing.T) {
	fake, e := bqFakeEngine(t)
	logs := bqLogs(t, e, bqInit+`
print(bigquery.insert("webhooks`+"`"+`; DROP TABLE x", {id = "1"}))
print(bigquery.insert("other.table", {id = "1"}))
print(bigquery.record_exists("webhooks", "id`+"`"+` = 1 OR `+"`"+`x", "1"))
print(bigquery.record_exists("webhooks", "id = 1 --", "1"))
print(bigquery.record_exists("webhooks\n", "id", "1"))
print(bigquery.initialize("Bad Project!", "events", ""))
print(bigquery.initialize("proj-123", "events.x", ""))
`)
	want := []string{
		"bigquery.insert: invalid table name \"webhooks`; DROP TABLE x\"",
		"bigquery.insert: invalid table name \"other.table\"",
		"false\tbigquery.record_exists: invalid column name \"id` = 1 OR `x\"",
		"false\tbigquery.record_exists: invalid column name \"id = 1 --\"",
		"false\tbigquery.record_exists: invalid table name \"webhooks\\n\"",
		"bigquery.initialize: invalid project_id \"Bad Project!\"",
		"bigquery.initialize: invalid dataset_id \"events.x\" (letters, digits and underscores)",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if reqs := fake.Requests(); len(reqs) != 0 {
		t.Errorf("BigQuery received %d requests, want none: %+v", len(reqs), reqs)
	}
}

func TestBigQueryArgumentTypes(t *testing.T) {
	_, e := bqFakeEngine(t)
	for _, src := range []string{
		`bigquery.insert("webhooks", "not a table")`,
		`bigquery.insert({}, {id = 1})`,
		`bigquery.record_exists("webhooks", "id", {1})`,
		`bigquery.record_exists("webhooks", "id", nil)`,
	} {
		res := bqRun(t, e, bqInit+src, nil, 0)
		if res.Err == nil || !strings.Contains(res.Error, "bad argument") {
			t.Errorf("%s: error %q, want a bad argument error", src, res.Error)
		}
	}
}

func TestBigQueryServerErrors(t *testing.T) {
	fake, e := bqFakeEngine(t, bqSchema...)
	fake.FailNext(http.StatusForbidden, "accessDenied", "Access Denied: Table proj-123:events.webhooks: Permission bigquery.tables.updateData denied")
	logs := bqLogs(t, e, bqInit+`
print(bigquery.insert("webhooks", {id = "1"}))
print(bigquery.insert("missing", {id = "1"}))
print(bigquery.record_exists("missing", "id", "1"))
print(bigquery.insert("webhooks", {id = "1", colour = "red"}))
print(bigquery.insert("webhooks", {count = "many"}))
print(bigquery.record_exists("webhooks", "nope", "1"))
print(bigquery.record_exists("webhooks", "count", "42"))
print(bigquery.insert("webhooks", {}))
`)
	want := []string{
		"bigquery.insert webhooks: 403 Access Denied: Table proj-123:events.webhooks: Permission bigquery.tables.updateData denied (accessDenied)",
		"bigquery.insert missing: 404 Not found: Table proj-123:events.missing (notFound)",
		"false\tbigquery.record_exists missing: 404 Not found: Table proj-123:events.missing was not found in location US (notFound)",
		"bigquery.insert webhooks: row rejected: {Location: \"colour\"; Message: \"no such field: colour.\"; Reason: \"invalid\"}",
		"bigquery.insert webhooks: row rejected: {Location: \"count\"; Message: \"Cannot convert value to integer.\"; Reason: \"invalid\"}",
		"false\tbigquery.record_exists webhooks: 400 Unrecognized name: nope (invalidQuery)",
		"false\tbigquery.record_exists webhooks: 400 No matching signature for operator = for argument types: INT64, STRING. Supported signature: ANY = ANY (invalidQuery)",
		"bigquery.insert: row must be a table of column = value with at least one column",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if rows := fake.Rows(bqProject, bqDataset, "webhooks"); len(rows) != 0 {
		t.Errorf("rows stored despite errors: %v", rows)
	}
}

func TestBigQueryNotInitialized(t *testing.T) {
	_, e := bqFakeEngine(t)
	logs := bqLogs(t, e, `
local bigquery = require("bigquery")
print(bigquery.insert("webhooks", {id = "1"}))
print(bigquery.record_exists("webhooks", "id", "1"))
`)
	want := []string{
		"bigquery.insert: call bigquery.initialize first",
		"false\tbigquery.record_exists: call bigquery.initialize first",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
}

// The client is per invocation: the next one starts uninitialized.
func TestBigQueryClientIsPerInvocation(t *testing.T) {
	_, e := bqFakeEngine(t)
	bqLogs(t, e, bqInit)
	logs := bqLogs(t, e, `print(require("bigquery").insert("webhooks", {id = "1"}))`)
	if len(logs) != 1 || logs[0] != "bigquery.insert: call bigquery.initialize first" {
		t.Errorf("second invocation: %q", logs)
	}
}

func TestBigQueryCredentialsChecked(t *testing.T) {
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	e := bqEngine(t, builtins.BigQueryOptions{Endpoint: fake.Endpoint(), HTTPClient: ec.HTTPClient})
	good, err := fake.NewServiceAccount(bqProject, "relay@proj-123.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(good, &sa); err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) string {
		m := map[string]string{}
		for kk, vv := range sa {
			m[kk] = vv
		}
		m[k] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	const secret = "SECRET-KEY-MATERIAL-42"
	cases := []struct{ creds, want string }{
		{"", "bigquery.initialize: credentials_json is empty: pass the service account key (JSON)"},
		{`{"private_key": "` + secret, "bigquery.initialize: credentials_json is not valid JSON"},
		{with("type", "external_account"), `bigquery.initialize: credentials_json must be a service account key (type "service_account"), not "external_account"`},
		{with("private_key", secret), "bigquery.initialize: credentials_json private_key is missing or not PEM"},
		{with("private_key", "-----BEGIN PRIVATE KEY-----\nU0VDUkVULUtFWS1NQVRFUklBTC00Mg==\n-----END PRIVATE KEY-----\n"), "bigquery.initialize: credentials_json private_key is not a valid RSA private key"},
		{with("token_uri", "http://169.254.169.254/token"), "bigquery.initialize: credentials_json token_uri must be an https URL"},
		{with("client_email", ""), "bigquery.initialize: credentials_json has no client_email"},
	}
	for _, c := range cases {
		res := bqRun(t, e, `print(require("bigquery").initialize("proj-123", "events", cfg:GetValue("BQ_CREDENTIALS")))`,
			map[string]string{"BQ_CREDENTIALS": c.creds}, 0)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Logs) != 1 || res.Logs[0] != c.want {
			t.Errorf("credentials %.40q: got %q, want %q", c.creds, res.Logs, c.want)
		}
		if strings.Contains(strings.Join(res.Logs, ""), secret) || strings.Contains(strings.Join(res.Logs, ""), "PRIVATE KEY") {
			t.Errorf("error shows credential material: %q", res.Logs)
		}
	}
	if reqs := fake.Requests(); len(reqs) != 0 {
		t.Errorf("requests made with bad credentials: %+v", reqs)
	}
}

// The production path: a service-account key, an OAuth token exchange with
// its token_uri and authenticated API calls, all over TLS through egress.
func TestBigQueryServiceAccountAuth(t *testing.T) {
	fake := bqfake.NewTLS()
	t.Cleanup(fake.Close)
	fake.RequireAuth()
	fake.CreateTable(bqProject, bqDataset, "webhooks")
	const email = "relay@proj-123.iam.gserviceaccount.com"
	creds, err := fake.NewServiceAccount(bqProject, email)
	if err != nil {
		t.Fatal(err)
	}
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}, TLSClientConfig: fake.TLSConfig()})
	e := bqEngine(t, builtins.BigQueryOptions{Endpoint: fake.Endpoint(), HTTPClient: ec.HTTPClient})
	res := bqRun(t, e, `
local bigquery = require("bigquery")
local err = bigquery.initialize("proj-123", "events", cfg:GetValue("BQ_CREDENTIALS"))
if err then error(err) end
err = bigquery.insert("webhooks", {id = "evt_9"})
if err then error(err) end
print(bigquery.record_exists("webhooks", "id", "evt_9"))
`, map[string]string{"BQ_CREDENTIALS": string(creds)}, 0)
	if res.Err != nil {
		t.Fatalf("run: %v (logs %q)", res.Err, res.Logs)
	}
	if len(res.Logs) != 1 || res.Logs[0] != "true\tnil" {
		t.Errorf("logs %q", res.Logs)
	}
	tokens := fake.RequestsOf("token")
	if len(tokens) != 1 || tokens[0].Status != http.StatusOK {
		t.Fatalf("token requests: %+v (want one, answered 200: the token is reused)", tokens)
	}
	if tokens[0].ServiceAccount != email || tokens[0].Scope != "https://www.googleapis.com/auth/bigquery" {
		t.Errorf("assertion issuer %q, scope %q", tokens[0].ServiceAccount, tokens[0].Scope)
	}
	for _, r := range fake.Requests() {
		if r.Kind == "token" {
			continue
		}
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Authorization, "Bearer ya29.bqfake-") {
			t.Errorf("%s: status %d, Authorization %q", r.Kind, r.Status, r.Authorization)
		}
	}
}

// The token exchange goes through the egress client too: a token_uri the
// address guard refuses fails the call, though the API itself is allowed.
func TestBigQueryTokenExchangeThroughEgress(t *testing.T) {
	fake := bqfake.NewTLS()
	t.Cleanup(fake.Close)
	fake.CreateTable(bqProject, bqDataset, "webhooks")
	creds, err := fake.NewServiceAccount(bqProject, "relay@proj-123.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	_ = json.Unmarshal(creds, &sa)
	sa["token_uri"] = strings.Replace(sa["token_uri"], "127.0.0.1", "127.0.0.2", 1)
	creds, _ = json.Marshal(sa)

	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.1/32"}, TLSClientConfig: fake.TLSConfig()})
	e := bqEngine(t, builtins.BigQueryOptions{Endpoint: fake.Endpoint(), HTTPClient: ec.HTTPClient})
	res := bqRun(t, e, `
local bigquery = require("bigquery")
local err = bigquery.initialize("proj-123", "events", cfg:GetValue("BQ_CREDENTIALS"))
if err then error(err) end
print(bigquery.insert("webhooks", {id = "1"}))
`, map[string]string{"BQ_CREDENTIALS": string(creds)}, 0)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Logs) != 1 || !strings.Contains(res.Logs[0], "egress: address 127.0.0.2 is not allowed (loopback)") {
		t.Errorf("logs %q, want the address guard's refusal of the token endpoint", res.Logs)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("fake received %d requests, want none", n)
	}
}

func TestBigQueryEgressGuardApplies(t *testing.T) {
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	ec := bqEgress(t, egress.Config{}) // loopback not allowed
	e := bqEngine(t, builtins.BigQueryOptions{Endpoint: fake.Endpoint(), HTTPClient: ec.HTTPClient, InsecureSkipAuth: true})
	logs := bqLogs(t, e, bqInit+`print(bigquery.insert("webhooks", {id = "1"}))`)
	if len(logs) != 1 || !strings.Contains(logs[0], "egress: address 127.0.0.1 is not allowed (loopback)") {
		t.Errorf("logs %q", logs)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("fake received %d requests, want none", n)
	}
}

func TestBigQueryNoHTTPClient(t *testing.T) {
	e := bqEngine(t, builtins.BigQueryOptions{InsecureSkipAuth: true})
	logs := bqLogs(t, e, `print(require("bigquery").initialize("proj-123", "events", ""))`)
	if len(logs) != 1 || logs[0] != "bigquery.initialize: no outbound HTTP client is configured for BigQuery" {
		t.Errorf("logs %q", logs)
	}
}

// A BigQuery that never answers: the invocation's deadline ends the call.
func TestBigQueryDeadline(t *testing.T) {
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client going away
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(stuck.Close)
	ec := bqEgress(t, egress.Config{AllowRanges: []string{"127.0.0.0/8"}})
	e := bqEngine(t, builtins.BigQueryOptions{Endpoint: stuck.URL + "/bigquery/v2/", HTTPClient: ec.HTTPClient, InsecureSkipAuth: true})
	start := time.Now()
	res := bqRun(t, e, bqInit+`bigquery.insert("webhooks", {id = "1"})`, nil, 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want about the 300ms deadline", took)
	}
	if !errors.Is(res.Err, runtime.ErrTimeout) {
		t.Errorf("error %v, want a timeout", res.Err)
	}
}

// bqRecorder is a BigQueryBackend that keeps what it is given.
type bqRecorder struct {
	opened  []string // "service project.dataset creds"
	rows    []map[string]any
	tables  []string
	lookups []string
	exists  bool
	err     error
	closed  int
}

func (r *bqRecorder) Open(_ context.Context, service string, ds builtins.BigQueryDataset, creds string) (builtins.BigQuerySession, error) {
	r.opened = append(r.opened, service+" "+ds.Project+"."+ds.Dataset+" "+creds)
	return r, nil
}

func (r *bqRecorder) Insert(_ context.Context, table string, row map[string]any) error {
	r.tables = append(r.tables, table)
	r.rows = append(r.rows, row)
	return r.err
}

func (r *bqRecorder) RecordExists(_ context.Context, table, column string, value any) (bool, error) {
	r.lookups = append(r.lookups, fmt.Sprintf("%s.%s=%T:%v", table, column, value, value))
	return r.exists, r.err
}

func (r *bqRecorder) Close() error { r.closed++; return nil }

func TestBigQueryBackend(t *testing.T) {
	rec := &bqRecorder{exists: true}
	e := bqEngine(t, builtins.BigQueryOptions{Backend: rec})
	logs := bqLogs(t, e, `
local bigquery = require("bigquery")
print(bigquery.initialize("proj-123", "events", "creds"))
print(bigquery.initialize("proj-123", "events", "creds2"))
print(bigquery.insert("webhooks", {id = "evt_1", n = 3, amount = 1.5, tags = {"a"}, c = {vip = true}}))
print(bigquery.record_exists("webhooks", "n", 3))
print(bigquery.insert("bad table", {id = 1}))
print(bigquery.insert("webhooks", {}))
print(bigquery.initialize("Bad_Project", "events", "creds"))
`)
	want := []string{"nil", "nil", "nil", "true\tnil",
		`bigquery.insert: invalid table name "bad table"`,
		"bigquery.insert: row must be a table of column = value with at least one column",
		`bigquery.initialize: invalid project_id "Bad_Project"`,
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs\n%s\nwant\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
	if got := strings.Join(rec.opened, "|"); got != "ci proj-123.events creds|ci proj-123.events creds2" {
		t.Errorf("opened %s", got)
	}
	if rec.closed != 1 {
		t.Errorf("closed %d sessions, want 1 (the one initialize replaced)", rec.closed)
	}
	wantRow := map[string]any{"id": "evt_1", "n": int64(3), "amount": 1.5, "tags": []any{"a"}, "c": map[string]any{"vip": true}}
	if len(rec.rows) != 1 || !reflect.DeepEqual(rec.rows[0], wantRow) || rec.tables[0] != "webhooks" {
		t.Errorf("rows %#v in %q", rec.rows, rec.tables)
	}
	if got := strings.Join(rec.lookups, "|"); got != "webhooks.n=int64:3" {
		t.Errorf("lookups %s", got)
	}

	// Backend errors come back as err, named by operation and table.
	rec.err = errors.New("quota exceeded")
	logs = bqLogs(t, e, bqInit+`
print(bigquery.insert("webhooks", {id = "x"}))
print(bigquery.record_exists("webhooks", "id", "x"))
`)
	want = []string{"bigquery.insert webhooks: quota exceeded", "false\tbigquery.record_exists webhooks: quota exceeded"}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs %q, want %q", logs, want)
	}
}
