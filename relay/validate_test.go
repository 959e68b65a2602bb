package relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
)

func TestTypedValuesValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" for valid
	}{
		{"auth none", relay.AuthNone.Validate(), ""},
		{"auth basic", relay.AuthBasic.Validate(), ""},
		{"auth token", relay.AuthToken.Validate(), ""},
		{"auth empty", relay.AuthType("").Validate(), `unknown auth type ""`},
		{"auth oauth", relay.AuthType("oauth").Validate(), `unknown auth type "oauth" (want none, basic or token)`},
		{"mode empty", relay.ResponseMode("").Validate(), ""},
		{"mode destination", relay.ResponseDestination.Validate(), ""},
		{"mode echo", relay.ResponseMode("echo").Validate(), `unknown mode "echo" (want default, static, function or destination)`},
		{"state pending", relay.DeliveryPending.Validate(), ""},
		{"state stopped", relay.DeliveryStopped.Validate(), ""},
		{"state done", relay.DeliveryState("done").Validate(), `unknown state "done"`},
		{"backoff empty", relay.Backoff("").Validate(), ""},
		{"backoff fixed", relay.BackoffFixed.Validate(), ""},
		{"backoff linear", relay.Backoff("linear").Validate(), `unknown backoff "linear" (want exponential or fixed)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Errorf("error %q, want none", tt.err)
			case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
				t.Errorf("error %v, want it to contain %q", tt.err, tt.want)
			}
		})
	}
}

func TestModelValidateNamesFields(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		fields []string // in order
		want   string   // part of the message
	}{
		{"good input", (&relay.Input{Name: "github"}).Validate(), nil, ""},
		{"input", (&relay.Input{Name: "", ID: "x", Response: relay.ResponseConfig{Mode: "default", Status: 202, Timeout: -time.Second}}).Validate(),
			[]string{"name", "id", "response.status", "response.timeout", "response.timeout"}, "only used in static mode (mode is default)"},
		{"input header", (&relay.Input{Name: "a", Response: relay.ResponseConfig{Mode: relay.ResponseStatic, Headers: map[string]string{"Bad Name": "v"}}}).Validate(),
			[]string{`response.headers["Bad Name"]`}, `invalid header name "Bad Name"`},
		{"good output", (&relay.Output{Name: "o", Destination: "https://example.com/x"}).Validate(), nil, ""},
		{"internal output", (&relay.Output{Name: "o", Destination: "http://localhost:3000/x", Internal: true, AgentWindow: time.Minute}).Validate(), nil, ""},
		{"agent window", (&relay.Output{Name: "o", Destination: "https://example.com/x", Internal: true, AgentWindow: -time.Second}).Validate(),
			[]string{"agent_window"}, "must not be negative"},
		{"agent window of a direct output", (&relay.Output{Name: "o", Destination: "https://example.com/x", AgentWindow: time.Second}).Validate(),
			[]string{"agent_window"}, "applies to internal outputs only"},
		{"output", (&relay.Output{Name: "o", Destination: "ftp://x", MaxInFlight: -1, Retries: relay.RetryPolicy{Backoff: "linear", InitialInterval: time.Minute, MaxInterval: time.Second}}).Validate(),
			[]string{"destination", "max_in_flight", "retries.backoff", "retries.initial_interval"}, `"ftp://x" is not an http(s) URL`},
		{"password in destination is hidden", (&relay.Output{Name: "o", Destination: "ftp://u:hunter2@x"}).Validate(),
			[]string{"destination"}, "xxxxx"},
		{"bucket", (&relay.Bucket{Name: "b", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "a:b"}}).Validate(),
			[]string{"auth.username", "auth.password"}, "must not contain ':'"},
		{"function", relay.ValidateFunction("0bad name", -time.Second), []string{"name", "timeout"}, "starting with a letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fes := relay.FieldErrors(tt.err)
			var got []string
			for _, fe := range fes {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %q, want %q (error: %v)", got, tt.fields, tt.err)
			}
			if tt.want != "" && !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", tt.err, tt.want)
			}
			if strings.Contains(tt.name, "password") && strings.Contains(tt.err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", tt.err)
			}
		})
	}
}
