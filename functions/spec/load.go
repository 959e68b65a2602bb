package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/internal/yamlstrict"
)

// FieldError is a problem with one field of a spec file. Load returns them
// (joined with errors.Join when there are several). Its Path is the field,
// as "tests[2].expect.request.json", and its Error method returns
// "file: path: line N: problem".
type FieldError = yamlstrict.FieldError

// Load reads the spec file at path, decodes it strictly, checks it, and
// reads the function file and the body files it names (relative to the
// spec's folder). Every problem found is reported, each as a *FieldError.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return parse(path, data, filepath.Dir(path), false)
}

// parse decodes and checks the spec data, which errors call name. Files
// it names are read relative to dir, unless stored (see Parse).
func parse(name string, data []byte, dir string, stored bool) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlstrict.SyntaxError(name, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &FieldError{File: name, Err: errors.New("the spec is empty")}
	}
	s := &Spec{Path: name}
	d := decode(name, doc.Content[0], s)
	d.stored = stored
	if len(d.errs) == 0 {
		d.validate(s, dir)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return s, nil
}

// validate checks what decoding cannot and reads the files s names.
func (d *decoder) validate(s *Spec, dir string) {
	if s.Version != "" && s.Version != Version {
		d.errorf("version", "unsupported version %q (this build reads %q)", s.Version, Version)
	}
	switch {
	case s.Driver == "" && strings.EqualFold(filepath.Ext(s.Filename), ".js"):
		d.errorf("filename", "%s is a JavaScript function: relayfn runs Lua functions only", s.Filename)
	case s.Driver != "" && !strings.EqualFold(s.Driver, DriverLua):
		d.errorf("driver", "unsupported driver %q: relayfn runs Lua functions only (driver: lua)", s.Driver)
	}
	switch {
	case d.stored:
		// A stored spec runs against the function it is stored with.
	case s.Filename == "":
		d.errorf("filename", "missing: name the function's file, relative to the spec")
	default:
		s.FunctionPath = resolve(dir, s.Filename)
		src, err := os.ReadFile(s.FunctionPath)
		if err != nil {
			d.errorf("filename", "%v", err)
		}
		s.Source = src
	}
	if len(s.Tests) == 0 {
		d.errorf("tests", "no tests: list at least one under tests")
	}
	names := make(map[string]int, len(s.Tests))
	for i := range s.Tests {
		d.validateTest(&s.Tests[i], fmt.Sprintf("tests[%d]", i), dir, names, i)
	}
}

func (d *decoder) validateTest(t *Test, p, dir string, names map[string]int, i int) {
	switch first, dup := names[t.Name]; {
	case strings.TrimSpace(t.Name) == "":
		d.errorf(p+".name", "empty: every test needs a name")
	case dup:
		d.errorf(p+".name", "duplicate test name %q (also tests[%d])", t.Name, first)
	default:
		names[t.Name] = i
	}

	rq := &t.Request
	if m := strings.TrimSpace(rq.Method); strings.ContainsAny(m, " \t\r\n") {
		d.errorf(p+".request.method", "invalid HTTP method %q", rq.Method)
	}
	if d.lines.Has(p+".request.body") && d.lines.Has(p+".request.body_file") {
		d.errorf(p+".request.body_file", "body and body_file are both set: use one of them")
	} else if rq.BodyFile != "" && d.stored {
		d.errorf(p+".request.body_file", "a stored spec carries its bodies inline (fnctl function push --spec inlines body_file)")
	} else if rq.BodyFile != "" {
		b, err := os.ReadFile(resolve(dir, rq.BodyFile))
		if err != nil {
			d.errorf(p+".request.body_file", "%v", err)
		}
		rq.Body = string(b)
	}
	for k := range rq.Header {
		if !validHeaderName(k) {
			d.errorf(p+".request.header"+mapKey(k), "invalid header name %q", k)
		}
	}

	for j, a := range t.HTTP {
		ap := fmt.Sprintf("%s.http[%d]", p, j)
		if a.Match.URL == "" {
			d.errorf(ap+".match.url", "missing: the URL the answer is for")
		}
		if s := a.Respond.Status; s != 0 && (s < 100 || s > 999) {
			d.errorf(ap+".respond.status", "invalid status %d", s)
		}
	}

	e := &t.Expect
	ep := p + ".expect"
	if e.Error != nil && !*e.Error && e.ErrorContains != nil {
		d.errorf(ep+".errorContains", "contradicts error: false")
	}
	if r := e.Request; r != nil {
		for k := range r.HeaderEquals {
			if !validHeaderName(k) {
				d.errorf(ep+".request.headerEquals"+mapKey(k), "invalid header name %q", k)
			}
		}
		for k := range r.JSON {
			if strings.TrimSpace(k) == "" {
				d.errorf(ep+".request.json", "empty path: use a gjson path such as data.id")
			}
		}
	}
	if r := e.Response; r != nil {
		if r.StatusEquals != nil && (*r.StatusEquals < 100 || *r.StatusEquals > 999) {
			d.errorf(ep+".response.statusEquals", "invalid status %d", *r.StatusEquals)
		}
		for k := range r.HeaderEquals {
			if !validHeaderName(k) {
				d.errorf(ep+".response.headerEquals"+mapKey(k), "invalid header name %q", k)
			}
		}
	}
	for j, c := range e.HTTP {
		if c.URL == "" {
			d.errorf(fmt.Sprintf("%s.http[%d].url", ep, j), "missing: the URL of the expected call")
		}
	}
	for j, b := range e.BigQuery {
		if b.Table == "" {
			d.errorf(fmt.Sprintf("%s.bigquery[%d].table", ep, j), "missing: the table of the expected row")
		}
	}
	for j, m := range e.Emails {
		if m == (EmailExpect{}) {
			d.errorf(fmt.Sprintf("%s.emails[%d]", ep, j), "nothing to check: give to, from, subject, subjectContains or textContains")
		}
	}
}

func resolve(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, filepath.FromSlash(name))
}

func validHeaderName(k string) bool {
	return k != "" && !strings.ContainsAny(k, " \t\r\n:")
}

// decoder decodes a spec strictly and collects the problems decoding and
// checking it find.
type decoder struct {
	file string
	errs []error
	// stored is set for a spec stored with its function (Parse): it reads
	// no files.
	stored bool
	lines  yamlstrict.Lines
}

// decode decodes the spec at root into s.
func decode(file string, root *yaml.Node, s *Spec) *decoder {
	lines, errs := yamlstrict.Decode(root, s, yamlstrict.Options{File: file, StringAsList: true})
	return &decoder{file: file, errs: errs, lines: lines}
}

// errorf records a problem with the field at path, on its line (or the
// line of the closest enclosing field seen).
func (d *decoder) errorf(path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Path: path, Line: d.lines.Line(path), Err: fmt.Errorf(format, args...)})
}

// mapKey formats a map key as a path element.
func mapKey(k string) string { return yamlstrict.MapKey(k) }
