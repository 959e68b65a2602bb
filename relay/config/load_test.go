package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/errors")

func TestLoadExample(t *testing.T) {
	t.Setenv("RELAYFN_TEST_SHOP_PASSWORD", "s3cret")
	f, err := config.Load("testdata/ok/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := f.Server
	if s.Listen != "127.0.0.1:9090" || s.Store != config.DefaultStore || s.KeyFile() != "relayfn.key" ||
		s.UnknownInputStatus != 200 || s.MaxBodyBytes != config.DefaultMaxBodyBytes {
		t.Errorf("server = %+v, want the defaults filled in", s)
	}
	if got := time.Duration(s.Egress.Timeout); got != 20*time.Second {
		t.Errorf("egress.timeout = %v", got)
	}
	if got, want := f.Resolve(s.Admin.TokenFile), filepath.Join("testdata", "ok", "admin.token"); got != want {
		t.Errorf("Resolve(token_file) = %q, want %q", got, want)
	}
	if len(f.Functions) != 3 {
		t.Fatalf("functions = %d, want 3", len(f.Functions))
	}
	if !strings.Contains(f.Functions[0].Source, "GitHub event") {
		t.Errorf("functions[0].Source was not read from its file: %q", f.Functions[0].Source)
	}
	if f.Functions[0].Timeout != config.Duration(5*time.Second) {
		t.Errorf("functions[0].timeout = %v", f.Functions[0].Timeout)
	}
	if f.Functions[1].Config != nil {
		t.Errorf("functions[1].config = %v, want nil (left out)", f.Functions[1].Config)
	}
	ci := f.Buckets[0]
	if ci.Inputs[0].ID != "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10" {
		t.Errorf("input id = %q, want it in canonical form", ci.Inputs[0].ID)
	}
	if ci.Inputs[1].Response.Headers["X-Handled"] != "yes" || ci.Inputs[1].Response.Status != 202 {
		t.Errorf("static response = %+v", ci.Inputs[1].Response)
	}
	if r := ci.Outputs[0].Retries; r.MaxAttempts != 8 || time.Duration(r.MaxInterval) != 10*time.Minute {
		t.Errorf("retries = %+v", r)
	}
	if ci.Outputs[0].MaxInFlight != 0 || ci.Outputs[1].MaxInFlight != 4 {
		t.Errorf("max_in_flight = %d, %d; want 0 (the default) and 4", ci.Outputs[0].MaxInFlight, ci.Outputs[1].MaxInFlight)
	}
	if got := f.Buckets[1].Auth; got.Password != "s3cret" || got.Username != "shopify" {
		t.Errorf("basic auth = %+v, want the password read from the environment", got)
	}
	if f.Buckets[1].Inputs[0].Response.Mode != "destination" || f.Buckets[1].Inputs[0].Response.Timeout != config.Duration(3*time.Second) {
		t.Errorf("destination response = %+v", f.Buckets[1].Inputs[0].Response)
	}
	cfg, err := f.EgressConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Proxy != "http://smokescreen.internal:4750" || len(cfg.AllowRanges) != 2 || cfg.Timeout != 20*time.Second {
		t.Errorf("EgressConfig = %+v", cfg)
	}
}

func TestLoadDefaults(t *testing.T) {
	f, err := config.Parse([]byte("{}"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.Listen != ":8080" || f.Server.Store != "sqlite://relayfn.db" ||
		f.Server.KeyFile() != "relayfn.key" || f.Server.UnknownInputStatus != 200 {
		t.Errorf("defaults = %+v", f.Server)
	}
	if _, err := config.Parse(nil, config.ParseOptions{}); err != nil {
		t.Errorf("an empty document: %v", err)
	}
}

// TestLoadErrors loads every testdata/errors/*.yaml and compares the error
// with the .golden file beside it (go test -update rewrites them).
func TestLoadErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d error cases", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, loadErr := config.Load(path)
			if loadErr == nil {
				t.Fatal("Load succeeded, want an error")
			}
			got := loadErr.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			var fe *config.FieldError
			if !errors.As(loadErr, &fe) {
				t.Errorf("error is not a *config.FieldError: %T", loadErr)
			}
		})
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	for _, path := range []string{"testdata/errors/bad_auth.yaml", "testdata/errors/server.yaml"} {
		_, err := config.Load(path)
		if err == nil {
			t.Fatalf("%s: no error", path)
		}
		for _, secret := range []string{"hunter2", "secret@"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error shows a secret:\n%v", path, err)
			}
		}
	}
}

func TestFieldErrorPathAndLine(t *testing.T) {
	doc := "buckets:\n  - name: ci\n    outputs:\n      - name: a\n        destination: https://x.example\n      - name: b\n        destination: ftp://x\n"
	_, err := config.Parse([]byte(doc), config.ParseOptions{})
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *config.FieldError", err)
	}
	if fe.Path != "buckets[0].outputs[1].destination" || fe.Line != 7 || fe.File != "relay.yaml" {
		t.Errorf("FieldError = %+v", fe)
	}
	if want := `relay.yaml: buckets[0].outputs[1].destination: line 7: "ftp://x" is not an http(s) URL`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestParseRefusesFilesAndEnvironment(t *testing.T) {
	doc := `
functions:
  - name: f
    file: /etc/passwd
buckets:
  - name: b
    auth: {type: basic, username: u, password_env: HOME}
`
	_, err := config.Parse([]byte(doc), config.ParseOptions{Name: "request"})
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	for _, want := range []string{
		"request: functions[0].file: line 4: not allowed here",
		"request: buckets[0].auth.password_env: line 7: not allowed here",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	t.Setenv("RELAYFN_TEST_SHOP_PASSWORD", "s3cret")
	f, err := config.Load("testdata/ok/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Functions[2].Config = map[string]string{} // given and empty: must survive
	doc, err := f.Document()
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"file:", "password_env", "server:"} {
		if strings.Contains(string(doc), absent) {
			t.Errorf("document holds %q:\n%s", absent, doc)
		}
	}
	g, err := config.Parse(doc, config.ParseOptions{Name: "doc"})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if len(g.Functions) != 3 || g.Functions[0].Source != f.Functions[0].Source || g.Functions[0].Timeout != f.Functions[0].Timeout {
		t.Errorf("functions did not survive: %+v", g.Functions)
	}
	if g.Functions[1].Config != nil || g.Functions[2].Config == nil || len(g.Functions[2].Config) != 0 {
		t.Errorf("config presence did not survive: %v / %v", g.Functions[1].Config, g.Functions[2].Config)
	}
	if g.Functions[0].Config["SLACK_TOKEN"] != "xoxb-secret" {
		t.Errorf("config = %v", g.Functions[0].Config)
	}
	if g.Buckets[1].Auth.Password != "s3cret" {
		t.Errorf("password did not survive: %+v", g.Buckets[1].Auth)
	}
	if g.Buckets[0].Outputs[0].Retries != f.Buckets[0].Outputs[0].Retries {
		t.Errorf("retries = %+v, want %+v", g.Buckets[0].Outputs[0].Retries, f.Buckets[0].Outputs[0].Retries)
	}
}
