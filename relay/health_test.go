package relay_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store/sqlite"
)

// fullRelay starts a relay over a real SQLite file that cannot grow (its
// max_page_count is its size once set up, as a full disk would leave it),
// with an open bucket and an input, and returns its URL and the input.
func fullRelay(t *testing.T, degradedStatus int) (string, string) {
	t.Helper()
	ctx := context.Background()
	sl := newSealer(t)
	path := filepath.Join(t.TempDir(), "relay.db")
	st, err := sqlite.Open(ctx, path, sl)
	if err != nil {
		t.Fatal(err)
	}
	_, in := bucketWithInput(t, st, "full")
	var pages int
	if err := st.DB().QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, fmt.Sprintf("sqlite://%s?_pragma=max_page_count(%d)", path, pages), sl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, url := newServer(t, relay.Options{Store: st, DegradedStatus: degradedStatus})
	return url, in.ID
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestHealthDegradedWhenStoreRefusesWrites: /healthz reports "degraded"
// while the store refuses writes: 200 by default, 503 when configured;
// webhooks are answered 503 and not acknowledged.
func TestHealthDegradedWhenStoreRefusesWrites(t *testing.T) {
	h := newHarness(t)
	if st, body := get(t, h.URL+"/healthz"); st != 200 || body != `{"status":"ok"}` {
		t.Fatalf("a healthy store: %d %s", st, body)
	}
	for _, tt := range []struct{ configured, want int }{{0, 200}, {503, 503}} {
		url, input := fullRelay(t, tt.configured)
		// The probe notices before any webhook fails.
		if st, body := get(t, url+"/healthz"); st != tt.want || !strings.Contains(body, `"degraded"`) {
			t.Errorf("degraded_status %d, before any webhook: /healthz = %d %s", tt.configured, st, body)
		}
		if st := postWebhook(t, url, input, strings.Repeat("x", 64<<10)); st != http.StatusServiceUnavailable {
			t.Errorf("a webhook the store cannot take: %d, want 503", st)
		}
		st, body := get(t, url+"/healthz")
		if st != tt.want || body != `{"status":"degraded","store":"refuses writes"}` {
			t.Errorf("degraded_status %d: /healthz = %d %s, want %d and degraded", tt.configured, st, body, tt.want)
		}
	}
}

// slowProbe is a store whose write probe takes delay, or ends with its
// context.
type slowProbe struct {
	*sqlite.Store
	delay time.Duration
}

func (s slowProbe) CheckWrite(ctx context.Context) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.CheckWrite(ctx)
}

// TestHealthCallerGivingUpIsNoStoreFailure: a /healthz caller that hangs
// up during the store's probe (a load balancer's short timeout) does not
// make the probe fail, so the next caller is told "ok", not "degraded".
func TestHealthCallerGivingUpIsNoStoreFailure(t *testing.T) {
	ctx := context.Background()
	_, url := newServer(t, relay.Options{Store: slowProbe{Store: openSQLite(t), delay: time.Second}, DegradedStatus: 503})

	impatient, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(impatient, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the impatient caller got an answer (%d) before the probe ended", resp.StatusCode)
	}
	if st, body := get(t, url+"/healthz"); st != 200 || body != `{"status":"ok"}` {
		t.Errorf("after a caller hung up during the probe: /healthz = %d %s, want 200 ok", st, body)
	}
}
