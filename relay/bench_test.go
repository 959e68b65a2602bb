package relay_test

// The relay's throughput against a plain httputil.ReverseProxy forwarding
// the same webhooks to the same local destination, in the same run:
//
//	go test ./relay -run XXX -bench Forwarding -benchtime 5000x
//
// Each iteration is one webhook, sent by parallel clients. The relay
// answers at once (default mode) after committing the webhook, and delivers
// in the background; its timer stops only when the destination has received
// every webhook, so both measure end-to-end forwarding. The relay's run
// also reports how long the senders waited for all their answers
// (answered-ns/op) and the p99 of its input function's invocations.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

const benchBody = `{"action":"opened","number":42,"repository":{"full_name":"mona/demo"},"sender":{"login":"mona"}}`

func benchDestination(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(dest.Close)
	return dest, &n
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
}

func post(b *testing.B, c *http.Client, url string) {
	resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(benchBody)))
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}

func BenchmarkForwarding(b *testing.B) {
	b.Run("reverse-proxy", func(b *testing.B) {
		dest, got := benchDestination(b)
		target, _ := url.Parse(dest.URL)
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
		front := httptest.NewServer(rp)
		defer front.Close()
		c := benchClient()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, c, front.URL+"/hooks")
			}
		})
		b.StopTimer()
		if got.Load() != int64(b.N) {
			b.Fatalf("destination got %d of %d", got.Load(), b.N)
		}
	})
	b.Run("relay", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		h := relaytest.New(b, relaytest.Options{Registerer: reg})
		dest, got := benchDestination(b)
		fn := h.Function("tag", `r:SetRequestHeader("X-Relayed", "1")`)
		bk := h.Bucket(&relay.Bucket{Name: "bench"})
		in := h.Input(&relay.Input{BucketID: bk.ID, Name: "in", FunctionID: fn.ID})
		h.Output(&relay.Output{BucketID: bk.ID, Name: "dest", Destination: dest.URL})
		c := benchClient()
		b.SetParallelism(16)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, c, h.URL+"/v1/webhooks/"+in.ID+"/hooks")
			}
		})
		answered := time.Since(start)
		for got.Load() < int64(b.N) {
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		// What the senders saw: every webhook stored and answered, the
		// deliveries of the last ones still under way.
		b.ReportMetric(float64(answered.Microseconds())/float64(b.N)*1000, "answered-ns/op")
		b.ReportMetric(p99(b, reg, "relayfn_function_duration_seconds")*1e6, "fn-p99-us")
	})
}

// p99 estimates the 99th percentile of a histogram from its buckets (the
// upper bound of the bucket it falls in).
func p99(b *testing.B, g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var h *dto.Histogram
		for _, m := range mf.Metric {
			h = m.Histogram
		}
		total := h.GetSampleCount()
		bs := h.Bucket
		sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
		for _, bk := range bs {
			if float64(bk.GetCumulativeCount()) >= 0.99*float64(total) {
				return bk.GetUpperBound()
			}
		}
	}
	return -1
}
