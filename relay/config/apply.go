package config

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/store"
	"github.com/relayfn/relayfn/runtime"
)

// Actions a Change reports.
const (
	Created   = api.Created
	Updated   = api.Updated
	Deleted   = api.Deleted
	Unchanged = api.Unchanged
)

// Kinds of objects a Change reports on.
const (
	KindFunction = api.KindFunction
	KindConfig   = api.KindConfig
	KindBucket   = api.KindBucket
	KindInput    = api.KindInput
	KindOutput   = api.KindOutput
)

// Report is what Apply did, or what Plan found Apply would do: the wire
// form, which the admin API answers as it is.
type Report = api.Report

// Change is what happened to one object.
type Change = api.Change

// Apply makes st hold f's functions and buckets, and reports what it did.
//
//   - Functions are matched by name. A function is created, or gets a new
//     version when its source changed (byte for byte); its timeout is
//     updated in place. Every new source is compiled first: a syntax error
//     refuses the whole apply, naming the file and line, before anything
//     is written. A function's config sets the variables it gives; the
//     variables it does not mention are left alone (set with fnctl
//     function config, say) unless f.PruneConfig, which deletes them when
//     the function gives config (even empty).
//   - Buckets are matched by name and created or updated. A basic-auth
//     password is stored bcrypt-hashed; it counts as changed only when it
//     no longer matches the stored hash.
//   - Inputs are matched by id when the file gives one, else by name, and
//     keep their IDs (an explicit id is used when an input is created; an
//     existing input's id cannot change; renaming an input that has an id
//     in the file keeps it). Outputs are matched by name, so renaming one
//     replaces it (and its deliveries go with the old one). Inputs and
//     outputs of the file's buckets that the file no longer lists are
//     deleted.
//   - Functions and buckets the file does not list are left alone, and so
//     is the server section.
//
// Applying the same file twice changes nothing the second time. Apply is
// not one transaction: when a write fails, the error says which, and the
// report lists what was done before it. Callers serialize applies.
func Apply(ctx context.Context, st relay.Store, e *runtime.Engine, f *File) (*Report, error) {
	p, err := plan(ctx, st, e, f)
	if err != nil {
		return nil, err
	}
	return p.execute(ctx, st)
}

// Plan reports what Apply would do, checking everything Apply checks
// (function sources compile, references resolve, input ids are free), and
// writes nothing.
func Plan(ctx context.Context, st relay.Store, e *runtime.Engine, f *File) (*Report, error) {
	p, err := plan(ctx, st, e, f)
	if err != nil {
		return nil, err
	}
	return p.report(), nil
}

// applyPlan is what Apply will do, decided before anything is written.
type applyPlan struct {
	file     *File
	fns      []*fnPlan
	buckets  []*bucketPlan
	warnings []string
}

type fnPlan struct {
	spec     *Function
	existing *functions.Function // nil: create
	source   bool                // a new version is needed
	timeout  bool
	config   []configPlan
}

type configPlan struct {
	key, value string
	action     string
}

type bucketPlan struct {
	spec     *Bucket
	existing *relay.Bucket // nil: create
	fields   []string
	inputs   []*inputPlan
	outputs  []*outputPlan
	// drop lists the inputs and outputs to delete.
	dropInputs  []*relay.Input
	dropOutputs []*relay.Output
}

type inputPlan struct {
	spec     *Input
	existing *relay.Input // nil: create
	fields   []string
}

type outputPlan struct {
	spec     *Output
	existing *relay.Output // nil: create
	fields   []string
}

// pendingID stands for the ID of a function Apply will create.
const pendingID = "\x00new:"

