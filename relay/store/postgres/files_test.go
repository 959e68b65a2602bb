package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/storetest"
)

// relationFiles returns the bytes of the files of every table, TOAST
// table and index of the store's schema, after a checkpoint has written
// them out. It skips t when the server does not let the test read its
// files (pg_read_binary_file needs a superuser or pg_read_server_files).
func relationFiles(t *testing.T, pool *pgxpool.Pool) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Skipf("this test reads the server's files, which needs a superuser: %v", err)
	}
	rows, err := pool.Query(ctx, `SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'i')
		UNION ALL
		SELECT c.relname || ' (TOAST)', pg_relation_filepath(c.reltoastrelid) FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.reltoastrelid <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for rows.Next() {
		var name, path string
		if err := rows.Scan(&name, &path); err != nil {
			t.Fatal(err)
		}
		paths[name] = path
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for name, path := range paths {
		var b []byte
		if err := pool.QueryRow(ctx, `SELECT pg_read_binary_file($1)`, path).Scan(&b); err != nil {
			t.Skipf("this test reads the server's files, which needs a superuser: %v", err)
		}
		files[name] = b
	}
	return files
}

// holding lists the files that contain needle.
func holding(files map[string][]byte, needle []byte) []string {
	var in []string
	for name, b := range files {
		if bytes.Contains(b, needle) {
			in = append(in, name)
		}
	}
	return in
}

// TestPayloadAtRestInFiles reads PostgreSQL's own files: a webhook's body,
// headers and query, and the destination's answer, are never in them in
// plaintext, small (stored inline) or large (stored in TOAST). A payload
// purge takes the sealed values out of the rows at once; PostgreSQL may
// keep a dead row version's bytes in its files until it reuses or
// rewrites the space (a plain VACUUM frees it; the test logs whether the
// bytes were still there), which is why they are sealed: the key is never
// in the database. After VACUUM FULL they are gone.
func TestPayloadAtRestInFiles(t *testing.T) {
	st := openPG(t, pgtest.DSN(t))
	pool := st.Pool()
	ctx := context.Background()
	var r [8]byte
	rand.Read(r[:])
	marker := "at-rest-marker-" + hex.EncodeToString(r[:])

	b := &relay.Bucket{Name: "files"}
	storetest.Must(t, st.CreateBucket(ctx, b))
	in := &relay.Input{BucketID: b.ID, Name: "in"}
	storetest.Must(t, st.CreateInput(ctx, in))
	out := &relay.Output{BucketID: b.ID, Name: "out", Destination: "http://out.example"}
	storetest.Must(t, st.CreateOutput(ctx, out))
	var ids []string
	for _, size := range []int{100, 20_000} {
		body := []byte(marker + " body " + strings.Repeat("b", size))
		w := &relay.Webhook{BucketID: b.ID, InputID: in.ID, Request: relay.HTTPRequest{Method: "POST", Path: "/",
			RawQuery: "q=" + marker, Header: http.Header{"X-Secret": {marker + " header"}}, Body: body}}
		d := &relay.Delivery{OutputID: out.ID}
		storetest.Must(t, st.SaveWebhook(ctx, w, []*relay.Delivery{d}))
		d.State, d.Attempts = relay.DeliverySucceeded, 1
		storetest.Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 200,
			ResponseHeader: http.Header{"X-Answer": {marker + " answer header"}}, ResponseBody: []byte(marker + " answer")}))
		ids = append(ids, w.ID)
	}

	files := relationFiles(t, pool)
	if in := holding(files, []byte(marker)); len(in) > 0 {
		t.Fatalf("the plaintext is in the files of %v", in)
	}
	// The sealed bodies are there: the search finds what is in the files.
	var sealed [][]byte
	for _, id := range ids {
		var body []byte
		storetest.Must(t, pool.QueryRow(ctx, `SELECT body FROM webhooks WHERE id = $1`, id).Scan(&body))
		if len(body) < 100 {
			t.Fatalf("sealed body of %s: %d bytes", id, len(body))
		}
		sealed = append(sealed, body[len(body)-64:])
	}
	for i, s := range sealed {
		if in := holding(files, s); len(in) == 0 {
			t.Fatalf("webhook %d's sealed body is in no file: the files read are not the store's", i)
		}
	}

	n := storetest.PurgeAll(t, st, relay.Purge{Kind: relay.PurgePayload, BucketID: b.ID, Before: time.Now().Add(time.Hour), Limit: 100})
	if n != len(ids) {
		t.Fatalf("payload purge = %d webhooks, want %d", n, len(ids))
	}
	var left int
	storetest.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE body IS NOT NULL OR headers IS NOT NULL OR raw_query IS NOT NULL`).Scan(&left))
	if left != 0 {
		t.Fatalf("%d webhooks keep a payload column", left)
	}
	_, err := pool.Exec(ctx, `VACUUM webhooks`)
	storetest.Must(t, err)
	files = relationFiles(t, pool)
	for i, s := range sealed {
		t.Logf("after a plain VACUUM, webhook %d's sealed body is in %v", i, holding(files, s))
	}
	for _, table := range []string{"webhooks", "deliveries", "attempts"} {
		_, err := pool.Exec(ctx, `VACUUM FULL `+table)
		storetest.Must(t, err)
	}
	files = relationFiles(t, pool)
	for i, s := range sealed {
		if in := holding(files, s); len(in) > 0 {
			t.Errorf("after VACUUM FULL, webhook %d's sealed body is still in %v", i, in)
		}
	}
}
