package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// attachments names, by bucket and input or output name, where function id
// is attached: "input github of bucket ci", "output slack of bucket ci
// (response function)".
func (h *handler) attachments(ctx context.Context, id string) ([]string, error) {
	bucketName := map[string]string{}
	buckets, err := h.st.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range buckets {
		bucketName[b.ID] = b.Name
	}
	var uses []string
	ins, err := h.st.ListInputs(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in.FunctionID == id {
			uses = append(uses, fmt.Sprintf("input %q of bucket %q", in.Name, bucketName[in.BucketID]))
		}
	}
	outs, err := h.st.ListOutputs(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		if o.FunctionID == id {
			uses = append(uses, fmt.Sprintf("output %q of bucket %q", o.Name, bucketName[o.BucketID]))
		}
		if o.ResponseFunctionID == id {
			uses = append(uses, fmt.Sprintf("output %q of bucket %q (response function)", o.Name, bucketName[o.BucketID]))
		}
	}
	return uses, nil
}

// refuseAttached answers 409 naming where the function is attached, and
// reports whether it did.
func (h *handler) refuseAttached(ctx context.Context, w http.ResponseWriter, id, name string) (bool, error) {
	uses, err := h.attachments(ctx, id)
	if err != nil || len(uses) == 0 {
		return false, err
	}
	writeError(w, http.StatusConflict, fmt.Sprintf("function %q is attached to %s: detach it first (fnctl detach, or remove it from relay.yaml and apply)",
		name, strings.Join(uses, ", ")))
	return true, nil
}
