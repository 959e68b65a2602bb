package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/internal/yamlstrict"
)

// FieldError is a problem with one field of a relay.yaml. Load and Parse
// return them, joined with errors.Join when there are several. Its Path is
// the field, as "buckets[0].outputs[1].destination", and its Error method
// returns "file: path: line N: problem".
type FieldError = yamlstrict.FieldError

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
	f := &File{Name: name, Dir: opts.Dir}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlstrict.SyntaxError(name, data, err)
	}
	if errs := resolveSecrets(name, &doc, opts); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d := decode(name, &doc, f)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	f.lines = d.lines
	f.setDefaults()
	f.resolveSelfDestinations()
	v := &validator{decoder: d, opts: opts}
	v.file(f)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return f, nil
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
func (f *File) Has(path string) bool { return yamlstrict.Lines(f.lines).Has(path) }

// Line returns the line of the field at path (or of the closest enclosing
// field the document gave), 0 when unknown.
func (f *File) Line(path string) int { return yamlstrict.Lines(f.lines).Line(path) }

// fieldError returns a *FieldError for the field at path of f.
func (f *File) fieldError(path string, err error) error {
	return &FieldError{File: f.Name, Path: path, Line: f.Line(path), Err: err}
}

// decoder decodes a relay.yaml strictly and collects the problems decoding
// and checking it find.
type decoder struct {
	file  string
	errs  []error
	lines yamlstrict.Lines
}

// maxErrors bounds the problems reported at once.
const maxErrors = 50

// decode decodes the document doc (which may be empty) into f.
func decode(file string, doc *yaml.Node, f *File) *decoder {
	d := &decoder{file: file, lines: yamlstrict.Lines{}}
	if doc.Kind != yaml.DocumentNode {
		return d // an empty document
	}
	d.lines, d.errs = yamlstrict.Decode(doc, f, yamlstrict.Options{
		File:            file,
		Hooks:           map[reflect.Type]yamlstrict.Hook{reflect.TypeFor[Duration](): decodeDuration, reflect.TypeFor[Age](): decodeAge},
		EmptyMapForNull: true, // "config:" with nothing after it: given, and empty
		MaxErrors:       maxErrors,
		Quote:           quote,
	})
	return d
}

// errorf records a problem with the field at path, on its line (or the
// line of the closest enclosing field seen).
func (d *decoder) errorf(path, format string, args ...any) {
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &FieldError{File: d.file, Err: errors.New("too many errors")})
	}
	if len(d.errs) > maxErrors {
		return
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Path: path, Line: d.lines.Line(path), Err: fmt.Errorf(format, args...)})
}

// decodeDuration decodes a Duration: a Go duration string, or 0.
func decodeDuration(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return yamlstrict.Expected(`a duration such as "5s"`)
	}
	if n.ShortTag() == "!!int" && n.Value == "0" {
		return nil
	}
	if n.ShortTag() != "!!str" {
		return yamlstrict.Expected(`a duration with a unit such as "5s" or "250ms"`)
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %s (want a Go duration such as \"5s\" or \"1m30s\")", quote(n.Value))
	}
	if dur < 0 {
		return fmt.Errorf("negative duration %s", n.Value)
	}
	v.SetInt(int64(dur))
	return nil
}

// quote quotes a value for a message, cut to 40 bytes.
func quote(s string) string { return strconv.Quote(truncate(s, 40)) }

// truncate cuts s to n bytes, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// join returns the path of the field named key of the object at parent.
func join(parent, key string) string { return yamlstrict.Join(parent, key) }

// mapKey formats a map key as a path element.
func mapKey(k string) string { return yamlstrict.MapKey(k) }
