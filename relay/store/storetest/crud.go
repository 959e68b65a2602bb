package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
)

func (s *suite) TestBuckets(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()

	b := &relay.Bucket{Name: "ci", Description: "CI hooks", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "u", PasswordHash: "$2a$hash"}}
	Must(t, st.CreateBucket(ctx, b))
	if b.ID == "" || b.CreatedAt.IsZero() {
		t.Fatalf("CreateBucket did not fill ID/CreatedAt: %+v", b)
	}
	for _, key := range []string{b.ID, "ci"} {
		got, err := st.GetBucket(ctx, key)
		Must(t, err)
		if *got != *b {
			t.Errorf("GetBucket(%q) = %+v, want %+v", key, got, b)
		}
	}
	fixed := &relay.Bucket{ID: "fixed-id", Name: "alpha", Ephemeral: true}
	Must(t, st.CreateBucket(ctx, fixed))
	if fixed.ID != "fixed-id" || fixed.Auth.Type != relay.AuthNone {
		t.Errorf("CreateBucket changed the ID or left the auth type empty: %+v", fixed)
	}

	list, err := st.ListBuckets(ctx)
	Must(t, err)
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "ci" || !list[0].Ephemeral {
		t.Fatalf("ListBuckets = %+v", list)
	}

	errTests := []struct {
		name  string
		err   error
		check func(testing.TB, error)
		msg   string
	}{
		{"create duplicate name", st.CreateBucket(ctx, &relay.Bucket{Name: "ci"}), WantConflict, `bucket "ci": already exists`},
		{"create duplicate id", st.CreateBucket(ctx, &relay.Bucket{ID: b.ID, Name: "other"}), WantConflict, "already exists"},
		{"get missing", errOf(st.GetBucket(ctx, "nope")), WantNotFound, `bucket "nope": not found`},
		{"update missing", st.UpdateBucket(ctx, &relay.Bucket{ID: "nope", Name: "x"}), WantNotFound, `bucket "nope": not found`},
		{"update to taken name", st.UpdateBucket(ctx, &relay.Bucket{ID: fixed.ID, Name: "ci"}), WantConflict, `bucket "ci": already exists`},
		{"delete missing", st.DeleteBucket(ctx, "nope"), WantNotFound, `bucket "nope": not found`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, tt.err)
			if !strings.Contains(tt.err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", tt.err, tt.msg)
			}
		})
	}
	if err := st.CreateBucket(ctx, &relay.Bucket{}); err == nil {
		t.Error("CreateBucket without a name succeeded")
	}

	b.Name, b.Description, b.Ephemeral = "ci2", "renamed", true
	b.Auth = relay.BucketAuth{Type: relay.AuthToken}
	Must(t, st.UpdateBucket(ctx, b))
	got, err := st.GetBucket(ctx, "ci2")
	Must(t, err)
	if *got != *b {
		t.Errorf("after UpdateBucket: %+v, want %+v", got, b)
	}
	Must(t, st.DeleteBucket(ctx, b.ID))
	_, err = st.GetBucket(ctx, b.ID)
	WantNotFound(t, err)
}

func (s *suite) TestGetBucketPrefersID(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	a := &relay.Bucket{ID: "x", Name: "a"}
	b := &relay.Bucket{ID: "y", Name: "x"}
	Must(t, st.CreateBucket(ctx, a))
	Must(t, st.CreateBucket(ctx, b))
	got, err := st.GetBucket(ctx, "x")
	Must(t, err)
	if got.ID != "x" {
		t.Errorf("GetBucket(%q) = bucket %s, want the one with that ID", "x", got.ID)
	}
}

