package relay_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// newSealer returns a sealer with a random key; the stores a test opens
// with it (the nodes of a cluster) share the key.
func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sl, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// openSQLite opens a fresh SQLite store in a temporary folder, with a
// random key, closed at the test's end.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relay.db"), newSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newServer builds a relay.Server from opts for the tests that need one
// on a store or with options relaytest's relay does not take: Engine and
// Sender are set here, to a runtime engine and an egress client of the
// server's own that lets loopback through (the tests' destinations are
// httptest servers). Its ingress is served at the returned URL. The
// caller starts its delivery engine (Start) if the test needs one; the
// test's cleanup shuts the server down, failing the test on an error,
// and then closes the engine and the egress client.
func newServer(t *testing.T, opts relay.Options) (*relay.Server, string) {
	t.Helper()
	eg, err := egress.New(egress.Config{AllowRanges: []string{"127.0.0.0/8", "::1/128"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eg.Close)
	e, err := runtime.New(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	opts.Engine, opts.Sender = e, eg
	srv, err := relay.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("node %q: shutdown: %v", opts.Node, err)
		}
		ts.Close()
	})
	return srv, ts.URL
}

// configStore is the part of a store the tests set their buckets,
// inputs and outputs up through.
type configStore interface {
	CreateBucket(ctx context.Context, b *relay.Bucket) error
	CreateInput(ctx context.Context, in *relay.Input) error
	CreateOutput(ctx context.Context, out *relay.Output) error
}

// bucketWithInput stores a bucket named name and an input "in" of it.
func bucketWithInput(t *testing.T, st configStore, name string) (*relay.Bucket, *relay.Input) {
	t.Helper()
	ctx := context.Background()
	b := &relay.Bucket{Name: name}
	if err := st.CreateBucket(ctx, b); err != nil {
		t.Fatal(err)
	}
	in := &relay.Input{BucketID: b.ID, Name: "in"}
	if err := st.CreateInput(ctx, in); err != nil {
		t.Fatal(err)
	}
	return b, in
}

// createOutput stores o.
func createOutput(t *testing.T, st configStore, o *relay.Output) *relay.Output {
	t.Helper()
	if err := st.CreateOutput(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// metricSeries reads the counter or gauge name of g: each series' value
// by the value of its one label, or under "" for a metric without
// labels. It fails the test if g has no metric name.
func metricSeries(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		series := map[string]float64{}
		for _, m := range mf.GetMetric() {
			var label string
			if ls := m.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				series[label] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				series[label] = m.GetGauge().GetValue()
			default:
				t.Fatalf("metric %s is neither a counter nor a gauge", name)
			}
		}
		return series
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// metricValue reads the counter or gauge name of g, a metric without
// labels. It fails the test if g has no such metric.
func metricValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	series := metricSeries(t, g, name)
	v, ok := series[""]
	if !ok || len(series) != 1 {
		t.Fatalf("metric %s: %v, want one series without labels", name, series)
	}
	return v
}

// agentCredential stores an agent token tok (its secret hash set here)
// in st and returns the credential an agent presents.
func agentCredential(t *testing.T, st interface {
	CreateAgentToken(ctx context.Context, tok *relay.AgentToken) error
}, tok *relay.AgentToken) string {
	t.Helper()
	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok.SecretHash = hash
	if err := st.CreateAgentToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return relay.FormatToken(tok.ID, secret)
}

// postWebhook posts body to the input inputID of the relay serving its
// ingress at url, and returns the answer's status.
func postWebhook(t *testing.T, url, inputID, body string) int {
	t.Helper()
	resp, err := http.Post(url+"/v1/webhooks/"+inputID, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
