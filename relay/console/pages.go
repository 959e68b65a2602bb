package console

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// bucketView is a bucket on the overview.
type bucketView struct {
	Bucket  *relay.Bucket
	Inputs  []inputView
	Outputs []outputView
	// Agents are the agents connected for the bucket, which deliver its
	// internal outputs.
	Agents []relay.AgentInfo
}

type inputView struct {
	Input    *relay.Input
	URL      string
	Function string
	Mode     string
}

type outputView struct {
	Output           *relay.Output
	Destination      string
	Function         string
	ResponseFunction string
	Stats            relay.OutputStats
}

// publicBase is the base of the inputs' public URLs.
func (c *Console) publicBase(r *http.Request) string {
	if c.opts.PublicURL != "" {
		return strings.TrimSuffix(c.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if c.opts.PublicPort != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		return scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), c.opts.PublicPort)
	}
	return scheme + "://" + r.Host
}

// functionNames maps function IDs to names.
func (c *Console) functionNames(r *http.Request) (map[string]string, []*functions.Function, error) {
	fns, err := c.st.ListFunctions(r.Context())
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(fns))
	for _, f := range fns {
		names[f.ID] = f.Name
	}
	return names, fns, nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	buckets, err := c.st.ListBuckets(ctx)
	if err != nil {
		return err
	}
	names, _, err := c.functionNames(r)
	if err != nil {
		return err
	}
	ins, err := c.st.ListInputs(ctx, "")
	if err != nil {
		return err
	}
	outs, err := c.st.ListOutputs(ctx, "")
	if err != nil {
		return err
	}
	stats, err := c.outputStats(ctx)
	if err != nil {
		return err
	}
	base := c.publicBase(r)
	views := make([]*bucketView, len(buckets))
	byID := map[string]*bucketView{}
	byName := map[string]*bucketView{}
	for i, b := range buckets {
		views[i] = &bucketView{Bucket: b}
		byID[b.ID] = views[i]
		byName[b.Name] = views[i]
	}
	if srv := c.opts.Admin.Server; srv != nil {
		for _, ag := range srv.Agents() {
			for _, name := range ag.Buckets {
				if v := byName[name]; v != nil {
					v.Agents = append(v.Agents, ag)
				}
			}
		}
	}
	for _, in := range ins {
		v := byID[in.BucketID]
		if v == nil {
			continue
		}
		mode := string(in.Response.Mode)
		if mode == "" {
			mode = string(relay.ResponseDefault)
		}
		v.Inputs = append(v.Inputs, inputView{Input: in, URL: base + "/v1/webhooks/" + in.ID, Function: names[in.FunctionID], Mode: mode})
	}
	for _, out := range outs {
		v := byID[out.BucketID]
		if v == nil {
			continue
		}
		v.Outputs = append(v.Outputs, outputView{
			Output: out, Destination: RedactURL(out.Destination), Function: names[out.FunctionID],
			ResponseFunction: names[out.ResponseFunctionID], Stats: stats[out.ID],
		})
	}
	return c.render(w, r, "overview", "Overview", map[string]any{"Buckets": views, "StatsAge": statsMaxAge})
}

// RedactURL returns a destination fit to show: without userinfo, and with
// the query's values replaced by "…" (they often carry keys). Internal
// destinations (a path on the relay) are shown as they are.
func RedactURL(dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		return "(unparsable destination)"
	}
	if u.User != nil {
		u.User = url.User("…")
	}
	if u.RawQuery != "" {
		q := u.Query()
		keys := slices.Sorted(maps.Keys(q))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = url.QueryEscape(k) + "=…"
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	u.Fragment = ""
	s := u.String()
	s = strings.Replace(s, "%E2%80%A6", "…", -1)
	return s
}

// functionRow is a function on the functions page.
type functionRow struct {
	F        *functions.Function
	Attached []string
}

func (c *Console) functionsPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderFunctions(w, r, "")
}

