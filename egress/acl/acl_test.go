package acl

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func mustLoad(t *testing.T, name string) *ACL {
	t.Helper()
	a, err := LoadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", name, err)
	}
	return a
}

// TestDecide follows Smokescreen's published decision semantics.
func TestDecide(t *testing.T) {
	a := mustLoad(t, "sample.yaml")
	tests := []struct {
		name, service, host string
		want                Result
		reason, project     string
		isDefault           bool
	}{
		{"allowed domain when enforcing", "enforce-dummy-srv", "example1.com", Allow, ReasonAllowedDomain, "usersec", false},
		{"exact entry does not match a subdomain", "enforce-dummy-srv", "www.example1.com", Deny, ReasonEnforce, "usersec", false},
		{"allowed domain when reporting", "report-dummy-srv", "example3.com", Allow, ReasonAllowedDomain, "security", false},
		{"other domain when reporting", "report-dummy-srv", "example1.com", AllowAndReport, ReasonReport, "security", false},
		{"open allows anything", "open-dummy-srv", "anythingisgoodreally.com", Allow, ReasonOpen, "automation", false},
		{"service allow beats global deny", "enforce-dummy-srv", "deny1.com", Allow, ReasonAllowedDomain, "usersec", false},
		{"global deny applies in report mode", "report-dummy-srv", "deny1.com", Deny, ReasonGlobalDeny, "security", false},
		{"global deny applies in open mode", "open-dummy-srv", "deny2.com", Deny, ReasonGlobalDeny, "automation", false},
		{"global deny beats global allow", "open-dummy-srv", "conflictingexample.com", Deny, ReasonGlobalDeny, "automation", false},
		{"global allow for an enforcing service", "enforce-dummy-srv", "goodexample1.com", Allow, ReasonGlobalAllow, "usersec", false},
		{"global allow for an unknown service", "unknown-service", "goodexample2.com", Allow, ReasonGlobalAllow, "other", true},
		{"glob matches a subdomain", "glob-srv", "api.example.com", Allow, ReasonAllowedDomain, "phony", false},
		{"glob matches a deeper subdomain", "glob-srv", "a.b.example.com", Allow, ReasonAllowedDomain, "phony", false},
		{"glob does not match the apex", "glob-srv", "example.com", Deny, ReasonEnforce, "phony", false},
		{"glob does not match a longer name", "glob-srv", "badexample.com", Deny, ReasonEnforce, "phony", false},
		{"glob does not match an unrelated host", "glob-srv", "shouldbreak.com", Deny, ReasonEnforce, "phony", false},
		{"host is compared in lowercase", "glob-srv", "API.EXAMPLE.com", Allow, ReasonAllowedDomain, "phony", false},
		{"trailing dot of the host is ignored", "glob-srv", "api.example.com.", Allow, ReasonAllowedDomain, "phony", false},
		{"entry was normalized", "glob-srv", "api.example.org", Allow, ReasonAllowedDomain, "phony", false},
		{"IP entry", "glob-srv", "203.0.113.7", Allow, ReasonAllowedDomain, "phony", false},
		{"IPv4-mapped form of an IP entry", "glob-srv", "::ffff:203.0.113.7", Allow, ReasonAllowedDomain, "phony", false},
		{"default rule allowed domain", "unknown-service", "default.example.net", Allow, ReasonAllowedDomain, "other", true},
		{"default rule action", "unknown-service", "nope.example.net", Deny, ReasonDefaultRule, "other", true},
		{"empty service uses the default", "", "default.example.net", Allow, ReasonAllowedDomain, "other", true},
		{"invalid host falls to the action", "open-dummy-srv", "bad host", Allow, ReasonOpen, "automation", false},
		{"invalid host never matches a list", "glob-srv", "a b.example.com", Deny, ReasonEnforce, "phony", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := a.Decide(tt.service, tt.host)
			want := Decision{Result: tt.want, Reason: tt.reason, Project: tt.project, Default: tt.isDefault}
			if got != want {
				t.Errorf("Decide(%q, %q) = %+v, want %+v", tt.service, tt.host, got, want)
			}
		})
	}
}

func TestDecideWithoutDefault(t *testing.T) {
	a := mustLoad(t, "no_default.yaml")
	if got, want := a.Decide("ci", "anything.example.com"), (Decision{Result: Allow, Reason: ReasonOpen, Project: "platform"}); got != want {
		t.Errorf("known service: got %+v, want %+v", got, want)
	}
	if got, want := a.Decide("unknown", "anything.example.com"), (Decision{Result: Deny, Reason: ReasonNoRule}); got != want {
		t.Errorf("unknown service: got %+v, want %+v", got, want)
	}
}

func TestDecideNilACL(t *testing.T) {
	var a *ACL
	if got := a.Decide("ci", "example.com"); got.Result != Allow || got.Reason != ReasonNoACL {
		t.Errorf("nil ACL: got %+v, want allow", got)
	}
}

