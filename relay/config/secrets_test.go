package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

const secretDoc = `functions:
  - name: stripe
    source: 'r:SetRequestHeader("X", cfg:GetValue("STRIPE_SECRET"))'
    config:
      STRIPE_SECRET: {env: STRIPE_SECRET}
      SLACK_TOKEN: {file: secrets/slack-token}
      PLAIN: inline
buckets:
  - name: ci
    auth: {type: basic, username: ci, password: {file: secrets/ci-password}}
`

func secretOptions(dir string, env map[string]string) config.ParseOptions {
	return config.ParseOptions{
		Name: "relay.yaml",
		Dir:  dir,
		ReadFile: func(name string) ([]byte, error) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
			}
			return b, err
		},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
}

func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "slack-token"), []byte("xoxb-file-secret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets", "ci-password"), []byte("pw-from-file"), 0o600)

	f, err := config.Parse([]byte(secretDoc), secretOptions(dir, map[string]string{"STRIPE_SECRET": "sk_env_secret"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Functions[0].Config
	if cfg["STRIPE_SECRET"] != "sk_env_secret" || cfg["SLACK_TOKEN"] != "xoxb-file-secret" || cfg["PLAIN"] != "inline" {
		t.Errorf("config = %q", cfg)
	}
	if f.Buckets[0].Auth.Password != "pw-from-file" {
		t.Errorf("password not read from its file")
	}
	// The document sent to a relay holds the values, which the admin API
	// (reading no environment or files) accepts.
	doc, err := f.Document()
	if err != nil {
		t.Fatal(err)
	}
	g, err := config.Parse(doc, config.ParseOptions{})
	if err != nil {
		t.Fatalf("the relay refuses the resolved document: %v", err)
	}
	if g.Functions[0].Config["SLACK_TOKEN"] != "xoxb-file-secret" {
		t.Errorf("resolved document config = %q", g.Functions[0].Config)
	}

	// Missing variables and files name the field and never a value.
	_, err = config.Parse([]byte(secretDoc), secretOptions(t.TempDir(), map[string]string{}))
	if err == nil {
		t.Fatal("parsed with missing secrets")
	}
	msg := err.Error()
	for _, want := range []string{
		`relay.yaml: functions[0].config.STRIPE_SECRET.env: line 5: environment variable "STRIPE_SECRET" is not set`,
		`relay.yaml: functions[0].config.SLACK_TOKEN.file: line 6: open secrets/slack-token: no such file or directory`,
		`relay.yaml: buckets[0].auth.password.file: line 10: open secrets/ci-password: no such file or directory`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}

	// The admin API reads neither.
	_, err = config.Parse([]byte(secretDoc), config.ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), "environment variables are not read here") {
		t.Errorf("admin-side parse: %v", err)
	}

	for _, tc := range []struct{ doc, want string }{
		{"functions:\n  - name: f\n    source: x = 1\n    config: {K: {env: A, file: b}}\n", "give env or file, not both"},
		{"functions:\n  - name: f\n    source: x = 1\n    config: {K: {vault: a}}\n", `unknown key "vault"`},
		{"functions:\n  - name: f\n    source: x = 1\n    config: {K: {env: ''}}\n", "want the name of an environment variable or a file"},
	} {
		_, err := config.Parse([]byte(tc.doc), secretOptions(dir, nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestApplyKeepsUnmentionedConfig: apply sets what config lists and keeps
// the rest unless PruneConfig; the dry run names keys, never values.
func TestApplyKeepsUnmentionedConfig(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	first := parse(t, "functions:\n  - name: f\n    source: x = 1\n    config: {A: one-secret, B: two-secret}\n")
	if _, err := config.Apply(ctx, st, e, first); err != nil {
		t.Fatal(err)
	}
	fn, _ := st.GetFunction(ctx, "f")
	st.SetConfig(ctx, fn.ID, "MANUAL", "set-by-hand")

	second := parse(t, "functions:\n  - name: f\n    source: x = 1\n    config: {A: one-changed}\n")
	plan, err := config.Plan(ctx, st, e, second)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(plan)
	if got["config f/A"] != config.Updated || got["config f/B"] != "" || got["config f/MANUAL"] != "" {
		t.Errorf("plan = %v", got)
	}
	js, _ := json.Marshal(plan)
	for _, secret := range []string{"one-changed", "one-secret", "two-secret", "set-by-hand"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("the dry run shows a value: %s", js)
		}
	}
	if _, err := config.Apply(ctx, st, e, second); err != nil {
		t.Fatal(err)
	}
	have, _ := st.Config(ctx, fn.ID)
	if have["A"] != "one-changed" || have["B"] != "two-secret" || have["MANUAL"] != "set-by-hand" {
		t.Errorf("config after apply = %q", have)
	}

	second.PruneConfig = true
	plan, err = config.Plan(ctx, st, e, second)
	if err != nil {
		t.Fatal(err)
	}
	got = actions(plan)
	if got["config f/B"] != config.Deleted || got["config f/MANUAL"] != config.Deleted || got["config f/A"] != config.Unchanged {
		t.Errorf("prune plan = %v", got)
	}
	if _, err := config.Apply(ctx, st, e, second); err != nil {
		t.Fatal(err)
	}
	have, _ = st.Config(ctx, fn.ID)
	if len(have) != 1 || have["A"] != "one-changed" {
		t.Errorf("config after prune = %q", have)
	}
}