func (c *Console) renderFunctions(w http.ResponseWriter, r *http.Request, problem string) error {
	_, fns, err := c.functionNames(r)
	if err != nil {
		return err
	}
	where, err := c.attachments(r)
	if err != nil {
		return err
	}
	rows := make([]functionRow, len(fns))
	for i, f := range fns {
		rows[i] = functionRow{F: f, Attached: where[f.ID]}
	}
	slices.SortFunc(rows, func(a, b functionRow) int { return cmp.Compare(a.F.Name, b.F.Name) })
	return c.render(w, r, "functions", "Functions", map[string]any{"Functions": rows, "Error": problem})
}

// attachments maps function IDs to where they are attached, as
// "bucket/input (input)".
func (c *Console) attachments(r *http.Request) (map[string][]string, error) {
	ctx := r.Context()
	buckets, err := c.st.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	bn := map[string]string{}
	for _, b := range buckets {
		bn[b.ID] = b.Name
	}
	ins, err := c.st.ListInputs(ctx, "")
	if err != nil {
		return nil, err
	}
	outs, err := c.st.ListOutputs(ctx, "")
	if err != nil {
		return nil, err
	}
	where := map[string][]string{}
	for _, in := range ins {
		if in.FunctionID != "" {
			where[in.FunctionID] = append(where[in.FunctionID], bn[in.BucketID]+"/"+in.Name+" (input)")
		}
	}
	for _, o := range outs {
		if o.FunctionID != "" {
			where[o.FunctionID] = append(where[o.FunctionID], bn[o.BucketID]+"/"+o.Name+" (output)")
		}
		if o.ResponseFunctionID != "" {
			where[o.ResponseFunctionID] = append(where[o.ResponseFunctionID], bn[o.BucketID]+"/"+o.Name+" (output response)")
		}
	}
	return where, nil
}

// newFunctionSource is the source of a function made in the console.
const newFunctionSource = "-- r is the request: read r.RequestBody, change it with r:SetRequestBody(...)\nlog.info(\"received \" .. #r.RequestBody .. \" bytes\")\n"

func (c *Console) createFunction(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := relay.ValidateFunction(name, 0); err != nil {
		return c.renderFunctions(w, r, err.Error())
	}
	f := &functions.Function{Name: name, Driver: "lua", Source: newFunctionSource}
	if err := c.st.CreateFunction(r.Context(), f); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return c.renderFunctions(w, r, "A function named "+name+" exists already.")
		}
		return err
	}
	c.audit(r, "console: function created", "function", f.Name, "id", f.ID)
	http.Redirect(w, r, Prefix+"functions/"+url.PathEscape(f.Name), http.StatusSeeOther)
	return nil
}

// editorView is the editor page.
type editorView struct {
	F        *functions.Function
	Source   string
	Showing  int
	Versions []*functions.Version
	Config   []string
	Spec     string
	Attached []string
	Targets  []target

	// The dry run's request.
	Method, Path, Headers, Payload string
	// Webhook is the ID of a captured webhook to run against; Recent,
	// the latest ones to pick from.
	Webhook string
	Recent  []*relay.WebhookSummary

	Run          *runView
	SaveFailures []string
	Notice       string
	Error        string
}

// target is an input or output a function can be attached to.
type target struct {
	Value, Label string
}

// runView is a dry run's outcome.
type runView struct {
	Res        *runtime.Result
	Error      string
	BodyDiff   []DiffLine
	HeaderDiff []DiffLine
	Changes    []string
}

