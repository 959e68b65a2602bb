// Package yamlstrict decodes a YAML node tree into typed Go values
// strictly, for configuration files that people write by hand: spec
// files for fnctl test (functions/spec) and relay.yaml (relay/config).
//
// Where yaml.v3's own decoding stops at the first problem and skips
// unknown keys, Decode reports every problem it finds, each as a
// *FieldError naming the file, the field's path (as
// "tests[2].expect.request.json") and its line. It refuses unknown keys,
// suggesting the closest known one ("did you mean"), refuses duplicate
// keys, and expands anchors, aliases and merge keys ("<<: *defaults").
// It also returns the line of every field path it met, so that the checks
// that follow decoding can report their problems on the right line.
//
// A struct's fields are named by their yaml tag; fields without one, or
// tagged "-", cannot be set from the document. Decode handles structs,
// pointers, slices, maps with string keys, interfaces (decoded by
// yaml.v3), strings, bools and ints; other types need a Hook.
package yamlstrict

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// FieldError is a problem with one field of a document.
type FieldError struct {
	// File is the document's name.
	File string
	// Path is the field, as "tests[2].expect.request.json"; empty for the
	// document as a whole.
	Path string
	// Line is the field's line in the document, 0 when unknown.
	Line int
	// Err is what is wrong.
	Err error
}

// Error returns "file: path: line N: problem", leaving out the path and
// the line when they are unknown.
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

// Lines maps the field paths a document gave, as "buckets[0].name", to
// their lines. The document itself is at path "".
type Lines map[string]int

// Has reports whether the document gave the field at path.
func (l Lines) Has(path string) bool {
	_, ok := l[path]
	return ok
}

// Line returns the line of the field at path or, when the document did not
// give it, of the closest enclosing field it gave; 0 when unknown.
func (l Lines) Line(path string) int {
	for {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return l[""]
		}
		path = path[:i]
	}
}

// Join returns the path of the field named key of the object at parent.
func Join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// MapKey formats a map key as a path element to append to the map's path:
// .key, or ["key"] when the key is not a plain word of letters, digits, _
// and -.
func MapKey(k string) string {
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

// A Hook decodes a non-null node into v, a settable value of the type it
// is registered for. The error it returns is reported at the node's line;
// return Expected for a node of the wrong kind.
type Hook func(n *yaml.Node, v reflect.Value) error

// Expected returns the error a Hook gives for a node it cannot take at
// all: Decode reports it as "expected <want>, got <the node>", the node
// described as its other messages describe it.
func Expected(want string) error { return &expectedError{want: want} }

type expectedError struct{ want string }

func (e *expectedError) Error() string { return "expected " + e.want }

// Options configure Decode.
type Options struct {
	// File names the document in the errors.
	File string

	// Hooks decode the values of the types they are registered for in
	// place of Decode's own rules. A null node never reaches a hook: it
	// leaves the value as it is.
	Hooks map[reflect.Type]Hook

	// EmptyMapForNull decodes null given for a map ("config:" with nothing
	// after it) as an empty map, telling it apart from leaving the map
	// out, which leaves it nil. When false, null leaves the map nil.
	EmptyMapForNull bool

	// StringAsList lets a single string stand for a list of one where a
	// list of strings is expected.
	StringAsList bool

	// MaxErrors bounds the problems reported: past it, one last error
	// "too many errors", with no path, ends the list. 0 means no bound.
	MaxErrors int

	// Quote formats a scalar's value in the messages, as in `expected an
	// integer, got "ok"`. Nil means strconv.Quote of the value cut to 40
	// bytes (on a rune boundary).
	Quote func(value string) string
}

// Decode decodes the node tree at root into the value v points to,
// strictly, as the package comment describes. A document node stands for
// its content. It returns the line of every field path it met, and every
// problem it found in the document, each a *FieldError; the value is left
// partly decoded when there are problems. v must be a non-nil pointer.
func Decode(root *yaml.Node, v any, opts Options) (Lines, []error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return Lines{}, []error{fmt.Errorf("yamlstrict: decode into %T: want a non-nil pointer", v)}
	}
	d := &decoder{opts: opts, lines: Lines{}}
	if d.opts.Quote == nil {
		d.opts.Quote = quote
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return d.lines, nil
		}
		root = root.Content[0]
	}
	d.decode(root, rv.Elem(), "")
	return d.lines, d.errs
}

// quote is the default Options.Quote.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strconv.Quote(s)
}
