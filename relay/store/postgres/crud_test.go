package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
)

func TestMigrations(t *testing.T) {
	st, dsn := newStore(t)
	ctx := context.Background()
	var v int
	must(t, st.Pool().QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v))
	if v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	must(t, st.Close())

	// Reopening applies nothing and keeps the version.
	st = openAt(t, dsn, testSealer(t, 1), Options{})
	must(t, st.Pool().QueryRow(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&v))
	if v != 1 {
		t.Fatalf("schema_version has %d rows, want 1", v)
	}
	_, err := st.Pool().Exec(ctx, `UPDATE schema_version SET version = version + 1`)
	must(t, err)
	must(t, st.Close())

	// A newer schema is refused.
	_, err = Open(ctx, dsn, testSealer(t, 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: err = %v, want a version error", err)
	}
}

func TestBuckets(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()

	b := &relay.Bucket{Name: "ci", Description: "CI hooks", Auth: relay.BucketAuth{Type: relay.AuthBasic, Username: "u", PasswordHash: "$2a$hash"}}
	must(t, st.CreateBucket(ctx, b))
	if b.ID == "" || b.CreatedAt.IsZero() {
		t.Fatalf("CreateBucket did not fill ID/CreatedAt: %+v", b)
	}
	for _, key := range []string{b.ID, "ci"} {
		got, err := st.GetBucket(ctx, key)
		must(t, err)
		if *got != *b {
			t.Errorf("GetBucket(%q) = %+v, want %+v", key, got, b)
		}
	}
	fixed := &relay.Bucket{ID: "fixed-id", Name: "alpha", Ephemeral: true}
	must(t, st.CreateBucket(ctx, fixed))
	if fixed.ID != "fixed-id" || fixed.Auth.Type != relay.AuthNone {
		t.Errorf("CreateBucket changed the ID or left the auth type empty: %+v", fixed)
	}

	list, err := st.ListBuckets(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "ci" || !list[0].Ephemeral {
		t.Fatalf("ListBuckets = %+v", list)
	}

	errTests := []struct {
		name  string
		err   error
		check func(testing.TB, error)
		msg   string
	}{
		{"create duplicate name", st.CreateBucket(ctx, &relay.Bucket{Name: "ci"}), wantConflict, `bucket "ci": already exists`},
		{"create duplicate id", st.CreateBucket(ctx, &relay.Bucket{ID: b.ID, Name: "other"}), wantConflict, "already exists"},
		{"get missing", errOf(st.GetBucket(ctx, "nope")), wantNotFound, `bucket "nope": not found`},
		{"update missing", st.UpdateBucket(ctx, &relay.Bucket{ID: "nope", Name: "x"}), wantNotFound, `bucket "nope": not found`},
		{"update to taken name", st.UpdateBucket(ctx, &relay.Bucket{ID: fixed.ID, Name: "ci"}), wantConflict, `bucket "ci": already exists`},
		{"delete missing", st.DeleteBucket(ctx, "nope"), wantNotFound, `bucket "nope": not found`},
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
	must(t, st.UpdateBucket(ctx, b))
	got, err := st.GetBucket(ctx, "ci2")
	must(t, err)
	if *got != *b {
		t.Errorf("after UpdateBucket: %+v, want %+v", got, b)
	}
	must(t, st.DeleteBucket(ctx, b.ID))
	_, err = st.GetBucket(ctx, b.ID)
	wantNotFound(t, err)
}

// errOf keeps the error of a two-result call.
func errOf[T any](_ T, err error) error { return err }

func TestGetBucketPrefersID(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	a := &relay.Bucket{ID: "x", Name: "a"}
	b := &relay.Bucket{ID: "y", Name: "x"}
	must(t, st.CreateBucket(ctx, a))
	must(t, st.CreateBucket(ctx, b))
	got, err := st.GetBucket(ctx, "x")
	must(t, err)
	if got.ID != "x" {
		t.Errorf("GetBucket(%q) = bucket %s, want the one with that ID", "x", got.ID)
	}
}

func TestInputs(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	b1 := &relay.Bucket{Name: "b1"}
	b2 := &relay.Bucket{Name: "b2"}
	must(t, st.CreateBucket(ctx, b1))
	must(t, st.CreateBucket(ctx, b2))
	fn := &functions.Function{Name: "f", Source: "return"}
	must(t, st.CreateFunction(ctx, fn))

	in := &relay.Input{BucketID: b1.ID, Name: "github", Description: "d", FunctionID: fn.ID,
		Response: relay.ResponseConfig{Mode: relay.ResponseStatic, Status: 202, Headers: map[string]string{"X": "y"}, Body: "ok", Timeout: time.Second}}
	must(t, st.CreateInput(ctx, in))
	got, err := st.GetInput(ctx, in.ID)
	must(t, err)
	if got.Name != in.Name || got.FunctionID != fn.ID || got.Response.Status != 202 || got.Response.Headers["X"] != "y" ||
		got.Response.Timeout != time.Second || !got.CreatedAt.Equal(in.CreatedAt) || got.BucketID != b1.ID {
		t.Errorf("GetInput = %+v, want %+v", got, in)
	}

	// The same name in another bucket is fine; a given ID is kept.
	in2 := &relay.Input{ID: "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10", BucketID: b2.ID, Name: "github"}
	must(t, st.CreateInput(ctx, in2))
	if in2.ID != "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10" || in2.Response.Mode != relay.ResponseDefault {
		t.Errorf("CreateInput: %+v", in2)
	}
	in3 := &relay.Input{BucketID: b1.ID, Name: "stripe"}
	must(t, st.CreateInput(ctx, in3))

	wantConflict(t, st.CreateInput(ctx, &relay.Input{BucketID: b1.ID, Name: "github"}))
	wantConflict(t, st.CreateInput(ctx, &relay.Input{ID: in.ID, BucketID: b2.ID, Name: "other"}))
	wantNotFound(t, st.CreateInput(ctx, &relay.Input{BucketID: "nope", Name: "x"}))
	wantNotFound(t, st.CreateInput(ctx, &relay.Input{BucketID: b1.ID, Name: "x", FunctionID: "nofn"}))
	_, err = st.GetInput(ctx, "nope")
	wantNotFound(t, err)

	for _, tt := range []struct {
		bucket string
		want   int
	}{{b1.ID, 2}, {b2.ID, 1}, {"", 3}, {"nope", 0}} {
		list, err := st.ListInputs(ctx, tt.bucket)
		must(t, err)
		if len(list) != tt.want {
			t.Errorf("ListInputs(%q) = %d inputs, want %d", tt.bucket, len(list), tt.want)
		}
	}

	in.Name, in.FunctionID, in.Response = "gh", "", relay.ResponseConfig{Mode: relay.ResponseFunction}
	must(t, st.UpdateInput(ctx, in))
	got, err = st.GetInput(ctx, in.ID)
	must(t, err)
	if got.Name != "gh" || got.FunctionID != "" || got.Response.Mode != relay.ResponseFunction {
		t.Errorf("after UpdateInput: %+v", got)
	}
	in3.Name = "gh"
	wantConflict(t, st.UpdateInput(ctx, in3))
	wantNotFound(t, st.UpdateInput(ctx, &relay.Input{ID: "nope", Name: "x"}))
	in3.Name, in3.FunctionID = "stripe", "nofn"
	wantNotFound(t, st.UpdateInput(ctx, in3))

	must(t, st.DeleteInput(ctx, in.ID))
	wantNotFound(t, st.DeleteInput(ctx, in.ID))
	_, err = st.GetInput(ctx, in.ID)
	wantNotFound(t, err)
}

func TestOutputs(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	b := &relay.Bucket{Name: "b"}
	must(t, st.CreateBucket(ctx, b))
	fn := &functions.Function{Name: "f"}
	must(t, st.CreateFunction(ctx, fn))
	rfn := &functions.Function{Name: "rf"}
	must(t, st.CreateFunction(ctx, rfn))

	out := &relay.Output{BucketID: b.ID, Name: "slack", Destination: "https://hooks.example/x", FunctionID: fn.ID,
		ResponseFunctionID: rfn.ID, LockPath: true, Timeout: 10 * time.Second, Internal: true, Disabled: true,
		Retries: relay.RetryPolicy{MaxAttempts: 8, Backoff: "exponential", InitialInterval: time.Second, MaxInterval: time.Minute}}
	must(t, st.CreateOutput(ctx, out))
	got, err := st.GetOutput(ctx, out.ID)
	must(t, err)
	if *got != *out {
		t.Errorf("GetOutput = %+v, want %+v", got, out)
	}
	wantConflict(t, st.CreateOutput(ctx, &relay.Output{BucketID: b.ID, Name: "slack"}))
	wantNotFound(t, st.CreateOutput(ctx, &relay.Output{BucketID: "nope", Name: "x"}))
	wantNotFound(t, st.CreateOutput(ctx, &relay.Output{BucketID: b.ID, Name: "x", ResponseFunctionID: "nofn"}))
	_, err = st.GetOutput(ctx, "nope")
	wantNotFound(t, err)

	other := &relay.Output{BucketID: b.ID, Name: "other"}
	must(t, st.CreateOutput(ctx, other))
	list, err := st.ListOutputs(ctx, b.ID)
	must(t, err)
	if len(list) != 2 || list[0].Name != "other" || list[1].Name != "slack" {
		t.Errorf("ListOutputs = %+v", list)
	}

	out.Destination, out.FunctionID, out.ResponseFunctionID, out.Disabled = "https://new.example", "", "", false
	out.Retries.Backoff = "fixed"
	must(t, st.UpdateOutput(ctx, out))
	got, err = st.GetOutput(ctx, out.ID)
	must(t, err)
	if *got != *out {
		t.Errorf("after UpdateOutput: %+v, want %+v", got, out)
	}
	other.Name = "slack"
	wantConflict(t, st.UpdateOutput(ctx, other))
	wantNotFound(t, st.UpdateOutput(ctx, &relay.Output{ID: "nope", Name: "x"}))

	must(t, st.DeleteOutput(ctx, out.ID))
	wantNotFound(t, st.DeleteOutput(ctx, out.ID))
}

func TestTokens(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	b := &relay.Bucket{Name: "b"}
	must(t, st.CreateBucket(ctx, b))

	admin := &relay.Token{Name: "admin", SecretHash: "$2a$admin"}
	must(t, st.CreateToken(ctx, admin))
	bt := &relay.Token{BucketID: b.ID, Name: "ingress", SecretHash: "$2a$b"}
	must(t, st.CreateToken(ctx, bt))
	got, err := st.GetToken(ctx, bt.ID)
	must(t, err)
	if *got != *bt {
		t.Errorf("GetToken = %+v, want %+v", got, bt)
	}
	wantConflict(t, st.CreateToken(ctx, &relay.Token{ID: bt.ID, SecretHash: "x"}))
	wantNotFound(t, st.CreateToken(ctx, &relay.Token{BucketID: "nope", SecretHash: "x"}))
	if err := st.CreateToken(ctx, &relay.Token{}); err == nil {
		t.Error("CreateToken without a secret hash succeeded")
	}
	_, err = st.GetToken(ctx, "nope")
	wantNotFound(t, err)

	for _, tt := range []struct {
		bucket string
		want   string
	}{{"", admin.ID}, {b.ID, bt.ID}} {
		list, err := st.ListTokens(ctx, tt.bucket)
		must(t, err)
		if len(list) != 1 || list[0].ID != tt.want {
			t.Errorf("ListTokens(%q) = %+v, want only %s", tt.bucket, list, tt.want)
		}
	}
	must(t, st.DeleteToken(ctx, admin.ID))
	wantNotFound(t, st.DeleteToken(ctx, admin.ID))
}

func TestFunctions(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()

	f := &functions.Function{Name: "github-to-slack", Driver: "lua", Source: "r:SetResponseBody('1')", Timeout: 5 * time.Second}
	must(t, st.CreateFunction(ctx, f))
	if f.ID == "" || f.Version != 1 || f.Hash != sourceHash(f.Source) || f.CreatedAt.IsZero() || !f.UpdatedAt.Equal(f.CreatedAt) {
		t.Fatalf("CreateFunction filled %+v", f)
	}
	for _, key := range []string{f.ID, f.Name} {
		got, err := st.GetFunction(ctx, key)
		must(t, err)
		if *got != *f {
			t.Errorf("GetFunction(%q) = %+v, want %+v", key, got, f)
		}
	}
	wantConflict(t, st.CreateFunction(ctx, &functions.Function{Name: f.Name}))
	_, err := st.GetFunction(ctx, "nope")
	wantNotFound(t, err)
	if err != nil && err.Error() != `function "nope": not found` {
		t.Errorf("error %q", err)
	}

	// Versions.
	for i, src := range []string{"v2", "v3"} {
		got, err := st.AddVersion(ctx, f.ID, src, "")
		must(t, err)
		if got.Version != i+2 || got.Source != src || got.Hash != sourceHash(src) || got.Name != f.Name {
			t.Errorf("AddVersion #%d = %+v", i+2, got)
		}
	}
	got, err := st.AddVersion(ctx, f.ID, "v4", "given-hash")
	must(t, err)
	if got.Hash != "given-hash" {
		t.Errorf("AddVersion ignored the given hash: %q", got.Hash)
	}
	_, err = st.AddVersion(ctx, "nope", "x", "")
	wantNotFound(t, err)
	cur, err := st.GetFunction(ctx, f.Name)
	must(t, err)
	if cur.Version != 4 || cur.Source != "v4" || cur.Hash != "given-hash" {
		t.Errorf("current = %+v, want version 4", cur)
	}
	vs, err := st.ListVersions(ctx, f.ID)
	must(t, err)
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
	wantNotFound(t, err)

	// Update: name and timeout only.
	g := &functions.Function{Name: "other"}
	must(t, st.CreateFunction(ctx, g))
	cur.Name, cur.Timeout = "renamed", time.Second
	must(t, st.UpdateFunction(ctx, cur))
	got, err = st.GetFunction(ctx, "renamed")
	must(t, err)
	if got.Timeout != time.Second || got.Version != 4 {
		t.Errorf("after UpdateFunction: %+v", got)
	}
	cur.Name = "other"
	wantConflict(t, st.UpdateFunction(ctx, cur))
	wantNotFound(t, st.UpdateFunction(ctx, &functions.Function{ID: "nope", Name: "x"}))

	list, err := st.ListFunctions(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "other" || list[1].Name != "renamed" || list[1].Source != "v4" {
		t.Errorf("ListFunctions = %+v", list)
	}

	// Delete: refused while attached, then cascades to versions and config.
	b := &relay.Bucket{Name: "b"}
	must(t, st.CreateBucket(ctx, b))
	in := &relay.Input{BucketID: b.ID, Name: "in", FunctionID: f.ID}
	must(t, st.CreateInput(ctx, in))
	out := &relay.Output{BucketID: b.ID, Name: "out", ResponseFunctionID: g.ID}
	must(t, st.CreateOutput(ctx, out))
	for _, id := range []string{f.ID, g.ID} {
		err := st.DeleteFunction(ctx, id)
		wantConflict(t, err)
		if !strings.Contains(err.Error(), "attached") {
			t.Errorf("error %q does not say the function is attached", err)
		}
	}
	must(t, st.SetConfig(ctx, f.ID, "K", "v"))
	must(t, st.DeleteInput(ctx, in.ID))
	must(t, st.DeleteFunction(ctx, f.ID))
	wantNotFound(t, st.DeleteFunction(ctx, f.ID))
	if n := count(t, st, "function_versions", "function_id = $1", f.ID) + count(t, st, "function_config", "function_id = $1", f.ID); n != 0 {
		t.Errorf("%d version and config rows left after DeleteFunction", n)
	}
}

func TestConfig(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	f := &functions.Function{Name: "f"}
	must(t, st.CreateFunction(ctx, f))

	cfg, err := st.Config(ctx, f.ID)
	must(t, err)
	if cfg == nil || len(cfg) != 0 {
		t.Fatalf("Config of a new function = %#v, want an empty map", cfg)
	}
	want := map[string]string{"SLACK_CHANNEL": "#ci", "EMPTY": "", "UNICODE": "pässwörd ✓", "TOKEN": "old"}
	for k, v := range want {
		must(t, st.SetConfig(ctx, f.ID, k, v))
	}
	must(t, st.SetConfig(ctx, f.ID, "TOKEN", "new"))
	want["TOKEN"] = "new"
	cfg, err = st.Config(ctx, f.ID)
	must(t, err)
	if len(cfg) != len(want) {
		t.Fatalf("Config = %d entries, want %d", len(cfg), len(want))
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("Config[%q] = %q, want %q", k, cfg[k], v)
		}
	}
	must(t, st.DeleteConfig(ctx, f.ID, "TOKEN"))
	cfg, err = st.Config(ctx, f.ID)
	must(t, err)
	if _, ok := cfg["TOKEN"]; ok || len(cfg) != 3 {
		t.Errorf("after DeleteConfig: %d entries, TOKEN present %v", len(cfg), ok)
	}

	errTests := []struct {
		name  string
		err   error
		check func(testing.TB, error)
	}{
		{"delete missing key", st.DeleteConfig(ctx, f.ID, "TOKEN"), wantNotFound},
		{"delete of missing function", st.DeleteConfig(ctx, "nope", "K"), wantNotFound},
		{"set on missing function", st.SetConfig(ctx, "nope", "K", "v"), wantNotFound},
		{"list of missing function", errOf(st.Config(ctx, "nope")), wantNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, tt.err) })
	}
	if err := st.SetConfig(ctx, f.ID, "", "v"); err == nil {
		t.Error("SetConfig with an empty key succeeded")
	}
}

// TestTextWithNUL: a text field PostgreSQL cannot store is refused with
// an error saying why.
func TestTextWithNUL(t *testing.T) {
	st, _ := newStore(t)
	err := st.CreateBucket(context.Background(), &relay.Bucket{Name: "nul", Description: "a\x00b"})
	if err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("CreateBucket with a NUL in the description: %v", err)
	}
	t.Logf("%v", err)
}
