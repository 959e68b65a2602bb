package yamlstrict

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder is the state of one Decode call.
type decoder struct {
	opts  Options
	lines Lines
	errs  []error
}

// errorf records a problem with the field at path, on line.
func (d *decoder) errorf(path string, line int, format string, args ...any) {
	d.report(path, line, fmt.Errorf(format, args...))
}

func (d *decoder) report(path string, line int, err error) {
	if max := d.opts.MaxErrors; max > 0 {
		if len(d.errs) == max {
			d.errs = append(d.errs, &FieldError{File: d.opts.File, Err: errors.New("too many errors")})
		}
		if len(d.errs) > max {
			return
		}
	}
	d.errs = append(d.errs, &FieldError{File: d.opts.File, Path: path, Line: line, Err: err})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	d.lines[path] = n.Line
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// Left out: the zero value (nil for pointers, maps and lists).
		if d.opts.EmptyMapForNull && v.Kind() == reflect.Map {
			v.Set(reflect.MakeMap(v.Type()))
		}
		return
	}
	if hook, ok := d.opts.Hooks[v.Type()]; ok {
		if err := hook(n, v); err != nil {
			if e := (*expectedError)(nil); errors.As(err, &e) {
				d.errorf(path, n.Line, "expected %s, got %s", e.want, d.describe(n))
				return
			}
			d.report(path, n.Line, err)
		}
		return
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
			d.errorf(path, n.Line, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(path, n.Line, "expected a string, got %s", d.describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorf(path, n.Line, "expected true or false, got %s", d.describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.errorf(path, n.Line, "expected an integer, got %s", d.describe(n))
			return
		}
		v.SetInt(i)
	default:
		d.errorf(path, n.Line, "internal error: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(path, n.Line, "expected a mapping, got %s", d.describe(n))
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
		fp := Join(path, key)
		if !kv.merged {
			if first, dup := seen[key]; dup {
				d.errorf(fp, kv.key.Line, "duplicate key (first at line %d)", first)
				continue
			}
			seen[key] = kv.key.Line
		}
		i, ok := fields[key]
		if !ok {
			d.errorf(fp, kv.key.Line, "unknown field %q%s", key, suggest(key, names))
			continue
		}
		d.decode(kv.val, v.Field(i), fp)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if d.opts.StringAsList && n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		s := reflect.MakeSlice(v.Type(), 1, 1)
		d.decode(n, s.Index(0), path+"[0]")
		v.Set(s)
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(path, n.Line, "expected a list, got %s", d.describe(n))
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
		d.errorf(path, n.Line, "expected a mapping, got %s", d.describe(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errorf(path, n.Line, "internal error: cannot decode into %s", t)
		return
	}
	m := reflect.MakeMap(t)
	seen := make(map[string]int)
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		kp := path + MapKey(key)
		if !kv.merged {
			if first, dup := seen[key]; dup {
				d.errorf(kp, kv.key.Line, "duplicate key (first at line %d)", first)
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

// pair is one key and its value in a mapping.
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
			d.errorf(path, k.Line, "keys must be strings, got %s", d.describe(k))
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
				d.errorf(path, k.Line, "<< must merge a mapping, got %s", d.describe(src))
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

// describe names what n is in a message: "a mapping", "a list" or its
// value, quoted.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return d.opts.Quote(n.Value)
	}
}

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// suggest returns ` (did you mean "x"?)` for the known name closest to key,
// or "" when none is close. Case, "_", "-" and spaces do not count.
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

// editDistance returns the Levenshtein distance between a and b, counted
// in bytes.
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
