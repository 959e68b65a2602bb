package config_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/builtins"
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

// fakeEgress stands for *egress.Client.
type fakeEgress struct{}

func (fakeEgress) Do(context.Context, string, *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("offline")
}
func (fakeEgress) HTTPClient(string) *http.Client { return &http.Client{} }
func (fakeEgress) DialContext(context.Context, string, string, string) (net.Conn, error) {
	return nil, fmt.Errorf("offline")
}

func moduleNames(deps builtins.Deps) []string {
	var names []string
	for _, m := range builtins.Modules(deps) {
		names = append(names, m.Name)
	}
	return names
}

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
	if s.Password != secret || s.Port != 2525 || s.StartTLS != builtins.StartTLSOpportunistic {
		t.Errorf("smtp = %v", s)
	}
	// The password is never printed.
	for _, shown := range []string{s.String(), fmt.Sprintf("%v", f.Server), fmt.Sprintf("%+v", f.Server.Modules)} {
		if strings.Contains(shown, secret) {
			t.Errorf("printed settings show the password: %s", shown)
		}
	}

	deps := f.ModuleDeps(fakeEgress{})
	if deps.HTTP == nil || deps.HTTPClient == nil || deps.Do == nil || deps.Dial == nil {
		t.Errorf("deps are not wired to the egress client: %+v", deps)
	}
	if deps.BigQueryEndpoint != "http://127.0.0.1:9050/bigquery/v2/" || deps.MailgunBaseURL != "https://mailgun.internal" {
		t.Errorf("endpoints %q %q", deps.BigQueryEndpoint, deps.MailgunBaseURL)
	}
	want := &builtins.EmailOptions{
		Host: "smtp.example.com", Port: 2525, Username: "relay", Password: secret,
		From: "Relay <relay@example.com>", StartTLS: builtins.StartTLSOpportunistic,
	}
	if got := deps.SMTP; got == nil || !reflect.DeepEqual(got, want) {
		t.Errorf("SMTP = %+v, want %+v", got, want)
	}
	names := moduleNames(deps)
	for _, m := range []string{"http", "bigquery", "mailgun", "email"} {
		if !slices.Contains(names, m) {
			t.Errorf("modules %v lack %s", names, m)
		}
	}

	// Without smtp, email is not offered; bigquery and mailgun still are.
	f, err = config.Parse([]byte("{}"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names = moduleNames(f.ModuleDeps(fakeEgress{}))
	if slices.Contains(names, "email") || !slices.Contains(names, "bigquery") || !slices.Contains(names, "mailgun") {
		t.Errorf("modules without smtp: %v", names)
	}
	// Without an egress client, none of them is.
	names = moduleNames(builtins.Deps{})
	for _, m := range []string{"http", "bigquery", "mailgun", "email"} {
		if slices.Contains(names, m) {
			t.Errorf("modules without egress offer %s: %v", m, names)
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
