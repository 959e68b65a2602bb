package relay_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// floodClient is an HTTP client that keeps enough idle connections for
// the flood's callers.
func floodClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: relaytest.Timeout}
}

func postWith(c *http.Client, url string, header http.Header) (int, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader("x"))
	if err != nil {
		return 0, err
	}
	req.Header = header
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestWrongSecretFlood measures what a valid caller, whose credential is
// not yet remembered, waits while 32 callers send a real token id with a
// wrong secret, for tokens made now (SHA-256) and tokens made by earlier
// versions (bcrypt). It logs the valid caller's p50 and p99 and asserts
// only that every valid request succeeded and the flood was refused.
func TestWrongSecretFlood(t *testing.T) {
	const (
		bad      = 32
		duration = 2 * time.Second
	)
	for _, kind := range []string{"sha256", "bcrypt"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			b := h.Bucket(&relay.Bucket{Name: "flood", Auth: relay.BucketAuth{Type: relay.AuthToken}})
			in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
			// Valid callers each use a fresh token: none is remembered yet.
			var creds []string
			n := 400 // enough for the whole flood
			if kind == "bcrypt" {
				n = 40 // bcrypt's cost: fewer are used in the time
			}
			for range n {
				secret, hash, err := relay.NewSecret()
				if err != nil {
					t.Fatal(err)
				}
				if kind == "bcrypt" {
					if hash, err = relay.HashSecret(secret); err != nil {
						t.Fatal(err)
					}
				}
				tok := &relay.Token{ID: uuid.NewString(), BucketID: b.ID, SecretHash: hash}
				if err := h.Store.CreateToken(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				creds = append(creds, relay.FormatToken(tok.ID, secret))
			}
			h.Reload()
			victimID, _, _ := relay.ParseToken(creds[0])
			url := h.URL + "/v1/webhooks/" + in.ID
			c := floodClient(t)

			ctx, cancel := context.WithTimeout(context.Background(), duration)
			defer cancel()
			var wg sync.WaitGroup
			var refused, accepted atomic.Int64
			statuses := sync.Map{}
			for range bad {
				wg.Go(func() {
					for ctx.Err() == nil {
						st, err := postWith(c, url, http.Header{"Authorization": {"Bearer " + victimID + ".wrong-secret"}})
						if err != nil {
							continue
						}
						statuses.Store(st, true)
						if st == 200 {
							accepted.Add(1)
						} else {
							refused.Add(1)
						}
					}
				})
			}
			time.Sleep(200 * time.Millisecond) // let the flood build up
			var lat []time.Duration
			for _, cred := range creds[1:] {
				if ctx.Err() != nil {
					break
				}
				start := time.Now()
				st, err := postWith(c, url, http.Header{"Authorization": {"Bearer " + cred}})
				if err != nil {
					t.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				if st != 200 {
					t.Fatalf("a valid caller got %d under the flood", st)
				}
			}
			cancel()
			wg.Wait()
			if accepted.Load() != 0 {
				t.Fatalf("%d wrong secrets accepted", accepted.Load())
			}
			var seen []int
			statuses.Range(func(k, _ any) bool { seen = append(seen, k.(int)); return true })
			slices.Sort(seen)
			slices.Sort(lat)
			pct := func(p float64) time.Duration {
				if len(lat) == 0 {
					return 0
				}
				return lat[min(len(lat)-1, int(p*float64(len(lat))))]
			}
			t.Logf("%s tokens, %d wrong-secret callers: %d refused (%.0f/s, statuses %v); valid caller (uncached): %d requests, p50 %v, p99 %v",
				kind, bad, refused.Load(), float64(refused.Load())/duration.Seconds(), seen, len(lat), pct(0.5), pct(0.99))
		})
	}
}
