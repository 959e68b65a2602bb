package relay_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
)

// answerOf returns the status, body and WWW-Authenticate of a webhook.
func answerOf(t *testing.T, h *relaytest.Relay, id, body string, header http.Header) (int, string, string) {
	t.Helper()
	resp, b := h.Send("POST", "/v1/webhooks/"+id, body, header)
	return resp.StatusCode, b, resp.Header.Get("WWW-Authenticate")
}

// TestUnknownInputsAnswerAsOpenInputs: an unknown input answers what a
// known input of an open bucket in default mode answers, 413 over the
// body limit included; with unknown_input_status 401, what an input of a
// token bucket answers a caller without credentials.
func TestUnknownInputsAnswerAsOpenInputs(t *testing.T) {
	const limit = 1 << 20
	big := strings.Repeat("x", limit+1)
	t.Run("default", func(t *testing.T) {
		h := newHarness(t)
		b := h.Bucket(&relay.Bucket{Name: "open"})
		in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
		for _, body := range []string{"small", big} {
			ks, kb, _ := answerOf(t, h, in.ID, body, nil)
			us, ub, _ := answerOf(t, h, uuid.NewString(), body, nil)
			if ks != us || kb != ub {
				t.Errorf("body of %d bytes: known input %d %q, unknown %d %q", len(body), ks, kb, us, ub)
			}
		}
		if st, _, _ := answerOf(t, h, uuid.NewString(), big, nil); st != http.StatusRequestEntityTooLarge {
			t.Errorf("unknown input over the limit: %d, want 413", st)
		}
	})
	t.Run("401", func(t *testing.T) {
		h := relaytest.New(t, relaytest.Options{MaxBodyBytes: limit, UnknownInputStatus: http.StatusUnauthorized})
		b := h.Bucket(&relay.Bucket{Name: "tok", Auth: relay.BucketAuth{Type: relay.AuthToken}})
		in := h.Input(&relay.Input{BucketID: b.ID, Name: "in"})
		for _, body := range []string{"small", big} {
			ks, kb, kw := answerOf(t, h, in.ID, body, nil)
			us, ub, uw := answerOf(t, h, uuid.NewString(), body, nil)
			if ks != 401 || ks != us || kb != ub || kw != uw {
				t.Errorf("body of %d bytes: known input %d %q %q, unknown %d %q %q", len(body), ks, kb, kw, us, ub, uw)
			}
		}
	})
}

