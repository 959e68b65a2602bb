package config_test

import (
	"context"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

// TestDestinationOnTheRelay: a destination written as a path on the relay
// follows server.listen, including a listen address changed after parsing
// (fnctl serve --listen).
func TestDestinationOnTheRelay(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"", "http://127.0.0.1:8080/v1/webhooks/x"},
		{":9090", "http://127.0.0.1:9090/v1/webhooks/x"},
		{"0.0.0.0:7000", "http://127.0.0.1:7000/v1/webhooks/x"},
		{"[::]:7000", "http://[::1]:7000/v1/webhooks/x"},
		{"relay.internal:8443", "http://relay.internal:8443/v1/webhooks/x"},
	} {
		doc := "buckets:\n  - name: b\n    outputs:\n      - {name: self, destination: /v1/webhooks/x}\n"
		if tc.listen != "" {
			doc = "server: {listen: \"" + tc.listen + "\"}\n" + doc
		}
		f := parse(t, doc)
		if got := f.Buckets[0].Outputs[0].Destination; got != tc.want {
			t.Errorf("listen %q: destination %q, want %q", tc.listen, got, tc.want)
		}
	}

	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	f := parse(t, "server: {listen: \"127.0.0.1:8080\"}\nbuckets:\n  - name: b\n    outputs:\n      - {name: self, destination: /v1/webhooks/x}\n")
	f.Server.Listen = "127.0.0.1:9191" // as fnctl serve --listen does
	if _, err := config.Apply(ctx, st, e, f); err != nil {
		t.Fatal(err)
	}
	b, _ := st.GetBucket(ctx, "b")
	outs, _ := st.ListOutputs(ctx, b.ID)
	if len(outs) != 1 || outs[0].Destination != "http://127.0.0.1:9191/v1/webhooks/x" {
		t.Errorf("stored destination = %+v", outs)
	}
}
