package console

import (
	"strings"
	"testing"
	"time"
)

func TestSessionCookies(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &sessions{key: []byte(strings.Repeat("k", 32)), ttl: time.Hour, now: func() time.Time { return now }}
	ss, err := s.newSession("tok-1")
	if err != nil {
		t.Fatal(err)
	}
	v := s.encode(ss)
	got, err := s.decode(v)
	if err != nil || got.TokenID != "tok-1" || got.Nonce != ss.Nonce {
		t.Fatalf("decode(encode) = %+v, %v", got, err)
	}
	other := &sessions{key: []byte(strings.Repeat("x", 32)), ttl: time.Hour, now: s.now}
	payload, sig, _ := strings.Cut(v, ".")
	flip := "A"
	if payload[:1] == "A" {
		flip = "B"
	}
	forged := flip + payload[1:] + "." + sig
	for name, bad := range map[string]func() error{
		"other key": func() error { _, err := other.decode(v); return err },
		"tampered":  func() error { _, err := s.decode(forged); return err },
		"no MAC":    func() error { _, err := s.decode(payload); return err },
		"expired": func() error {
			later := &sessions{key: s.key, ttl: time.Hour, now: func() time.Time { return now.Add(time.Hour) }}
			_, err := later.decode(v)
			return err
		},
	} {
		if bad() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The CSRF token is per session.
	ss2, _ := s.newSession("tok-1")
	if s.csrf(ss) == s.csrf(ss2) || s.csrf(ss) == "" {
		t.Errorf("CSRF tokens of two sessions: %q, %q", s.csrf(ss), s.csrf(ss2))
	}
}
