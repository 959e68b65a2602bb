package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
)

// hexKey returns a new random key as RELAYFN_KEY takes it.
func hexKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, seal.KeySize)
	rand.Read(k)
	return hex.EncodeToString(k)
}

// env returns a Getenv that knows only RELAYFN_KEY.
func env(key string) func(string) string {
	return func(name string) string {
		if name == config.EnvKey {
			return key
		}
		return ""
	}
}

// RELAYFN_KEY, when set, is the key: the key file is neither read nor
// made, the same key opens the database again, and another is refused
// without either key in the message.
func TestKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	key := hexKey(t)
	a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, QuietToken: true, Getenv: env(key)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Server.EncryptionKeyFile); err == nil {
		t.Error("a key file was made although RELAYFN_KEY is set")
	}
	// The same key, with white space around it as a secret file may have.
	a, err = app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, QuietToken: true, Getenv: env(" " + key + "\n")})
	if err != nil {
		t.Fatalf("the same key again: %v", err)
	}
	a.Close()

	other := hexKey(t)
	a, err = app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, Getenv: env(other)})
	if err == nil {
		a.Close()
		t.Fatal("another key opened the database")
	}
	t.Logf("another key: %v", err)
	if !strings.Contains(err.Error(), config.EnvKey) || !strings.Contains(err.Error(), "not the one") {
		t.Errorf("error %q does not say the key from %s is wrong", err, config.EnvKey)
	}
	for _, k := range []string{key, other} {
		if strings.Contains(err.Error(), k) {
			t.Errorf("error %q shows a key", err)
		}
	}
}

// A malformed RELAYFN_KEY is refused before anything is written, and the
// message does not quote it.
func TestKeyFromEnvironmentMalformed(t *testing.T) {
	for _, v := range []string{"short", strings.Repeat("zz", seal.KeySize), hexKey(t) + "00"} {
		dir := t.TempDir()
		f := newFile(t, dir, "")
		a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, Getenv: env(v)})
		if err == nil {
			a.Close()
			t.Fatalf("RELAYFN_KEY=%q accepted", v)
		}
		if !strings.HasPrefix(err.Error(), config.EnvKey+": ") || strings.Contains(err.Error(), v) {
			t.Errorf("RELAYFN_KEY=%q: error %q, want one naming %s without the value", v, err, config.EnvKey)
		}
		if got := files(t, dir); len(got) != 0 {
			t.Errorf("files written: %v", got)
		}
	}
}

// A PostgreSQL store has no default key file: without server.encryption_key_file
// or RELAYFN_KEY the start is refused before anything is written or
// connected to (the URL below points nowhere).
func TestPostgresNeedsAKey(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	f.Server.Store = "postgres://relay:Hunter2Secret@127.0.0.1:1/relayfn"
	f.Server.EncryptionKeyFile = ""
	wd, _ := os.Getwd()
	a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, Getenv: env("")})
	if err == nil {
		a.Close()
		t.Fatal("a PostgreSQL store started without a key")
	}
	t.Logf("%v", err)
	for _, want := range []string{"server.encryption_key_file", config.EnvKey} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "Hunter2Secret") {
		t.Errorf("error %q shows the password", err)
	}
	if _, err := os.Stat(filepath.Join(wd, config.DefaultEncryptionKeyFile)); err == nil {
		t.Errorf("a key file %s was made in the working folder", config.DefaultEncryptionKeyFile)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
}

// The node's name comes from server.node (else the host name), is
// checked, and is on /metrics as relayfn_node_info.
func TestNodeName(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "server: {node: relay-7}")
	a := start(t, f, app.Options{QuietToken: true})
	if a.Node != "relay-7" {
		t.Errorf("Node = %q, want relay-7", a.Node)
	}
	body := getBody(t, "http://"+a.Addr().String()+"/metrics")
	if want := `relayfn_node_info{node="relay-7",store="sqlite"} 1`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}

	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	f = newFile(t, t.TempDir(), "")
	if a := start(t, f, app.Options{QuietToken: true}); a.Node != host {
		t.Errorf("Node = %q, want the host name %q", a.Node, host)
	}

	f = newFile(t, t.TempDir(), "")
	f.Server.Node = "two words"
	if a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard}); err == nil {
		a.Close()
		t.Error("a node name with a space was accepted")
	} else if !strings.Contains(err.Error(), "server.node") {
		t.Errorf("error %q does not name server.node", err)
	}
}

// getBody returns the body of a GET that must answer 200.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}
