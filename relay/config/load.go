package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is a problem with one field of a relay.yaml. Load and Parse
// return them, joined with errors.Join when there are several.
type FieldError struct {
	// File is the file's name.
	File string
	// Path is the field, as "buckets[0].outputs[1].destination"; empty for
	// the document as a whole.
	Path string
	// Line is the field's line, 0 when unknown.
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

// ParseOptions say where a document comes from and what it may refer to.
type ParseOptions struct {
	// Name is the document's name in error messages; "relay.yaml" when
	// empty.
	Name string
	// Dir is the folder relative paths are resolved against.
	Dir string
	// ReadFile reads a function's file, given its path as written in the
	// document. Nil means functions must give their source inline: file
	// is refused (as the admin API does, which must not read its own
	// disk on a client's behalf).
	ReadFile func(path string) ([]byte, error)
	// LookupEnv reads the environment variable a bucket's password_env
	// names. Nil means password_env is refused.
	LookupEnv func(name string) (string, bool)
}

// Load reads the relay.yaml at path, decodes it strictly, applies the
// defaults, reads the function files it names (relative to its folder) and
// the passwords its password_env fields name, and checks it. Every
// problem found is reported, each as a *FieldError.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir := filepath.Dir(path)
	return Parse(data, ParseOptions{
		Name: path,
		Dir:  dir,
		ReadFile: func(name string) ([]byte, error) {
			full := name
			if !filepath.IsAbs(name) {
				full = filepath.Join(dir, filepath.FromSlash(name))
			}
			b, err := os.ReadFile(full)
			var pe *fs.PathError
			if errors.As(err, &pe) {
				// Name the file as the document does.
				return nil, &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
			}
			return b, err
		},
		LookupEnv: os.LookupEnv,
	})
}

// Parse decodes and checks a relay.yaml document, like Load.
func Parse(data []byte, opts ParseOptions) (*File, error) {
	name := opts.Name
	if name == "" {
		name = "relay.yaml"
	}
	d := &decoder{file: name, lines: map[string]int{}}
	f := &File{Name: name, Dir: opts.Dir}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FieldError{File: name, Err: cleanYAMLError(err)}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		d.decode(doc.Content[0], reflect.ValueOf(f).Elem(), "")
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	f.lines = d.lines
	f.setDefaults()
	v := &validator{decoder: d, opts: opts}
	v.file(f)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return f, nil
}

// cleanYAMLError drops the "yaml: " prefix of a syntax error.
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return errors.New(msg)
}

// setDefaults fills the fields left out that have a default.
func (f *File) setDefaults() {
	s := &f.Server
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.Store == "" {
		s.Store = DefaultStore
	}
	if s.EncryptionKeyFile == "" {
		s.EncryptionKeyFile = DefaultEncryptionKeyFile
	}
	if s.UnknownInputStatus == 0 {
		s.UnknownInputStatus = DefaultUnknownInputStatus
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	for i := range f.Buckets {
		b := &f.Buckets[i]
		if b.Auth.Type == "" {
			b.Auth.Type = "none"
		}
		for j := range b.Inputs {
			if b.Inputs[j].Response.Mode == "" {
				b.Inputs[j].Response.Mode = "default"
			}
		}
	}
}

// Has reports whether the document gave the field at path, as
// "functions[0].config".
func (f *File) Has(path string) bool {
	_, ok := f.lines[path]
	return ok
}

// Line returns the line of the field at path (or of the closest enclosing
// field the document gave), 0 when unknown.
func (f *File) Line(path string) int { return lineOf(f.lines, path) }

func lineOf(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return lines[""]
		}
		path = path[:i]
	}
}

// fieldError returns a *FieldError for the field at path of f.
func (f *File) fieldError(path string, err error) error {
	return &FieldError{File: f.Name, Path: path, Line: f.Line(path), Err: err}
}

// decoder decodes a YAML node tree into the config types strictly,
// keeping the line of every field path it meets.
type decoder struct {
	file  string
	errs  []error
	lines map[string]int
}

// maxErrors bounds the problems reported at once.
const maxErrors = 50

// errorf records a problem with the field at path, on its line (or the
// line of the closest enclosing field seen).
func (d *decoder) errorf(path, format string, args ...any) {
	d.errorAt(path, lineOf(d.lines, path), format, args...)
}

func (d *decoder) errorAt(path string, line int, format string, args ...any) {
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &FieldError{File: d.file, Err: errors.New("too many errors")})
	}
	if len(d.errs) > maxErrors {
		return
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Path: path, Line: line, Err: fmt.Errorf(format, args...)})
}

var durationType = reflect.TypeFor[Duration]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	d.lines[path] = n.Line
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if v.Kind() == reflect.Map {
			// "config:" with nothing after it: given, and empty.
			v.Set(reflect.MakeMap(v.Type()))
		}
		return
	}
	if v.Type() == durationType {
		d.decodeDuration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
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
	case reflect.Int, reflect.Int64:
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

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorAt(path, n.Line, "expected a duration such as \"5s\", got %s", describe(n))
		return
	}
	if n.ShortTag() == "!!int" && n.Value == "0" {
		return
	}
	if n.ShortTag() != "!!str" {
		d.errorAt(path, n.Line, "expected a duration with a unit such as \"5s\" or \"250ms\", got %s", describe(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorAt(path, n.Line, "invalid duration %s (want a Go duration such as \"5s\" or \"1m30s\")", strconv.Quote(truncate(n.Value, 40)))
		return
	}
	if dur < 0 {
		d.errorAt(path, n.Line, "negative duration %s", n.Value)
		return
	}
	v.SetInt(int64(dur))
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
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
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