func (s *suite) TestInputs(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	b1 := &relay.Bucket{Name: "b1"}
	b2 := &relay.Bucket{Name: "b2"}
	Must(t, st.CreateBucket(ctx, b1))
	Must(t, st.CreateBucket(ctx, b2))
	fn := &functions.Function{Name: "f", Source: "return"}
	Must(t, st.CreateFunction(ctx, fn))

	in := &relay.Input{BucketID: b1.ID, Name: "github", Description: "d", FunctionID: fn.ID,
		Response: relay.ResponseConfig{Mode: relay.ResponseStatic, Status: 202, Headers: map[string]string{"X": "y"}, Body: "ok", Timeout: time.Second}}
	Must(t, st.CreateInput(ctx, in))
	got, err := st.GetInput(ctx, in.ID)
	Must(t, err)
	if got.Name != in.Name || got.FunctionID != fn.ID || got.Response.Status != 202 || got.Response.Headers["X"] != "y" ||
		got.Response.Timeout != time.Second || !got.CreatedAt.Equal(in.CreatedAt) || got.BucketID != b1.ID {
		t.Errorf("GetInput = %+v, want %+v", got, in)
	}

	// The same name in another bucket is fine; a given ID is kept.
	in2 := &relay.Input{ID: "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10", BucketID: b2.ID, Name: "github"}
	Must(t, st.CreateInput(ctx, in2))
	if in2.ID != "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10" || in2.Response.Mode != relay.ResponseDefault {
		t.Errorf("CreateInput: %+v", in2)
	}
	in3 := &relay.Input{BucketID: b1.ID, Name: "stripe"}
	Must(t, st.CreateInput(ctx, in3))

	WantConflict(t, st.CreateInput(ctx, &relay.Input{BucketID: b1.ID, Name: "github"}))
	WantConflict(t, st.CreateInput(ctx, &relay.Input{ID: in.ID, BucketID: b2.ID, Name: "other"}))
	WantNotFound(t, st.CreateInput(ctx, &relay.Input{BucketID: "nope", Name: "x"}))
	WantNotFound(t, st.CreateInput(ctx, &relay.Input{BucketID: b1.ID, Name: "x", FunctionID: "nofn"}))
	_, err = st.GetInput(ctx, "nope")
	WantNotFound(t, err)

	for _, tt := range []struct {
		bucket string
		want   int
	}{{b1.ID, 2}, {b2.ID, 1}, {"", 3}, {"nope", 0}} {
		list, err := st.ListInputs(ctx, tt.bucket)
		Must(t, err)
		if len(list) != tt.want {
			t.Errorf("ListInputs(%q) = %d inputs, want %d", tt.bucket, len(list), tt.want)
		}
	}

	in.Name, in.FunctionID, in.Response = "gh", "", relay.ResponseConfig{Mode: relay.ResponseFunction}
	Must(t, st.UpdateInput(ctx, in))
	got, err = st.GetInput(ctx, in.ID)
	Must(t, err)
	if got.Name != "gh" || got.FunctionID != "" || got.Response.Mode != relay.ResponseFunction {
		t.Errorf("after UpdateInput: %+v", got)
	}
	in3.Name = "gh"
	WantConflict(t, st.UpdateInput(ctx, in3))
	WantNotFound(t, st.UpdateInput(ctx, &relay.Input{ID: "nope", Name: "x"}))
	in3.Name, in3.FunctionID = "stripe", "nofn"
	WantNotFound(t, st.UpdateInput(ctx, in3))

	Must(t, st.DeleteInput(ctx, in.ID))
	WantNotFound(t, st.DeleteInput(ctx, in.ID))
	_, err = st.GetInput(ctx, in.ID)
	WantNotFound(t, err)
}

