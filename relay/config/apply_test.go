package config_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/sqlite"
	"github.com/relayfn/relayfn/runtime"
)

// newStore opens a fresh SQLite store in a temporary folder.
func newStore(t *testing.T) relay.Store {
	t.Helper()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "relay.db"), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func loadExample(t *testing.T) *config.File {
	t.Helper()
	t.Setenv("RELAYFN_TEST_SHOP_PASSWORD", "s3cret")
	f, err := config.Load("testdata/ok/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// parse parses an inline document.
func parse(t *testing.T, doc string) *config.File {
	t.Helper()
	f, err := config.Parse([]byte(doc), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// actions maps "kind name" to the change's action.
func actions(r *config.Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Changes {
		m[c.Kind+" "+c.Name] = c.Action
	}
	return m
}

func TestApplyCreatesThenChangesNothing(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	f := loadExample(t)

	r, err := config.Apply(ctx, st, e, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Count(config.Created) != len(r.Changes) || !r.Changed() {
		t.Errorf("first apply: %v, want everything created", r.Changes)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "bucket ci uses token auth but has no tokens") {
		t.Errorf("warnings = %q", r.Warnings)
	}
	want := map[string]string{
		"function github-to-slack":           config.Created,
		"config github-to-slack/SLACK_TOKEN": config.Created,
		"bucket ci":                          config.Created,
		"input ci/github":                    config.Created,
		"output ci/slack":                    config.Created,
		"output shop/erp":                    config.Created,
	}
	got := actions(r)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}

	// What the store now holds.
	fn, err := st.GetFunction(ctx, "github-to-slack")
	if err != nil {
		t.Fatal(err)
	}
	if fn.Timeout != 5*time.Second || fn.Version != 1 || fn.Driver != "lua" {
		t.Errorf("function = %+v", fn)
	}
	cfg, err := st.Config(ctx, fn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg["SLACK_CHANNEL"] != "#ci" || cfg["SLACK_TOKEN"] != "xoxb-secret" {
		t.Errorf("config = %v", cfg)
	}
	in, err := st.GetInput(ctx, "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10")
	if err != nil {
		t.Fatalf("the input was not created with its explicit id: %v", err)
	}
	if in.FunctionID != fn.ID || in.Name != "github" {
		t.Errorf("input = %+v", in)
	}
	shop, err := st.GetBucket(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if shop.Auth.Type != relay.AuthBasic || shop.Auth.Username != "shopify" || !shop.Ephemeral {
		t.Errorf("bucket shop = %+v", shop)
	}
	if shop.Auth.PasswordHash == "s3cret" || bcrypt.CompareHashAndPassword([]byte(shop.Auth.PasswordHash), []byte("s3cret")) != nil {
		t.Error("the basic-auth password is not stored as its bcrypt hash")
	}
	ci, _ := st.GetBucket(ctx, "ci")
	outs, err := st.ListOutputs(ctx, ci.ID)
	if err != nil {
		t.Fatal(err)
	}
	var slack *relay.Output
	for _, o := range outs {
		if o.Name == "slack" {
			slack = o
		}
	}
	if slack == nil || !slack.LockPath || slack.Timeout != 10*time.Second || slack.Retries.MaxAttempts != 8 ||
		slack.Retries.InitialInterval != 2*time.Second || slack.FunctionID == "" || slack.ResponseFunctionID == "" {
		t.Errorf("output slack = %+v", slack)
	}

	// The same file again: nothing changes.
	r2, err := config.Apply(ctx, st, e, loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Changed() {
		for _, c := range r2.Changes {
			if c.Action != config.Unchanged {
				t.Errorf("second apply changed %s", c)
			}
		}
	}
	if len(r2.Changes) != len(r.Changes) {
		t.Errorf("second apply reported %d objects, the first %d", len(r2.Changes), len(r.Changes))
	}
	fn2, _ := st.GetFunction(ctx, "github-to-slack")
	if fn2.Version != 1 {
		t.Errorf("version = %d after an unchanged apply", fn2.Version)
	}
	// And the document fnctl apply sends is the same file too.
	doc, err := f.Document()
	if err != nil {
		t.Fatal(err)
	}
	g, err := config.Parse(doc, config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := config.Apply(ctx, st, e, g)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Changed() {
		t.Errorf("applying the document changed things: %v", r3.Changes)
	}
}

func TestApplyUpdatesAndDeletes(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	if _, err := config.Apply(ctx, st, e, loadExample(t)); err != nil {
		t.Fatal(err)
	}
	ci, _ := st.GetBucket(ctx, "ci")
	inputs, _ := st.ListInputs(ctx, ci.ID)
	ids := map[string]string{}
	for _, in := range inputs {
		ids[in.Name] = in.ID
	}

	f := parse(t, `
functions:
  - name: github-to-slack
    source: 'r:SetRequestBody("v2")'
    timeout: 5s
    config: {SLACK_CHANNEL: "#deploys"}
  - name: tag
    source: |
      r:SetRequestHeader("X-Tagged", "yes")
    timeout: 2s
  - name: audit
    source: 'print("delivered with status " .. (r.Metadata.status or "?"))'
buckets:
  - name: ci
    description: CI notifications
    auth: {type: basic, username: ci, password: pw}
    inputs:
      - name: static
        response: {mode: static, status: 204}
    outputs:
      - name: slack
        destination: https://hooks.slack.com/services/T000/B000/YYY
        function: tag
        lock_path: true
        timeout: 10s
        retries: {max_attempts: 8, backoff: exponential, initial_interval: 2s, max_interval: 10m}
`)
	f.PruneConfig = true // SLACK_TOKEN, no longer listed, is deleted
	r, err := config.Apply(ctx, st, e, f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"function github-to-slack":             config.Updated,
		"function tag":                         config.Updated,
		"config github-to-slack/SLACK_CHANNEL": config.Updated,
		"config github-to-slack/SLACK_TOKEN":   config.Deleted,
		"bucket ci":                            config.Updated,
		"input ci/github":                      config.Deleted,
		"input ci/static":                      config.Updated,
		"output ci/slack":                      config.Updated,
		"output ci/agent":                      config.Deleted,
	}
	got := actions(r)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["bucket shop"]; ok {
		t.Error("a bucket the file does not list was reported")
	}
	for _, c := range r.Changes {
		switch c.Kind + " " + c.Name {
		case "function github-to-slack":
			if c.Version != 2 || strings.Join(c.Fields, ",") != "source" {
				t.Errorf("function change = %+v, want version 2 with a new source", c)
			}
		case "output ci/slack":
			if strings.Join(c.Fields, ",") != "destination,response_function" {
				t.Errorf("output fields = %v", c.Fields)
			}
		case "input ci/static":
			if c.ID != ids["static"] {
				t.Errorf("input static got a new ID %s, had %s", c.ID, ids["static"])
			}
		}
	}
	if _, err := st.GetBucket(ctx, "shop"); err != nil {
		t.Errorf("bucket shop, not in the file, was touched: %v", err)
	}
	in, err := st.GetInput(ctx, ids["static"])
	if err != nil || in.Response.Status != 204 {
		t.Errorf("input static = %+v, %v", in, err)
	}
	fn, _ := st.GetFunction(ctx, "tag")
	if fn.Timeout != 2*time.Second || fn.Version != 1 {
		t.Errorf("function tag = %+v, want the timeout changed in place", fn)
	}
	// Functions left out of a later file are left alone; config left out too.
	r2, err := config.Apply(ctx, st, e, parse(t, "functions:\n  - {name: github-to-slack, source: 'r:SetRequestBody(\"v2\")', timeout: 5s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Changed() || len(r2.Changes) != 1 {
		t.Errorf("report = %v, want one unchanged function", r2.Changes)
	}
	if cfg, _ := st.Config(ctx, fn.ID); len(cfg) != 0 {
		t.Errorf("config of tag = %v", cfg)
	}
	g2s, _ := st.GetFunction(ctx, "github-to-slack")
	if cfg, _ := st.Config(ctx, g2s.ID); cfg["SLACK_CHANNEL"] != "#deploys" {
		t.Errorf("config left out of the file was changed: %v", cfg)
	}
	// The basic-auth password is unchanged while it matches its hash.
	r3, err := config.Apply(ctx, st, e, f)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Changed() {
		t.Errorf("re-apply changed: %v", r3.Changes)
	}
}

func TestApplySyntaxErrorWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	f, err := config.Parse([]byte(`
functions:
  - name: fine
    file: functions/ok.lua
  - name: broken
    file: functions/broken.lua
buckets:
  - name: ci
`), config.ParseOptions{Name: "relay.yaml", ReadFile: func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join("testdata/errors", p))
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Apply(ctx, st, e, f)
	if err == nil {
		t.Fatal("Apply succeeded")
	}
	const want = "relay.yaml: functions[1].file: line 6: functions/broken.lua:4:"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want it to start with %q", err, want)
	}
	var se *runtime.SyntaxError
	if !errors.As(err, &se) || se.Line != 4 {
		t.Errorf("err does not wrap a *runtime.SyntaxError at line 4: %#v", err)
	}
	fns, _ := st.ListFunctions(ctx)
	bs, _ := st.ListBuckets(ctx)
	if len(fns) != 0 || len(bs) != 0 {
		t.Errorf("a refused apply wrote %d functions and %d buckets", len(fns), len(bs))
	}
}

func TestPlanWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	r, err := config.Plan(ctx, st, e, loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if !r.DryRun || r.Count(config.Created) != len(r.Changes) {
		t.Errorf("plan = %+v", r)
	}
	if bs, _ := st.ListBuckets(ctx); len(bs) != 0 {
		t.Errorf("Plan wrote %d buckets", len(bs))
	}
	if _, err := config.Apply(ctx, st, e, loadExample(t)); err != nil {
		t.Fatal(err)
	}
	r, err = config.Plan(ctx, st, e, loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Changed() {
		t.Errorf("plan after apply: %v", r.Changes)
	}
}

func TestApplyInputIDs(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	const id = "3f0c8c9e-2a54-4f7e-8a44-5e8f4a1d2b6c"
	if _, err := config.Apply(ctx, st, e, parse(t, `
buckets:
  - name: a
    inputs: [{name: in, id: `+id+`}]
  - name: b
    inputs: [{name: plain}]
`)); err != nil {
		t.Fatal(err)
	}
	// Renaming an input found by its id keeps it.
	r, err := config.Apply(ctx, st, e, parse(t, `
buckets:
  - name: a
    inputs: [{name: renamed, id: `+id+`}]
  - name: b
    inputs: [{name: plain}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(r)["input a/renamed"]; got != config.Updated {
		t.Errorf("rename: %q, want updated (%v)", got, r.Changes)
	}
	if in, err := st.GetInput(ctx, id); err != nil || in.Name != "renamed" {
		t.Errorf("input = %+v, %v", in, err)
	}
	b, _ := st.GetBucket(ctx, "b")
	ins, _ := st.ListInputs(ctx, b.ID)

	for name, doc := range map[string]string{
		"id of another bucket": "buckets:\n  - name: b\n    inputs: [{name: plain, id: " + id + "}]\n",
		"id cannot change":     "buckets:\n  - name: b\n    inputs: [{name: plain, id: 9d1e6f7a-0b2c-4d3e-8f4a-5b6c7d8e9f00}]\n",
	} {
		_, err := config.Apply(ctx, st, e, parse(t, doc))
		if err == nil {
			t.Errorf("%s: Apply succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), "buckets[0].inputs[0].id") {
			t.Errorf("%s: err = %v, want it to name the field", name, err)
		}
	}
	if ins2, _ := st.ListInputs(ctx, b.ID); len(ins2) != 1 || ins2[0].ID != ins[0].ID {
		t.Errorf("a refused apply changed bucket b's inputs: %+v", ins2)
	}
}

// TestApplyMaxInFlight: an output's max_in_flight is stored, and a change
// to it is an update of that field alone.
func TestApplyMaxInFlight(t *testing.T) {
	ctx := t.Context()
	st, e := newStore(t), newEngine(t)
	doc := func(n int) *config.File {
		return parse(t, "buckets:\n  - name: ci\n    outputs:\n      - {name: o, destination: https://example.com, max_in_flight: "+
			strconv.Itoa(n)+"}\n")
	}
	stored := func() int {
		t.Helper()
		outs, err := st.ListOutputs(ctx, "")
		if err != nil || len(outs) != 1 {
			t.Fatalf("outputs %v, %v", outs, err)
		}
		return outs[0].MaxInFlight
	}
	if _, err := config.Apply(ctx, st, e, doc(3)); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != 3 {
		t.Fatalf("stored max_in_flight = %d, want 3", got)
	}
	r, err := config.Apply(ctx, st, e, doc(5))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range r.Changes {
		if c.Kind == config.KindOutput && c.Action == config.Updated {
			fields = c.Fields
		}
	}
	if strings.Join(fields, ",") != "max_in_flight" || stored() != 5 {
		t.Fatalf("update fields %v, stored %d; want max_in_flight, 5", fields, stored())
	}
	r, err = config.Apply(ctx, st, e, doc(5))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Changes {
		if c.Action != config.Unchanged {
			t.Errorf("applying the same document again: %+v", c)
		}
	}
}