// loadEditor fills the parts of the editor page that come from the store.
func (c *Console) loadEditor(r *http.Request, f *functions.Function) (*editorView, error) {
	ctx := r.Context()
	v := &editorView{F: f, Source: f.Source, Showing: f.Version, Method: http.MethodPost, Path: "/",
		Headers: "Content-Type: application/json", Payload: "{}"}
	vs, err := c.st.ListVersions(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(vs, func(a, b *functions.Version) int { return cmp.Compare(b.Version, a.Version) })
	v.Versions = vs
	cfg, err := c.st.Config(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	v.Config = slices.Sorted(maps.Keys(cfg)) // names only: values are write-only
	spec, err := c.st.Spec(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	v.Spec = string(spec)
	where, err := c.attachments(r)
	if err != nil {
		return nil, err
	}
	v.Attached = where[f.ID]
	v.Webhook = r.URL.Query().Get("webhook")
	if v.Recent, err = c.st.ListWebhooks(ctx, relay.WebhookFilter{Limit: 20}); err != nil {
		return nil, err
	}
	buckets, err := c.st.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	ins, err := c.st.ListInputs(ctx, "")
	if err != nil {
		return nil, err
	}
	outs, err := c.st.ListOutputs(ctx, "")
	if err != nil {
		return nil, err
	}
	// Grouped by bucket, in the buckets' order (each list is by name).
	insOf, outsOf := map[string][]*relay.Input{}, map[string][]*relay.Output{}
	for _, in := range ins {
		insOf[in.BucketID] = append(insOf[in.BucketID], in)
	}
	for _, o := range outs {
		outsOf[o.BucketID] = append(outsOf[o.BucketID], o)
	}
	for _, b := range buckets {
		for _, in := range insOf[b.ID] {
			v.Targets = append(v.Targets, target{"input:" + in.ID, b.Name + "/" + in.Name + " (input)"})
		}
		for _, o := range outsOf[b.ID] {
			v.Targets = append(v.Targets, target{"output:" + o.ID, b.Name + "/" + o.Name + " (output)"})
		}
	}
	return v, nil
}

func (c *Console) editor(w http.ResponseWriter, r *http.Request) error {
	f, err := c.st.GetFunction(r.Context(), r.PathValue("fn"))
	if err != nil {
		return err
	}
	v, err := c.loadEditor(r, f)
	if err != nil {
		return err
	}
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("version %q: %w", s, store.ErrNotFound)
		}
		for _, ver := range v.Versions {
			if ver.Version == n {
				if ver.Source == "" { // listings may leave sources out
					full, err := c.st.ListVersions(r.Context(), f.ID)
					if err != nil {
						return err
					}
					for _, fv := range full {
						if fv.Version == n {
							ver = fv
						}
					}
				}
				v.Source, v.Showing = ver.Source, n
				v.Notice = fmt.Sprintf("Showing version %d. Save makes it the current version again.", n)
			}
		}
	}
	return c.render(w, r, "editor", "Function "+f.Name, v)
}

// editorPost runs the edited source (action=run) or saves it with the
// spec as the next version (action=save), refusing a save whose spec
// fails.
func (c *Console) editorPost(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := c.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	v, err := c.loadEditor(r, f)
	if err != nil {
		return err
	}
	v.Source = strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")
	v.Method = cmp.Or(strings.TrimSpace(r.PostFormValue("method")), http.MethodPost)
	v.Path = cmp.Or(strings.TrimSpace(r.PostFormValue("path")), "/")
	v.Headers = r.PostFormValue("headers")
	v.Payload = r.PostFormValue("payload")
	v.Webhook = strings.TrimSpace(r.PostFormValue("webhook"))
	specText := strings.ReplaceAll(r.PostFormValue("spec"), "\r\n", "\n")
	specChanged := r.PostForm.Has("spec") && specText != v.Spec
	if r.PostForm.Has("spec") {
		v.Spec = specText
	}
	switch r.PostFormValue("action") {
	case "run":
		v.Run = c.dryRun(r, f, v)
	case "run-webhook":
		v.Run = c.runWebhook(r, f.ID, v)
	case "save":
		if err := c.save(r, f, v, specChanged); err != nil {
			return err
		}
	default:
		v.Error = "Unknown action: use Run or Save."
	}
	return c.render(w, r, "editor", "Function "+f.Name, v)
}

// dryRun runs the edited source once against the pasted request, with the
// function's configuration, through admin.Invoke (the admin API's invoke).
func (c *Console) dryRun(r *http.Request, f *functions.Function, v *editorView) *runView {
	header, err := parseHeaders(v.Headers)
	if err != nil {
		return &runView{Error: err.Error()}
	}
	path, query, _ := strings.Cut(v.Path, "?")
	draft := *f
	draft.Source = v.Source
	res, err := admin.Invoke(r.Context(), c.opts.Admin, &draft, api.InvokeRequest{
		Method: v.Method, Path: path, Query: query, Headers: header, Body: v.Payload,
	})
	if err != nil {
		var se *runtime.SyntaxError
		if errors.As(err, &se) {
			return &runView{Error: se.ForFunction(f.Name)}
		}
		return &runView{Error: err.Error()}
	}
	return resultView(res, v.Method, path, query, http.Header(header), v.Payload)
}

// resultView shows a run's result against the request it was given.
func resultView(res *runtime.Result, method, path, query string, header http.Header, body string) *runView {
	rv := &runView{Res: res}
	rq := res.Request
	if rq.BodyModified {
		rv.BodyDiff = Diff(prettyJSON(body), prettyJSON(rq.Body))
	}
	if rq.HeaderModified {
		rv.HeaderDiff = Diff(headerLines(header), headerLines(rq.Headers))
	}
	if rq.MethodModified {
		rv.Changes = append(rv.Changes, "method: "+method+" → "+rq.Method)
	}
	if rq.PathModified {
		rv.Changes = append(rv.Changes, "path: "+path+" → "+rq.Path)
	}
	if rq.RawQueryModified {
		rv.Changes = append(rv.Changes, "query: "+query+" → "+rq.RawQuery)
	}
	if res.StopForwarding {
		rv.Changes = append(rv.Changes, "stops forwarding")
	}
	return rv
}

// save checks the edited source (it must compile) and the spec, then
// saves them: the source as the next version when it changed.
func (c *Console) save(r *http.Request, f *functions.Function, v *editorView, specChanged bool) error {
	ctx := r.Context()
	if _, err := c.opts.Admin.Engine.Compile(f.Name+".lua", []byte(v.Source)); err != nil {
		var se *runtime.SyntaxError
		if errors.As(err, &se) {
			v.SaveFailures = []string{se.ForFunction(f.Name)}
			return nil
		}
		return err
	}
	if strings.TrimSpace(v.Spec) != "" {
		if fs := admin.SpecFailures(ctx, c.opts.Admin, f.Name, v.Source, []byte(v.Spec), f.Timeout); len(fs) > 0 {
			v.SaveFailures = fs
			return nil
		}
	}
	saved := []string{}
	if v.Source != f.Source {
		nf, err := c.st.AddVersion(ctx, f.ID, v.Source, "")
		if err != nil {
			return err
		}
		*f = *nf
		saved = append(saved, fmt.Sprintf("version %d", nf.Version))
	}
	if specChanged {
		spec := v.Spec
		if strings.TrimSpace(spec) == "" {
			spec = ""
		}
		if err := c.st.SetSpec(ctx, f.ID, []byte(spec)); err != nil {
			return err
		}
		saved = append(saved, "the spec")
	}
	if len(saved) == 0 {
		v.Notice = "Nothing changed: nothing saved."
		return nil
	}
	c.audit(r, "console: function saved", "function", f.Name, "version", f.Version, "spec_changed", specChanged)
	if err := c.changed(ctx); err != nil {
		v.Error = err.Error()
	}
	vs, err := c.st.ListVersions(ctx, f.ID)
	if err != nil {
		return err
	}
	slices.SortFunc(vs, func(a, b *functions.Version) int { return cmp.Compare(b.Version, a.Version) })
	v.Versions, v.Showing = vs, f.Version
	v.Notice = "Saved " + strings.Join(saved, " and ") + "."
	return nil
}

// parseHeaders reads "Name: value" lines.
func parseHeaders(s string) (map[string][]string, error) {
	h := map[string][]string{}
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("headers, line %d: want \"Name: value\"", i+1)
		}
		ck := http.CanonicalHeaderKey(k)
		h[ck] = append(h[ck], strings.TrimSpace(val))
	}
	return h, nil
}