func (s *suite) TestOutputs(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	b := &relay.Bucket{Name: "b"}
	Must(t, st.CreateBucket(ctx, b))
	fn := &functions.Function{Name: "f"}
	Must(t, st.CreateFunction(ctx, fn))
	rfn := &functions.Function{Name: "rf"}
	Must(t, st.CreateFunction(ctx, rfn))

	out := &relay.Output{BucketID: b.ID, Name: "slack", Destination: "https://hooks.example/x", FunctionID: fn.ID,
		ResponseFunctionID: rfn.ID, LockPath: true, Timeout: 10 * time.Second, Internal: true, Disabled: true,
		Retries: relay.RetryPolicy{MaxAttempts: 8, Backoff: "exponential", InitialInterval: time.Second, MaxInterval: time.Minute}}
	Must(t, st.CreateOutput(ctx, out))
	got, err := st.GetOutput(ctx, out.ID)
	Must(t, err)
	if *got != *out {
		t.Errorf("GetOutput = %+v, want %+v", got, out)
	}
	WantConflict(t, st.CreateOutput(ctx, &relay.Output{BucketID: b.ID, Name: "slack"}))
	WantNotFound(t, st.CreateOutput(ctx, &relay.Output{BucketID: "nope", Name: "x"}))
	WantNotFound(t, st.CreateOutput(ctx, &relay.Output{BucketID: b.ID, Name: "x", ResponseFunctionID: "nofn"}))
	_, err = st.GetOutput(ctx, "nope")
	WantNotFound(t, err)

	other := &relay.Output{BucketID: b.ID, Name: "other"}
	Must(t, st.CreateOutput(ctx, other))
	list, err := st.ListOutputs(ctx, b.ID)
	Must(t, err)
	if len(list) != 2 || list[0].Name != "other" || list[1].Name != "slack" {
		t.Errorf("ListOutputs = %+v", list)
	}

	out.Destination, out.FunctionID, out.ResponseFunctionID, out.Disabled = "https://new.example", "", "", false
	out.Retries.Backoff = "fixed"
	Must(t, st.UpdateOutput(ctx, out))
	got, err = st.GetOutput(ctx, out.ID)
	Must(t, err)
	if *got != *out {
		t.Errorf("after UpdateOutput: %+v, want %+v", got, out)
	}
	other.Name = "slack"
	WantConflict(t, st.UpdateOutput(ctx, other))
	WantNotFound(t, st.UpdateOutput(ctx, &relay.Output{ID: "nope", Name: "x"}))

	Must(t, st.DeleteOutput(ctx, out.ID))
	WantNotFound(t, st.DeleteOutput(ctx, out.ID))
}

func (s *suite) TestTokens(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	b := &relay.Bucket{Name: "b"}
	Must(t, st.CreateBucket(ctx, b))

	admin := &relay.Token{Name: "admin", SecretHash: "$2a$admin"}
	Must(t, st.CreateToken(ctx, admin))
	bt := &relay.Token{BucketID: b.ID, Name: "ingress", SecretHash: "$2a$b"}
	Must(t, st.CreateToken(ctx, bt))
	got, err := st.GetToken(ctx, bt.ID)
	Must(t, err)
	if *got != *bt {
		t.Errorf("GetToken = %+v, want %+v", got, bt)
	}
	WantConflict(t, st.CreateToken(ctx, &relay.Token{ID: bt.ID, SecretHash: "x"}))
	WantNotFound(t, st.CreateToken(ctx, &relay.Token{BucketID: "nope", SecretHash: "x"}))
	if err := st.CreateToken(ctx, &relay.Token{}); err == nil {
		t.Error("CreateToken without a secret hash succeeded")
	}
	_, err = st.GetToken(ctx, "nope")
	WantNotFound(t, err)

	for _, tt := range []struct {
		bucket string
		want   string
	}{{"", admin.ID}, {b.ID, bt.ID}} {
		list, err := st.ListTokens(ctx, tt.bucket)
		Must(t, err)
		if len(list) != 1 || list[0].ID != tt.want {
			t.Errorf("ListTokens(%q) = %+v, want only %s", tt.bucket, list, tt.want)
		}
	}
	Must(t, st.DeleteToken(ctx, admin.ID))
	WantNotFound(t, st.DeleteToken(ctx, admin.ID))
}

