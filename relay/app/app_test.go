package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
)

// newFile returns the relay.yaml of a test: defaults, with the store and
// key file in dir and the public listener on a free loopback port.
func newFile(t *testing.T, dir, yaml string) *config.File {
	t.Helper()
	if yaml == "" {
		yaml = "{}"
	}
	f, err := config.Parse([]byte(yaml), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Server.Store = "sqlite://" + filepath.Join(dir, "relay.db")
	f.Server.EncryptionKeyFile = filepath.Join(dir, "relay.key")
	if f.Server.Listen == config.DefaultListen {
		f.Server.Listen = "127.0.0.1:0"
	}
	return f
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// start builds and starts an app, stopping it in the test's cleanup.
func start(t *testing.T, f *config.File, opts app.Options) *app.App {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog()
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	a, err := app.New(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A port already taken fails the start before anything is written: no
// database, no key file.
func TestPortTakenWritesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, which := range []string{"listen", "admin.listen"} {
		t.Run(which, func(t *testing.T) {
			dir := t.TempDir()
			f := newFile(t, dir, "")
			if which == "listen" {
				f.Server.Listen = taken.Addr().String()
			} else {
				f.Server.Admin.Listen = taken.Addr().String()
			}
			a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard})
			if err == nil {
				a.Close()
				t.Fatal("New succeeded on a taken port")
			}
			if !strings.Contains(err.Error(), "server."+which) {
				t.Errorf("error %q does not name server.%s", err, which)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Errorf("files written: %v", got)
			}
		})
	}
}

// A database whose key file is missing is refused, and no new key file is
// made beside it (a new key could not open the sealed data).
func TestMissingKeyBesideDatabase(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	a, err := app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard, QuietToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.Server.EncryptionKeyFile); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)
	a, err = app.New(context.Background(), f, app.Options{Logger: quietLog(), Stderr: io.Discard})
	if err == nil {
		a.Close()
		t.Fatal("New started without the key file of an existing database")
	}
	for _, want := range []string{"server.encryption_key_file", "does not exist", "relay.db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(f.Server.EncryptionKeyFile); err == nil {
		t.Error("a new key file was made")
	}
	if after := files(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("files changed: %v → %v", before, after)
	}
}

// With token_file, the first admin token is written there (mode 0600) and
// not printed; stderr says where it is.
func TestTokenFileNotPrinted(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	f.Server.Admin.TokenFile = filepath.Join(dir, "admin.token")
	var stderr bytes.Buffer
	a := start(t, f, app.Options{Stderr: &stderr})
	if a.AdminToken == "" {
		t.Fatal("no admin token made")
	}
	if strings.Contains(stderr.String(), a.AdminToken) {
		t.Errorf("stderr shows the token: %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), f.Server.Admin.TokenFile) {
		t.Errorf("stderr does not say where the token is: %q", stderr.String())
	}
	b, err := os.ReadFile(f.Server.Admin.TokenFile)
	if err != nil || strings.TrimSpace(string(b)) != a.AdminToken {
		t.Fatalf("token file = %q, %v", b, err)
	}
	if fi, err := os.Stat(f.Server.Admin.TokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// Without token_file, the token is printed once, after the listener is up.
func TestTokenPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	var stderr bytes.Buffer
	a := start(t, f, app.Options{Stderr: &stderr})
	if a.AdminToken == "" || !strings.Contains(stderr.String(), a.AdminToken) {
		t.Fatalf("stderr %q lacks the admin token", stderr.String())
	}
	if got := get(t, "http://"+a.Addr().String()+"/v1/admin/buckets", a.AdminToken); got != http.StatusOK {
		t.Errorf("admin API with the printed token: %d", got)
	}
}

// With admin.listen, the admin API, the console and /metrics answer only there; the
// public port serves webhooks and /healthz.
func TestAdminListenSplitsSurfaces(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	f.Server.Admin.Listen = "127.0.0.1:0"
	a := start(t, f, app.Options{QuietToken: true})
	pub := "http://" + a.Addr().String()
	adm := "http://" + a.AdminAddr().String()
	if a.AdminAddr().String() == a.Addr().String() {
		t.Fatalf("one address for both: %s", a.Addr())
	}
	tests := []struct {
		url, token string
		want       int
	}{
		{pub + "/v1/admin/buckets", a.AdminToken, http.StatusNotFound},
		{pub + "/metrics", "", http.StatusNotFound},
		{pub + "/ui/login", "", http.StatusNotFound},
		{pub + "/healthz", "", http.StatusOK},
		{adm + "/ui/login", "", http.StatusOK},
		{adm + "/v1/admin/buckets", a.AdminToken, http.StatusOK},
		{adm + "/v1/admin/buckets", "", http.StatusUnauthorized},
		{adm + "/metrics", "", http.StatusOK},
		{adm + "/healthz", "", http.StatusOK},
		{adm + "/v1/webhooks/3d1f6a52-9b7e-4c1a-8f20-6e5d4c3b2a19", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := get(t, tt.url, tt.token); got != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.url, got, tt.want)
		}
	}
}

// Without admin.listen, one port serves everything (the quickstart).
func TestOnePortMode(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	a := start(t, f, app.Options{QuietToken: true})
	if a.AdminAddr() != nil {
		t.Fatalf("AdminAddr = %v in one-port mode", a.AdminAddr())
	}
	pub := "http://" + a.Addr().String()
	for _, p := range []string{"/v1/admin/buckets", "/metrics", "/healthz", "/ui/login"} {
		if got := get(t, pub+p, a.AdminToken); got != http.StatusOK {
			t.Errorf("GET %s = %d", p, got)
		}
	}
}

// A second relay on the same database is refused by the store's lock,
// and writes no new file.
func TestSecondRelayOnSameStoreRefused(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	start(t, f, app.Options{QuietToken: true})
	before := files(t, dir)
	f2 := newFile(t, dir, "")
	a, err := app.New(context.Background(), f2, app.Options{Logger: quietLog(), Stderr: io.Discard})
	if err == nil {
		a.Close()
		t.Fatal("a second relay started on the same database")
	}
	if !strings.Contains(err.Error(), "another relay") {
		t.Errorf("error %q does not explain the lock", err)
	}
	if after := files(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("files changed: %v → %v", before, after)
	}
}