func (c *Console) setConfig(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := c.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	if key == "" {
		return c.editorWith(w, r, f, "", "A configuration variable needs a name.")
	}
	if err := c.st.SetConfig(ctx, f.ID, key, r.PostFormValue("value")); err != nil {
		return err
	}
	c.audit(r, "console: function config set", "function", f.Name, "key", key)
	return c.afterChange(w, r, f, "Set "+key+".")
}

func (c *Console) deleteConfig(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := c.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	key := r.PostFormValue("key")
	if err := c.st.DeleteConfig(ctx, f.ID, key); err != nil {
		return err
	}
	c.audit(r, "console: function config deleted", "function", f.Name, "key", key)
	return c.afterChange(w, r, f, "Removed "+key+".")
}

// attach attaches the function to an input or output (target
// "input:ID" or "output:ID"), or detaches it (detach set).
func (c *Console) attach(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := c.st.GetFunction(ctx, r.PathValue("fn"))
	if err != nil {
		return err
	}
	kind, id, _ := strings.Cut(r.PostFormValue("target"), ":")
	fnID := f.ID
	verb := "Attached to"
	if r.PostFormValue("detach") != "" {
		fnID, verb = "", "Detached from"
	}
	var label string
	switch kind {
	case "input":
		in, err := c.st.GetInput(ctx, id)
		if err != nil {
			return err
		}
		if fnID == "" && in.FunctionID != f.ID {
			return c.editorWith(w, r, f, "", "The function is not attached to input "+in.Name+".")
		}
		in.FunctionID = fnID
		if err := c.st.UpdateInput(ctx, in); err != nil {
			return err
		}
		label = "input " + in.Name
	case "output":
		out, err := c.st.GetOutput(ctx, id)
		if err != nil {
			return err
		}
		if fnID == "" && out.FunctionID != f.ID {
			return c.editorWith(w, r, f, "", "The function is not attached to output "+out.Name+".")
		}
		out.FunctionID = fnID
		if err := c.st.UpdateOutput(ctx, out); err != nil {
			return err
		}
		label = "output " + out.Name
	default:
		return c.editorWith(w, r, f, "", "Choose an input or an output.")
	}
	c.audit(r, "console: function attachment", "function", f.Name, "target", kind+":"+id, "attached", fnID != "")
	return c.afterChange(w, r, f, verb+" "+label+".")
}