func (s *suite) TestFunctions(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()

	f := &functions.Function{Name: "github-to-slack", Driver: "lua", Source: "r:SetResponseBody('1')", Timeout: 5 * time.Second}
	Must(t, st.CreateFunction(ctx, f))
	if f.ID == "" || f.Version != 1 || f.Hash != sourceHash(f.Source) || f.CreatedAt.IsZero() || !f.UpdatedAt.Equal(f.CreatedAt) {
		t.Fatalf("CreateFunction filled %+v", f)
	}
	for _, key := range []string{f.ID, f.Name} {
		got, err := st.GetFunction(ctx, key)
		Must(t, err)
		if *got != *f {
			t.Errorf("GetFunction(%q) = %+v, want %+v", key, got, f)
		}
	}
	WantConflict(t, st.CreateFunction(ctx, &functions.Function{Name: f.Name}))
	_, err := st.GetFunction(ctx, "nope")
	WantNotFound(t, err)
	if err != nil && err.Error() != `function "nope": not found` {
		t.Errorf("error %q", err)
	}

	// Versions.
	for i, src := range []string{"v2", "v3"} {
		got, err := st.AddVersion(ctx, f.ID, src, "")
		Must(t, err)
		if got.Version != i+2 || got.Source != src || got.Hash != sourceHash(src) || got.Name != f.Name {
			t.Errorf("AddVersion #%d = %+v", i+2, got)
		}
	}
	got, err := st.AddVersion(ctx, f.ID, "v4", "given-hash")
	Must(t, err)
	if got.Hash != "given-hash" {
		t.Errorf("AddVersion ignored the given hash: %q", got.Hash)
	}
	_, err = st.AddVersion(ctx, "nope", "x", "")
	WantNotFound(t, err)
	cur, err := st.GetFunction(ctx, f.Name)
	Must(t, err)
	if cur.Version != 4 || cur.Source != "v4" || cur.Hash != "given-hash" {
		t.Errorf("current = %+v, want version 4", cur)
	}
	vs, err := st.ListVersions(ctx, f.ID)
	Must(t, err)
	if len(vs) != 4 {
		t.Fatalf("ListVersions = %d versions, want 4", len(vs))
	}
	for i, v := range vs {
		if v.Version != i+1 || v.FunctionID != f.ID || v.CreatedAt.IsZero() {
			t.Errorf("version %d = %+v", i+1, v)
		}
	}
	if vs[0].Source != f.Source || vs[1].Source != "v2" {
		t.Errorf("versions' sources = %q, %q", vs[0].Source, vs[1].Source)
	}
	_, err = st.ListVersions(ctx, "nope")
	WantNotFound(t, err)

	// Update: name and timeout only.
	g := &functions.Function{Name: "other"}
	Must(t, st.CreateFunction(ctx, g))
	cur.Name, cur.Timeout = "renamed", time.Second
	Must(t, st.UpdateFunction(ctx, cur))
	got, err = st.GetFunction(ctx, "renamed")
	Must(t, err)
	if got.Timeout != time.Second || got.Version != 4 {
		t.Errorf("after UpdateFunction: %+v", got)
	}
	cur.Name = "other"
	WantConflict(t, st.UpdateFunction(ctx, cur))
	WantNotFound(t, st.UpdateFunction(ctx, &functions.Function{ID: "nope", Name: "x"}))

	list, err := st.ListFunctions(ctx)
	Must(t, err)
	if len(list) != 2 || list[0].Name != "other" || list[1].Name != "renamed" || list[1].Source != "v4" {
		t.Errorf("ListFunctions = %+v", list)
	}

	// Delete: refused while attached, then cascades to versions and config.
	b := &relay.Bucket{Name: "b"}
	Must(t, st.CreateBucket(ctx, b))
	in := &relay.Input{BucketID: b.ID, Name: "in", FunctionID: f.ID}
	Must(t, st.CreateInput(ctx, in))
	out := &relay.Output{BucketID: b.ID, Name: "out", ResponseFunctionID: g.ID}
	Must(t, st.CreateOutput(ctx, out))
	for _, id := range []string{f.ID, g.ID} {
		err := st.DeleteFunction(ctx, id)
		WantConflict(t, err)
		if !strings.Contains(err.Error(), "attached") {
			t.Errorf("error %q does not say the function is attached", err)
		}
	}
	Must(t, st.SetConfig(ctx, f.ID, "K", "v"))
	Must(t, st.DeleteInput(ctx, in.ID))
	Must(t, st.DeleteFunction(ctx, f.ID))
	WantNotFound(t, st.DeleteFunction(ctx, f.ID))
	_, err = st.ListVersions(ctx, f.ID)
	WantNotFound(t, err)
	WantNotFound(t, errOf(st.Config(ctx, f.ID)))
	// Nothing of it is left: a function made again with its ID starts
	// anew, with one version and no configuration.
	Must(t, st.CreateFunction(ctx, &functions.Function{ID: f.ID, Name: "reborn", Source: "new"}))
	vs, err = st.ListVersions(ctx, f.ID)
	Must(t, err)
	if len(vs) != 1 || vs[0].Source != "new" {
		t.Errorf("versions of a function made again with a deleted one's ID = %+v, want its first only", vs)
	}
	cfg, err := st.Config(ctx, f.ID)
	Must(t, err)
	if len(cfg) != 0 {
		t.Errorf("config of a function made again with a deleted one's ID = %v, want none", cfg)
	}
}

