package config_test

import (
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/config"
)

func TestApplyRetention(t *testing.T) {
	st := newStore(t)
	e := newEngine(t)
	parse := func(doc string) *config.File {
		t.Helper()
		f, err := config.Parse([]byte(doc), config.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := parse(`
server:
  retention: {payload: 72h, metadata: 30d, interval: 30s}
buckets:
  - name: ci
    retention: {payload: 24h, metadata: 7d}
  - name: other
`)
	if got := f.Server.Retention.Policy(); got != (relay.Retention{Payload: 72 * time.Hour, Metadata: 30 * 24 * time.Hour}) || f.Server.Retention.Interval != config.Duration(30*time.Second) {
		t.Fatalf("server.retention = %+v", f.Server.Retention)
	}
	if _, err := config.Apply(t.Context(), st, e, f); err != nil {
		t.Fatal(err)
	}
	rs := st.(relay.RetentionStore)
	ci, err := st.GetBucket(t.Context(), "ci")
	if err != nil {
		t.Fatal(err)
	}
	got, err := rs.Retentions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[ci.ID] != (relay.Retention{Payload: 24 * time.Hour, Metadata: 7 * 24 * time.Hour}) {
		t.Fatalf("policies after apply = %v", got)
	}
	// A changed policy is an update of the bucket, in the plan too.
	g := parse(`
buckets:
  - name: ci
    retention: {payload: 12h}
  - name: other
`)
	plan, err := config.Plan(t.Context(), st, e, g)
	if err != nil {
		t.Fatal(err)
	}
	r, err := config.Apply(t.Context(), st, e, g)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []*config.Report{plan, r} {
		found := false
		for _, c := range rep.Changes {
			if c.Kind == config.KindBucket && c.Name == "ci" {
				found = c.Action == config.Updated && len(c.Fields) == 1 && c.Fields[0] == "retention"
			}
		}
		if !found {
			t.Fatalf("changes (dry run %v) = %+v, want ci updated (retention)", rep.DryRun, rep.Changes)
		}
	}
	got, _ = rs.Retentions(t.Context())
	if got[ci.ID] != (relay.Retention{Payload: 12 * time.Hour}) {
		t.Fatalf("policy after the second apply = %v", got[ci.ID])
	}
}
