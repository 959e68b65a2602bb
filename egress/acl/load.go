package acl

import (
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// FieldError is a policy validation error tied to one field of the policy
// file, such as "services[1].action".
type FieldError struct {
	Field string // path of the offending field, e.g. "services[0].allowed_domains[2]"
	Msg   string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// file is the YAML document. Unknown fields are rejected so that a typo in a
// security policy does not pass silently.
type file struct {
	Version         string      `yaml:"version"`
	Services        *[]fileRule `yaml:"services"` // a pointer: "services: []" and a missing key differ
	Default         *fileRule   `yaml:"default"`
	GlobalAllowList []string    `yaml:"global_allow_list"`
	GlobalDenyList  []string    `yaml:"global_deny_list"`
}

type fileRule struct {
	Name           string   `yaml:"name"`
	Project        string   `yaml:"project"`
	Action         string   `yaml:"action"`
	AllowedDomains []string `yaml:"allowed_domains"`
	// Smokescreen-only fields, read so that they can be refused by name:
	// relayfn neither intercepts TLS nor chains to other proxies.
	MitmDomains            any `yaml:"mitm_domains"`
	AllowedExternalProxies any `yaml:"allowed_external_proxies"`
}

// Load reads and validates a policy in Smokescreen's v1 YAML format. All
// validation problems are reported together, each as a *FieldError, joined
// with errors.Join.
func Load(r io.Reader) (*ACL, error) {
	var f file
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty policy")
		}
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	return build(&f)
}

// LoadFile reads and validates the policy file at path, like [Load].
func LoadFile(path string) (*ACL, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load ACL: %w", err)
	}
	defer fh.Close()
	a, err := Load(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// build validates f and turns it into an ACL.
func build(f *file) (*ACL, error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	switch f.Version {
	case "v1":
	case "":
		fail("version", "missing (want %q)", "v1")
		// Without a version the rest of the document cannot be trusted to be
		// in this format; stop here.
		return nil, errors.Join(errs...)
	default:
		fail("version", "unsupported version %q (want %q)", f.Version, "v1")
		return nil, errors.Join(errs...)
	}
	var services []fileRule
	if f.Services == nil {
		fail("services", "missing (write \"services: []\" for a policy with only a default rule)")
	} else {
		services = *f.Services
	}

	a := &ACL{services: make(map[string]*rule, len(services))}
	firstIndex := make(map[string]int, len(services))
	for i, s := range services {
		field := fmt.Sprintf("services[%d]", i)
		r, rerrs := buildRule(field, s)
		errs = append(errs, rerrs...)
		switch j, dup := firstIndex[s.Name]; {
		case s.Name == "":
			fail(field+".name", "missing")
		case dup:
			fail(field+".name", "duplicate service %q (first at services[%d])", s.Name, j)
		default:
			firstIndex[s.Name] = i
			a.services[s.Name] = r
		}
	}
	if f.Default != nil {
		// Smokescreen's own sample policies name the default rule; the name
		// is a label only and matches no service.
		r, rerrs := buildRule("default", *f.Default)
		errs = append(errs, rerrs...)
		a.def = r
	}
	a.allow, errs = buildGlobs("global_allow_list", f.GlobalAllowList, errs)
	a.deny, errs = buildGlobs("global_deny_list", f.GlobalDenyList, errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

func buildRule(field string, s fileRule) (*rule, []error) {
	var errs []error
	if s.MitmDomains != nil {
		errs = append(errs, &FieldError{Field: field + ".mitm_domains", Msg: "not supported: relayfn does not intercept TLS (a Smokescreen-only feature)"})
	}
	if s.AllowedExternalProxies != nil {
		errs = append(errs, &FieldError{Field: field + ".allowed_external_proxies", Msg: "not supported: relayfn does not chain to external proxies (a Smokescreen-only feature)"})
	}
	r := &rule{project: s.Project}
	act, err := parseAction(s.Action)
	if err != nil {
		errs = append(errs, &FieldError{Field: field + ".action", Msg: err.Error()})
	}
	r.action = act
	r.domains, errs = buildGlobs(field+".allowed_domains", s.AllowedDomains, errs)
	return r, errs
}

func buildGlobs(field string, in []string, errs []error) ([]glob, []error) {
	out := make([]glob, 0, len(in))
	for i, s := range in {
		g, err := parseGlob(s)
		if err != nil {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Msg: err.Error()})
			continue
		}
		out = append(out, g)
	}
	return out, errs
}
