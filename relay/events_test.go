package relay_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// TestEventStreamSlowReader measures the ingress with a tail of the event
// stream connected that reads nothing, against without one. The numbers
// are logged, not asserted (machines are shared and noisy); the test
// asserts that every webhook is answered and that the stream, once read,
// says how many events it dropped.
func TestEventStreamSlowReader(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	r := relaytest.New(t, relaytest.Options{})
	b := r.Bucket(&relay.Bucket{Name: "load"})
	in := r.Input(&relay.Input{BucketID: b.ID, Name: "in"})
	url := r.URL + "/v1/webhooks/" + in.ID
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const n, clients = 3000, 16
	run := func() float64 {
		t.Helper()
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bad int
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < n; i += clients {
					resp, err := hc.Post(url, "application/json", strings.NewReader(`{"n":1}`))
					if err != nil {
						mu.Lock()
						bad++
						mu.Unlock()
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						mu.Lock()
						bad++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if bad > 0 {
			t.Fatalf("%d of %d webhooks failed", bad, n)
		}
		return n / time.Since(start).Seconds()
	}
	run() // warm up
	without := run()

	// A tail that reads nothing: a raw connection that sends its request
	// and never reads the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/admin/events HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer %s\r\n\r\n", r.AdminToken)
	time.Sleep(200 * time.Millisecond) // let the subscription start
	with := run()
	t.Logf("ingress: %.0f webhooks/s without a tail, %.0f with a tail that reads nothing (%.1f%%)", without, with, 100*with/without)

	// Read the stream now: the relay dropped what the reader could not
	// take, and says so.
	conn.SetReadDeadline(time.Now().Add(relaytest.Timeout))
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	webhooks, dropped := 0, ""
	for sc.Scan() && dropped == "" {
		line := sc.Text()
		if line == "event: webhook" {
			webhooks++
		}
		if line == "event: dropped" && sc.Scan() {
			dropped = sc.Text()
		}
		if webhooks == n {
			break
		}
	}
	t.Logf("the stream held %d webhook events, then: %s", webhooks, dropped)
	if webhooks < n && dropped == "" {
		t.Errorf("the stream showed %d of %d webhooks and no dropped notice", webhooks, n)
	}
}
