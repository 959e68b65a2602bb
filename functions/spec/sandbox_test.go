package spec

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// sandboxFn uses every module the sandbox replaces, through the real
// module code.
const sandboxFn = `
local json = require("json")
local http = require("http")
local bigquery = require("bigquery")
local email = require("email")
local mailgun = require("mailgun")

local ev, err = json.decode(r.RequestBody)
if err then error(err) end

if ev.lookup then
  local resp, err = http.get("https://api.example.com/users/" .. ev.lookup,
    {headers = {Authorization = "Bearer " .. cfg:GetValue("TOKEN")}})
  if err then error(err) end
  print("user " .. resp.body)
end

err = bigquery.initialize("proj-123", "billing", cfg:GetValue("BQ_CREDENTIALS"))
if err then error(err) end
local exists, err = bigquery.record_exists("payments", "id", ev.id)
if err then error(err) end
if exists then
  print("duplicate " .. ev.id)
  return
end
err = bigquery.insert("payments", {id = ev.id, amount = ev.amount, currency = ev.currency, tags = ev.tags})
if err then error(err) end
print("exists after insert: " .. tostring((bigquery.record_exists("payments", "id", ev.id))))

err = email.send{from = "Relay <relay@example.com>", to = ev.to, subject = "Payment " .. ev.id,
  text = "amount " .. ev.amount}
if err then error(err) end
assert(mailgun.initialize("mg.example.com", "key-123") == nil)
err = mailgun.send("Billing <billing@mg.example.com>", "finance@example.com, Lead <lead@example.com>",
  "Payment " .. ev.id, "amount " .. ev.amount)
if err then error(err) end
`

const sandboxSpec = `
version: v1
filename: payments.lua
config: {TOKEN: t0ken}
tests:
  - name: row and emails recorded
    request:
      body: '{"id":"pi_1","amount":2000,"currency":"usd","tags":["a"],"to":"Ops <ops@example.com>"}'
    expect:
      logsContain: ["exists after insert: true"]
      bigquery:
        - {table: payments, row: {id: pi_1, amount: 2000.0, currency: usd, tags: [a]}}
      emails:
        - {to: ops@example.com, from: relay@example.com, subject: Payment pi_1, textContains: "amount 2000"}
        - {to: lead@example.com, from: billing@mg.example.com, subjectContains: pi_1}

  - name: wrong expectations
    request:
      body: '{"id":"pi_1","amount":2000,"currency":"usd","to":"ops@example.com"}'
    expect:
      bigquery:
        - {table: charges, row: {id: pi_2, amount: "2000", customer: cus_1}}
      emails:
        - {to: dev@example.com, from: "Relay <relay@example.com>", subjectContains: refund, textContains: "amount 3000"}

  - name: existing row is not inserted again
    request:
      body: '{"id":"pi_1","amount":2000,"currency":"usd","to":"ops@example.com"}'
    bigquery:
      - {table: payments, row: {id: pi_1}}
    expect:
      logsContain: [duplicate pi_1]
      bigquery: []
      emails: []

  - name: a row of another table does not count
    request:
      body: '{"id":"pi_1","amount":2000,"currency":"usd","to":"ops@example.com"}'
    bigquery:
      - {table: refunds, row: {id: pi_1}}
    expect:
      bigquery: [{table: payments, row: {id: pi_1}}]

  - name: the module's own checks run
    request:
      body: '{"id":"pi_1","amount":2000,"currency":"usd"}'
    expect:
      errorContains: "email.send: to is required"
      bigquery: [{table: payments, row: {id: pi_1}}]
      emails: []

  - name: answered with the expected header
    request:
      body: '{"lookup":"ada","id":"pi_1","amount":1,"to":"ops@example.com"}'
    http:
      - match: {method: GET, url: "https://api.example.com/users/ada", headers: {authorization: Bearer t0ken}}
        respond: {body: Ada}
    expect:
      logsContain: [user Ada]
      http: [{method: GET, url: "https://api.example.com/users/ada"}]

  - name: a call without the expected header is not answered
    request:
      body: '{"lookup":"ada","id":"pi_1","amount":1,"to":"ops@example.com"}'
    http:
      - match: {method: GET, url: "https://api.example.com/users/ada", headers: {Authorization: Bearer other}}
        respond: {body: Ada}
    expect:
      errorContains: unmatched HTTP call
`

