package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBinary runs the fnctl binary in dir and returns its output and exit
// status.
func runBinary(t *testing.T, bin, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// dirFiles lists the names in dir.
func dirFiles(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// adminStatus is the status of GET /v1/admin/buckets with token.
func adminStatus(t *testing.T, addr, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/admin/buckets", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A relay.yaml with an error, or a port already taken, stops fnctl serve
// before it writes anything: no database, no key file.
func TestServeRefusalsWriteNothing(t *testing.T) {
	bin := fnctlBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, yaml, listen string
		code               int
		want               string
	}{
		{"invalid config", "server:\n  store: sqlite://relay.db\nbuckets:\n  - name: ci\n    outputs:\n      - name: o\n        destination: ftp://x\n",
			"127.0.0.1:0", 2, `buckets[0].outputs[0].destination: line 7: "ftp://x" is not an http(s) URL`},
		{"port taken", "server:\n  store: sqlite://relay.db\n", taken.Addr().String(), 1, "server.listen:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runBinary(t, bin, dir, "serve", "--config", "relay.yaml", "--listen", tt.listen)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if got := dirFiles(t, dir); got != "relay.yaml" {
				t.Errorf("files after the refusal: %s; want only relay.yaml", got)
			}
		})
	}
}

// fnctl admin-token reset refuses while a relay runs on the store, and
// once it is stopped replaces the admin tokens: the old one no longer
// works, the printed one does.
func TestAdminTokenReset(t *testing.T) {
	bin := fnctlBinary(t)
	dir := t.TempDir()
	cfg := "server:\n  store: sqlite://relay.db\n  encryption_key_file: relay.key\n  admin:\n    token_file: admin.token\n"
	if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startRelay(t, bin, dir)
	var old string
	deadline := time.Now().Add(30 * time.Second)
	for old == "" && time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
		old = strings.TrimSpace(string(b))
		time.Sleep(20 * time.Millisecond)
	}
	if old == "" {
		t.Fatalf("no admin token file\n%s", p.log)
	}
	if strings.Contains(p.log.String(), old) {
		t.Errorf("the relay printed the admin token although token_file is set")
	}
	if got := adminStatus(t, p.addr, old); got != http.StatusOK {
		t.Fatalf("the first admin token: %d", got)
	}

	_, stderr, code := runBinary(t, bin, dir, "admin-token", "reset", "--config", "relay.yaml")
	if code == 0 || !strings.Contains(stderr, "a relay is running on relay.db") || !strings.Contains(stderr, "stop it first") {
		t.Errorf("reset while serving: exit %d, stderr %q; want a refusal that explains", code, stderr)
	}
	if got := adminStatus(t, p.addr, old); got != http.StatusOK {
		t.Errorf("the refused reset changed the tokens: old token answered %d", got)
	}
	p.signal(t, syscall.SIGTERM, 30*time.Second)

	stdout, stderr, code := runBinary(t, bin, dir, "admin-token", "reset", "--config", "relay.yaml")
	if code != 0 {
		t.Fatalf("reset: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "Removed 1 admin token(s)") {
		t.Errorf("reset stderr %q", stderr)
	}
	var cred string
	for _, line := range strings.Split(stdout, "\n") {
		if l := strings.TrimSpace(line); strings.Count(l, ".") == 1 && !strings.Contains(l, " ") {
			cred = l
		}
	}
	if cred == "" || cred == old || strings.Count(stdout, cred) != 2 {
		t.Fatalf("reset stdout %q: no new credential", stdout)
	}

	p2 := startRelay(t, bin, dir)
	if got := adminStatus(t, p2.addr, cred); got != http.StatusOK {
		t.Errorf("the new admin token: %d", got)
	}
	if got := adminStatus(t, p2.addr, old); got != http.StatusUnauthorized {
		t.Errorf("the old admin token: %d, want 401", got)
	}
	p2.signal(t, syscall.SIGTERM, 30*time.Second)

	// Without the key file, nothing is reset and no key is made.
	if err := os.Remove(filepath.Join(dir, "relay.key")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runBinary(t, bin, dir, "admin-token", "reset", "--config", "relay.yaml"); code == 0 || !strings.Contains(stderr, "server.encryption_key_file") {
		t.Errorf("reset without the key: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "relay.key")); err == nil {
		t.Error("reset made a new key file")
	}
}
