package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickstartOnAnotherPort runs the README's quickstart as a user does,
// with fnctl serve as a process, on a port other than the file's: the
// output that delivers to the relay's own inbox follows --listen, and the
// curl of the README gets the Slack message back.
func TestQuickstartOnAnotherPort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs fnctl serve")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build fnctl")
	}
	bin := filepath.Join(t.TempDir(), "fnctl")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config, err := filepath.Abs("../../examples/quickstart/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	push, err := os.ReadFile("../../testdata/github/push.json")
	if err != nil {
		t.Fatal(err)
	}

	// A free port that is not the file's 8080.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if port == 8080 {
		t.Skip("the free port is the file's own")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", config, "--listen", addr)
	cmd.Dir = t.TempDir() // relayfn.db and relayfn.key go here
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("fnctl serve:\n%s", logs.String())
		}
	}()

	base := "http://" + addr
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the relay did not come up on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/webhooks/0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10", bytes.NewReader(push))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "mona-dev pushed 3 commits to main") {
		t.Fatalf("answer %d:\n%s", resp.StatusCode, body)
	}
}
