package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/relayfn/relayfn/internal/yamlstrict"
	"github.com/relayfn/relayfn/runtime"
)

// Check runs a spec stored with a function (data, read by Parse) against
// source, the next version of the function name (compiled as name.lua),
// with the sandbox of fnctl test (HTTP answered from the spec, BigQuery
// rows and emails recorded), and returns what failed, one line each: none
// when every test passed. A spec that cannot be read, or a source that
// does not compile, is a failure too. timeout is each invocation's
// deadline (0: the engine's). The relay checks a new version with it
// before saving it.
func Check(ctx context.Context, e *runtime.Engine, name, source string, data []byte, timeout time.Duration) []string {
	s, err := Parse("spec of "+name, data)
	if err != nil {
		return strings.Split(err.Error(), "\n")
	}
	s.FunctionPath, s.Source = name+".lua", []byte(source)
	rep := Run(ctx, e, s, Options{Sandbox: NewSandbox(SandboxOptions{}), Timeout: timeout})
	if rep.Err != nil {
		return []string{rep.Err.Error()}
	}
	var out []string
	for _, t := range rep.Tests {
		for _, f := range t.Failures {
			out = append(out, fmt.Sprintf("%s: %s", t.Name, f))
		}
	}
	return out
}

// Parse decodes a spec stored with a function (see Inline): the same
// format as a spec file, checked the same way, but it reads no files: its
// filename is ignored (the spec runs against the function it is stored
// with: set Source and FunctionPath before Run) and body_file is refused.
// name is what errors call the spec.
func Parse(name string, data []byte) (*Spec, error) {
	return parse(name, data, "", true)
}

// Inline reads the spec file at path and returns it in the form stored
// with a function: the same YAML (comments kept), with each test's
// body_file replaced by its content as body, relative to the spec's
// folder. Parse reads the result.
func Inline(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlstrict.SyntaxError(path, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &FieldError{File: path, Err: errors.New("the spec is empty or not a mapping")}
	}
	changed := false
	tests := mapValue(doc.Content[0], "tests")
	if tests != nil && tests.Kind == yaml.SequenceNode {
		for _, t := range tests.Content {
			req := mapValue(t, "request")
			if req == nil || req.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(req.Content); i += 2 {
				if req.Content[i].Value != "body_file" {
					continue
				}
				b, err := os.ReadFile(resolve(filepath.Dir(path), req.Content[i+1].Value))
				if err != nil {
					return nil, &FieldError{File: path, Line: req.Content[i].Line, Path: "request.body_file", Err: err}
				}
				req.Content[i].Value = "body"
				req.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(b)}
				changed = true
			}
		}
	}
	if !changed {
		return data, nil
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return out, nil
}

// mapValue returns the value of key in the mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
