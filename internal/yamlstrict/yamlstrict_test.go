package yamlstrict

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"abc", "abc", 0},
		{"abc", "abd", 1},
		{"abc", "ab", 1},
		{"ab", "abc", 1},
		{"kitten", "sitting", 3},
		{"filenam", "filename", 1},
		{"flaw", "lawn", 2},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"filename", "statusEquals", "bodyContains", "max_attempts", "name"}
	tests := []struct {
		key, want string
	}{
		{"filenam", ` (did you mean "filename"?)`},
		{"status_equals", ` (did you mean "statusEquals"?)`},
		{"bodycontains", ` (did you mean "bodyContains"?)`},
		{"maxAttempts", ` (did you mean "max_attempts"?)`},
		{"Max-Attempts", ` (did you mean "max_attempts"?)`},
		{"nmae", ` (did you mean "name"?)`},
		{"wat", ""},
		{"completely_different", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := suggest(tc.key, names); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	if got := suggest("x", nil); got != "" {
		t.Errorf("suggest with no names = %q", got)
	}
}

func TestMapKey(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"Content-Type", ".Content-Type"},
		{"max_attempts", ".max_attempts"},
		{"a1", ".a1"},
		{"", `[""]`},
		{"X Y", `["X Y"]`},
		{"data.id", `["data.id"]`},
		{"a[0]", `["a[0]"]`},
		{`q"uote`, `["q\"uote"]`},
		{"é", `["é"]`},
	}
	for _, tc := range tests {
		if got := MapKey(tc.key); got != tc.want {
			t.Errorf("MapKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		parent, key, want string
	}{
		{"", "tests", "tests"},
		{"tests[0]", "name", "tests[0].name"},
		{"a.b", "c", "a.b.c"},
	}
	for _, tc := range tests {
		if got := Join(tc.parent, tc.key); got != tc.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tc.parent, tc.key, got, tc.want)
		}
	}
}

func TestLines(t *testing.T) {
	l := Lines{"": 1, "tests": 3, "tests[0]": 4, "tests[0].request": 5, `tests[0].request.header["X Y"]`: 6}
	tests := []struct {
		path string
		line int
		has  bool
	}{
		{"", 1, true},
		{"tests[0].request", 5, true},
		{"tests[0].request.body", 5, false},
		{"tests[0].expect.request.json", 4, false},
		{"tests[1].name", 3, false},
		{"version", 1, false},
		{`tests[0].request.header["X Y"]`, 6, true},
	}
	for _, tc := range tests {
		if got := l.Line(tc.path); got != tc.line {
			t.Errorf("Line(%q) = %d, want %d", tc.path, got, tc.line)
		}
		if got := l.Has(tc.path); got != tc.has {
			t.Errorf("Has(%q) = %v, want %v", tc.path, got, tc.has)
		}
	}
	if got := (Lines{}).Line("a.b"); got != 0 {
		t.Errorf("empty Lines: Line = %d, want 0", got)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{"ok", `"ok"`},
		{strings.Repeat("x", 40), `"` + strings.Repeat("x", 40) + `"`},
		{strings.Repeat("x", 45), `"` + strings.Repeat("x", 40) + `"`},
		// A cut inside a two-byte rune backs off to the rune's start.
		{strings.Repeat("a", 39) + "éé", `"` + strings.Repeat("a", 39) + `"`},
		{strings.Repeat("é", 30), `"` + strings.Repeat("é", 20) + `"`},
		{"tab\there", `"tab\there"`},
	}
	for _, tc := range tests {
		if got := quote(tc.value); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestFieldError(t *testing.T) {
	inner := errors.New("bad")
	tests := []struct {
		err  *FieldError
		want string
	}{
		{&FieldError{File: "a.yaml", Path: "tests[2].expect.request.json", Line: 12, Err: inner}, "a.yaml: tests[2].expect.request.json: line 12: bad"},
		{&FieldError{File: "a.yaml", Path: "x", Err: inner}, "a.yaml: x: bad"},
		{&FieldError{File: "a.yaml", Line: 3, Err: inner}, "a.yaml: line 3: bad"},
		{&FieldError{File: "a.yaml", Err: inner}, "a.yaml: bad"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, inner) {
			t.Errorf("%v does not unwrap to its Err", tc.err)
		}
	}
}

type inner struct {
	Name  string            `yaml:"name"`
	Count int               `yaml:"count"`
	Tags  map[string]string `yaml:"tags"`
}

type target struct {
	Name     string            `yaml:"name,omitempty"`
	Enabled  bool              `yaml:"enabled"`
	Size     int64             `yaml:"size"`
	Small    int8              `yaml:"small"`
	Ptr      *int              `yaml:"ptr"`
	Any      any               `yaml:"any"`
	List     []string          `yaml:"list"`
	Items    []inner           `yaml:"items"`
	Inner    inner             `yaml:"inner"`
	Map      map[string]string `yaml:"map"`
	Float    float64           `yaml:"float"`
	Seconds  seconds           `yaml:"seconds"`
	Hidden   string            `yaml:"-"`
	Untagged string
}

// seconds is decoded by a hook in the tests.
type seconds float64

func decodeSeconds(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return Expected("a number of seconds")
	}
	if !strings.HasSuffix(n.Value, "s") {
		return fmt.Errorf("%q has no unit", n.Value)
	}
	var f float64
	if _, err := fmt.Sscan(strings.TrimSuffix(n.Value, "s"), &f); err != nil {
		return fmt.Errorf("invalid seconds %q", n.Value)
	}
	v.SetFloat(f)
	return nil
}

// decodeString decodes doc into a target, returning its problems one a line.
func decodeString(t *testing.T, doc string, opts Options) (*target, Lines, string) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	if opts.File == "" {
		opts.File = "t.yaml"
	}
	var v target
	lines, errs := Decode(&root, &v, opts)
	var msgs []string
	for _, err := range errs {
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("error %T is not a *FieldError", err)
		}
		msgs = append(msgs, err.Error())
	}
	return &v, lines, strings.Join(msgs, "\n")
}