func TestDecideReportWithDefault(t *testing.T) {
	a, err := Load(strings.NewReader("version: v1\nservices: []\ndefault: {project: p, action: report}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := a.Decide("any", "example.com")
	want := Decision{Result: AllowAndReport, Reason: ReasonDefaultRule, Project: "p", Default: true}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // the whole error text
		field      string // Field of the first *FieldError, if any
	}{
		{"empty document", "", "empty policy", ""},
		{"missing version", "services: []\n", `version: missing (want "v1")`, "version"},
		{"unsupported version", "version: v2\nservices: []\n", `version: unsupported version "v2" (want "v1")`, "version"},
		{"missing services", "version: v1\n", `services: missing (write "services: []" for a policy with only a default rule)`, "services"},
		{"unknown action", "version: v1\nservices:\n  - {name: a, action: enforce}\n  - {name: b, action: block}\n",
			`services[1].action: unknown action "block" (want open, report or enforce)`, "services[1].action"},
		{"missing action", "version: v1\nservices:\n  - {name: a}\n",
			"services[0].action: missing (want open, report or enforce)", "services[0].action"},
		{"duplicate service", "version: v1\nservices:\n  - {name: a, action: open}\n  - {name: a, action: open}\n",
			`services[1].name: duplicate service "a" (first at services[0])`, "services[1].name"},
		{"unnamed service", "version: v1\nservices:\n  - {action: open}\n", "services[0].name: missing", "services[0].name"},
		{"glob matching everything", "version: v1\nservices:\n  - {name: a, action: open, allowed_domains: ['*']}\n",
			`services[0].allowed_domains[0]: domain glob "*" must not match everything`, "services[0].allowed_domains[0]"},
		{"partial-label wildcard", "version: v1\nservices: []\nglobal_deny_list: ['*foo.com']\n",
			`global_deny_list[0]: domain glob "*foo.com": a wildcard must be a whole leading label, as in "*.example.com"`, "global_deny_list[0]"},
		{"middle wildcard", "version: v1\nservices: []\nglobal_allow_list: [a.*.b.com]\n",
			`global_allow_list[0]: domain glob "a.*.b.com": wildcards are only supported as a leading "*."`, "global_allow_list[0]"},
		{"double wildcard", "version: v1\nservices: []\nglobal_allow_list: ['*.*.b.com']\n",
			`global_allow_list[0]: domain glob "*.*.b.com": wildcards are only supported as a leading "*."`, "global_allow_list[0]"},
		{"wildcard over a public suffix", "version: v1\nservices: []\ndefault: {action: open, allowed_domains: ['*.co.uk']}\n",
			`default.allowed_domains[0]: domain glob "*.co.uk": "co.uk" is a public suffix`, "default.allowed_domains[0]"},
		{"wildcard over a private registry suffix", "version: v1\nservices: []\nglobal_allow_list: ['*.github.io']\n",
			`global_allow_list[0]: domain glob "*.github.io": "github.io" is a public suffix`, "global_allow_list[0]"},
		{"wildcard over an IP", "version: v1\nservices: []\nglobal_allow_list: ['*.10.0.0.1']\n",
			`global_allow_list[0]: domain glob "*.10.0.0.1": a wildcard cannot apply to an IP address`, "global_allow_list[0]"},
		{"empty domain", "version: v1\nservices: []\nglobal_allow_list: ['']\n",
			"global_allow_list[0]: empty domain", "global_allow_list[0]"},
		{"empty label", "version: v1\nservices: []\nglobal_allow_list: ['a..b']\n",
			`global_allow_list[0]: domain glob "a..b": empty label in "a..b"`, "global_allow_list[0]"},
		{"MITM domains", "version: v1\nservices:\n  - name: a\n    action: enforce\n    mitm_domains:\n      - domain: x.com\n        add_headers: {Accept-Language: el}\n",
			"services[0].mitm_domains: not supported: relayfn does not intercept TLS (a Smokescreen-only feature)", "services[0].mitm_domains"},
		{"external proxies", "version: v1\nservices: []\ndefault: {action: open, allowed_external_proxies: [proxy.example.com]}\n",
			"default.allowed_external_proxies: not supported: relayfn does not chain to external proxies (a Smokescreen-only feature)", "default.allowed_external_proxies"},
		{"unknown field", "version: v1\nservices:\n  - {name: a, action: open, allowed_domain: [x.com]}\n",
			"parse policy: yaml: unmarshal errors:\n  line 3: field allowed_domain not found in type acl.fileRule", ""},
		{"not YAML", "version: [v1\n", "parse policy: yaml: line 1: did not find expected ',' or ']'", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Load(strings.NewReader(tt.yaml))
			if err == nil {
				t.Fatalf("Load succeeded (%v), want error %q", a, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tt.want)
			}
			var fe *FieldError
			switch {
			case tt.field == "" && errors.As(err, &fe):
				t.Errorf("got a *FieldError for %q, want none", fe.Field)
			case tt.field != "" && !errors.As(err, &fe):
				t.Errorf("no *FieldError in %v", err)
			case tt.field != "" && fe.Field != tt.field:
				t.Errorf("FieldError.Field = %q, want %q", fe.Field, tt.field)
			}
		})
	}
}