func plan(ctx context.Context, st relay.Store, e *runtime.Engine, f *File) (*applyPlan, error) {
	if f == nil {
		return nil, errors.New("apply: no file")
	}
	if e == nil {
		return nil, errors.New("apply: no engine to compile functions with")
	}
	f.resolveSelfDestinations() // server.listen may have changed since Parse
	p := &applyPlan{file: f}
	fnIDs := map[string]string{} // function name → ID (or pendingID+name)
	var errs []error
	for i := range f.Functions {
		fp, err := planFunction(ctx, st, e, f, i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.fns = append(p.fns, fp)
		if fp.existing != nil {
			fnIDs[fp.spec.Name] = fp.existing.ID
		} else {
			fnIDs[fp.spec.Name] = pendingID + fp.spec.Name
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	claimed := map[string]string{} // input ID → the input that takes it
	for i := range f.Buckets {
		bp, err := p.planBucket(ctx, st, f, i, fnIDs, claimed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.buckets = append(p.buckets, bp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// lookup returns what st.get finds, nil when there is no such record.
func lookup[T any](ctx context.Context, get func(context.Context, string) (*T, error), key string) (*T, error) {
	v, err := get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func planFunction(ctx context.Context, st relay.Store, e *runtime.Engine, f *File, i int) (*fnPlan, error) {
	spec := &f.Functions[i]
	path := fmt.Sprintf("functions[%d]", i)
	fp := &fnPlan{spec: spec}
	existing, err := lookup(ctx, st.GetFunction, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("apply: function %s: %w", spec.Name, err)
	}
	if existing != nil && existing.Name != spec.Name {
		existing = nil // matched an ID, not the name
	}
	fp.existing = existing
	if spec.Reference {
		if existing == nil {
			return nil, f.fieldError(path, fmt.Errorf("function %q is not on the relay: push it first (fnctl function push %s -f FILE), or give file or source", spec.Name, spec.Name))
		}
		// Its source is managed elsewhere; only a timeout given here, and
		// config, are applied.
		if spec.Timeout != 0 && existing.Timeout != time.Duration(spec.Timeout) {
			fp.timeout = true
		}
	} else if existing == nil || existing.Source != spec.Source {
		fp.source = existing != nil
		chunk := spec.File
		field := path + ".file"
		if chunk == "" {
			chunk, field = spec.Name+".lua", path+".source"
		}
		if _, err := e.Compile(chunk, []byte(spec.Source)); err != nil {
			var se *runtime.SyntaxError
			if spec.File == "" && errors.As(err, &se) {
				err = errors.New(se.ForFunction(spec.Name)) // no file to name
			}
			return nil, f.fieldError(field, err)
		}
	}
	if !spec.Reference && existing != nil && existing.Timeout != time.Duration(spec.Timeout) {
		fp.timeout = true
	}
	if spec.Config == nil {
		return fp, nil
	}
	have := map[string]string{}
	if existing != nil {
		if have, err = st.Config(ctx, existing.ID); err != nil {
			return nil, fmt.Errorf("apply: function %s: config: %w", spec.Name, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Config)) {
		v := spec.Config[k]
		old, ok := have[k]
		switch {
		case !ok:
			fp.config = append(fp.config, configPlan{key: k, value: v, action: Created})
		case old != v:
			fp.config = append(fp.config, configPlan{key: k, value: v, action: Updated})
		default:
			fp.config = append(fp.config, configPlan{key: k, action: Unchanged})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := spec.Config[k]; !ok && f.PruneConfig {
			fp.config = append(fp.config, configPlan{key: k, action: Deleted})
		}
	}
	return fp, nil
}

func (p *applyPlan) planBucket(ctx context.Context, st relay.Store, f *File, i int, fnIDs, claimed map[string]string) (*bucketPlan, error) {
	spec := &f.Buckets[i]
	path := fmt.Sprintf("buckets[%d]", i)
	bp := &bucketPlan{spec: spec}
	existing, err := lookup(ctx, st.GetBucket, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("apply: bucket %s: %w", spec.Name, err)
	}
	if existing != nil && existing.Name != spec.Name {
		existing = nil
	}
	bp.existing = existing
	var haveIn []*relay.Input
	var haveOut []*relay.Output
	if existing != nil {
		bp.fields = bucketDiff(existing, spec)
		changed, err := retentionChanged(ctx, st, existing.ID, spec.Retention)
		if err != nil {
			return nil, fmt.Errorf("apply: bucket %s: %w", spec.Name, err)
		}
		if changed {
			bp.fields = append(bp.fields, "retention")
		}
		if haveIn, err = st.ListInputs(ctx, existing.ID); err != nil {
			return nil, fmt.Errorf("apply: bucket %s: inputs: %w", spec.Name, err)
		}
		if haveOut, err = st.ListOutputs(ctx, existing.ID); err != nil {
			return nil, fmt.Errorf("apply: bucket %s: outputs: %w", spec.Name, err)
		}
	}
	if spec.Auth.Type == relay.AuthToken {
		var toks []*relay.Token
		if existing != nil {
			if toks, err = st.ListTokens(ctx, existing.ID); err != nil {
				return nil, fmt.Errorf("apply: bucket %s: tokens: %w", spec.Name, err)
			}
		}
		if len(toks) == 0 {
			p.warnings = append(p.warnings, fmt.Sprintf("bucket %s uses token auth but has no tokens yet: every webhook is refused until one is made", spec.Name))
		}
	}

	// Inputs: by id first, then by name.
	used := map[string]bool{}
	byID := map[string]*relay.Input{}
	byName := map[string]*relay.Input{}
	for _, in := range haveIn {
		byID[in.ID] = in
		byName[in.Name] = in
	}
	var errs []error
	for j := range spec.Inputs {
		is := &spec.Inputs[j]
		ip := fmt.Sprintf("%s.inputs[%d]", path, j)
		var match *relay.Input
		if is.ID != "" {
			match = byID[is.ID]
			if match == nil {
				other, err := lookup(ctx, st.GetInput, is.ID)
				if err != nil {
					return nil, fmt.Errorf("apply: input %s/%s: %w", spec.Name, is.Name, err)
				}
				if other != nil {
					errs = append(errs, f.fieldError(ip+".id", fmt.Errorf("%s is the id of an input of another bucket", is.ID)))
					continue
				}
				if n := byName[is.Name]; n != nil {
					errs = append(errs, f.fieldError(ip+".id", fmt.Errorf("input %s/%s exists with id %s, and an input's id cannot change: remove id, or delete the input first", spec.Name, is.Name, n.ID)))
					continue
				}
			}
		} else {
			match = byName[is.Name]
			if match != nil && claimed[match.ID] != "" {
				match = nil
			}
		}
		if match != nil {
			if by := claimed[match.ID]; by != "" {
				errs = append(errs, f.fieldError(ip, fmt.Errorf("input %s is also matched by %s", match.ID, by)))
				continue
			}
			claimed[match.ID] = ip
			used[match.ID] = true
		} else if is.ID != "" {
			claimed[is.ID] = ip
		}
		pl := &inputPlan{spec: is, existing: match}
		if match != nil {
			pl.fields = inputDiff(match, is, fnIDs)
		}
		if is.Response.Mode == relay.ResponseFunction && is.Function == "" {
			p.warnings = append(p.warnings, fmt.Sprintf("input %s/%s answers in function mode but has no function: it answers 200 with an empty body", spec.Name, is.Name))
		}
		bp.inputs = append(bp.inputs, pl)
	}
	for _, in := range haveIn {
		if !used[in.ID] {
			bp.dropInputs = append(bp.dropInputs, in)
		}
	}

	outByName := map[string]*relay.Output{}
	for _, o := range haveOut {
		outByName[o.Name] = o
	}
	usedOut := map[string]bool{}
	for j := range spec.Outputs {
		ospec := &spec.Outputs[j]
		pl := &outputPlan{spec: ospec, existing: outByName[ospec.Name]}
		if pl.existing != nil {
			usedOut[pl.existing.ID] = true
			pl.fields = outputDiff(pl.existing, ospec, fnIDs)
		}
		bp.outputs = append(bp.outputs, pl)
	}
	for _, o := range haveOut {
		if !usedOut[o.ID] {
			bp.dropOutputs = append(bp.dropOutputs, o)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bp, nil
}

func bucketDiff(b *relay.Bucket, spec *Bucket) []string {
	var fields []string
	if b.Description != spec.Description {
		fields = append(fields, "description")
	}
	typ := b.Auth.Type
	if typ == "" {
		typ = relay.AuthNone
	}
	switch {
	case typ != spec.Auth.Type:
		fields = append(fields, "auth.type")
		if spec.Auth.Type == relay.AuthBasic {
			fields = append(fields, "auth.username", "auth.password")
		}
	case typ == relay.AuthBasic:
		if b.Auth.Username != spec.Auth.Username {
			fields = append(fields, "auth.username")
		}
		if bcrypt.CompareHashAndPassword([]byte(b.Auth.PasswordHash), []byte(spec.Auth.Password)) != nil {
			fields = append(fields, "auth.password")
		}
	}
	if b.Ephemeral != spec.Ephemeral {
		fields = append(fields, "ephemeral")
	}
	return fields
}

func inputDiff(in *relay.Input, spec *Input, fnIDs map[string]string) []string {
	var fields []string
	if in.Name != spec.Name {
		fields = append(fields, "name")
	}
	if in.Description != spec.Description {
		fields = append(fields, "description")
	}
	if in.FunctionID != fnIDs[spec.Function] {
		fields = append(fields, "function")
	}
	have, want := in.Response, spec.Response.model()
	if have.Mode.OrDefault() != want.Mode.OrDefault() {
		fields = append(fields, "response.mode")
	}
	if have.Status != want.Status {
		fields = append(fields, "response.status")
	}
	if !maps.Equal(have.Headers, want.Headers) {
		fields = append(fields, "response.headers")
	}
	if have.Body != want.Body {
		fields = append(fields, "response.body")
	}
	if have.Timeout != want.Timeout {
		fields = append(fields, "response.timeout")
	}
	return fields
}

func outputDiff(o *relay.Output, spec *Output, fnIDs map[string]string) []string {
	var fields []string
	if o.Destination != spec.Destination {
		fields = append(fields, "destination")
	}
	if o.FunctionID != fnIDs[spec.Function] {
		fields = append(fields, "function")
	}
	if o.ResponseFunctionID != fnIDs[spec.ResponseFunction] {
		fields = append(fields, "response_function")
	}
	if o.LockPath != spec.LockPath {
		fields = append(fields, "lock_path")
	}
	if o.Timeout != time.Duration(spec.Timeout) {
		fields = append(fields, "timeout")
	}
	if o.Retries != spec.Retries.model() {
		fields = append(fields, "retries")
	}
	if o.MaxInFlight != spec.MaxInFlight {
		fields = append(fields, "max_in_flight")
	}
	if o.Internal != spec.Internal {
		fields = append(fields, "internal")
	}
	if o.AgentWindow != time.Duration(spec.AgentWindow) {
		fields = append(fields, "agent_window")
	}
	if o.Disabled != spec.Disabled {
		fields = append(fields, "disabled")
	}
	return fields
}

// report returns the plan as a dry run's report.
func (p *applyPlan) report() *Report {
	r := &Report{DryRun: true, Changes: []Change{}, Warnings: p.warnings}
	for _, fp := range p.fns {
		c := Change{Kind: KindFunction, Name: fp.spec.Name, Action: Created, Version: 1}
		if fp.existing != nil {
			c.ID, c.Version = fp.existing.ID, fp.existing.Version
			c.Fields, c.Action = fp.fields(), Unchanged
			if len(c.Fields) > 0 {
				c.Action = Updated
			}
			if fp.source {
				c.Version++
			}
		}
		r.Changes = append(r.Changes, c)
		for _, cp := range fp.config {
			r.Changes = append(r.Changes, Change{Kind: KindConfig, Name: fp.spec.Name + "/" + cp.key, Action: cp.action})
		}
	}
	for _, bp := range p.buckets {
		c := Change{Kind: KindBucket, Name: bp.spec.Name, Action: Created}
		if bp.existing != nil {
			c.ID, c.Fields, c.Action = bp.existing.ID, bp.fields, actionOf(bp.fields)
		}
		r.Changes = append(r.Changes, c)
		for _, in := range bp.dropInputs {
			r.Changes = append(r.Changes, Change{Kind: KindInput, Name: bp.spec.Name + "/" + in.Name, ID: in.ID, Action: Deleted})
		}
		for _, ip := range bp.inputs {
			c := Change{Kind: KindInput, Name: bp.spec.Name + "/" + ip.spec.Name, ID: ip.spec.ID, Action: Created}
			if ip.existing != nil {
				c.ID, c.Fields, c.Action = ip.existing.ID, ip.fields, actionOf(ip.fields)
			}
			r.Changes = append(r.Changes, c)
		}
		for _, o := range bp.dropOutputs {
			r.Changes = append(r.Changes, Change{Kind: KindOutput, Name: bp.spec.Name + "/" + o.Name, ID: o.ID, Action: Deleted})
		}
		for _, op := range bp.outputs {
			c := Change{Kind: KindOutput, Name: bp.spec.Name + "/" + op.spec.Name, Action: Created}
			if op.existing != nil {
				c.ID, c.Fields, c.Action = op.existing.ID, op.fields, actionOf(op.fields)
			}
			r.Changes = append(r.Changes, c)
		}
	}
	return r
}

func (fp *fnPlan) fields() []string {
	var fields []string
	if fp.source {
		fields = append(fields, "source")
	}
	if fp.timeout {
		fields = append(fields, "timeout")
	}
	return fields
}

func actionOf(fields []string) string {
	if len(fields) > 0 {
		return Updated
	}
	return Unchanged
}

// execute writes the plan to st.
func (p *applyPlan) execute(ctx context.Context, st relay.Store) (*Report, error) {
	r := &Report{Changes: []Change{}, Warnings: p.warnings}
	add := func(c Change) { r.Changes = append(r.Changes, c) }
	fnIDs := map[string]string{}
	for _, fp := range p.fns {
		spec := fp.spec
		c := Change{Kind: KindFunction, Name: spec.Name}
		switch fn := fp.existing; {
		case fn == nil:
			fn = &functions.Function{
				Name: spec.Name, Driver: "lua", Source: spec.Source, Timeout: time.Duration(spec.Timeout),
			}
			if err := st.CreateFunction(ctx, fn); err != nil {
				return r, fmt.Errorf("apply: create function %s: %w", spec.Name, err)
			}
			c.ID, c.Version, c.Action = fn.ID, fn.Version, Created
		default:
			c.ID, c.Version, c.Fields, c.Action = fn.ID, fn.Version, fp.fields(), actionOf(fp.fields())
			if fp.source {
				nf, err := st.AddVersion(ctx, fn.ID, spec.Source, "")
				if err != nil {
					return r, fmt.Errorf("apply: new version of function %s: %w", spec.Name, err)
				}
				c.Version = nf.Version
			}
			if fp.timeout {
				fn.Timeout = time.Duration(spec.Timeout)
				if err := st.UpdateFunction(ctx, fn); err != nil {
					return r, fmt.Errorf("apply: update function %s: %w", spec.Name, err)
				}
			}
		}
		fnIDs[spec.Name] = c.ID
		add(c)
		for _, cp := range fp.config {
			var err error
			switch cp.action {
			case Created, Updated:
				err = st.SetConfig(ctx, c.ID, cp.key, cp.value)
			case Deleted:
				err = st.DeleteConfig(ctx, c.ID, cp.key)
			}
			if err != nil {
				return r, fmt.Errorf("apply: function %s: config %s: %w", spec.Name, cp.key, err)
			}
			add(Change{Kind: KindConfig, Name: spec.Name + "/" + cp.key, Action: cp.action})
		}
	}
	for _, bp := range p.buckets {
		if err := executeBucket(ctx, st, bp, fnIDs, add); err != nil {
			return r, err
		}
	}
	return r, nil
}

func executeBucket(ctx context.Context, st relay.Store, bp *bucketPlan, fnIDs map[string]string, add func(Change)) error {
	spec := bp.spec
	b := bp.existing
	c := Change{Kind: KindBucket, Name: spec.Name, Action: Created}
	if b == nil {
		b = &relay.Bucket{ID: uuid.NewString(), Name: spec.Name}
	} else {
		c.Fields, c.Action = bp.fields, actionOf(bp.fields)
	}
	if bp.existing == nil || len(bp.fields) > 0 {
		oldHash := b.Auth.PasswordHash
		b.Description, b.Ephemeral = spec.Description, spec.Ephemeral
		b.Auth = relay.BucketAuth{Type: spec.Auth.Type}
		if spec.Auth.Type == relay.AuthBasic {
			b.Auth.Username = spec.Auth.Username
			b.Auth.PasswordHash = oldHash
			if bp.existing == nil || slices.Contains(bp.fields, "auth.password") {
				h, err := relay.HashSecret(spec.Auth.Password)
				if err != nil {
					return fmt.Errorf("apply: bucket %s: hash password: %w", spec.Name, err)
				}
				b.Auth.PasswordHash = h
			}
		}
	}
	switch {
	case bp.existing == nil:
		if err := st.CreateBucket(ctx, b); err != nil {
			return fmt.Errorf("apply: create bucket %s: %w", spec.Name, err)
		}
	case len(bp.fields) > 0:
		if err := st.UpdateBucket(ctx, b); err != nil {
			return fmt.Errorf("apply: update bucket %s: %w", spec.Name, err)
		}
	}
	c.ID = b.ID
	if err := applyRetention(ctx, st, bp, b.ID); err != nil {
		return err
	}
	add(c)

	// Deletions first, so that renames into a freed name succeed.
	for _, in := range bp.dropInputs {
		if err := st.DeleteInput(ctx, in.ID); err != nil {
			return fmt.Errorf("apply: delete input %s/%s: %w", spec.Name, in.Name, err)
		}
		add(Change{Kind: KindInput, Name: spec.Name + "/" + in.Name, ID: in.ID, Action: Deleted})
	}
	for _, ip := range bp.inputs {
		is := ip.spec
		in := &relay.Input{
			ID: is.ID, BucketID: b.ID, Name: is.Name, Description: is.Description,
			FunctionID: fnIDs[is.Function], Response: is.Response.model(),
		}
		c := Change{Kind: KindInput, Name: spec.Name + "/" + is.Name}
		switch {
		case ip.existing == nil:
			if in.ID == "" {
				in.ID = uuid.NewString()
			}
			if err := st.CreateInput(ctx, in); err != nil {
				return fmt.Errorf("apply: create input %s/%s: %w", spec.Name, is.Name, err)
			}
			c.Action = Created
		case len(ip.fields) > 0:
			in.ID, in.CreatedAt = ip.existing.ID, ip.existing.CreatedAt
			if err := st.UpdateInput(ctx, in); err != nil {
				return fmt.Errorf("apply: update input %s/%s: %w", spec.Name, is.Name, err)
			}
			c.Action, c.Fields = Updated, ip.fields
		default:
			in.ID, c.Action = ip.existing.ID, Unchanged
		}
		c.ID = in.ID
		add(c)
	}
	for _, o := range bp.dropOutputs {
		if err := st.DeleteOutput(ctx, o.ID); err != nil {
			return fmt.Errorf("apply: delete output %s/%s: %w", spec.Name, o.Name, err)
		}
		add(Change{Kind: KindOutput, Name: spec.Name + "/" + o.Name, ID: o.ID, Action: Deleted})
	}
	for _, op := range bp.outputs {
		ospec := op.spec
		out := &relay.Output{
			BucketID: b.ID, Name: ospec.Name, Destination: ospec.Destination,
			FunctionID: fnIDs[ospec.Function], ResponseFunctionID: fnIDs[ospec.ResponseFunction],
			LockPath: ospec.LockPath, Timeout: time.Duration(ospec.Timeout), Retries: ospec.Retries.model(),
			MaxInFlight: ospec.MaxInFlight, Internal: ospec.Internal, Disabled: ospec.Disabled,
			AgentWindow: time.Duration(ospec.AgentWindow),
		}
		c := Change{Kind: KindOutput, Name: spec.Name + "/" + ospec.Name}
		switch {
		case op.existing == nil:
			out.ID = uuid.NewString()
			if err := st.CreateOutput(ctx, out); err != nil {
				return fmt.Errorf("apply: create output %s/%s: %w", spec.Name, ospec.Name, err)
			}
			c.Action = Created
		case len(op.fields) > 0:
			out.ID, out.CreatedAt = op.existing.ID, op.existing.CreatedAt
			if err := st.UpdateOutput(ctx, out); err != nil {
				return fmt.Errorf("apply: update output %s/%s: %w", spec.Name, ospec.Name, err)
			}
			c.Action, c.Fields = Updated, op.fields
		default:
			out.ID, c.Action = op.existing.ID, Unchanged
		}
		c.ID = out.ID
		add(c)
	}
	return nil
}
