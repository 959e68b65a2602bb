package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/pgtest"
	relayapp "github.com/relayfn/relayfn/relay/app"
)

// `fnctl serve --store postgres://… --node NAME` with the key in
// RELAYFN_KEY: the relay runs on PostgreSQL under its name, delivers a
// webhook, makes no key file, logs the store without its password, and
// stops on SIGTERM with status 0.
func TestServePostgres(t *testing.T) {
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	password := "PW" + randHex()
	u.User = url.UserPassword(u.User.Username(), password) // the test server trusts its clients
	dsn := u.String()
	bin := fnctlBinary(t)
	dir := t.TempDir()
	dest := newDestination(t, nil)
	secret := "SECRET" + randHex()
	writeConfig(t, dir, secret, dest.srv.URL)
	k := make([]byte, 32)
	rand.Read(k)
	key := hex.EncodeToString(k)

	p := &relayProcess{log: &processLog{addr: make(chan string, 1)}}
	cmd := exec.Command(bin, "serve", "--config", "relay.yaml", "--listen", "127.0.0.1:0", "--store", dsn, "--node", "cli-node-1")
	cmd.Dir = dir
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	p.process = startProcess(t, cmd, []string{"RELAYFN_KEY=" + key}, "RELAYFN_KEY")
	select {
	case p.addr = <-p.log.addr:
	case <-p.exited:
		t.Fatalf("the relay exited before listening: %v\n%s", p.err, p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("the relay did not listen in time\n%s", p.log)
	}

	resp, err := http.Post("http://"+p.addr+"/v1/webhooks/"+inputID, "application/json", strings.NewReader(`{"seq":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the webhook was answered %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(accepted(mustSnapshot(dest))) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook was not delivered\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, bad := dest.snapshot(); len(bad) > 0 {
		t.Errorf("the destination got requests unlike those sent: %q", bad)
	}

	p.signal(t, syscall.SIGTERM, 40*time.Second)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the relay exited %d after SIGTERM\n%s", code, p.log)
	}
	logs := p.log.String()
	if want := `"node":"cli-node-1"`; !strings.Contains(logs, want) {
		t.Errorf("the log lacks %s:\n%s", want, logs)
	}
	if !strings.Contains(logs, ":xxxxx@") {
		t.Errorf("the log does not show the store, redacted:\n%s", logs)
	}
	checkLogs(t, p, password, key, secret)
	if _, err := os.Stat(filepath.Join(dir, "relay.key")); err == nil {
		t.Error("a key file was made although RELAYFN_KEY is set")
	}
}

// A malformed --store or --node is a usage error naming the flag, without
// the password.
func TestServeStoreAndNodeFlagsChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "postgres://u:Hunter2Pw@db/relayfn?pool_max_conns=many"}, "--store"},
		{[]string{"--store", "postgres://u:Hunter2Pw@db/relayfn", "--node", "two words"}, "--node"},
	} {
		var stdout, stderr strings.Builder
		code := execute(t.Context(), append([]string{"serve"}, c.args...), strings.NewReader(""), &stdout, &stderr,
			func(string) string { return "" })
		if code == 0 || !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "Hunter2Pw") {
			t.Errorf("serve %q: exit %d, stderr %q; want a failure naming %s without the password", c.args, code, stderr.String(), c.want)
		}
		t.Logf("serve %s: %s", c.want, strings.TrimSpace(stderr.String()))
	}
}

func mustSnapshot(d *destination) []receipt {
	rs, _ := d.snapshot()
	return rs
}

// admin-token reset on PostgreSQL: with the key of RELAYFN_KEY it
// replaces the admin tokens while a node runs, and the node takes the new
// one at once; an empty database is left alone, and another key is
// refused.
func TestAdminTokenResetPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	k := make([]byte, 32)
	rand.Read(k)
	key := hex.EncodeToString(k)
	getenv := func(name string) string {
		if name == "RELAYFN_KEY" {
			return key
		}
		return ""
	}
	reset := func(dsn string, getenv func(string) string) (string, string, int) {
		var stdout, stderr strings.Builder
		code := execute(t.Context(), []string{"admin-token", "reset", "--store", dsn}, strings.NewReader(""), &stdout, &stderr, getenv)
		return stdout.String(), stderr.String(), code
	}

	// An empty database: nothing to reset, and no table made.
	if _, stderr, code := reset(dsn, getenv); code == 0 || !strings.Contains(stderr, "nothing to reset") {
		t.Fatalf("reset of an empty database: exit %d, %q", code, stderr)
	}
	if _, stderr, code := reset(dsn, getenv); !strings.Contains(stderr, "nothing to reset") {
		t.Fatalf("the first reset made tables: exit %d, %q", code, stderr)
	}

	f, err := loadServerConfig("", dsn)
	if err != nil {
		t.Fatal(err)
	}
	f.Server.Listen, f.Server.Node = "127.0.0.1:0", "reset-node"
	ra, err := relayapp.New(t.Context(), f, relayapp.Options{Logger: slog.New(slog.DiscardHandler), Getenv: getenv, QuietToken: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ra.Shutdown(context.Background()); ra.Close() })
	if err := ra.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	old := ra.AdminToken
	addr := ra.Addr().String()
	if adminStatus(t, addr, old) != http.StatusOK {
		t.Fatal("the first admin token does not work")
	}

	stdout, stderr, code := reset(dsn, getenv)
	if code != 0 {
		t.Fatalf("reset: exit %d: %s", code, stderr)
	}
	var cred string
	for _, l := range strings.Split(stdout, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			cred = l
		}
	}
	if adminStatus(t, addr, cred) != http.StatusOK {
		t.Errorf("the new admin token %q does not work on the running node (stdout %q)", cred, stdout)
	}
	if adminStatus(t, addr, old) != http.StatusUnauthorized {
		t.Error("the old admin token still works")
	}

	other := strings.Repeat("ab", 32)
	_, stderr, code = reset(dsn, func(string) string { return other })
	if code == 0 || !strings.Contains(stderr, "encryption key") || strings.Contains(stderr, other) {
		t.Errorf("reset with another key: exit %d, %q", code, stderr)
	}
}