// afterChange reloads the relay and shows the editor with a notice.
func (c *Console) afterChange(w http.ResponseWriter, r *http.Request, f *functions.Function, notice string) error {
	problem := ""
	if err := c.changed(r.Context()); err != nil {
		problem = err.Error()
	}
	return c.editorWith(w, r, f, notice, problem)
}

func (c *Console) editorWith(w http.ResponseWriter, r *http.Request, f *functions.Function, notice, problem string) error {
	v, err := c.loadEditor(r, f)
	if err != nil {
		return err
	}
	v.Notice, v.Error = notice, problem
	return c.render(w, r, "editor", "Function "+f.Name, v)
}

// deliveryRow is a delivery on the deliveries page.
type deliveryRow struct {
	D      *relay.Delivery
	Bucket string
	Output string
}

// maxReplayAll caps how many deliveries one "replay all" replays.
const maxReplayAll = 10000

func (c *Console) deliveriesPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderDeliveries(w, r, "", "")
}

func (c *Console) renderDeliveries(w http.ResponseWriter, r *http.Request, notice, problem string) error {
	ctx := r.Context()
	q := r.URL.Query()
	state := relay.DeliveryState(cmp.Or(q.Get("state"), string(relay.DeliveryFailed)))
	if err := state.Validate(); err != nil {
		state = relay.DeliveryFailed
	}
	f := relay.DeliveryFilter{OutputID: q.Get("output"), State: state, Limit: 100}
	ds, err := c.st.ListDeliveries(ctx, f)
	if err != nil {
		return err
	}
	buckets, err := c.st.ListBuckets(ctx)
	if err != nil {
		return err
	}
	bn := map[string]string{}
	for _, b := range buckets {
		bn[b.ID] = b.Name
	}
	outs, err := c.st.ListOutputs(ctx, "")
	if err != nil {
		return err
	}
	on := map[string]string{}
	var outputs []target
	for _, o := range outs {
		on[o.ID] = o.Name
		outputs = append(outputs, target{o.ID, bn[o.BucketID] + "/" + o.Name})
	}
	rows := make([]deliveryRow, len(ds))
	for i, d := range ds {
		rows[i] = deliveryRow{D: d, Bucket: bn[d.BucketID], Output: on[d.OutputID]}
	}
	return c.render(w, r, "deliveries", "Deliveries", map[string]any{
		"Rows": rows, "State": string(state), "Output": f.OutputID, "Outputs": outputs,
		"Since":  c.opts.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04"),
		"Notice": notice, "Error": problem,
	})
}