func (s *suite) TestConfig(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	f := &functions.Function{Name: "f"}
	Must(t, st.CreateFunction(ctx, f))

	cfg, err := st.Config(ctx, f.ID)
	Must(t, err)
	if cfg == nil || len(cfg) != 0 {
		t.Fatalf("Config of a new function = %#v, want an empty map", cfg)
	}
	want := map[string]string{"SLACK_CHANNEL": "#ci", "EMPTY": "", "UNICODE": "pässwörd ✓", "TOKEN": "old"}
	for k, v := range want {
		Must(t, st.SetConfig(ctx, f.ID, k, v))
	}
	Must(t, st.SetConfig(ctx, f.ID, "TOKEN", "new"))
	want["TOKEN"] = "new"
	cfg, err = st.Config(ctx, f.ID)
	Must(t, err)
	if len(cfg) != len(want) {
		t.Fatalf("Config = %d entries, want %d", len(cfg), len(want))
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("Config[%q] = %q, want %q", k, cfg[k], v)
		}
	}
	Must(t, st.DeleteConfig(ctx, f.ID, "TOKEN"))
	cfg, err = st.Config(ctx, f.ID)
	Must(t, err)
	if _, ok := cfg["TOKEN"]; ok || len(cfg) != 3 {
		t.Errorf("after DeleteConfig: %d entries, TOKEN present %v", len(cfg), ok)
	}

	errTests := []struct {
		name  string
		err   error
		check func(testing.TB, error)
	}{
		{"delete missing key", st.DeleteConfig(ctx, f.ID, "TOKEN"), WantNotFound},
		{"delete of missing function", st.DeleteConfig(ctx, "nope", "K"), WantNotFound},
		{"set on missing function", st.SetConfig(ctx, "nope", "K", "v"), WantNotFound},
		{"list of missing function", errOf(st.Config(ctx, "nope")), WantNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, tt.err) })
	}
	if err := st.SetConfig(ctx, f.ID, "", "v"); err == nil {
		t.Error("SetConfig with an empty key succeeded")
	}
}

