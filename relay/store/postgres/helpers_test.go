package postgres

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/internal/pgtest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store"
)

func testSealer(t testing.TB, b byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openAt opens the store at dsn and closes it when the test ends.
func openAt(t testing.TB, dsn string, sl *seal.Sealer, opts Options) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsn, sl, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newStore opens a store in a new schema and returns it with its DSN.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	return openAt(t, dsn, testSealer(t, 1), Options{}), dsn
}

// fixture is a bucket with an input and two outputs.
type fixture struct {
	bucket *relay.Bucket
	input  *relay.Input
	out1   *relay.Output
	out2   *relay.Output
}

func newFixture(t testing.TB, st *Store, name string, ephemeral bool) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{
		bucket: &relay.Bucket{Name: name, Ephemeral: ephemeral},
	}
	must(t, st.CreateBucket(ctx, f.bucket))
	f.input = &relay.Input{BucketID: f.bucket.ID, Name: "in"}
	must(t, st.CreateInput(ctx, f.input))
	f.out1 = &relay.Output{BucketID: f.bucket.ID, Name: "one", Destination: "http://one.example"}
	must(t, st.CreateOutput(ctx, f.out1))
	f.out2 = &relay.Output{BucketID: f.bucket.ID, Name: "two", Destination: "http://two.example"}
	must(t, st.CreateOutput(ctx, f.out2))
	return f
}

// webhook is a webhook of f's input with the given body.
func (f *fixture) webhook(body string) *relay.Webhook {
	return &relay.Webhook{
		BucketID: f.bucket.ID,
		InputID:  f.input.ID,
		Request: relay.HTTPRequest{
			Method:   http.MethodPost,
			Path:     "/extra",
			RawQuery: "a=1",
			Header:   http.Header{"Content-Type": {"application/json"}},
			Body:     []byte(body),
		},
		Status: 200,
	}
}

// deliveries are pending deliveries to f's outputs.
func (f *fixture) deliveries() []*relay.Delivery {
	return []*relay.Delivery{{OutputID: f.out1.ID}, {OutputID: f.out2.ID}}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want one wrapping %v", err, target)
	}
}

func wantNotFound(t testing.TB, err error) {
	t.Helper()
	wantErr(t, err, store.ErrNotFound)
}

func wantConflict(t testing.TB, err error) {
	t.Helper()
	wantErr(t, err, store.ErrConflict)
}

// count counts the rows of a table matching where.
func count(t testing.TB, st *Store, table, where string, args ...any) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	must(t, st.Pool().QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}

// pendingDeliveries lists every pending delivery, oldest first.
func pendingDeliveries(ctx context.Context, st *Store) ([]*relay.Delivery, error) {
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{State: relay.DeliveryPending, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ds, func(a, b *relay.Delivery) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ds, nil
}

func errOf[T any](_ T, err error) error { return err }
