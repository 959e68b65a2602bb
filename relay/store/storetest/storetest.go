// Package storetest is the contract suite of the relay's stores: one set of
// tests, written only against relay.Store and relay.RetentionStore, that
// every implementation (relay/store/sqlite, relay/store/postgres) runs from
// its own tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { ... })
//	}
//
// Each test opens a new, empty store, so the tests run in parallel. What an
// implementation does beyond the interfaces (its schema, its files, its
// encryption at rest) is tested in its own package.
//
// A store that several processes share (PostgreSQL) runs the suite with
// RunOptions and Options.Pair, which opens two handles on one database:
// the concurrent claims then race through both, and the tests of
// relay.Watcher and relay.Exclusive, which skip for a store that is
// neither, run.
//
// Besides what the interfaces' docs say, the suite pins what the relay
// relies on:
//   - stored times come back exactly (to the nanosecond, in UTC): the
//     deliveries stored together are stamped a nanosecond apart, and
//     listings page by creation time;
//   - the errors of missing and taken records wrap store.ErrNotFound and
//     store.ErrConflict, and name the record as the admin API shows them
//     (`bucket "ci": already exists`);
//   - a function's Hash, when not given, is the hex SHA-256 of its source;
//   - a webhook's request comes back byte for byte, its path included (a
//     path decoded from %00 or %FF holds a NUL or a byte that is not UTF-8);
//   - buckets, inputs, outputs and functions are listed by name in byte
//     order, whatever the database's locale;
//   - the webhooks and deliveries of a deleted bucket or output are hidden
//     from every reader at once, however late the store removes them.
//
// Tests are the methods of suite whose names start with Test, found by
// reflection, so that a file of this package adds tests without a list to
// edit.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store"
)

// Store is what the suite tests: the relay's store with its retention
// purge.
type Store interface {
	relay.Store
	relay.RetentionStore
}

// Options configure RunOptions.
type Options struct {
	// Pair, when set, opens two handles on one new, empty database, as
	// two processes of a cluster would (each closed via t.Cleanup by Pair
	// itself). The tests of concurrent claims then claim through both.
	// Nil for a store that allows one process per database (SQLite): they
	// claim through one handle.
	Pair func(t *testing.T) (Store, Store)
}

// Run runs the contract suite, each test in a parallel subtest. open
// returns a new, empty store for one test; it closes the store itself,
// via t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	RunOptions(t, open, Options{})
}

// RunOptions is Run with options.
func RunOptions(t *testing.T, open func(t *testing.T) Store, opts Options) {
	s := &suite{open: open, opts: opts}
	v := reflect.ValueOf(s)
	typ := v.Type()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		name, ok := strings.CutPrefix(m.Name, "Test")
		if !ok {
			continue
		}
		test, ok := v.Method(i).Interface().(func(*testing.T))
		if !ok {
			t.Fatalf("storetest: method %s is not a test", m.Name)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t)
		})
	}
}

// suite holds the tests: each method named Test… is one.
type suite struct {
	open func(t *testing.T) Store
	opts Options
}

// pair returns two handles on one new database: the two of Options.Pair,
// or one store twice.
func (s *suite) pair(t *testing.T) (Store, Store) {
	if s.opts.Pair != nil {
		return s.opts.Pair(t)
	}
	st := s.open(t)
	return st, st
}

// openFixture opens a new store and makes in it a Fixture named name:
// where most tests start.
func (s *suite) openFixture(t *testing.T, name string, ephemeral bool) (Store, *Fixture) {
	t.Helper()
	st := s.open(t)
	return st, NewFixture(t, st, name, ephemeral)
}

// Fixture is a bucket with an input and two outputs: the records most
// tests start from, in the suite and in each store's own tests.
type Fixture struct {
	Bucket *relay.Bucket
	Input  *relay.Input
	Out1   *relay.Output
	Out2   *relay.Output
}

// NewFixture creates in st a bucket named name (ephemeral or not) with an
// input and two outputs, failing t if a write fails.
func NewFixture(t testing.TB, st relay.Store, name string, ephemeral bool) *Fixture {
	t.Helper()
	ctx := context.Background()
	f := &Fixture{
		Bucket: &relay.Bucket{Name: name, Ephemeral: ephemeral},
	}
	Must(t, st.CreateBucket(ctx, f.Bucket))
	f.Input = &relay.Input{BucketID: f.Bucket.ID, Name: "in"}
	Must(t, st.CreateInput(ctx, f.Input))
	f.Out1 = &relay.Output{BucketID: f.Bucket.ID, Name: "one", Destination: "http://one.example"}
	Must(t, st.CreateOutput(ctx, f.Out1))
	f.Out2 = &relay.Output{BucketID: f.Bucket.ID, Name: "two", Destination: "http://two.example"}
	Must(t, st.CreateOutput(ctx, f.Out2))
	return f
}

