package relay_test

import (
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
