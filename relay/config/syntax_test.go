package config_test

import (
	"errors"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

// TestSyntaxErrorLine: a YAML syntax error names the line of the mistake,
// not the line before it or where its block began.
func TestSyntaxErrorLine(t *testing.T) {
	doc := `server:
  listen: ":8080"
buckets:
  - name: ci
    inputs:
      - name: github
       function: tag
`
	_, err := config.Parse([]byte(doc), config.ParseOptions{})
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FieldError", err)
	}
	if fe.Line != 7 || fe.Error() != "relay.yaml: line 7: did not find expected '-' indicator" {
		t.Errorf("err = %q (line %d), want line 7", fe, fe.Line)
	}
}
