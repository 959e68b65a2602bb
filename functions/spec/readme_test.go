package spec

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestREADMEListsEveryAssertion keeps the README's table of assertions in
// step with the spec format: every yaml key under expect is named there.
func TestREADMEListsEveryAssertion(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("no README: %v", err)
	}
	doc := string(readme)
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Expect](), reflect.TypeFor[RequestExpect](), reflect.TypeFor[ResponseExpect](),
		reflect.TypeFor[HTTPCallExpect](), reflect.TypeFor[BigQueryExpect](), reflect.TypeFor[EmailExpect](),
	} {
		for i := range typ.NumField() {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			if !strings.Contains(doc, "`"+key+"`") {
				t.Errorf("README.md does not list the assertion %s.%s (`%s`)", typ.Name(), typ.Field(i).Name, key)
			}
		}
	}
}