func TestDecode(t *testing.T) {
	doc := `name: a
enabled: true
size: 9000000000
small: -5
ptr: 3
any: {a: [1, two]}
list: [x, y]
items:
  - name: i
    count: 2
    tags: {Content-Type: json, "X Y": z}
inner: {name: in}
map: {k: v}
seconds: 5s
`
	v, lines, errs := decodeString(t, doc, Options{Hooks: map[reflect.Type]Hook{reflect.TypeFor[seconds](): decodeSeconds}})
	if errs != "" {
		t.Fatal(errs)
	}
	want := &target{
		Name: "a", Enabled: true, Size: 9000000000, Small: -5, Ptr: v.Ptr,
		Any:   map[string]any{"a": []any{1, "two"}},
		List:  []string{"x", "y"},
		Items: []inner{{Name: "i", Count: 2, Tags: map[string]string{"Content-Type": "json", "X Y": "z"}}},
		Inner: inner{Name: "in"}, Map: map[string]string{"k": "v"}, Seconds: 5,
	}
	if v.Ptr == nil || *v.Ptr != 3 {
		t.Errorf("ptr = %v", v.Ptr)
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", v, want)
	}
	for path, line := range map[string]int{
		"": 1, "name": 1, "size": 3, "items": 9, "items[0]": 9, "items[0].count": 10,
		"items[0].tags.Content-Type": 11, `items[0].tags["X Y"]`: 11, "seconds": 14,
	} {
		if got, ok := lines[path]; !ok || got != line {
			t.Errorf("lines[%q] = %d, %v; want %d", path, got, ok, line)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	hooks := map[reflect.Type]Hook{reflect.TypeFor[seconds](): decodeSeconds}
	long := strings.Repeat("é", 30)
	tests := []struct {
		name string
		doc  string
		opts Options
		want string
	}{
		{"unknown field", "nmae: a\n", Options{},
			`t.yaml: nmae: line 1: unknown field "nmae" (did you mean "name"?)`},
		{"unknown nested field", "items:\n  - cuont: 1\n", Options{},
			`t.yaml: items[0].cuont: line 2: unknown field "cuont" (did you mean "count"?)`},
		{"unknown field without suggestion", "zzz: 1\n", Options{},
			`t.yaml: zzz: line 1: unknown field "zzz"`},
		{"field tagged -", "Hidden: x\nUntagged: y\n", Options{},
			"t.yaml: Hidden: line 1: unknown field \"Hidden\"\nt.yaml: Untagged: line 2: unknown field \"Untagged\""},
		{"duplicate key", "name: a\nenabled: true\nname: b\n", Options{},
			`t.yaml: name: line 3: duplicate key (first at line 1)`},
		{"duplicate map key", "map:\n  \"a b\": 1\n  \"a b\": 2\n", Options{},
			`t.yaml: map["a b"]: line 3: duplicate key (first at line 2)`},
		{"not a mapping", "- a\n", Options{},
			`t.yaml: line 1: expected a mapping, got a list`},
		{"map not a mapping", "map: x\n", Options{},
			`t.yaml: map: line 1: expected a mapping, got "x"`},
		{"string given a list", "name: [a]\n", Options{},
			`t.yaml: name: line 1: expected a string, got a list`},
		{"bool", "enabled: \"yes\"\n", Options{},
			`t.yaml: enabled: line 1: expected true or false, got "yes"`},
		{"int", "inner: {count: 1.5}\n", Options{},
			`t.yaml: inner.count: line 1: expected an integer, got "1.5"`},
		{"int overflow", "small: 300\n", Options{},
			`t.yaml: small: line 1: expected an integer, got "300"`},
		{"list", "items: {name: a}\n", Options{},
			`t.yaml: items: line 1: expected a list, got a mapping`},
		{"single string without StringAsList", "list: x\n", Options{},
			`t.yaml: list: line 1: expected a list, got "x"`},
		{"unsupported type", "float: 1.5\n", Options{},
			`t.yaml: float: line 1: internal error: cannot decode into float64`},
		{"unsupported type without a hook", "seconds: 5s\n", Options{},
			`t.yaml: seconds: line 1: internal error: cannot decode into yamlstrict.seconds`},
		{"interface", "any: !!int x\n", Options{},
			"t.yaml: any: line 1: yaml: cannot decode !!str `x` as a !!int"},
		{"non-string key", "? [a]\n: 1\n", Options{},
			`t.yaml: line 1: keys must be strings, got a list`},
		{"merge of a scalar", "inner:\n  <<: x\n  name: a\n", Options{},
			`t.yaml: inner: line 2: << must merge a mapping, got "x"`},
		{"hook error", "seconds: 5\n", Options{Hooks: hooks},
			`t.yaml: seconds: line 1: "5" has no unit`},
		{"hook Expected", "seconds: [5s]\n", Options{Hooks: hooks},
			`t.yaml: seconds: line 1: expected a number of seconds, got a list`},
		{"long value", "name: {}\nenabled: " + long + "\n", Options{},
			"t.yaml: name: line 1: expected a string, got a mapping\nt.yaml: enabled: line 2: expected true or false, got \"" + strings.Repeat("é", 20) + "\""},
		{"Quote", "enabled: " + long + "\n", Options{Quote: func(s string) string { return "<" + s[:4] + ">" }},
			"t.yaml: enabled: line 1: expected true or false, got <éé>"},
		{"several problems", "items:\n  - name: a\n    wat: 1\n  - count: x\n", Options{File: "other.yaml"},
			"other.yaml: items[0].wat: line 3: unknown field \"wat\"\nother.yaml: items[1].count: line 4: expected an integer, got \"x\""},
		{"MaxErrors", "k1: 1\nk2: 2\nk3: 3\nk4: 4\n", Options{MaxErrors: 2},
			"t.yaml: k1: line 1: unknown field \"k1\"\nt.yaml: k2: line 2: unknown field \"k2\"\nt.yaml: too many errors"},
		{"MaxErrors not reached", "k1: 1\nk2: 2\n", Options{MaxErrors: 2},
			"t.yaml: k1: line 1: unknown field \"k1\"\nt.yaml: k2: line 2: unknown field \"k2\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, got := decodeString(t, tc.doc, tc.opts)
			if got != tc.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	doc := `defaults: &d {name: base, count: 1, tags: {a: "1"}}
other: &o {name: other, count: 2}
items:
  - <<: *d
    name: own
  - <<: [*o, *d]
  - *d
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Defaults inner   `yaml:"defaults"`
		Other    inner   `yaml:"other"`
		Items    []inner `yaml:"items"`
	}
	lines, errs := Decode(&root, &v, Options{File: "t.yaml"})
	if errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	want := []inner{
		{Name: "own", Count: 1, Tags: map[string]string{"a": "1"}},   // own keys win
		{Name: "other", Count: 2, Tags: map[string]string{"a": "1"}}, // earlier merged win
		{Name: "base", Count: 1, Tags: map[string]string{"a": "1"}},  // an alias
	}
	if !reflect.DeepEqual(v.Items, want) {
		t.Errorf("items = %+v, want %+v", v.Items, want)
	}
	// A merged field's line is where its value is written.
	if lines["items[0].name"] != 5 || lines["items[0].count"] != 1 || lines["items[2]"] != 1 {
		t.Errorf("lines = %v", lines)
	}
}

func TestDecodeNull(t *testing.T) {
	doc := "name: ~\nptr:\nlist: null\nmap:\nany: ~\nseconds: ~\n"
	hooks := map[reflect.Type]Hook{reflect.TypeFor[seconds](): func(*yaml.Node, reflect.Value) error {
		return errors.New("a hook never sees null")
	}}
	for _, empty := range []bool{false, true} {
		v, lines, errs := decodeString(t, doc, Options{EmptyMapForNull: empty, Hooks: hooks})
		if errs != "" {
			t.Fatal(errs)
		}
		if v.Name != "" || v.Ptr != nil || v.List != nil || v.Any != nil || v.Seconds != 0 {
			t.Errorf("null decoded as %+v", v)
		}
		if (v.Map != nil) != empty || len(v.Map) != 0 {
			t.Errorf("EmptyMapForNull %v: map = %#v", empty, v.Map)
		}
		if !lines.Has("map") || !lines.Has("ptr") || lines.Has("inner") {
			t.Errorf("lines = %v", lines)
		}
	}
}

func TestDecodeStringAsList(t *testing.T) {
	v, lines, errs := decodeString(t, "list: x\n", Options{StringAsList: true})
	if errs != "" {
		t.Fatal(errs)
	}
	if !reflect.DeepEqual(v.List, []string{"x"}) || !lines.Has("list[0]") {
		t.Errorf("list = %q, lines = %v", v.List, lines)
	}
	// Only lists of strings take a single string.
	if _, _, errs := decodeString(t, "items: x\n", Options{StringAsList: true}); errs != `t.yaml: items: line 1: expected a list, got "x"` {
		t.Errorf("items: x: %s", errs)
	}
}

func TestDecodeDocuments(t *testing.T) {
	empty := yaml.Node{Kind: yaml.DocumentNode}
	var v target
	if lines, errs := Decode(&empty, &v, Options{}); len(lines) != 0 || errs != nil {
		t.Errorf("empty document: %v, %v", lines, errs)
	}
	if _, errs := Decode(&empty, v, Options{}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "non-nil pointer") {
		t.Errorf("decoding into a non-pointer: %v", errs)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("name: a\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if _, errs := Decode(doc.Content[0], &v, Options{}); errs != nil || v.Name != "a" {
		t.Errorf("decoding a document's content: %v, %+v", errs, v)
	}
}

func TestDecodeMapKeyType(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("m: {1: a}\n"), &root); err != nil {
		t.Fatal(err)
	}
	var v struct {
		M map[int]string `yaml:"m"`
	}
	_, errs := Decode(&root, &v, Options{File: "t.yaml"})
	if got, want := errors.Join(errs...).Error(), "t.yaml: m: line 1: internal error: cannot decode into map[int]string"; got != want {
		t.Errorf("errors = %q, want %q", got, want)
	}
}
