package yamlstrict

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSyntaxErrorLine(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int
		msg       string
	}{
		{"key indented too little", "a:\n  b: 1\n c: 2\n", 3, "did not find expected key"},
		{"key after a list item", "a:\n  - x\n  y: 2\n", 3, "did not find expected '-' indicator"},
		{"list item indented wrong", "functions:\n  - name: a\n    file: x\n   bad: 1\nbuckets: []\n", 4, "did not find expected '-' indicator"},
		{"unclosed flow list", "a: 1\nb: [1, 2\nc: 3\n", 2, "did not find expected ',' or ']'"},
		{"unclosed flow map", "a: {b: 1\nc: 2\n", 1, "did not find expected ',' or '}'"},
		{"unterminated string", "a: 1\nb: \"unterminated\nc: 3\n", 2, "found unexpected end of stream"},
		{"tab", "a: 1\n\tb: 2\n", 2, "found a tab character that violates indentation"},
		{"two colons", "a: 1\nb: 2: 3\n", 2, "mapping values are not allowed in this context"},
		{"a deep item", "x: 1\ny:\n  - a\n  - b\n    c: 1\n", 5, "mapping values are not allowed in this context"},
		{"a line without colon", "a: 1\na b\nc: 2\n", 2, "could not find expected ':'"},
		{"valid multi-line flow before the mistake", "a: [1,\n  2]\nb:\n  c: 1\n d: 2\n", 5, "did not find expected key"},
		{"no final newline", "a:\n  b: 1\n c: 2", 3, "did not find expected key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tc.doc), &n)
			if err == nil {
				t.Fatal("the document parses")
			}
			fe := SyntaxError("r.yaml", []byte(tc.doc), err)
			if fe.Line != tc.line || fe.Err.Error() != tc.msg {
				t.Errorf("%v, want line %d: %s (yaml.v3 said %v)", fe, tc.line, tc.msg, err)
			}
		})
	}
}
