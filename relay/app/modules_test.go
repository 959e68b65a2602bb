package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/relay/app"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/runtime"
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

func TestModuleDeps(t *testing.T) {
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
	deps := app.ModuleDeps(f, fakeEgress{})
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
	names = moduleNames(app.ModuleDeps(f, fakeEgress{}))
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

// The relay a test starts (relaytest, through New) offers the functions
// the same modules as fnctl serve: a function can require each of them.
func TestAppOffersServeModules(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir, "")
	a := start(t, f, app.Options{QuietToken: true})
	fn, err := a.Engine.Compile("mods.lua", []byte(`
for _, m in ipairs({"json", "crypto", "base64", "time", "urlencoded", "multipart", "jwt", "http", "bigquery", "mailgun"}) do
  require(m)
end`))
	if err != nil {
		t.Fatal(err)
	}
	res := a.Engine.Run(context.Background(), fn, &runtime.Input{Request: runtime.Request{Method: "POST", Path: "/", Header: http.Header{}}})
	if res.Err != nil {
		t.Errorf("require in the app's engine: %v", res.Err)
	}
}
