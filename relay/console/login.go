package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/store"
)

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.render(w, r, "login", "Sign in", map[string]any{})
}

// login exchanges an admin token for a session cookie. Wrong tokens are
// throttled per token ID as in the admin API (429 with Retry-After).
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) {
		http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	cred := strings.TrimSpace(r.PostFormValue("token"))
	fail := func(status int, msg string) {
		w.WriteHeader(status)
		c.render(w, r, "login", "Sign in", map[string]any{"Error": msg})
	}
	id, secret, ok := relay.ParseToken(cred)
	if !ok {
		fail(http.StatusUnauthorized, "That is not an admin token (it looks like <id>.<secret>).")
		return
	}
	hash := ""
	t, err := c.st.GetToken(r.Context(), id)
	switch {
	case err == nil && t.BucketID == "":
		hash = t.SecretHash
	case err != nil && !errors.Is(err, store.ErrNotFound):
		c.log.Error("console: look up token", "token", id, "error", err)
		fail(http.StatusInternalServerError, "The store could not be read; see the relay's log.")
		return
	}
	legacy := false
	if hash == "" {
		toks, err := c.st.ListTokens(r.Context(), "")
		legacy = err != nil
		for _, t := range toks {
			legacy = legacy || strings.HasPrefix(t.SecretHash, "$2")
		}
	}
	ok, wait := c.auth.Verify("admin/"+id, hash, secret, legacy)
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		fail(http.StatusTooManyRequests, "Too many failed attempts for this token; wait and try again.")
		return
	}
	if !ok {
		fail(http.StatusUnauthorized, "Wrong or deleted admin token.")
		return
	}
	ss, err := c.sess.newSession(id)
	if err != nil {
		fail(http.StatusInternalServerError, "Could not make a session.")
		return
	}
	c.sess.setCookie(w, r, ss)
	c.log.Info("console: signed in", "token", id)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	c.sess.setCookie(w, r, nil)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
	return nil
}
