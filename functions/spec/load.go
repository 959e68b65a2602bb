package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is a problem with one field of a spec file. Load returns them
// (joined with errors.Join when there are several).
type FieldError struct {
	// File is the spec file.
	File string
	// Path is the field, as "tests[2].expect.request.json"; empty for the
	// file as a whole.
	Path string
	// Line is the field's line in the file, 0 when unknown.
	Line int
	// Err is what is wrong.
	Err error
}

// Error returns "file: path: line N: problem".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *FieldError) Unwrap() error { return e.Err }

// Load reads the spec file at path, decodes it strictly, checks it, and
// reads the function file and the body files it names (relative to the
// spec's folder). Every problem found is reported, each as a *FieldError.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FieldError{File: path, Err: err}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &FieldError{File: path, Err: errors.New("the spec is empty")}
	}
	d := &decoder{file: path, lines: make(map[string]int)}
	s := &Spec{Path: path}
	d.decode(doc.Content[0], reflect.ValueOf(s).Elem(), "")
	if len(d.errs) == 0 {
		d.validate(s, filepath.Dir(path))
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
	if s.Filename == "" {
		d.errorf("filename", "missing: name the function's file, relative to the spec")
	} else {
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
	if d.has(p+".request.body") && d.has(p+".request.body_file") {
		d.errorf(p+".request.body_file", "body and body_file are both set: use one of them")
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

// decoder decodes a YAML node tree into the spec types, strictly, keeping
// the line of every field path it meets.
type decoder struct {
	file  string
	errs  []error
	lines map[string]int
}

// errorf records a problem with the field at path, on its line (or the
// line of the closest enclosing field seen).
func (d *decoder) errorf(path, format string, args ...any) {
	d.errorAt(path, d.line(path), format, args...)
}

func (d *decoder) errorAt(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Path: path, Line: line, Err: fmt.Errorf(format, args...)})
}

func (d *decoder) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

func (d *decoder) line(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.lines[""]
		}
		path = path[:i]
	}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	d.lines[path] = n.Line
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // left out: the zero value (nil for pointers, maps and lists)
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorAt(path, n.Line, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorAt(path, n.Line, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorAt(path, n.Line, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.errorAt(path, n.Line, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		d.errorAt(path, n.Line, "internal error: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorAt(path, n.Line, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := make(map[string]int)
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		fp := join(path, key)
		if !kv.merged {
			if first, dup := seen[key]; dup {
				d.errorAt(fp, kv.key.Line, "duplicate key (first at line %d)", first)
				continue
			}
			seen[key] = kv.key.Line
		}
		i, ok := fields[key]
		if !ok {
			d.errorAt(fp, kv.key.Line, "unknown field %q%s", key, suggest(key, names))
			continue
		}
		d.decode(kv.val, v.Field(i), fp)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		// A single string where a list of strings is expected.
		s := reflect.MakeSlice(v.Type(), 1, 1)
		d.decode(n, s.Index(0), path+"[0]")
		v.Set(s)
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorAt(path, n.Line, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		d.decode(el, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorAt(path, n.Line, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	seen := make(map[string]int)
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		kp := path + mapKey(key)
		if !kv.merged {
			if first, dup := seen[key]; dup {
				d.errorAt(kp, kv.key.Line, "duplicate key (first at line %d)", first)
				continue
			}
			seen[key] = kv.key.Line
		}
		ev := reflect.New(t.Elem()).Elem()
		d.decode(kv.val, ev, kp)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
	}
	v.Set(m)
}

type pair struct {
	key, val *yaml.Node
	merged   bool // came from a "<<" merge key
}

// pairs returns the key/value pairs of mapping n with YAML merge keys
// ("<<: *defaults") expanded: the mapping's own keys win over merged ones,
// and earlier merged mappings over later ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorAt(path, k.Line, "keys must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() != "!!merge" {
			own = append(own, pair{key: k, val: v})
			continue
		}
		v = deref(v)
		var srcs []*yaml.Node
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		} else {
			srcs = []*yaml.Node{v}
		}
		for _, src := range srcs {
			src = deref(src)
			if src.Kind != yaml.MappingNode {
				d.errorAt(path, k.Line, "<< must merge a mapping, got %s", describe(src))
				continue
			}
			for _, kv := range d.pairs(src, path) {
				kv.merged = true
				merged = append(merged, kv)
			}
		}
	}
	if len(merged) == 0 {
		return own
	}
	have := make(map[string]bool, len(own)+len(merged))
	for _, kv := range own {
		have[kv.key.Value] = true
	}
	out := own
	for _, kv := range merged {
		if !have[kv.key.Value] {
			have[kv.key.Value] = true
			out = append(out, kv)
		}
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(truncate(n.Value, 40))
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mapKey formats a map key as a path element: .key, or ["key"] when the key
// is not a plain word.
func mapKey(k string) string {
	plain := k != ""
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// suggest returns ` (did you mean "x"?)` for the known name closest to key,
// or "" when none is close.
func suggest(key string, names []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(s))
	}
	k := norm(key)
	best, bestDist := "", 3
	for _, name := range names {
		if dist := editDistance(k, norm(name)); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
