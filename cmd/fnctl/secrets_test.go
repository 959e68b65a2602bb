package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestApplySecretsAndPrune: fnctl apply reads config values and passwords
// from the environment and from files, names keys and never values, keeps
// the keys the file does not mention, and deletes them with --prune.
func TestApplySecretsAndPrune(t *testing.T) {
	r := newAdminRelay(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "slack"), []byte("xoxb-from-a-file\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets", "pw"), []byte("basic-pw-from-file\n"), 0o600)
	write := func(doc string) string {
		p := filepath.Join(dir, "relay.yaml")
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secrets := []string{"sk_live_from_env", "xoxb-from-a-file", "basic-pw-from-file"}
	file := write(`functions:
  - name: stripe
    source: 'r:SetRequestHeader("X-Signed", cfg:GetValue("STRIPE_SECRET") ~= "" and "yes" or "no")'
    config:
      STRIPE_SECRET: {env: STRIPE_SECRET}
      SLACK_TOKEN: {file: secrets/slack}
buckets:
  - name: shop
    auth: {type: basic, username: shop, password: {file: secrets/pw}}
`)

	// A missing variable names the field, and the relay is not called.
	out, errOut, code := r.run("apply", "-f", file)
	wantCode(t, code, 2, out, errOut)
	contains(t, "missing env", errOut, `functions[0].config.STRIPE_SECRET.env: line 5: environment variable "STRIPE_SECRET" is not set`)

	r.env["STRIPE_SECRET"] = "sk_live_from_env"
	out, errOut, code = r.run("apply", "-f", file, "--dry-run")
	wantCode(t, code, 0, out, errOut)
	contains(t, "dry run", out, "would create config stripe/STRIPE_SECRET", "would create config stripe/SLACK_TOKEN")
	lacks(t, "dry run", out+errOut, secrets...)
	out = r.ok("apply", "-f", file)
	lacks(t, "apply", out, secrets...)

	fn, err := r.store.GetFunction(t.Context(), "stripe")
	if err != nil {
		t.Fatal(err)
	}
	have, _ := r.store.Config(t.Context(), fn.ID)
	if have["STRIPE_SECRET"] != "sk_live_from_env" || have["SLACK_TOKEN"] != "xoxb-from-a-file" {
		t.Fatalf("stored config = %v keys", len(have))
	}
	r.ok("function", "config", "set", "stripe", "MANUAL=by-hand")

	// The file no longer mentions SLACK_TOKEN: kept without --prune.
	file = write(`functions:
  - name: stripe
    source: 'r:SetRequestHeader("X-Signed", cfg:GetValue("STRIPE_SECRET") ~= "" and "yes" or "no")'
    config:
      STRIPE_SECRET: {env: STRIPE_SECRET}
`)
	out = r.ok("apply", "-f", file, "--dry-run")
	lacks(t, "dry run without prune", out, "SLACK_TOKEN", "MANUAL")
	r.ok("apply", "-f", file)
	have, _ = r.store.Config(t.Context(), fn.ID)
	if _, ok := have["SLACK_TOKEN"]; !ok || have["MANUAL"] != "by-hand" {
		t.Errorf("apply without --prune deleted keys: %d left", len(have))
	}
	out = r.ok("apply", "-f", file, "--prune", "--dry-run")
	contains(t, "prune dry run", out, "would delete config stripe/SLACK_TOKEN", "would delete config stripe/MANUAL")
	lacks(t, "prune dry run", out, secrets...)
	r.ok("apply", "-f", file, "--prune")
	have, _ = r.store.Config(t.Context(), fn.ID)
	if len(have) != 1 {
		t.Errorf("after --prune %d keys, want 1", len(have))
	}
}
