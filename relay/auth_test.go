package relay_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/relayfn/relayfn/relay"
)

func TestVerifier(t *testing.T) {
	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	v := relay.NewVerifier()
	for i := range 2 { // the second check is answered from memory
		if !v.Check(hash, secret) {
			t.Fatalf("check %d: the right secret is refused", i+1)
		}
	}
	for _, c := range []struct{ name, hash, secret string }{
		{"wrong secret", hash, secret + "x"},
		{"empty secret", hash, ""},
		{"not a bcrypt hash", "not-a-hash", secret},
		{"secret as hash", secret, secret},
	} {
		if v.Check(c.hash, c.secret) {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestVerifierConcurrent(t *testing.T) {
	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	v := relay.NewVerifier()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s := secret
			if i%2 == 1 {
				s = "wrong"
			}
			if got, want := v.Check(hash, s), i%2 == 0; got != want {
				t.Errorf("goroutine %d: Check = %v, want %v", i, got, want)
			}
		})
	}
	wg.Wait()
}

// TestVerifierHashes: new token secrets are stored as SHA-256, and the
// bcrypt hashes of earlier tokens and of passwords still verify.
func TestVerifierHashes(t *testing.T) {
	secret, hash, err := relay.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "sha256:") || len(secret) != 43 {
		t.Fatalf("NewSecret = %d-character secret, hash %q; want 256 bits and a SHA-256 hash", len(secret), hash)
	}
	legacy, err := relay.HashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	v := relay.NewVerifier()
	for _, h := range []string{hash, legacy} {
		if ok, wait := v.Verify("k", h, secret, false); !ok || wait != 0 {
			t.Errorf("Verify(%.10s…, right secret) = %v, %v", h, ok, wait)
		}
		if ok, _ := v.Verify("k", h, secret+"x", false); ok {
			t.Errorf("Verify(%.10s…, wrong secret) accepted", h)
		}
	}
	// A missing id (empty hash) never verifies, whatever the secret.
	for _, like := range []bool{false, true} {
		if ok, _ := v.Verify("missing", "", "", like); ok {
			t.Errorf("Verify of a missing id (likeBcrypt %v) accepted", like)
		}
	}
}

// TestVerifierThrottle: failed bcrypt checks of one key are throttled
// after FailureLimit, other keys are not, and a remembered good pair is
// accepted even while its key is throttled.
func TestVerifierThrottle(t *testing.T) {
	hash, err := relay.HashSecret("right")
	if err != nil {
		t.Fatal(err)
	}
	v := relay.NewVerifier()
	if ok, _ := v.Verify("a", hash, "right", true); !ok {
		t.Fatal("right password refused")
	}
	for i := range relay.FailureLimit {
		if ok, wait := v.Verify("a", hash, "wrong", true); ok || wait != 0 {
			t.Fatalf("failure %d: %v, %v", i+1, ok, wait)
		}
	}
	if ok, wait := v.Verify("a", hash, "wrong", true); ok || wait <= 0 || wait > relay.FailureWindow {
		t.Fatalf("after %d failures: %v, wait %v; want a wait within the window", relay.FailureLimit, ok, wait)
	}
	if ok, wait := v.Verify("a", hash, "right", true); !ok || wait != 0 {
		t.Fatalf("remembered pair while throttled: %v, %v", ok, wait)
	}
	if ok, wait := v.Verify("b", hash, "wrong", true); ok || wait != 0 {
		t.Fatalf("another key: %v, %v", ok, wait)
	}
}