func writeSandboxSpec(t *testing.T, spec string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "payments.lua"), []byte(sandboxFn), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "payments.spec.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func jsonEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.JSON()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestSandboxModules(t *testing.T) {
	path := writeSandboxSpec(t, sandboxSpec)
	r := RunFile(context.Background(), jsonEngine(t), path, Options{Sandbox: NewSandbox(SandboxOptions{})})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := map[string][]string{
		"row and emails recorded": nil,
		"wrong expectations": {
			`expect.bigquery[0].table: expected table "charges", got "payments"`,
			`expect.bigquery[0].row.amount: expected column amount to be "2000", got 2000`,
			`expect.bigquery[0].row.customer: expected column customer to be "cus_1", but the row has no such column`,
			`expect.bigquery[0].row.id: expected column id to be "pi_2", got "pi_1"`,
			`expect.emails: expected 1 emails, got 2`,
			`expect.emails[0].to: expected a recipient "dev@example.com", got ["ops@example.com"]`,
			`expect.emails[0].from: expected sender "Relay <relay@example.com>", got "relay@example.com" (first difference at byte 0)`,
			`expect.emails[0].subjectContains: expected subject to contain "refund", got "Payment pi_1"`,
			`expect.emails[0].textContains: expected text to contain "amount 3000", got "amount 2000"`,
		},
		"existing row is not inserted again":    nil,
		"a row of another table does not count": nil,
		"the module's own checks run":           nil,
		"answered with the expected header":     nil,
		"a call without the expected header is not answered": {
			`sandbox: unmatched HTTP call GET https://api.example.com/users/ada: http[0] matches its method and URL, but the call's Authorization header has another value`,
		},
	}
	got := failures(r)
	if len(got) != len(want) {
		t.Errorf("ran %d tests, want %d", len(got), len(want))
	}
	for name, w := range want {
		if g := got[name]; strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: failures\n%s\nwant\n%s", name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	// The failures carry the expected and actual values apart too.
	for _, tr := range r.Tests {
		if tr.Name != "wrong expectations" {
			continue
		}
		f := tr.Failures[0]
		if f.Expected != `"charges"` || f.Actual != `"payments"` {
			t.Errorf("expected %s, actual %s", f.Expected, f.Actual)
		}
	}
}

func TestSandboxRecords(t *testing.T) {
	path := writeSandboxSpec(t, sandboxSpec)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	modules, calls := NewSandbox(SandboxOptions{})(&s.Tests[0])
	e := jsonEngine(t)
	fn, err := e.Compile("payments.lua", s.Source)
	if err != nil {
		t.Fatal(err)
	}
	res := e.Run(context.Background(), fn, &runtime.Input{
		Request: runtime.Request{Method: "POST", Body: []byte(s.Tests[0].Request.Body)},
		Modules: modules,
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	rows := calls.BigQuery()
	if len(rows) != 1 || rows[0].Project != "proj-123" || rows[0].Dataset != "billing" || rows[0].Table != "payments" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].Row["amount"] != int64(2000) || rows[0].Row["id"] != "pi_1" {
		t.Errorf("row %#v", rows[0].Row)
	}
	emails := calls.Emails()
	if len(emails) != 2 {
		t.Fatalf("emails %+v", emails)
	}
	if e := emails[1]; e.From != "billing@mg.example.com" || strings.Join(e.To, ",") != "finance@example.com,lead@example.com" || e.Text != "amount 2000" {
		t.Errorf("mailgun email %+v", e)
	}
}

// netDoer stands for the network of fnctl test --allow-network.
type netDoer struct{ calls []string }

func (d *netDoer) Do(_ context.Context, _ string, req *http.Request) (*http.Response, error) {
	d.calls = append(d.calls, req.Method+" "+req.URL.String())
	return nil, errors.New("network down")
}

func TestSandboxNetworkIsForHTTPOnly(t *testing.T) {
	spec := sandboxSpec[:strings.Index(sandboxSpec, "  - name: wrong expectations")] + `
  - name: unanswered call goes to the network
    request:
      body: '{"lookup":"ada","id":"pi_1","amount":1,"to":"ops@example.com"}'
    expect:
      errorContains: network down
`
	path := writeSandboxSpec(t, spec)
	net := &netDoer{}
	r := RunFile(context.Background(), jsonEngine(t), path, Options{Sandbox: NewSandbox(SandboxOptions{Network: net})})
	if !r.OK() {
		t.Fatalf("failures %v (err %v)", failures(r), r.Err)
	}
	// Only the http call reached the network; the rows and emails of the
	// first test were recorded (its expectations passed).
	if strings.Join(net.calls, "|") != "GET https://api.example.com/users/ada" {
		t.Errorf("network calls %q", net.calls)
	}
}

func TestSandboxEmptyTable(t *testing.T) {
	spec := `
version: v1
filename: payments.lua
tests:
  - name: row without a table
    request:
      body: '{"id":"pi_1","amount":1,"to":"ops@example.com"}'
    bigquery: [{row: {id: pi_1}}]
    expect: {error: false}
`
	r := RunFile(context.Background(), jsonEngine(t), writeSandboxSpec(t, spec), Options{Sandbox: NewSandbox(SandboxOptions{})})
	got := failures(r)["row without a table"]
	if len(got) != 1 || got[0] != "sandbox: bigquery[0].table is empty: name the table the row is in" {
		t.Errorf("failures %q", got)
	}
	// Without a sandbox, the key is reported like the other side-effect keys.
	r = RunFile(context.Background(), jsonEngine(t), writeSandboxSpec(t, spec), Options{})
	if f := r.Tests[0].Failures; len(f) != 1 || f[0].Assertion != "bigquery" || !strings.Contains(f[0].Message, "not supported by this build") {
		t.Errorf("failures %v", f)
	}
}
