package admin

import (
	"net/http"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
)

// retentionRoutes adds the retention endpoints:
//
//	GET /retention                  the defaults, every bucket's policy, what was purged
//	GET /buckets/{bucket}/retention a bucket's policy
//	PUT /buckets/{bucket}/retention sets it ({"payload": "72h", "metadata": "30d"}; {} clears it)
func (h *handler) retentionRoutes(r func(string, func(http.ResponseWriter, *http.Request) error)) {
	r("GET /retention", h.getRetention)
	r("GET /buckets/{bucket}/retention", h.getBucketRetention)
	r("PUT /buckets/{bucket}/retention", h.setBucketRetention)
}

// retentionStore is the store's retention side, or an error when it has
// none.
func (h *handler) retentionStore() (relay.RetentionStore, error) {
	rs, ok := h.st.(relay.RetentionStore)
	if !ok {
		return nil, &apiError{http.StatusNotImplemented, "this store keeps no retention policies"}
	}
	return rs, nil
}

func wirePolicy(r relay.Retention) api.RetentionPolicy {
	var p api.RetentionPolicy
	if r.Payload > 0 {
		p.Payload = relay.FormatAge(r.Payload)
	}
	if r.Metadata > 0 {
		p.Metadata = relay.FormatAge(r.Metadata)
	}
	return p
}

func wireCounts(m map[relay.PurgeKind]int64) map[string]int64 {
	out := map[string]int64{string(relay.PurgePayload): 0, string(relay.PurgeMetadata): 0, string(relay.PurgeDeleted): 0}
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// purgeSoon asks the retention purge for a run soon: a bucket or an
// output was deleted, and the store keeps its records until the purge
// removes them.
func (h *handler) purgeSoon() {
	if h.opts.Retention != nil {
		h.opts.Retention.Kick()
	}
}

// retentionStatus is the purge's status, or the zero one (no purge).
func (h *handler) retentionStatus() relay.RetentionStatus {
	if h.opts.Retention == nil {
		return relay.RetentionStatus{}
	}
	return h.opts.Retention.Status()
}

// bucketRetention is b's retention on the wire, with its counts from st.
func bucketRetention(b *relay.Bucket, own relay.Retention, st relay.RetentionStatus) api.BucketRetention {
	out := api.BucketRetention{BucketID: b.ID, Bucket: b.Name, Policy: wirePolicy(own),
		Effective: wirePolicy(own.Or(st.Default).Effective())}
	for _, c := range st.Buckets {
		if c.BucketID == b.ID {
			out.Purged = wireCounts(c.Purged)
		}
	}
	return out
}

func (h *handler) getRetention(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.retentionStore()
	if err != nil {
		return err
	}
	pols, err := rs.Retentions(r.Context())
	if err != nil {
		return err
	}
	bs, err := h.st.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	st := h.retentionStatus()
	rep := api.RetentionReport{Default: wirePolicy(st.Default), Purged: wireCounts(st.Purged),
		LastPurged: wireCounts(st.LastPurged),
		LastError:  st.LastError, LastDurationMS: float64(st.LastDuration.Microseconds()) / 1000,
		Buckets: make([]api.BucketRetention, 0, len(bs))}
	if st.Interval > 0 {
		rep.Interval = st.Interval.String()
	}
	if !st.LastRun.IsZero() {
		t := st.LastRun.UTC()
		rep.LastRun = &t
	}
	for _, b := range bs {
		rep.Buckets = append(rep.Buckets, bucketRetention(b, pols[b.ID], st))
	}
	return ok(w, rep)
}

func (h *handler) getBucketRetention(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.retentionStore()
	if err != nil {
		return err
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	pols, err := rs.Retentions(r.Context())
	if err != nil {
		return err
	}
	return ok(w, bucketRetention(b, pols[b.ID], h.retentionStatus()))
}

func (h *handler) setBucketRetention(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.retentionStore()
	if err != nil {
		return err
	}
	var req api.RetentionPolicy
	if err := decode(r, &req); err != nil {
		return err
	}
	var pol relay.Retention
	if pol.Payload, err = relay.ParseAge(req.Payload); err != nil {
		return badRequest("payload: %v", err)
	}
	if pol.Metadata, err = relay.ParseAge(req.Metadata); err != nil {
		return badRequest("metadata: %v", err)
	}
	if err := pol.Validate(); err != nil {
		return badRequest("%v", err)
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	if err := rs.SetRetention(r.Context(), b.ID, pol); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: bucket retention set", "bucket", b.Name, "id", b.ID,
		"payload", relay.FormatAge(pol.Payload), "metadata", relay.FormatAge(pol.Metadata))
	return ok(w, bucketRetention(b, pol, h.retentionStatus()))
}
