package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
)

// Bootstrap makes the first admin token when the store has none, and
// returns its credential ("<id>.<secret>", to be shown once) with created
// true. When an admin token exists it returns "", false.
func Bootstrap(ctx context.Context, st relay.Store) (credential string, created bool, err error) {
	toks, err := st.ListTokens(ctx, "")
	if err != nil {
		return "", false, fmt.Errorf("admin: bootstrap: list admin tokens: %w", err)
	}
	if len(toks) > 0 {
		return "", false, nil
	}
	_, cred, err := newToken(ctx, st, "", "bootstrap")
	if err != nil {
		return "", false, fmt.Errorf("admin: bootstrap: %w", err)
	}
	return cred, true, nil
}

// maxTokenName bounds a token's name.
const maxTokenName = 200

// checkTokenRequest checks a token's name.
func checkTokenRequest(req *api.TokenRequest) error {
	if len(req.Name) > maxTokenName {
		return badRequest("name: longer than %d bytes", maxTokenName)
	}
	return nil
}

// newToken makes and stores a token of bucket bucketID ("" for an admin
// token) and returns it with its credential.
func newToken(ctx context.Context, st relay.Store, bucketID, name string) (*relay.Token, string, error) {
	secret, hash, err := relay.NewSecret()
	if err != nil {
		return nil, "", fmt.Errorf("make a token secret: %w", err)
	}
	t := &relay.Token{
		ID: uuid.NewString(), BucketID: bucketID, Name: name, SecretHash: hash, CreatedAt: time.Now().UTC(),
	}
	if err := st.CreateToken(ctx, t); err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	return t, relay.FormatToken(t.ID, secret), nil
}

// authenticate checks the request's admin token. A token id that does
// not exist, or is a bucket's, is checked against a dummy hash of the
// same cost as the admin tokens' (bcrypt when one was made by an earlier
// version), so that timing does not tell which ids exist; failed bcrypt
// checks are throttled per id (wait > 0: answer 429).
func (h *handler) authenticate(r *http.Request) (tok *relay.Token, ok bool, wait time.Duration) {
	a := r.Header.Get("Authorization")
	if len(a) < 7 || !strings.EqualFold(a[:7], "bearer ") {
		return nil, false, 0
	}
	id, secret, ok := relay.ParseToken(strings.TrimSpace(a[7:]))
	if !ok {
		return nil, false, 0
	}
	hash := ""
	t, err := h.st.GetToken(r.Context(), id)
	switch {
	case err == nil && t.BucketID == "":
		hash = t.SecretHash
	case err != nil && !errors.Is(err, store.ErrNotFound):
		h.log.Error("admin: look up token", "token", id, "error", err)
		return nil, false, 0
	}
	legacy := false
	if hash == "" {
		legacy = h.legacyAdminTokens(r.Context())
	}
	ok, wait = h.auth.Verify("admin/"+id, hash, secret, legacy)
	if !ok {
		return nil, false, wait
	}
	return t, true, 0
}

// legacyAdminTokens reports whether an admin token's secret is a bcrypt
// hash (made by an earlier version).
func (h *handler) legacyAdminTokens(ctx context.Context) bool {
	toks, err := h.st.ListTokens(ctx, "")
	if err != nil {
		return true
	}
	for _, t := range toks {
		if strings.HasPrefix(t.SecretHash, "$2") {
			return true
		}
	}
	return false
}

func (h *handler) listAdminTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := h.st.ListTokens(r.Context(), "")
	if err != nil {
		return err
	}
	return ok(w, nonNil(toks))
}

func (h *handler) createAdminToken(w http.ResponseWriter, r *http.Request) error {
	var req api.TokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkTokenRequest(&req); err != nil {
		return err
	}
	t, cred, err := newToken(r.Context(), h.st, "", req.Name)
	if err != nil {
		return err
	}
	h.audit(r.Context(), "admin: admin token created", "token", t.ID, "name", t.Name)
	return created(w, &api.NewToken{Token: tokenWire(t), Credential: cred})
}

func (h *handler) listBucketTokens(w http.ResponseWriter, r *http.Request) error {
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	toks, err := h.st.ListTokens(r.Context(), b.ID)
	if err != nil {
		return err
	}
	return ok(w, nonNil(toks))
}

func (h *handler) createBucketToken(w http.ResponseWriter, r *http.Request) error {
	var req api.TokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkTokenRequest(&req); err != nil {
		return err
	}
	b, err := h.st.GetBucket(r.Context(), r.PathValue("bucket"))
	if err != nil {
		return err
	}
	t, cred, err := newToken(r.Context(), h.st, b.ID, req.Name)
	if err != nil {
		return err
	}
	h.audit(r.Context(), "admin: bucket token created", "bucket", b.Name, "token", t.ID, "name", t.Name)
	if err := h.changed(r.Context()); err != nil {
		return err
	}
	return created(w, &api.NewToken{Token: tokenWire(t), Credential: cred})
}

// deleteToken deletes an admin or bucket token. The last admin token is
// kept, so that the API stays reachable.
func (h *handler) deleteToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := h.st.GetToken(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		if _, aerr := h.st.GetAgentToken(ctx, r.PathValue("id")); aerr == nil {
			return h.deleteAgentToken(w, r, r.PathValue("id"))
		}
	}
	if err != nil {
		return err
	}
	if t.BucketID == "" {
		toks, err := h.st.ListTokens(ctx, "")
		if err != nil {
			return err
		}
		if len(toks) <= 1 {
			return conflict("token %s is the last admin token: create another before deleting it", t.ID)
		}
	}
	if err := h.st.DeleteToken(ctx, t.ID); err != nil {
		return err
	}
	h.audit(ctx, "admin: token deleted", "token", t.ID, "bucket_id", t.BucketID)
	if err := h.changed(ctx); err != nil {
		return err
	}
	return noContent(w)
}

// nonNil returns s, or an empty slice for nil, so that lists are written
// as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ResetTokens replaces every admin token of st with one new token, and
// returns its credential and how many tokens it removed: the offline way
// back in for an operator who lost the admin token (fnctl admin-token
// reset). The new token is made before the old ones are deleted, so a
// failure never leaves the store without an admin token. Callers make sure
// no relay is running on st.
func ResetTokens(ctx context.Context, st relay.Store) (credential string, removed int, err error) {
	old, err := st.ListTokens(ctx, "")
	if err != nil {
		return "", 0, fmt.Errorf("admin: reset tokens: list admin tokens: %w", err)
	}
	t, cred, err := newToken(ctx, st, "", "reset")
	if err != nil {
		return "", 0, fmt.Errorf("admin: reset tokens: %w", err)
	}
	for _, o := range old {
		if o.ID == t.ID {
			continue
		}
		if err := st.DeleteToken(ctx, o.ID); err != nil {
			return "", removed, fmt.Errorf("admin: reset tokens: delete token %s: %w", o.ID, err)
		}
		removed++
	}
	return cred, removed, nil
}