// TestDeleteBucket: a deleted bucket's inputs, outputs and tokens go with
// it; another bucket's records and the admin tokens stay. (What becomes of
// its webhooks and deliveries is relay.PurgeDeleted's.)
func (s *suite) TestDeleteBucket(t *testing.T) {
	st, fx := s.openFixture(t, "doomed", false)
	ctx := context.Background()
	keep := NewFixture(t, st, "kept", false)
	tok := &relay.Token{BucketID: fx.Bucket.ID, SecretHash: "h"}
	Must(t, st.CreateToken(ctx, tok))
	Must(t, st.CreateToken(ctx, &relay.Token{SecretHash: "admin"}))
	var kept []*relay.Delivery
	for _, f := range []*Fixture{fx, keep} {
		ds := f.Deliveries()
		Must(t, st.SaveWebhook(ctx, f.Webhook("x"), ds))
		Must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
		Must(t, st.RecordAttempt(ctx, ds[0], &relay.Attempt{Status: 500}))
		kept = ds
	}

	Must(t, st.DeleteBucket(ctx, fx.Bucket.ID))
	WantNotFound(t, errOf(st.GetBucket(ctx, fx.Bucket.ID)))
	WantNotFound(t, errOf(st.GetInput(ctx, fx.Input.ID)))
	WantNotFound(t, errOf(st.GetOutput(ctx, fx.Out1.ID)))
	WantNotFound(t, errOf(st.GetOutput(ctx, fx.Out2.ID)))
	WantNotFound(t, errOf(st.GetToken(ctx, tok.ID)))
	for _, tt := range []struct {
		what       string
		list       func(bucketID string) (int, error)
		doomed, ok int
	}{
		{"inputs", func(id string) (int, error) { l, err := st.ListInputs(ctx, id); return len(l), err }, 0, 1},
		{"outputs", func(id string) (int, error) { l, err := st.ListOutputs(ctx, id); return len(l), err }, 0, 2},
		{"tokens", func(id string) (int, error) { l, err := st.ListTokens(ctx, id); return len(l), err }, 0, 0},
	} {
		for _, c := range []struct {
			bucket string
			want   int
		}{{fx.Bucket.ID, tt.doomed}, {keep.Bucket.ID, tt.ok}} {
			n, err := tt.list(c.bucket)
			Must(t, err)
			if n != c.want {
				t.Errorf("%d %s of bucket %s, want %d", n, tt.what, c.bucket, c.want)
			}
		}
	}
	admins, err := st.ListTokens(ctx, "")
	Must(t, err)
	if len(admins) != 1 {
		t.Errorf("%d admin tokens remain, want 1", len(admins))
	}
	if n := countDeliveries(t, st, relay.DeliveryFilter{BucketID: keep.Bucket.ID}); n != 2 {
		t.Errorf("the other bucket has %d deliveries, want 2", n)
	}
	_, as, err := st.GetDelivery(ctx, kept[0].ID)
	Must(t, err)
	if len(as) != 2 {
		t.Errorf("the other bucket's delivery has %d attempts, want 2", len(as))
	}
}

// TestDeleteOutputAndInput: a deleted output is gone and another keeps its
// deliveries; a deleted input's webhooks stay.
func (s *suite) TestDeleteOutputAndInput(t *testing.T) {
	st, fx := s.openFixture(t, "b", false)
	ctx := context.Background()
	w := fx.Webhook("x")
	Must(t, st.SaveWebhook(ctx, w, fx.Deliveries()))

	Must(t, st.DeleteOutput(ctx, fx.Out1.ID))
	WantNotFound(t, errOf(st.GetOutput(ctx, fx.Out1.ID)))
	// A delivery was stored to it before; none is after.
	WantNotFound(t, st.SaveWebhook(ctx, fx.Webhook("y"), []*relay.Delivery{{OutputID: fx.Out1.ID}}))
	if n := countDeliveries(t, st, relay.DeliveryFilter{OutputID: fx.Out2.ID}); n != 1 {
		t.Errorf("the other output has %d deliveries, want 1", n)
	}
	Must(t, st.DeleteInput(ctx, fx.Input.ID))
	if _, err := st.GetWebhook(ctx, w.ID); err != nil {
		t.Errorf("the webhook of a deleted input is gone: %v", err)
	}
}

