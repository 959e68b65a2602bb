package admin

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/relayfn/relayfn/relay/config"
)

// apply applies a relay.yaml document (the request body) declaratively,
// or, with ?dry_run=true, reports what it would do; ?prune=true deletes
// the configuration variables a function's config does not mention. Functions must give
// their source inline and passwords as password: the API reads neither
// files nor environment variables. The server section is ignored.
func (h *handler) apply(w http.ResponseWriter, r *http.Request) error {
	dry := false
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("dry_run: %q is not true or false", v)
		}
		dry = b
	}
	prune := false
	if v := r.URL.Query().Get("prune"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("prune: %q is not true or false", v)
		}
		prune = b
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	f, err := config.Parse(data, config.ParseOptions{Name: "relay.yaml"})
	if err != nil {
		return badRequest("%v", err)
	}
	f.PruneConfig = prune
	ctx := r.Context()
	if err := h.checkApplySpecs(ctx, f); err != nil {
		return err
	}
	if dry {
		rep, err := config.Plan(ctx, h.st, h.engine, f)
		if err != nil {
			return applyError(err)
		}
		return ok(w, withServerWarning(f, rep))
	}
	rep, err := config.Apply(ctx, h.st, h.engine, f)
	if rep != nil {
		withServerWarning(f, rep)
	}
	if rep != nil && rep.Changed() {
		h.audit(ctx, "admin: applied relay.yaml",
			"created", rep.Count(config.Created), "updated", rep.Count(config.Updated), "deleted", rep.Count(config.Deleted))
		if rep.Count(config.Deleted) > 0 {
			h.purgeSoon()
		}
		if rerr := h.changed(ctx); rerr != nil && err == nil {
			return rerr
		}
	}
	if err != nil {
		return applyError(err)
	}
	return ok(w, rep)
}

// applyError answers problems with the document 400; store errors keep
// their status.
func applyError(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return badRequest("%v", err)
	}
	return err
}

// withServerWarning notes in rep that f's server section was ignored.
func withServerWarning(f *config.File, rep *config.Report) *config.Report {
	if f.Has("server") {
		rep.Warnings = append(rep.Warnings, "server: ignored: the server section takes effect when the relay starts")
	}
	return rep
}
