package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t *testing.T, key []byte) *Sealer {
	t.Helper()
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d-byte key) succeeded, want an error", n)
		}
	}
	if _, err := New(make([]byte, KeySize)); err != nil {
		t.Errorf("New(%d-byte key): %v", KeySize, err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := mustNew(t, testKey(1))
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", nil, nil},
		{"empty with aad", []byte{}, AAD("webhooks", "id", "body")},
		{"short", []byte("hello"), AAD("webhooks", "id", "body")},
		{"binary", []byte{0, 1, 2, 255, 0}, []byte{0}},
		{"large", bytes.Repeat([]byte("x"), 1<<20), AAD("t", "r", "c")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := s.Seal(tt.plaintext, tt.aad)
			if got, want := len(ct), len(tt.plaintext)+Overhead; got != want {
				t.Errorf("len(ciphertext) = %d, want %d", got, want)
			}
			if ct[0] != Version1 {
				t.Errorf("version byte = %d, want %d", ct[0], Version1)
			}
			if len(tt.plaintext) >= 4 && bytes.Contains(ct, tt.plaintext[:4]) {
				t.Errorf("ciphertext contains the plaintext")
			}
			pt, err := s.Open(ct, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(pt, tt.plaintext) {
				t.Errorf("Open = %q, want %q", pt, tt.plaintext)
			}
			if pt == nil {
				t.Errorf("Open returned nil, want a non-nil slice")
			}
		})
	}
}

func TestNonceIsRandom(t *testing.T) {
	s := mustNew(t, testKey(1))
	a := s.Seal([]byte("same"), nil)
	b := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Fatal("two seals share a nonce")
	}
}

func TestOpenRejects(t *testing.T) {
	s := mustNew(t, testKey(1))
	aad := AAD("webhooks", "w1", "body")
	ct := s.Seal([]byte("secret body"), aad)
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		msg    []byte
		aad    []byte
	}{
		{"wrong key", mustNew(t, testKey(2)), ct, aad},
		{"wrong row", s, ct, AAD("webhooks", "w2", "body")},
		{"wrong column", s, ct, AAD("webhooks", "w1", "headers")},
		{"no aad", s, ct, nil},
		{"tampered version", s, flip(0), aad},
		{"tampered nonce", s, flip(1), aad},
		{"tampered ciphertext", s, flip(Overhead - 16 + 1), aad},
		{"tampered tag", s, flip(len(ct) - 1), aad},
		{"truncated", s, ct[:len(ct)-1], aad},
		{"too short", s, ct[:Overhead-1], aad},
		{"empty", s, nil, aad},
		{"appended", s, append(bytes.Clone(ct), 0), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.sealer.Open(tt.msg, tt.aad)
			if err == nil {
				t.Fatalf("Open succeeded with %q", pt)
			}
			if !errors.Is(err, ErrOpen) {
				t.Errorf("error %v does not wrap ErrOpen", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q contains plaintext", err)
			}
		})
	}
}

func TestAADUnambiguous(t *testing.T) {
	pairs := [][2][]string{
		{{"ab", "c"}, {"a", "bc"}},
		{{"a", ""}, {"a"}},
		{{"", "a"}, {"a"}},
		{{"a\x00b"}, {"a", "b"}},
	}
	for _, p := range pairs {
		if bytes.Equal(AAD(p[0]...), AAD(p[1]...)) {
			t.Errorf("AAD(%q) == AAD(%q)", p[0], p[1])
		}
	}
}

func TestConcurrentSeal(t *testing.T) {
	s := mustNew(t, testKey(3))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			aad := AAD("r", string(rune('a'+i)))
			for range 100 {
				pt, err := s.Open(s.Seal([]byte("x"), aad), aad)
				if err != nil || string(pt) != "x" {
					t.Errorf("round trip: %q, %v", pt, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relayfn.key")

	key, created, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("first call: created=%v len=%d, want true %d", created, len(key), KeySize)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %o, want 600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 2*KeySize+1 || data[len(data)-1] != '\n' {
		t.Errorf("key file = %d bytes, want %d hex digits and a newline", len(data), 2*KeySize)
	}

	again, created, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, key) {
		t.Errorf("second call: created=%v, same key=%v; want false, true", created, bytes.Equal(again, key))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	const n = 20
	keys := make([][]byte, n)
	var created sync.Map
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, c, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k
			if c {
				created.Store(i, true)
			}
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got a different key", i)
		}
	}
	count := 0
	created.Range(func(any, any) bool { count++; return true })
	if count != 1 {
		t.Errorf("%d callers report creating the key, want 1", count)
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	secretHex := strings.Repeat("ab", KeySize)
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"too short", secretHex[:62] + "\n"},
		{"too long", secretHex + "ab\n"},
		{"not hex", "zz" + secretHex[2:] + "\n"},
		{"raw bytes", strings.Repeat("\x01", KeySize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateKey(path)
			if err == nil {
				t.Fatal("LoadOrCreateKey succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the path", msg)
			}
			if strings.Contains(msg, "abab") || strings.Contains(msg, "'z'") {
				t.Errorf("error %q leaks key material", msg)
			}
			data, _ := os.ReadFile(path)
			if string(data) != tt.content {
				t.Errorf("the refused file was modified")
			}
		})
	}
}

func TestLoadOrCreateKeyAcceptsWhitespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	want := testKey(7)
	if err := os.WriteFile(path, []byte("  "+strings.Repeat("07", KeySize)+"\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, created, err := LoadOrCreateKey(path)
	if err != nil || created || !bytes.Equal(key, want) {
		t.Fatalf("got %x, %v, %v; want the stored key", key, created, err)
	}
}

func TestLoadOrCreateKeyMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "k")
	if _, _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming %s", err, path)
	}
}