// TestListedByName: buckets, inputs, outputs and functions are listed by
// name in byte order (upper case before lower, punctuation by its code),
// whatever the database's locale; inputs and outputs of every bucket, by
// bucket ID first.
func (s *suite) TestListedByName(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	names := []string{"beta", "Alpha", "alpha", "a-b", "ab", "_x", "Zed", "émoi", "2nd"}
	want := slices.Sorted(slices.Values(names))
	b1 := &relay.Bucket{ID: "bucket-1", Name: "first"}
	b2 := &relay.Bucket{ID: "bucket-0", Name: "second"}
	Must(t, st.CreateBucket(ctx, b1))
	Must(t, st.CreateBucket(ctx, b2))
	for _, n := range names {
		Must(t, st.CreateBucket(ctx, &relay.Bucket{Name: n}))
		Must(t, st.CreateFunction(ctx, &functions.Function{Name: n, Source: "return"}))
		for _, b := range []*relay.Bucket{b1, b2} {
			Must(t, st.CreateInput(ctx, &relay.Input{BucketID: b.ID, Name: n}))
			Must(t, st.CreateOutput(ctx, &relay.Output{BucketID: b.ID, Name: n}))
		}
	}
	bs, err := st.ListBuckets(ctx)
	Must(t, err)
	var got []string
	for _, b := range bs {
		if b.ID != b1.ID && b.ID != b2.ID {
			got = append(got, b.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListBuckets = %q, want %q", got, want)
	}
	fs, err := st.ListFunctions(ctx)
	Must(t, err)
	got = got[:0]
	for _, f := range fs {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListFunctions = %q, want %q", got, want)
	}
	// Both buckets: bucket-0's first.
	wantAll := append(slices.Clone(want), want...)
	for _, tt := range []struct {
		what   string
		bucket string
		want   []string
		list   func(bucketID string) ([]string, error)
	}{
		{"ListInputs", b1.ID, want, func(id string) ([]string, error) {
			l, err := st.ListInputs(ctx, id)
			var out []string
			for _, x := range l {
				out = append(out, x.Name)
			}
			return out, err
		}},
		{"ListOutputs", b1.ID, want, func(id string) ([]string, error) {
			l, err := st.ListOutputs(ctx, id)
			var out []string
			for _, x := range l {
				out = append(out, x.Name)
			}
			return out, err
		}},
	} {
		got, err := tt.list(tt.bucket)
		Must(t, err)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s(%q) = %q, want %q", tt.what, tt.bucket, got, tt.want)
		}
		got, err = tt.list("")
		Must(t, err)
		if !slices.Equal(got, wantAll) {
			t.Errorf("%s of every bucket = %q, want %q", tt.what, got, wantAll)
		}
	}
}

// TestDeletedHidden: once a bucket or an output is deleted, no reader
// shows its webhooks or deliveries, and none is claimed or due, whether
// the store removes them at once or later (relay.PurgeDeleted).
func (s *suite) TestDeletedHidden(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	gone := NewFixture(t, st, "gone", false)
	kept := NewFixture(t, st, "kept", false)
	var keptWebhooks, keptDeliveries, goneWebhooks, goneDeliveries []string
	for range 3 {
		w, ds := gone.Webhook("x"), gone.Deliveries()
		Must(t, st.SaveWebhook(ctx, w, ds))
		goneWebhooks = append(goneWebhooks, w.ID)
		goneDeliveries = append(goneDeliveries, ds[0].ID, ds[1].ID)
		w, ds = kept.Webhook("y"), kept.Deliveries()
		Must(t, st.SaveWebhook(ctx, w, ds))
		keptWebhooks = append(keptWebhooks, w.ID)
		keptDeliveries = append(keptDeliveries, ds[1].ID) // to output two, kept
		goneDeliveries = append(goneDeliveries, ds[0].ID)
	}
	// One of the deleted output's deliveries has attempts.
	Must(t, st.RecordAttempt(ctx, &relay.Delivery{ID: goneDeliveries[2], State: relay.DeliveryFailed, Attempts: 1}, &relay.Attempt{Status: 500}))
	Must(t, st.DeleteBucket(ctx, gone.Bucket.ID))
	Must(t, st.DeleteOutput(ctx, kept.Out1.ID))

	for _, id := range goneWebhooks {
		WantNotFound(t, errOf(st.GetWebhook(ctx, id)))
	}
	for _, id := range goneDeliveries {
		WantNotFound(t, errOf2(st.GetDelivery(ctx, id)))
	}
	deleted := []string{gone.Out1.ID, gone.Out2.ID, kept.Out1.ID}
	quota := map[string]int{}
	for _, id := range deleted {
		quota[id] = 100
	}
	if ds, err := st.ClaimDue(ctx, relay.Claim{Owner: "a", Now: time.Now().Add(time.Hour), Lease: time.Minute, Quota: quota}); err != nil || len(ds) != 0 {
		t.Errorf("ClaimDue of the deleted outputs = %v, %v; want none", ids(ds), err)
	}
	if at, ok, err := st.NextDue(ctx, deleted); err != nil || ok {
		t.Errorf("NextDue of the deleted outputs = %v, %v, %v; want none", at, ok, err)
	}
	stats, err := st.OutputStats(ctx)
	Must(t, err)
	for _, id := range deleted {
		if st, ok := stats[id]; ok {
			t.Errorf("OutputStats shows deleted output %s: %+v", id, st)
		}
	}

	ws, err := st.ListWebhooks(ctx, relay.WebhookFilter{Limit: everything})
	Must(t, err)
	var gotWebhooks []string
	for _, w := range ws {
		gotWebhooks = append(gotWebhooks, w.ID)
	}
	if want := sorted(keptWebhooks); !slices.Equal(sorted(gotWebhooks), want) {
		t.Errorf("ListWebhooks = %v, want only the kept bucket's %v", sorted(gotWebhooks), want)
	}
	ds, err := st.ListDeliveries(ctx, relay.DeliveryFilter{Limit: everything})
	Must(t, err)
	if want := sorted(keptDeliveries); !slices.Equal(sorted(ids(ds)), want) {
		t.Errorf("ListDeliveries = %v, want only the kept output's %v", sorted(ids(ds)), want)
	}
	for _, f := range []relay.DeliveryFilter{{BucketID: gone.Bucket.ID}, {OutputID: gone.Out1.ID}, {OutputID: kept.Out1.ID}} {
		if n := countDeliveries(t, st, f); n != 0 {
			t.Errorf("ListDeliveries(%+v) = %d deliveries, want none", f, n)
		}
	}
	if gw, err := st.ListWebhooks(ctx, relay.WebhookFilter{BucketID: gone.Bucket.ID}); err != nil || len(gw) != 0 {
		t.Errorf("ListWebhooks of the deleted bucket = %d webhooks, %v; want none", len(gw), err)
	}
	// The only failed delivery is the deleted output's.
	if fw, err := st.ListWebhooks(ctx, relay.WebhookFilter{Failed: true}); err != nil || len(fw) != 0 {
		t.Errorf("ListWebhooks(Failed) = %d webhooks, %v; want none: the failed delivery's output is deleted", len(fw), err)
	}
	// The kept webhooks count only the deliveries of the kept output.
	for _, w := range ws {
		if len(w.Deliveries) != 1 || w.Deliveries[relay.DeliveryPending] != 1 {
			t.Errorf("webhook %s lists deliveries %v, want the kept output's one pending", w.ID, w.Deliveries)
		}
	}
}

// TestCloseTwice: Close may be called again, and a closed store refuses
// reads and writes with an error.
func (s *suite) TestCloseTwice(t *testing.T) {
	st, fx := s.openFixture(t, "closing", false)
	ctx := context.Background()
	Must(t, st.Close())
	Must(t, st.Close())
	if err := st.SaveWebhook(ctx, fx.Webhook("late"), nil); err == nil {
		t.Error("SaveWebhook after Close succeeded")
	}
	if _, err := st.GetBucket(ctx, fx.Bucket.ID); err == nil {
		t.Error("GetBucket after Close succeeded")
	}
}
