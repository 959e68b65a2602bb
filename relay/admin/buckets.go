package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
)

func (h *handler) listBuckets(w http.ResponseWriter, r *http.Request) error {
	bs, err := h.st.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	return ok(w, nonNil(bs))
}

func (h *handler) getBucket(w http.ResponseWriter, r *http.Request) error {
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	return ok(w, b)
}

func (h *handler) createBucket(w http.ResponseWriter, r *http.Request) error {
	var req api.BucketRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name: missing: a name is required")
	}
	b := &relay.Bucket{ID: uuid.NewString(), Auth: relay.BucketAuth{Type: relay.AuthNone}, CreatedAt: time.Now().UTC()}
	if err := applyBucket(b, &req); err != nil {
		return err
	}
	if err := h.st.CreateBucket(r.Context(), b); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: bucket created", "bucket", b.Name, "id", b.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return created(w, b)
}

func (h *handler) updateBucket(w http.ResponseWriter, r *http.Request) error {
	var req api.BucketRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	if err := applyBucket(b, &req); err != nil {
		return err
	}
	if err := h.st.UpdateBucket(r.Context(), b); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: bucket updated", "bucket", b.Name, "id", b.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return ok(w, b)
}

// applyBucket sets the fields req gives on b and checks them.
func applyBucket(b *relay.Bucket, req *api.BucketRequest) error {
	if req.Name != nil {
		if err := validName(*req.Name); err != nil {
			return err
		}
		b.Name = *req.Name
	}
	if req.Description != nil {
		b.Description = *req.Description
	}
	if req.Ephemeral != nil {
		b.Ephemeral = *req.Ephemeral
	}
	if req.Auth == nil {
		return nil
	}
	a := req.Auth
	typ := relay.AuthType(a.Type)
	if typ == "" {
		typ = b.Auth.Type
	}
	wasBasic := b.Auth.Type == relay.AuthBasic
	switch typ {
	case "", relay.AuthNone, relay.AuthToken:
		if a.Username != "" || a.Password != "" {
			return badRequest("auth: username and password are only used with type basic")
		}
		if typ == "" {
			typ = relay.AuthNone
		}
		b.Auth = relay.BucketAuth{Type: typ}
	case relay.AuthBasic:
		user := a.Username
		if user == "" && wasBasic {
			user = b.Auth.Username
		}
		if err := relay.ValidateUsername(user); err != nil {
			return invalid("auth.username", err)
		}
		hash := ""
		if wasBasic {
			hash = b.Auth.PasswordHash
		}
		if a.Password != "" {
			if err := relay.ValidatePassword(a.Password); err != nil {
				return invalid("auth.password", err)
			}
			h, err := relay.HashSecret(a.Password)
			if err != nil {
				return err
			}
			hash = h
		}
		if hash == "" {
			return badRequest("auth.password: missing: basic auth needs a password")
		}
		b.Auth = relay.BucketAuth{Type: relay.AuthBasic, Username: user, PasswordHash: hash}
	default:
		return invalid("auth.type", typ.Validate())
	}
	// The model's own rules, last: whatever the request left, the bucket
	// is one the relay can serve.
	if err := b.Validate(); err != nil {
		return invalid("", err)
	}
	return nil
}

func (h *handler) deleteBucket(w http.ResponseWriter, r *http.Request) error {
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	if err := h.st.DeleteBucket(r.Context(), b.ID); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: bucket deleted", "bucket", b.Name, "id", b.ID)
	h.purgeSoon()
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}

// functionRef resolves a function given by name or ID in the field named
// field; "" is no function.
func (h *handler) functionRef(ctx context.Context, field, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	f, err := h.st.GetFunction(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return "", badRequest("%s: no function %q", field, ref)
	}
	if err != nil {
		return "", err
	}
	return f.ID, nil
}

func (h *handler) listInputs(w http.ResponseWriter, r *http.Request) error {
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	ins, err := h.st.ListInputs(r.Context(), b.ID)
	if err != nil {
		return err
	}
	return ok(w, nonNil(ins))
}

func (h *handler) getInput(w http.ResponseWriter, r *http.Request) error {
	in, err := h.st.GetInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, in)
}

func (h *handler) createInput(w http.ResponseWriter, r *http.Request) error {
	var req api.InputRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name: missing: a name is required")
	}
	in := &relay.Input{BucketID: b.ID, Response: relay.ResponseConfig{Mode: relay.ResponseDefault}, CreatedAt: time.Now().UTC()}
	if req.ID != nil && *req.ID != "" {
		id, err := uuid.Parse(*req.ID)
		if err != nil {
			return badRequest("id: %q is not a UUID", *req.ID)
		}
		in.ID = id.String()
		if _, err := h.st.GetInput(r.Context(), in.ID); err == nil {
			return conflict("id: input %s already exists", in.ID)
		}
	} else {
		in.ID = uuid.NewString()
	}
	if err := h.applyInput(r.Context(), in, &req); err != nil {
		return err
	}
	if err := h.st.CreateInput(r.Context(), in); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: input created", "bucket", b.Name, "input", in.Name, "id", in.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return created(w, in)
}

