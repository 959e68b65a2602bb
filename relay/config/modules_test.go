package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

const modulesDoc = `
server:
  modules:
    smtp:
      host: smtp.example.com
      port: 2525
      username: relay
      password_env: RELAYFN_TEST_SMTP_PASSWORD
      from: "Relay <relay@example.com>"
      starttls: opportunistic
    bigquery:
      endpoint: "http://127.0.0.1:9050/bigquery/v2/"
    mailgun:
      base_url: "https://mailgun.internal"
`

func TestModules(t *testing.T) {
	const secret = "smtp-s3cret"
	lookup := func(name string) (string, bool) {
		if name == "RELAYFN_TEST_SMTP_PASSWORD" {
			return secret, true
		}
		return "", false
	}
	f, err := config.Parse([]byte(modulesDoc), config.ParseOptions{LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	s := f.Server.Modules.SMTP
	if s.Password != secret || s.Port != 2525 || s.StartTLS != "opportunistic" {
		t.Errorf("smtp = %v", s)
	}
	// The password is never printed.
	for _, shown := range []string{s.String(), fmt.Sprintf("%v", f.Server), fmt.Sprintf("%+v", f.Server.Modules)} {
		if strings.Contains(shown, secret) {
			t.Errorf("printed settings show the password: %s", shown)
		}
	}

}

func TestModulesPasswordFromEnvironment(t *testing.T) {
	doc := "server:\n  modules:\n    smtp: {host: smtp.example.com, username: relay, password_env: RELAYFN_TEST_SMTP_UNSET}\n"
	_, err := config.Parse([]byte(doc), config.ParseOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	want := `relay.yaml: server.modules.smtp.password_env: line 3: environment variable "RELAYFN_TEST_SMTP_UNSET" is not set`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	// A document sent to the admin API does not read the environment; its
	// server section is not used.
	f, err := config.Parse([]byte(doc), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.Modules.SMTP.Password != "" {
		t.Error("password read without LookupEnv")
	}
}