// replayOne replays a delivery, then shows the deliveries page, or the
// webhook's detail when the form names the webhook (webhook=ID).
func (c *Console) replayOne(w http.ResponseWriter, r *http.Request) error {
	back := func(notice, problem string) error {
		if id := r.PostFormValue("webhook"); id != "" {
			return c.renderWebhook(w, r, id, notice, problem)
		}
		return c.renderDeliveries(w, r, notice, problem)
	}
	nd, out, err := admin.Replay(r.Context(), c.st, c.replayer, r.PathValue("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return back("", "Not replayed: "+err.Error())
	}
	c.audit(r, "console: delivery replayed", "delivery", r.PathValue("id"), "replay", nd.ID, "output", out.Name)
	return back("Replayed to "+out.Name+": new delivery "+nd.ID+".", "")
}

// failedSince lists the failed deliveries of an output made at or after
// since, newest first, at most maxReplayAll.
func (c *Console) failedSince(r *http.Request, outputID string, since time.Time) ([]*relay.Delivery, error) {
	var all []*relay.Delivery
	f := relay.DeliveryFilter{OutputID: outputID, State: relay.DeliveryFailed, Limit: api.MaxDeliveries}
	for len(all) < maxReplayAll {
		ds, err := c.st.ListDeliveries(r.Context(), f)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.CreatedAt.Before(since) {
				return all, nil
			}
			all = append(all, d)
		}
		if len(ds) < f.Limit {
			break
		}
		f.Before = ds[len(ds)-1].CreatedAt
	}
	if len(all) > maxReplayAll {
		all = all[:maxReplayAll]
	}
	return all, nil
}

// replayRequest reads the output and time of a "replay all".
func (c *Console) replayRequest(r *http.Request, get func(string) string) (*relay.Output, time.Time, error) {
	out, err := c.st.GetOutput(r.Context(), get("output"))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("choose an output: %w", err)
	}
	s := strings.TrimSpace(get("since"))
	since, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if since, err = time.Parse("2006-01-02T15:04", s); err != nil {
			return nil, time.Time{}, fmt.Errorf("since: %q is not a time (2006-01-02T15:04 in UTC, or RFC 3339)", s)
		}
	}
	return out, since.UTC(), nil
}

// replayAllPage shows how many failed deliveries a "replay all" would
// replay, and asks to confirm.
func (c *Console) replayAllPage(w http.ResponseWriter, r *http.Request) error {
	out, since, err := c.replayRequest(r, r.URL.Query().Get)
	if err != nil {
		return c.renderDeliveries(w, r, "", err.Error())
	}
	ds, err := c.failedSince(r, out.ID, since)
	if err != nil {
		return err
	}
	return c.render(w, r, "replay", "Replay failed deliveries", map[string]any{
		"Output": out, "Since": since, "SinceValue": since.Format(time.RFC3339), "Count": len(ds), "Capped": len(ds) >= maxReplayAll,
	})
}

func (c *Console) replayAll(w http.ResponseWriter, r *http.Request) error {
	out, since, err := c.replayRequest(r, r.PostFormValue)
	if err != nil {
		return c.renderDeliveries(w, r, "", err.Error())
	}
	ds, err := c.failedSince(r, out.ID, since)
	if err != nil {
		return err
	}
	n := 0
	var problems []string
	for _, d := range ds {
		if _, _, err := admin.Replay(r.Context(), c.st, c.replayer, d.ID); err != nil {
			problems = append(problems, d.ID+": "+err.Error())
			continue
		}
		n++
	}
	c.audit(r, "console: failed deliveries replayed", "output", out.Name, "since", since, "replayed", n, "refused", len(problems))
	problem := ""
	if len(problems) > 0 {
		problem = fmt.Sprintf("%d not replayed: %s", len(problems), strings.Join(problems[:min(len(problems), 5)], "; "))
	}
	return c.renderDeliveries(w, r, fmt.Sprintf("Replayed %d failed deliveries of %s.", n, out.Name), problem)
}
