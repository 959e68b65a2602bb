package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
)

// MaxDeliveries caps the limit of a delivery listing.
const MaxDeliveries = api.MaxDeliveries

// listDeliveries lists deliveries, newest first, filtered by the query:
// bucket (ID or name), output (ID, or name within bucket), webhook, state,
// before (RFC 3339 time, for paging) and limit (default 100).
func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	var f relay.DeliveryFilter
	var err error
	if f.BucketID, err = h.bucketParam(ctx, q.Get("bucket")); err != nil {
		return err
	}
	if v := q.Get("output"); v != "" {
		out, err := h.st.GetOutput(ctx, v)
		switch {
		case err == nil:
			f.OutputID = out.ID
		case !errors.Is(err, store.ErrNotFound):
			return err
		case f.BucketID != "":
			outs, err := h.st.ListOutputs(ctx, f.BucketID)
			if err != nil {
				return err
			}
			for _, o := range outs {
				if o.Name == v {
					f.OutputID = o.ID
				}
			}
		}
		if f.OutputID == "" {
			return badRequest("output: no output %q (give its ID, or its name with bucket)", v)
		}
	}
	f.WebhookID = q.Get("webhook")
	if s := relay.DeliveryState(q.Get("state")); s != "" {
		if err := s.Validate(); err != nil {
			return invalid("state", err)
		}
		f.State = s
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return badRequest("before: %q is not an RFC 3339 time", v)
		}
		f.Before = t
	}
	if f.Limit, err = limitParam(q.Get("limit"), MaxDeliveries); err != nil {
		return err
	}
	ds, err := h.st.ListDeliveries(ctx, f)
	if err != nil {
		return err
	}
	return ok(w, nonNil(ds))
}

func (h *handler) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, as, err := h.st.GetDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, &api.DeliveryDetail{Delivery: DeliveryWire(d), Attempts: wireAll(as, AttemptWire)})
}

// replay makes a new pending delivery of a delivery's webhook to the same
// output, stores it and hands it to the Replayer.
func (h *handler) replay(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	nd, out, err := Replay(ctx, h.st, h.replayer, r.PathValue("id"))
	if err != nil {
		return err
	}
	h.audit(ctx, "admin: delivery replayed", "delivery", r.PathValue("id"), "replay", nd.ID, "output", out.Name)
	return created(w, nd)
}

// Replay makes a new pending delivery of the webhook of the delivery with
// ID id to the same output, stores it and hands it to rp (nil: it waits
// in the store for the relay to start), as POST /deliveries/{id}/replay
// does (the web console replays with this same code). It returns a copy
// of the new delivery and its output. A delivery still pending, of an
// output deleted or disabled, or whose webhook's body is not stored is
// refused with an error saying so.
func Replay(ctx context.Context, st relay.Store, rp Replayer, id string) (*relay.Delivery, *relay.Output, error) {
	d, _, err := st.GetDelivery(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if d.State == relay.DeliveryPending {
		return nil, nil, conflict("delivery %s is still pending: wait for it to finish", d.ID)
	}
	out, err := st.GetOutput(ctx, d.OutputID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, conflict("the output of delivery %s no longer exists", d.ID)
	} else if err != nil {
		return nil, nil, err
	}
	if out.Disabled {
		return nil, nil, conflict("output %s is disabled", out.Name)
	}
	b, err := st.GetBucket(ctx, d.BucketID)
	if err != nil {
		return nil, nil, err
	}
	wh, err := st.GetWebhook(ctx, d.WebhookID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, conflict("the webhook of delivery %s is no longer stored", d.ID)
	} else if err != nil {
		return nil, nil, err
	}
	if b.Ephemeral && wh.Request.Header == nil && wh.Request.Body == nil {
		return nil, nil, conflict("bucket %s is ephemeral: the webhook's body was never stored, so it cannot be replayed", b.Name)
	}
	if wh.Request.Header == nil && wh.Request.Body == nil {
		return nil, nil, conflict("the payload of webhook %s was purged (retention): it cannot be replayed", wh.ID)
	}
	now := time.Now().UTC()
	nd := &relay.Delivery{
		ID: relay.NewRecordID(), WebhookID: d.WebhookID, BucketID: d.BucketID, OutputID: d.OutputID,
		State: relay.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := st.AddDeliveries(ctx, []*relay.Delivery{nd}); err != nil {
		return nil, nil, err
	}
	// The relay owns nd once it is enqueued: answer with a copy.
	answer := *nd
	if rp != nil {
		rp.Enqueue(nd)
	}
	return &answer, out, nil
}
