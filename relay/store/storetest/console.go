package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
)

// TestSpecs: a function's spec is stored byte for byte, replaced by the
// next, removed by an empty one and with its function; a missing
// function has none to set or read.
func (s *suite) TestSpecs(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	f := &functions.Function{Name: "f", Source: "return"}
	Must(t, st.CreateFunction(ctx, f))
	other := &functions.Function{Name: "other", Source: "return"}
	Must(t, st.CreateFunction(ctx, other))

	spec := func(id string) []byte {
		t.Helper()
		b, err := st.Spec(ctx, id)
		Must(t, err)
		return b
	}
	if b := spec(f.ID); b != nil {
		t.Fatalf("Spec of a function without one = %q, want nil", b)
	}
	first := []byte("cases:\n  - name: \"ünïcode ✓\"\n    request: {body: '{\"a\":1}'}\n\ttab\r\n")
	second := []byte("cases: []\n")
	for _, tt := range []struct {
		name string
		set  []byte
		want []byte
	}{
		{"first", first, first},
		{"replaced", second, second},
		{"removed by nil", nil, nil},
		{"set again", first, first},
		{"removed by empty", []byte{}, nil},
		{"set once more", second, second},
	} {
		Must(t, st.SetSpec(ctx, f.ID, tt.set))
		if got := spec(f.ID); !bytes.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
			t.Errorf("%s: Spec = %q, want %q", tt.name, got, tt.want)
		}
		if got := spec(other.ID); got != nil {
			t.Errorf("%s: the other function's spec = %q, want nil", tt.name, got)
		}
	}

	WantNotFound(t, st.SetSpec(ctx, "nope", second))
	WantNotFound(t, errOf(st.Spec(ctx, "nope")))
	// It goes with its function: one made again with the ID has none.
	Must(t, st.DeleteFunction(ctx, f.ID))
	WantNotFound(t, errOf(st.Spec(ctx, f.ID)))
	Must(t, st.CreateFunction(ctx, &functions.Function{ID: f.ID, Name: "reborn", Source: "return"}))
	if b := spec(f.ID); b != nil {
		t.Errorf("Spec of a function made again with a deleted one's ID = %q, want nil", b)
	}
}

// TestOutputStats: for each output with deliveries, when one last
// succeeded and how many failed or are being retried.
func (s *suite) TestOutputStats(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	stats, err := st.OutputStats(ctx)
	Must(t, err)
	if len(stats) != 0 {
		t.Fatalf("OutputStats of an empty store = %v", stats)
	}
	fx := NewFixture(t, st, "stats", false)
	idle := NewFixture(t, st, "idle", false)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	// Output one: two successes, a failure, a retry, one not tried yet.
	// Output two: pending deliveries never tried.
	outcomes := []struct {
		state    relay.DeliveryState
		attempts int
		at       time.Time
	}{
		{relay.DeliverySucceeded, 1, t0.Add(2 * time.Minute)},
		{relay.DeliverySucceeded, 2, t0.Add(time.Minute)},
		{relay.DeliveryFailed, 3, t0.Add(3 * time.Minute)},
		{relay.DeliveryPending, 1, t0.Add(4 * time.Minute)},
		{relay.DeliveryPending, 0, time.Time{}},
	}
	for _, o := range outcomes {
		ds := fx.Deliveries()
		Must(t, st.SaveWebhook(ctx, fx.Webhook("x"), ds))
		d := ds[0]
		for n := range o.attempts {
			d.State, d.Attempts, d.UpdatedAt = relay.DeliveryPending, n+1, o.at
			if n == o.attempts-1 {
				d.State = o.state
			}
			Must(t, st.RecordAttempt(ctx, d, &relay.Attempt{Status: 500}))
		}
	}
	stats, err = st.OutputStats(ctx)
	Must(t, err)
	want := relay.OutputStats{LastSuccess: t0.Add(2 * time.Minute), Failed: 1, Retrying: 1}
	if got := stats[fx.Out1.ID]; !got.LastSuccess.Equal(want.LastSuccess) || got.Failed != want.Failed || got.Retrying != want.Retrying {
		t.Errorf("OutputStats of output one = %+v, want %+v", got, want)
	}
	if got := stats[fx.Out2.ID]; !got.LastSuccess.IsZero() || got.Failed != 0 || got.Retrying != 0 {
		t.Errorf("OutputStats of output two = %+v, want nothing succeeded, failed or retrying", got)
	}
	for _, out := range []*relay.Output{idle.Out1, idle.Out2} {
		if got, ok := stats[out.ID]; ok {
			t.Errorf("OutputStats of an output without deliveries = %+v, want none", got)
		}
	}
}