// Webhook is a new webhook of f's input with the given body (not stored).
func (f *Fixture) Webhook(body string) *relay.Webhook {
	return &relay.Webhook{
		BucketID: f.Bucket.ID,
		InputID:  f.Input.ID,
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

// Deliveries are new pending deliveries to f's two outputs (not stored).
func (f *Fixture) Deliveries() []*relay.Delivery {
	return []*relay.Delivery{{OutputID: f.Out1.ID}, {OutputID: f.Out2.ID}}
}

// Sealer is a sealer whose key is the byte b repeated: stores opened with
// the same b read each other's data.
func Sealer(t testing.TB, b byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Must fails t at once if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantErr fails t at once unless err wraps target.
func WantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want one wrapping %v", err, target)
	}
}

// WantNotFound fails t at once unless err wraps store.ErrNotFound.
func WantNotFound(t testing.TB, err error) {
	t.Helper()
	WantErr(t, err, store.ErrNotFound)
}

// WantConflict fails t at once unless err wraps store.ErrConflict.
func WantConflict(t testing.TB, err error) {
	t.Helper()
	WantErr(t, err, store.ErrConflict)
}

// errOf keeps the error of a two-result call.
func errOf[T any](_ T, err error) error { return err }

// errOf2 keeps the error of a three-result call.
func errOf2[A, B any](_ A, _ B, err error) error { return err }

func ids(ds []*relay.Delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.ID)
	}
	return s
}

// everything is a limit that lists every record of a test.
const everything = 1 << 30

// PendingDeliveries lists every pending delivery of st, oldest first.
func PendingDeliveries(ctx context.Context, st relay.Store) ([]*relay.Delivery, error) {
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{State: relay.DeliveryPending, Limit: everything})
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

// countWebhooks counts the stored webhooks.
func countWebhooks(t testing.TB, st Store) int {
	t.Helper()
	ws, err := st.ListWebhooks(context.Background(), relay.WebhookFilter{Limit: everything})
	Must(t, err)
	return len(ws)
}

// countDeliveries counts the deliveries f selects.
func countDeliveries(t testing.TB, st Store, f relay.DeliveryFilter) int {
	t.Helper()
	f.Limit = everything
	ds, err := st.ListDeliveries(context.Background(), f)
	Must(t, err)
	return len(ds)
}

// sourceHash is the hex SHA-256 of source: a function's Hash when none is
// given.
func sourceHash(source string) string {
	sum := sha256.Sum256([]byte(source))
	return hex.EncodeToString(sum[:])
}

// IDAt is a time-ordered record ID made at at (RecordIDAt, failing t on
// an error).
func IDAt(t testing.TB, at time.Time) string {
	t.Helper()
	id, err := RecordIDAt(at)
	Must(t, err)
	return id
}

// Ephemeral is a webhook of an ephemeral bucket stored with every secret
// field set (body, path, query, headers, logs, function error) and its
// first delivery: what a store's own tests inspect to see that none of it
// reached the tables.
type Ephemeral struct {
	Fixture  *Fixture
	Webhook  *relay.Webhook
	Delivery *relay.Delivery
}

// SaveEphemeral creates in st an ephemeral bucket named "eph", stores a
// webhook of it with every secret field set, and records the first of
// its deliveries' attempts (with logs), failing t if a write fails.
func SaveEphemeral(t testing.TB, st relay.Store) *Ephemeral {
	t.Helper()
	fx := NewFixture(t, st, "eph", true)
	w := fx.Webhook("EPHEMERAL-BODY")
	w.Request.Header.Set("Authorization", "secret")
	w.Logs = []string{"log"}
	w.FunctionError = "err"
	ds := fx.Deliveries()
	Must(t, st.SaveWebhook(context.Background(), w, ds))
	e := &Ephemeral{Fixture: fx, Webhook: w, Delivery: ds[0]}
	e.Attempt(t, st, 1)
	return e
}

// Attempt records attempt n of e's delivery in st: a failure (status
// 500) with logs.
func (e *Ephemeral) Attempt(t testing.TB, st relay.Store, n int) {
	t.Helper()
	e.Delivery.Attempts = n
	Must(t, st.RecordAttempt(context.Background(), e.Delivery, &relay.Attempt{Status: 500, Error: "500", Logs: []string{"attempt log"}}))
}
