package bqfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/relayfn/relayfn/internal/bqfake"
)

const project = "proj-123"

func client(t *testing.T, fake *bqfake.Server, hc *http.Client) *bigquery.Client {
	t.Helper()
	if hc == nil {
		hc = &http.Client{}
	}
	c, err := bigquery.NewClient(context.Background(), project,
		option.WithHTTPClient(hc), option.WithEndpoint(fake.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

type row struct {
	ID    string
	Count int64
}

// count reads every row of q and checks each is the INT64 1.
func count(t *testing.T, it *bigquery.RowIterator) int {
	t.Helper()
	n := 0
	for {
		var vals []bigquery.Value
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(vals, []bigquery.Value{int64(1)}) {
			t.Fatalf("row %v, want [1]", vals)
		}
		n++
	}
}

func TestInsertAndQueryFastPath(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	fake.CreateTable(project, "ds", "t", bqfake.Field{Name: "ID", Type: "STRING"}, bqfake.Field{Name: "Count", Type: "INTEGER"})
	c := client(t, fake, nil)
	ins := c.Dataset("ds").Table("t").Inserter()
	if err := ins.Put(ctx(t), []*row{{"a", 1}, {"b", 2}, {"a", 3}}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Rows(project, "ds", "t"); len(got) != 3 || got[1]["ID"] != "b" || got[1]["Count"] != json.Number("2") {
		t.Fatalf("rows %v", got)
	}

	for _, tc := range []struct {
		sql   string
		value any
		want  int
	}{
		{"SELECT 1 FROM `proj-123.ds.t` WHERE ID = @v", "a", 2},
		{"SELECT 1 FROM `proj-123.ds.t` WHERE `ID` = @v LIMIT 1", "a", 1},
		{"select 1 from `proj-123.ds.t` where count = @v", 2, 1},
		{"SELECT 1 FROM ds.t WHERE Count = @v", 2.0, 1},
		{"SELECT 1 FROM `proj-123.ds.t` WHERE ID = @v", "zzz", 0},
	} {
		q := c.Query(tc.sql)
		q.Parameters = []bigquery.QueryParameter{{Name: "v", Value: tc.value}}
		it, err := q.Read(ctx(t))
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if n := count(t, it); n != tc.want {
			t.Errorf("%s with %v: %d rows, want %d", tc.sql, tc.value, n, tc.want)
		}
	}
	kinds := map[string]int{}
	for _, r := range fake.Requests() {
		kinds[r.Kind]++
	}
	// The empty result sends the client to getQueryResults, as BigQuery's
	// answer without "rows" does.
	if want := map[string]int{"tabledata.insertAll": 1, "jobs.query": 5, "jobs.getQueryResults": 1}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("requests by kind %v, want %v", kinds, want)
	}
}

// Query.Run with a job ID of our own takes the jobs.insert path; then
// jobs.getQueryResults and jobs.get.
func TestQueryJobPath(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	fake.CreateTable(project, "ds", "t")
	c := client(t, fake, nil)
	if err := c.Dataset("ds").Table("t").Inserter().Put(ctx(t), &row{"x", 1}); err != nil {
		t.Fatal(err)
	}
	q := c.Query("SELECT 1 FROM `proj-123.ds.t` WHERE ID = @id LIMIT 5")
	q.Parameters = []bigquery.QueryParameter{{Name: "id", Value: "x"}}
	q.JobID = "my-job"
	job, err := q.Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if job.ID() != "my-job" || job.Location() != "US" {
		t.Errorf("job %q in %q", job.ID(), job.Location())
	}
	it, err := job.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, it); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
	got, err := c.JobFromID(ctx(t), "my-job")
	if err != nil {
		t.Fatal(err)
	}
	if st := got.LastStatus(); st == nil || !st.Done() || st.Err() != nil {
		t.Errorf("status %+v", st)
	}
	cfg, err := got.Config()
	if err != nil {
		t.Fatal(err)
	}
	if qc, ok := cfg.(*bigquery.QueryConfig); !ok || qc.Q != q.Q {
		t.Errorf("config %#v", cfg)
	}
	inserts := fake.RequestsOf("jobs.insert")
	if len(inserts) != 1 || inserts[0].Params["id"] != (bqfake.Param{Type: "STRING", Value: "x"}) {
		t.Errorf("jobs.insert requests %+v", inserts)
	}

	// Running the same job ID again is a conflict.
	if _, err := q.Run(ctx(t)); !isAPIError(err, http.StatusConflict, "duplicate") {
		t.Errorf("second run: %v", err)
	}
}

func TestQueryErrors(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	fake.CreateTable(project, "ds", "typed", bqfake.Field{Name: "n", Type: "INT64"})
	c := client(t, fake, nil)
	for _, tc := range []struct {
		sql    string
		value  any
		code   int
		reason string
	}{
		{"SELECT * FROM `proj-123.ds.typed`", "x", 400, "invalidQuery"},
		{"SELECT 1 FROM `proj-123.ds.nope` WHERE n = @v", 1, 404, "notFound"},
		{"SELECT 1 FROM `proj-123.ds.typed` WHERE m = @v", 1, 400, "invalidQuery"},
		{"SELECT 1 FROM `proj-123.ds.typed` WHERE n = @v", "1", 400, "invalidQuery"},
		{"SELECT 1 FROM `proj-123.ds.typed` WHERE n = @other", 1, 400, "invalidQuery"},
	} {
		q := c.Query(tc.sql)
		q.Parameters = []bigquery.QueryParameter{{Name: "v", Value: tc.value}}
		_, err := q.Read(ctx(t))
		if !isAPIError(err, tc.code, tc.reason) {
			t.Errorf("%s: %v, want %d %s", tc.sql, err, tc.code, tc.reason)
		}
	}

	// On the job path a failed query is a DONE job with an error, and
	// reading it fails.
	q := c.Query("DELETE FROM x WHERE true")
	q.JobID = "bad-job"
	job, err := q.Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st := job.LastStatus(); st == nil || st.Err() == nil {
		t.Errorf("status %+v, want an error", st)
	}
	if _, err := job.Read(ctx(t)); !isAPIError(err, 400, "invalidQuery") {
		t.Errorf("read: %v", err)
	}
}

func TestInsertAllRules(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	fake.CreateTable(project, "ds", "t",
		bqfake.Field{Name: "id", Type: "STRING"},
		bqfake.Field{Name: "n", Type: "INTEGER"},
		bqfake.Field{Name: "tags", Type: "STRING", Repeated: true})
	c := client(t, fake, nil)
	tbl := c.Dataset("ds").Table("t")
	good := &bigquery.ValuesSaver{
		Schema:   bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "n", Type: bigquery.IntegerFieldType}},
		InsertID: "row-1",
		Row:      []bigquery.Value{"a", 1},
	}
	bad := &bigquery.ValuesSaver{
		Schema:   bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "n", Type: bigquery.StringFieldType}},
		InsertID: "row-2",
		Row:      []bigquery.Value{"b", "many"},
	}

	// All or nothing: the good row is "stopped".
	err := tbl.Inserter().Put(ctx(t), []*bigquery.ValuesSaver{good, bad})
	var pme bigquery.PutMultiError
	if !errors.As(err, &pme) || len(pme) != 2 {
		t.Fatalf("error %v, want two row errors", err)
	}
	if pme[0].Errors[0].(*bigquery.Error).Reason != "stopped" || pme[1].Errors[0].(*bigquery.Error).Message != "Cannot convert value to integer." {
		t.Errorf("row errors %v", pme)
	}
	if n := len(fake.Rows(project, "ds", "t")); n != 0 {
		t.Fatalf("%d rows stored, want 0", n)
	}

	// skipInvalidRows: the good row goes in.
	ins := tbl.Inserter()
	ins.SkipInvalidRows = true
	if err := ins.Put(ctx(t), []*bigquery.ValuesSaver{good, bad}); !errors.As(err, &pme) || len(pme) != 1 || pme[0].RowIndex != 1 {
		t.Fatalf("error %v, want the bad row only", err)
	}
	// The same insertId again is deduplicated.
	if err := tbl.Inserter().Put(ctx(t), good); err != nil {
		t.Fatal(err)
	}
	if rows := fake.Rows(project, "ds", "t"); len(rows) != 1 {
		t.Fatalf("rows %v, want one (deduplicated)", rows)
	}

	// Unknown fields are refused unless ignoreUnknownValues, which drops them.
	extra := &bigquery.ValuesSaver{
		Schema: bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "colour", Type: bigquery.StringFieldType}},
		Row:    []bigquery.Value{"c", "red"},
	}
	if err := tbl.Inserter().Put(ctx(t), extra); !errors.As(err, &pme) || pme[0].Errors[0].(*bigquery.Error).Message != "no such field: colour." {
		t.Errorf("unknown field: %v", err)
	}
	ins = tbl.Inserter()
	ins.IgnoreUnknownValues = true
	if err := ins.Put(ctx(t), extra); err != nil {
		t.Fatal(err)
	}
	rows := fake.Rows(project, "ds", "t")
	if len(rows) != 2 || !reflect.DeepEqual(rows[1], map[string]any{"id": "c"}) {
		t.Errorf("rows %v", rows)
	}

	// Missing tables are 404 notFound.
	if err := c.Dataset("ds").Table("missing").Inserter().Put(ctx(t), good); !isAPIError(err, 404, "notFound") {
		t.Errorf("missing table: %v", err)
	}
}