// TestCredentialIDExistenceHidden: a token id or basic-auth user that
// does not exist answers as a known one with a wrong secret does, down to
// the throttling of failed bcrypt checks; the times are logged.
func TestCredentialIDExistenceHidden(t *testing.T) {
	h := newHarness(t)
	hash, err := relay.HashSecret("pa55")
	if err != nil {
		t.Fatal(err)
	}
	basic := h.Bucket(&relay.Bucket{Name: "basic", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "hook", PasswordHash: hash}})
	fast := h.Bucket(&relay.Bucket{Name: "fast", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	legacy := h.Bucket(&relay.Bucket{Name: "legacy", Auth: relay.BucketAuth{Type: relay.AuthToken}})
	fastCred := newToken(t, h, fast)
	legacyTok := &relay.Token{ID: uuid.NewString(), BucketID: legacy.ID, SecretHash: hash} // made by an earlier version
	if err := h.Store.CreateToken(context.Background(), legacyTok); err != nil {
		t.Fatal(err)
	}
	bin := h.Input(&relay.Input{BucketID: basic.ID, Name: "in"})
	fin := h.Input(&relay.Input{BucketID: fast.ID, Name: "in"})
	lin := h.Input(&relay.Input{BucketID: legacy.ID, Name: "in"})
	fastID, _, _ := relay.ParseToken(fastCred)

	type probe struct {
		name   string
		input  string
		header http.Header
	}
	pairs := []struct{ known, unknown probe }{
		{probe{"basic: the bucket's user", bin.ID, http.Header{"Authorization": {basicHeader("hook", "wrong")}}},
			probe{"basic: another user", bin.ID, http.Header{"Authorization": {basicHeader("nobody", "wrong")}}}},
		{probe{"token (SHA-256): known id", fin.ID, http.Header{"Authorization": {"Bearer " + fastID + ".wrong"}}},
			probe{"token (SHA-256): unknown id", fin.ID, http.Header{"Authorization": {"Bearer " + uuid.NewString() + ".wrong"}}}},
		{probe{"token (bcrypt): known id", lin.ID, http.Header{"Authorization": {"Bearer " + legacyTok.ID + ".wrong"}}},
			probe{"token (bcrypt): unknown id", lin.ID, http.Header{"Authorization": {"Bearer " + uuid.NewString() + ".wrong"}}}},
	}
	run := func(p probe) (statuses []int, times []time.Duration, retryAfter string) {
		for range relay.FailureLimit + 2 {
			req, _ := http.NewRequest("POST", h.URL+"/v1/webhooks/"+p.input, strings.NewReader("x"))
			req.Header = p.header
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			times = append(times, time.Since(start))
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests {
				retryAfter = resp.Header.Get("Retry-After")
			}
		}
		return statuses, times, retryAfter
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds[:min(len(ds), relay.FailureLimit)])
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	for _, pr := range pairs {
		ks, kt, kr := run(pr.known)
		us, ut, ur := run(pr.unknown)
		if !slices.Equal(ks, us) || (kr == "") != (ur == "") {
			t.Errorf("%s: %v (Retry-After %q); %s: %v (Retry-After %q)", pr.known.name, ks, kr, pr.unknown.name, us, ur)
		}
		t.Logf("%s: %v, median %v; %s: %v, median %v", pr.known.name, ks, median(kt), pr.unknown.name, us, median(ut))
	}
	// bcrypt checks are throttled after FailureLimit failures; SHA-256
	// checks never are.
	if ks, _, _ := run(pairs[2].known); ks[0] != http.StatusTooManyRequests {
		t.Errorf("a throttled bcrypt token id answered %v", ks)
	}
	if ks, _, _ := run(pairs[1].known); slices.Contains(ks, http.StatusTooManyRequests) {
		t.Errorf("a SHA-256 token id was throttled: %v", ks)
	}
	// A valid SHA-256 credential works whatever failed before.
	if st, _, _ := answerOf(t, h, fin.ID, "x", http.Header{"Authorization": {"Bearer " + fastCred}}); st != 200 {
		t.Errorf("a valid token after failures: %d", st)
	}
}

// TestAdminTokenIDExistenceHidden: on the admin API, an unknown token id
// answers as a known one with a wrong secret does, throttling included.
func TestAdminTokenIDExistenceHidden(t *testing.T) {
	h := newHarness(t)
	hash, err := relay.HashSecret("old-secret")
	if err != nil {
		t.Fatal(err)
	}
	legacy := &relay.Token{ID: uuid.NewString(), Name: "old", SecretHash: hash} // an admin token of an earlier version
	if err := h.Store.CreateToken(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	run := func(cred string) (statuses []int, times []time.Duration) {
		for range relay.FailureLimit + 2 {
			req, _ := http.NewRequest("GET", h.URL+"/v1/admin/buckets", nil)
			req.Header.Set("Authorization", "Bearer "+cred)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			times = append(times, time.Since(start))
			statuses = append(statuses, resp.StatusCode)
		}
		return statuses, times
	}
	ks, kt := run(legacy.ID + ".wrong")
	us, ut := run(uuid.NewString() + ".wrong")
	if !slices.Equal(ks, us) || ks[len(ks)-1] != http.StatusTooManyRequests {
		t.Errorf("known admin token id: %v; unknown: %v; want the same, ending in 429", ks, us)
	}
	t.Logf("admin API, known id: %v %v; unknown id: %v %v", ks, kt, us, ut)
	if st, _ := run(h.AdminToken); st[0] != 200 {
		t.Errorf("the valid admin token: %v", st)
	}
}
