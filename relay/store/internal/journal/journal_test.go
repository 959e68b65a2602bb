package journal

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestRequestDiffJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	body := []byte("b\x00dy")
	empty := []byte{}
	for _, d := range []*Diff{
		{},
		{Method: s("GET"), Path: s("/a\"b"), RawPath: s("/a%2Fb"), RawQuery: s("x=<1>&y")},
		{Header: http.Header{"X-A": {"1", "2"}, "Content-Type": {"text/plain"}}, Added: []string{"X-New", "X-\u00e9"}},
		{Body: &body},
		{Body: &empty, Added: []string{"X"}},
	} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON = %s, want %s", got, want)
		}
	}
}
