package api_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/api"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"5s"`, 5 * time.Second, false},
		{`"1m30s"`, 90 * time.Second, false},
		{`"0s"`, 0, false},
		{`2000000000`, 2 * time.Second, false},
		{` 15 `, 15, false},
		{`"5 seconds"`, 0, true},
		{`1.5`, 0, true},
		{`true`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d api.Duration
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr {
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) || te.Type != api.DurationType {
					t.Fatalf("error %v, want an UnmarshalTypeError naming api.Duration", err)
				}
				return
			}
			if err != nil || time.Duration(d) != tt.want {
				t.Fatalf("= %v, %v; want %v", time.Duration(d), err, tt.want)
			}
		})
	}
}

// Durations are written as strings and read back the same, inside the
// wire types too.
func TestDurationRoundTrip(t *testing.T) {
	out := api.Output{Name: "o", Timeout: api.Duration(3 * time.Second),
		Retries: api.RetryPolicy{InitialInterval: api.Duration(10 * time.Millisecond), MaxInterval: api.Duration(5 * time.Minute)}}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"timeout":"3s"`, `"initial_interval":"10ms"`, `"max_interval":"5m0s"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back api.Output
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Timeout != out.Timeout || back.Retries != out.Retries {
		t.Errorf("round trip = %+v, want %+v", back, out)
	}
}

func TestHeaderReadsStringsAndLists(t *testing.T) {
	var h api.Header
	if err := json.Unmarshal([]byte(`{"A": "1", "B": ["2", "3"]}`), &h); err != nil {
		t.Fatal(err)
	}
	if got := h["A"]; len(got) != 1 || got[0] != "1" {
		t.Errorf("A = %q", got)
	}
	if got := h["B"]; len(got) != 2 || got[1] != "3" {
		t.Errorf("B = %q", got)
	}
	if err := json.Unmarshal([]byte(`{"A": 1}`), &h); err == nil || !strings.Contains(err.Error(), `header "A"`) {
		t.Errorf("number value: error %v", err)
	}
}