func (h *handler) updateInput(w http.ResponseWriter, r *http.Request) error {
	var req api.InputRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	in, err := h.st.GetInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if req.ID != nil && *req.ID != in.ID {
		return badRequest("id: an input's id cannot change")
	}
	if err := h.applyInput(r.Context(), in, &req); err != nil {
		return err
	}
	if err := h.st.UpdateInput(r.Context(), in); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: input updated", "input", in.Name, "id", in.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return ok(w, in)
}

// applyInput sets the fields req gives on in and checks them.
func (h *handler) applyInput(ctx context.Context, in *relay.Input, req *api.InputRequest) error {
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.Description != nil {
		in.Description = *req.Description
	}
	if req.Response != nil {
		rr := req.Response
		in.Response = relay.ResponseConfig{
			Mode: relay.ResponseMode(rr.Mode), Status: rr.Status, Headers: rr.Headers, Body: rr.Body, Timeout: time.Duration(rr.Timeout),
		}
		if in.Response.Mode == "" {
			in.Response.Mode = relay.ResponseDefault
		}
	}
	if err := in.Validate(); err != nil {
		return invalid("", err)
	}
	if req.Function != nil {
		id, err := h.functionRef(ctx, "function", *req.Function)
		if err != nil {
			return err
		}
		in.FunctionID = id
	}
	return nil
}

func (h *handler) deleteInput(w http.ResponseWriter, r *http.Request) error {
	in, err := h.st.GetInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.st.DeleteInput(r.Context(), in.ID); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: input deleted", "input", in.Name, "id", in.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) listOutputs(w http.ResponseWriter, r *http.Request) error {
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	outs, err := h.st.ListOutputs(r.Context(), b.ID)
	if err != nil {
		return err
	}
	return ok(w, nonNil(outs))
}

func (h *handler) getOutput(w http.ResponseWriter, r *http.Request) error {
	out, err := h.st.GetOutput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, out)
}

func (h *handler) createOutput(w http.ResponseWriter, r *http.Request) error {
	var req api.OutputRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name: missing: a name is required")
	}
	if req.Destination == nil {
		return badRequest("destination: missing: an http(s) URL is required")
	}
	out := &relay.Output{ID: uuid.NewString(), BucketID: b.ID, CreatedAt: time.Now().UTC()}
	if err := h.applyOutput(r.Context(), out, &req); err != nil {
		return err
	}
	if err := h.st.CreateOutput(r.Context(), out); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: output created", "bucket", b.Name, "output", out.Name, "id", out.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return created(w, out)
}

func (h *handler) updateOutput(w http.ResponseWriter, r *http.Request) error {
	var req api.OutputRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := h.st.GetOutput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.applyOutput(r.Context(), out, &req); err != nil {
		return err
	}
	if err := h.st.UpdateOutput(r.Context(), out); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: output updated", "output", out.Name, "id", out.ID)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return ok(w, out)
}

// applyOutput sets the fields req gives on out and checks them.
func (h *handler) applyOutput(ctx context.Context, out *relay.Output, req *api.OutputRequest) error {
	if req.Name != nil {
		out.Name = *req.Name
	}
	if req.Destination != nil {
		out.Destination = *req.Destination
	}
	if req.LockPath != nil {
		out.LockPath = *req.LockPath
	}
	if req.Timeout != nil {
		out.Timeout = time.Duration(*req.Timeout)
	}
	if req.Retries != nil {
		rr := req.Retries
		out.Retries = relay.RetryPolicy{
			MaxAttempts: rr.MaxAttempts, Backoff: relay.Backoff(rr.Backoff),
			InitialInterval: time.Duration(rr.InitialInterval), MaxInterval: time.Duration(rr.MaxInterval),
		}
	}
	if req.MaxInFlight != nil {
		out.MaxInFlight = *req.MaxInFlight
	}
	if req.Internal != nil {
		out.Internal = *req.Internal
	}
	if req.AgentWindow != nil {
		out.AgentWindow = time.Duration(*req.AgentWindow)
	}
	if req.Disabled != nil {
		out.Disabled = *req.Disabled
	}
	if err := out.Validate(); err != nil {
		return invalid("", err)
	}
	if req.Function != nil {
		id, err := h.functionRef(ctx, "function", *req.Function)
		if err != nil {
			return err
		}
		out.FunctionID = id
	}
	if req.ResponseFunction != nil {
		id, err := h.functionRef(ctx, "response_function", *req.ResponseFunction)
		if err != nil {
			return err
		}
		out.ResponseFunctionID = id
	}
	return nil
}

func (h *handler) deleteOutput(w http.ResponseWriter, r *http.Request) error {
	out, err := h.st.GetOutput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.st.DeleteOutput(r.Context(), out.ID); err != nil {
		return err
	}
	h.audit(r.Context(), "admin: output deleted", "output", out.Name, "id", out.ID)
	h.purgeSoon()
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}