func TestFailNext(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	fake.CreateTable(project, "ds", "t")
	fake.FailNext(http.StatusForbidden, "accessDenied", "Access Denied")
	c := client(t, fake, nil)
	err := c.Dataset("ds").Table("t").Inserter().Put(ctx(t), &row{"a", 1})
	if !isAPIError(err, 403, "accessDenied") {
		t.Fatalf("error %v", err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Status != 403 || len(reqs[0].Rows) != 1 || reqs[0].Rows[0].JSON["ID"] != "a" {
		t.Errorf("recorded %+v", reqs)
	}
	if err := c.Dataset("ds").Table("t").Inserter().Put(ctx(t), &row{"a", 1}); err != nil {
		t.Errorf("the failure is for one request only: %v", err)
	}
}

func TestServiceAccountTokens(t *testing.T) {
	fake := bqfake.NewTLS()
	defer fake.Close()
	fake.RequireAuth()
	fake.CreateTable(project, "ds", "t")
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: fake.TLSConfig()}}

	// Without a token: 401, as from Google.
	err := client(t, fake, tlsClient).Dataset("ds").Table("t").Inserter().Put(ctx(t), &row{"a", 1})
	if !isAPIError(err, 401, "required") {
		t.Fatalf("unauthenticated: %v", err)
	}

	key, err := fake.NewServiceAccount(project, "sa@proj-123.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := google.JWTConfigFromJSON(key, bigquery.Scope)
	if err != nil {
		t.Fatal(err)
	}
	authed := oauth2.NewClient(context.WithValue(ctx(t), oauth2.HTTPClient, tlsClient), cfg.TokenSource(context.WithValue(ctx(t), oauth2.HTTPClient, tlsClient)))
	if err := client(t, fake, authed).Dataset("ds").Table("t").Inserter().Put(ctx(t), &row{"a", 1}); err != nil {
		t.Fatalf("authenticated: %v", err)
	}
	if fake.TokensIssued() != 1 {
		t.Errorf("%d tokens issued", fake.TokensIssued())
	}

	// A forged assertion is refused.
	resp, err := tlsClient.PostForm(fake.TokenURL(), url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJzYUBwcm9qLTEyMy5pYW0uZ3NlcnZpY2VhY2NvdW50LmNvbSJ9.c2ln"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("forged assertion: %d %v", resp.StatusCode, body)
	}
}

func TestUnknownMethod(t *testing.T) {
	fake := bqfake.New()
	defer fake.Close()
	resp, err := http.Get(fake.Endpoint() + "projects/p/datasets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if r := fake.Requests(); len(r) != 1 || r[0].Kind != "unknown" || !strings.HasSuffix(r[0].Path, "/projects/p/datasets") {
		t.Errorf("recorded %+v", r)
	}
}

func isAPIError(err error, code int, reason string) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == code && len(g.Errors) > 0 && g.Errors[0].Reason == reason
}
