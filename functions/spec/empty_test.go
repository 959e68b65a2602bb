package spec

import (
	"context"
	"testing"
)

func TestTestWithoutAssertionsFails(t *testing.T) {
	spec := `
version: v1
filename: payments.lua
tests:
  - name: no expect
    request: {body: '{"id":"pi_1","amount":1,"to":"ops@example.com"}'}
  - name: empty sections
    request: {body: '{"id":"pi_1","amount":1,"to":"ops@example.com"}'}
    expect: {request: {}, response: {}, logsContain: []}
  - name: stopForwarding false asserts
    request: {body: '{"id":"pi_1","amount":1,"to":"ops@example.com"}'}
    expect: {stopForwarding: false}
  - name: error false asserts
    request: {body: '{"id":"pi_1","amount":1,"to":"ops@example.com"}'}
    expect: {error: false}
`
	r := RunFile(context.Background(), jsonEngine(t), writeSandboxSpec(t, spec), Options{Sandbox: NewSandbox(SandboxOptions{})})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := failures(r)
	want := "expect: the test asserts nothing: give it an expect (error: false checks that the function runs to its end)"
	for _, name := range []string{"no expect", "empty sections"} {
		if len(got[name]) != 1 || got[name][0] != want {
			t.Errorf("%s: failures %q, want %q", name, got[name], want)
		}
	}
	for _, name := range []string{"stopForwarding false asserts", "error false asserts"} {
		if len(got[name]) != 0 {
			t.Errorf("%s: failures %q", name, got[name])
		}
	}
}