func TestParseGlob(t *testing.T) {
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{"*.example.com", "*.example.com"},
		{"*.Example.com.", "*.example.com"},
		{"*.internal", "*.internal"},
		{"*.svc.cluster.local", "*.svc.cluster.local"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"*.bücher.example", "*.xn--bcher-kva.example"},
		{"10.0.0.1", "10.0.0.1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"under_score.example.com", "under_score.example.com"},
		{"*", ""},
		{"*.", ""},
		{"*foo.com", ""},
		{"foo*.com", ""},
		{"a.*.b", ""},
		{"*.*.example.com", ""},
		{"*.com", ""},
		{"*.co.uk", ""},
		{"", ""},
		{".", ""},
		{"a..b", ""},
		{"exa mple.com", ""},
		{"example.com:443", ""},
		{"http://example.com", ""},
		{strings.Repeat("a", 64) + ".com", ""},
		{"fe80::1%eth0", ""},
	}
	for _, tt := range tests {
		g, err := parseGlob(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parseGlob(%q) = %q, want error", tt.in, g)
		case tt.want != "" && err != nil:
			t.Errorf("parseGlob(%q): %v", tt.in, err)
		case tt.want != "" && g.String() != tt.want:
			t.Errorf("parseGlob(%q) = %q, want %q", tt.in, g, tt.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob, host string
		want       bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "www.example.com", false},
		{"example.com", "example.co", false},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "example.com.evil.net", false},
	}
	for _, tt := range tests {
		g, err := parseGlob(tt.glob)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tt.host); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.glob, tt.host, got, tt.want)
		}
	}
}

// TestGolden runs a fixed set of queries against testdata/sample.yaml and
// compares the answers with testdata/sample.golden.
func TestGolden(t *testing.T) {
	a := mustLoad(t, "sample.yaml")
	queries := []struct{ service, host string }{
		{"enforce-dummy-srv", "example1.com"},
		{"enforce-dummy-srv", "example2.com"},
		{"enforce-dummy-srv", "deny1.com"},
		{"enforce-dummy-srv", "deny2.com"},
		{"enforce-dummy-srv", "goodexample3.com"},
		{"enforce-dummy-srv", "conflictingexample.com"},
		{"enforce-dummy-srv", "elsewhere.com"},
		{"report-dummy-srv", "example3.com"},
		{"report-dummy-srv", "deny1.com"},
		{"report-dummy-srv", "goodexample1.com"},
		{"report-dummy-srv", "elsewhere.com"},
		{"open-dummy-srv", "deny2.com"},
		{"open-dummy-srv", "elsewhere.com"},
		{"glob-srv", "example.com"},
		{"glob-srv", "www.example.com"},
		{"glob-srv", "api.example.org"},
		{"glob-srv", "www.api.example.org"},
		{"unknown-service", "default.example.net"},
		{"unknown-service", "goodexample2.com"},
		{"unknown-service", "deny2.com"},
		{"unknown-service", "elsewhere.com"},
	}
	var b strings.Builder
	for _, q := range queries {
		d := a.Decide(q.service, q.host)
		fmt.Fprintf(&b, "%-18s %-24s -> %-16s project=%-10s default=%-5v %s\n",
			q.service, q.host, d.Result, d.Project, d.Default, d.Reason)
	}
	checkGolden(t, "sample.golden", b.String())
}

// TestGoldenInvalid loads a policy with many mistakes and compares the whole
// error report with testdata/invalid.golden.
func TestGoldenInvalid(t *testing.T) {
	_, err := LoadFile(filepath.Join("testdata", "invalid.yaml"))
	if err == nil {
		t.Fatal("LoadFile(invalid.yaml) succeeded")
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "services[0].action" {
		t.Errorf("first field error = %v, want services[0].action", fe)
	}
	checkGolden(t, "invalid.golden", err.Error()+"\n")
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestSmokescreenSampleShape loads a policy shaped like the sample that
// Smokescreen ships with its command: services in each mode and a default
// rule that has a name. The name is a label: it matches no service.
func TestSmokescreenSampleShape(t *testing.T) {
	const policy = `---
version: v1
services:

  - name: svc-enforce
    project: test
    action: enforce
    allowed_domains:
      - 127.0.0.1

  - name: svc-report
    project: test
    action: report

  - name: svc-open
    project: test
    action: open

default:
  name: unknown-role
  project: security
  action: enforce`
	a, err := Load(strings.NewReader(policy))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		service, host string
		want          Result
		def           bool
	}{
		{"svc-enforce", "127.0.0.1", Allow, false},
		{"svc-enforce", "example.com", Deny, false},
		{"svc-open", "example.com", Allow, false},
		{"other", "example.com", Deny, true},
		{"unknown-role", "example.com", Deny, true},
	}
	for _, tt := range tests {
		d := a.Decide(tt.service, tt.host)
		if d.Result != tt.want || d.Default != tt.def || (tt.def && d.Project != "security") {
			t.Errorf("Decide(%q, %q) = %+v, want %v (default %v)", tt.service, tt.host, d, tt.want, tt.def)
		}
	}
}
