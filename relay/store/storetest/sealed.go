package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/seal"
)

// Secret is the plaintext SaveSealed stores in the sealed fields.
const Secret = "TOPSECRET"

// Sealed are records whose sealed fields hold Secret, for the tests of a
// store's encryption at rest: a webhook of bucket "a" with two deliveries
// (one with a last error, one with an attempt) and a function's config.
type Sealed struct {
	WebhookID  string
	FunctionID string
	DeliveryID string // the delivery with an attempt
}

// SaveSealed stores the records of Sealed in st.
func SaveSealed(t testing.TB, st relay.Store) *Sealed {
	t.Helper()
	ctx := context.Background()
	fx := NewFixture(t, st, "a", false)
	f := &functions.Function{Name: "f"}
	Must(t, st.CreateFunction(ctx, f))
	Must(t, st.SetConfig(ctx, f.ID, "K", Secret))
	w := fx.Webhook(Secret)
	ds := fx.Deliveries()
	ds[0].LastError = Secret
	Must(t, st.SaveWebhook(ctx, w, ds))
	Must(t, st.RecordAttempt(ctx, ds[1], &relay.Attempt{Error: Secret}))
	return &Sealed{WebhookID: w.ID, FunctionID: f.ID, DeliveryID: ds[1].ID}
}

// WantUnreadable checks that st, whose sealer has another key than the one
// s was stored with, fails to read each sealed record with an error
// wrapping seal.ErrOpen, without a panic or the plaintext in the error,
// and still reads the plaintext records.
func (s *Sealed) WantUnreadable(t *testing.T, st relay.Store) {
	t.Helper()
	ctx := context.Background()
	errs := map[string]error{
		"GetWebhook":     errOf(st.GetWebhook(ctx, s.WebhookID)),
		"Config":         errOf(st.Config(ctx, s.FunctionID)),
		"ListDeliveries": errOf(PendingDeliveries(ctx, st)),
		"GetDelivery":    errOf2(st.GetDelivery(ctx, s.DeliveryID)),
	}
	for name, err := range errs {
		if !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s with the wrong key: err = %v, want one wrapping seal.ErrOpen", name, err)
			continue
		}
		if strings.Contains(err.Error(), Secret) {
			t.Errorf("%s: error %q holds plaintext", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := st.GetBucket(ctx, "a"); err != nil {
		t.Errorf("GetBucket with the wrong key: %v", err)
	}
}
