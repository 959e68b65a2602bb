package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fnctlEnv runs fnctl in-process with exactly the environment env.
func fnctlEnv(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

func TestLoginPrecedence(t *testing.T) {
	r := newAdminRelay(t)
	cfgHome := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": cfgHome, "HOME": t.TempDir()}

	// A wrong token is refused and nothing is saved.
	out, errOut, code := fnctlEnv(t, env, "", "login", "--server", r.url, "--token", "nope.nope")
	wantCode(t, code, 1, out, errOut)
	path := filepath.Join(cfgHome, "relayfn", "config.yaml")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("login saved a token the relay refused")
	}

	// The token from the standard input.
	out, errOut, code = fnctlEnv(t, env, r.token+"\n", "login", "--server", r.url+"/")
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, "Logged in to "+r.url+"; saved to "+path) {
		t.Errorf("login output: %s", out)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("config folder mode %v, want 0700", di.Mode().Perm())
	}

	// Without flags or environment, the saved server and token are used.
	out, errOut, code = fnctlEnv(t, env, "", "bucket", "create", "saved")
	wantCode(t, code, 0, out, errOut)

	// A flag wins over the saved token.
	out, errOut, code = fnctlEnv(t, env, "", "bucket", "ls", "--token", "x.y")
	wantCode(t, code, 1, out, errOut)
	if !strings.Contains(errOut, "unauthorized") {
		t.Errorf("--token x.y: %s", errOut)
	}
	// So does the environment.
	envTok := map[string]string{"XDG_CONFIG_HOME": cfgHome, "FNCTL_TOKEN": "x.y"}
	_, errOut, code = fnctlEnv(t, envTok, "", "bucket", "ls")
	wantCode(t, code, 1, "", errOut)

	// Another server, by flag or environment, never gets the saved token.
	var mu sync.Mutex
	var auth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		auth = append(auth, req.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"missing or invalid admin token"}`))
	}))
	defer other.Close()
	fnctlEnv(t, env, "", "bucket", "ls", "--server", other.URL)
	fnctlEnv(t, map[string]string{"XDG_CONFIG_HOME": cfgHome, "FNCTL_SERVER": other.URL}, "", "bucket", "ls")
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 2 {
		t.Fatalf("the other server got %d requests, want 2", len(auth))
	}
	for _, a := range auth {
		if strings.Contains(a, r.token) {
			t.Errorf("the saved token went to another server: %q", a)
		}
	}

	// HOME is the fallback; logout removes the file.
	home := t.TempDir()
	henv := map[string]string{"HOME": home}
	out, errOut, code = fnctlEnv(t, henv, "", "login", "--server", r.url, "--token", r.token)
	wantCode(t, code, 0, out, errOut)
	if _, err := os.Stat(filepath.Join(home, ".config", "relayfn", "config.yaml")); err != nil {
		t.Errorf("no config under HOME: %v", err)
	}
	out, errOut, code = fnctlEnv(t, henv, "", "logout")
	wantCode(t, code, 0, out, errOut)
	if _, err := os.Stat(filepath.Join(home, ".config", "relayfn", "config.yaml")); err == nil {
		t.Error("logout left the config")
	}
}
