package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayfn/relayfn/internal/relaytest"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/relay/client"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/store"
)

// newRelay starts a relay with the admin API on loopback over a real
// SQLite store and returns its URL and an admin credential.
func newRelay(t *testing.T) (url, token string) {
	t.Helper()
	r := relaytest.New(t, relaytest.Options{})
	return r.URL, r.AdminToken
}

// apiError asserts that err is a *client.Error with the status and a
// message containing want.
func apiError(t *testing.T, err error, status int, want string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *client.Error", err, err)
	}
	if ce.Status != status || !strings.Contains(ce.Message, want) {
		t.Errorf("err = %d %q, want %d containing %q", ce.Status, ce.Message, status, want)
	}
}

func TestErrors(t *testing.T) {
	url, _ := newRelay(t)
	ctx := context.Background()
	_, err := client.New(url, "", nil).ListBuckets(ctx)
	apiError(t, err, http.StatusUnauthorized, "admin token")
	_, err = client.New(url, "x.y", nil).ListBuckets(ctx)
	apiError(t, err, http.StatusUnauthorized, "admin token")
	if !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("Error() = %q", err)
	}

	// An answer that is not the API's JSON still becomes an *Error.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from a proxy", http.StatusBadGateway)
	}))
	defer plain.Close()
	_, err = client.New(plain.URL, "t", nil).ListBuckets(ctx)
	apiError(t, err, http.StatusBadGateway, "bad gateway from a proxy")

	// A network error is not an *Error.
	_, err = client.New("http://127.0.0.1:1", "t", nil).ListBuckets(ctx)
	var ce *client.Error
	if err == nil || errors.As(err, &ce) {
		t.Errorf("network error = %v", err)
	}
}

func TestRoundTrips(t *testing.T) {
	url, token := newRelay(t)
	ctx := context.Background()
	// The base URL may carry the API's prefix and a trailing slash.
	c := client.New(url+"/v1/admin/", token, &http.Client{Timeout: 30 * time.Second})

	// Admin tokens.
	nt, err := c.CreateAdminToken(ctx, "ci")
	if err != nil || nt.Credential == "" || nt.Token.Name != "ci" {
		t.Fatalf("CreateAdminToken = %+v, %v", nt, err)
	}
	toks, err := c.ListAdminTokens(ctx)
	if err != nil || len(toks) != 2 {
		t.Fatalf("ListAdminTokens = %d, %v", len(toks), err)
	}
	if _, err := client.New(url, nt.Credential, nil).ListAdminTokens(ctx); err != nil {
		t.Errorf("the new credential: %v", err)
	}
	if err := c.DeleteToken(ctx, nt.Token.ID); err != nil {
		t.Fatal(err)
	}
	apiError(t, c.DeleteToken(ctx, nt.Token.ID), http.StatusNotFound, "not found")

	// Buckets.
	b, err := c.CreateBucket(ctx, api.BucketRequest{Name: new("ci"), Description: new("CI"), Auth: &api.AuthRequest{Type: "token"}})
	if err != nil || b.ID == "" || b.Auth.Type != string(relay.AuthToken) {
		t.Fatalf("CreateBucket = %+v, %v", b, err)
	}
	_, err = c.CreateBucket(ctx, api.BucketRequest{Name: new("ci")})
	apiError(t, err, http.StatusConflict, "already exists")
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a 409 is not store.ErrConflict: %v", err)
	}
	if b2, err := c.GetBucket(ctx, b.ID); err != nil || b2.Name != "ci" {
		t.Errorf("GetBucket = %+v, %v", b2, err)
	}
	_, err = c.GetBucket(ctx, "nope")
	if !client.IsNotFound(err) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetBucket(nope) = %v", err)
	}
	if b2, err := c.UpdateBucket(ctx, "ci", api.BucketRequest{Description: new("CI builds")}); err != nil || b2.Description != "CI builds" || b2.Auth.Type != string(relay.AuthToken) {
		t.Errorf("UpdateBucket = %+v, %v", b2, err)
	}
	if bs, err := c.ListBuckets(ctx); err != nil || len(bs) != 1 {
		t.Errorf("ListBuckets = %d, %v", len(bs), err)
	}
	bt, err := c.CreateBucketToken(ctx, "ci", "github")
	if err != nil || bt.Token.BucketID != b.ID {
		t.Fatalf("CreateBucketToken = %+v, %v", bt, err)
	}
	if bts, err := c.ListBucketTokens(ctx, "ci"); err != nil || len(bts) != 1 {
		t.Errorf("ListBucketTokens = %d, %v", len(bts), err)
	}

	// Functions.
	src := `r:SetRequestHeader("X-Env", cfg:GetValue("ENV"))`
	f, err := c.CreateFunction(ctx, api.FunctionRequest{Name: new("env"), Source: &src, Config: map[string]string{"ENV": "prod"}})
	if err != nil || f.Version != 1 {
		t.Fatalf("CreateFunction = %+v, %v", f, err)
	}
	_, err = c.CreateFunction(ctx, api.FunctionRequest{Name: new("bad"), Source: new("if then")})
	apiError(t, err, http.StatusBadRequest, `source: function "bad": line 1, column 7`)
	f, created, err := c.PushFunction(ctx, "env", src+"\n", 5*time.Second)
	if err != nil || created || f.Version != 2 || f.Timeout != api.Duration(5*time.Second) {
		t.Errorf("PushFunction (update) = %+v, %v, %v", f, created, err)
	}
	f2, created, err := c.PushFunction(ctx, "noop", "return", 0)
	if err != nil || !created || f2.Version != 1 {
		t.Errorf("PushFunction (create) = %+v, %v, %v", f2, created, err)
	}
	if f, err := c.UpdateFunction(ctx, "noop", api.FunctionRequest{Source: new("return")}); err != nil || f.Version != 1 {
		t.Errorf("UpdateFunction (same source) = %+v, %v", f, err)
	}
	if g, err := c.GetFunction(ctx, "env"); err != nil || g.Source != src+"\n" {
		t.Errorf("GetFunction = %+v, %v", g, err)
	}
	if fs, err := c.ListFunctions(ctx); err != nil || len(fs) != 2 || fs[0].Source != "" {
		t.Errorf("ListFunctions = %v, %v", fs, err)
	}
	if vs, err := c.ListVersions(ctx, "env"); err != nil || len(vs) != 2 {
		t.Errorf("ListVersions = %v, %v", vs, err)
	}
	if v, err := c.GetVersion(ctx, "env", 1); err != nil || v.Source != src {
		t.Errorf("GetVersion = %+v, %v", v, err)
	}

	// Configuration.
	if err := c.SetConfig(ctx, "env", "REGION", "eu"); err != nil {
		t.Fatal(err)
	}
	if keys, err := c.ListConfig(ctx, "env"); err != nil || !slices.Equal(keys, []string{"ENV", "REGION"}) {
		t.Errorf("ListConfig = %v, %v", keys, err)
	}
	if ok, err := c.HasConfig(ctx, "env", "REGION"); err != nil || !ok {
		t.Errorf("HasConfig(REGION) = %v, %v", ok, err)
	}
	if ok, err := c.HasConfig(ctx, "env", "NOPE"); err != nil || ok {
		t.Errorf("HasConfig(NOPE) = %v, %v", ok, err)
	}
	if _, err := c.HasConfig(ctx, "nope", "K"); !client.IsNotFound(err) {
		t.Errorf("HasConfig of a missing function = %v", err)
	}
	if err := c.DeleteConfig(ctx, "env", "REGION"); err != nil {
		t.Error(err)
	}
	if keys, err := c.ReplaceConfig(ctx, "noop", map[string]string{"A": "1", "B": "2"}); err != nil || len(keys) != 2 {
		t.Errorf("ReplaceConfig = %v, %v", keys, err)
	}
	if err := c.ClearConfig(ctx, "noop"); err != nil {
		t.Error(err)
	}
	if keys, err := c.ListConfig(ctx, "noop"); err != nil || len(keys) != 0 {
		t.Errorf("after ClearConfig = %v, %v", keys, err)
	}

	// Invoke.
	res, err := c.Invoke(ctx, "env", api.InvokeRequest{Body: "x", Headers: api.Header{"A": {"1"}}})
	if err != nil || res.Error != "" || res.Request.Headers.Get("X-Env") != "prod" || res.Request.Headers.Get("A") != "1" {
		t.Errorf("Invoke = %+v, %v", res, err)
	}

	// Inputs and outputs, with a destination to deliver to.
	got := make(chan string, 4)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Env")
	}))
	defer dest.Close()
	in, err := c.CreateInput(ctx, "ci", api.InputRequest{Name: new("gh"), Response: &api.ResponseRequest{Mode: "static", Status: 202}})
	if err != nil || in.Response.Status != 202 {
		t.Fatalf("CreateInput = %+v, %v", in, err)
	}
	if in, err = c.AttachInput(ctx, in.ID, "env"); err != nil || in.FunctionID == "" {
		t.Errorf("AttachInput = %+v, %v", in, err)
	}
	if in2, err := c.UpdateInput(ctx, in.ID, api.InputRequest{Description: new("GitHub")}); err != nil || in2.Description != "GitHub" || in2.FunctionID != in.FunctionID {
		t.Errorf("UpdateInput = %+v, %v", in2, err)
	}
	if g, err := c.GetInput(ctx, in.ID); err != nil || g.Name != "gh" {
		t.Errorf("GetInput = %+v, %v", g, err)
	}
	if ins, err := c.ListInputs(ctx, "ci"); err != nil || len(ins) != 1 {
		t.Errorf("ListInputs = %v, %v", ins, err)
	}
	_, err = c.CreateOutput(ctx, "ci", api.OutputRequest{Name: new("o"), Destination: new("ftp://x")})
	apiError(t, err, http.StatusBadRequest, `destination: "ftp://x" is not an http(s) URL`)
	timeout := api.Duration(2 * time.Second)
	out, err := c.CreateOutput(ctx, "ci", api.OutputRequest{Name: new("o"), Destination: &dest.URL, Timeout: &timeout})
	if err != nil || out.Timeout != api.Duration(2*time.Second) {
		t.Fatalf("CreateOutput = %+v, %v", out, err)
	}
	if o, err := c.AttachOutput(ctx, out.ID, "noop"); err != nil || o.FunctionID != f2.ID {
		t.Errorf("AttachOutput = %+v, %v", o, err)
	}
	if o, err := c.UpdateOutput(ctx, out.ID, api.OutputRequest{Function: new("")}); err != nil || o.FunctionID != "" {
		t.Errorf("UpdateOutput (detach) = %+v, %v", o, err)
	}
	if o, err := c.GetOutput(ctx, out.ID); err != nil || o.Name != "o" {
		t.Errorf("GetOutput = %+v, %v", o, err)
	}
	if os, err := c.ListOutputs(ctx, "ci"); err != nil || len(os) != 1 {
		t.Errorf("ListOutputs = %v, %v", os, err)
	}

	// A webhook through the relay, then its delivery through the API.
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/webhooks/"+in.ID, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+bt.Credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	if v := <-got; v != "prod" {
		t.Errorf("delivered X-Env = %q", v)
	}
	var ds []*api.Delivery
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ds, err = c.ListDeliveries(ctx, client.DeliveryQuery{Bucket: "ci", Output: "o", State: string(relay.DeliverySucceeded), Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			break
		}
	}
	if len(ds) != 1 {
		t.Fatalf("ListDeliveries = %d", len(ds))
	}
	if old, err := c.ListDeliveries(ctx, client.DeliveryQuery{Before: ds[0].CreatedAt}); err != nil || len(old) != 0 {
		t.Errorf("ListDeliveries(before) = %d, %v", len(old), err)
	}
	d, attempts, err := c.GetDelivery(ctx, ds[0].ID)
	if err != nil || d.ID != ds[0].ID || len(attempts) != 1 {
		t.Errorf("GetDelivery = %+v, %v, %v", d, attempts, err)
	}
	nd, err := c.ReplayDelivery(ctx, d.ID)
	if err != nil || nd.WebhookID != d.WebhookID || nd.State != string(relay.DeliveryPending) {
		t.Fatalf("ReplayDelivery = %+v, %v", nd, err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Error("the replay was not delivered")
	}

	// Deletes.
	apiError(t, c.DeleteFunction(ctx, "env"), http.StatusConflict, "attached")
	for _, err := range []error{c.DeleteInput(ctx, in.ID), c.DeleteOutput(ctx, out.ID), c.DeleteFunction(ctx, "env"), c.DeleteBucket(ctx, "ci")} {
		if err != nil {
			t.Error(err)
		}
	}
	if bs, err := c.ListBuckets(ctx); err != nil || len(bs) != 0 {
		t.Errorf("after deletes: %v, %v", bs, err)
	}
}

func TestApply(t *testing.T) {
	url, token := newRelay(t)
	ctx := context.Background()
	c := client.New(url, token, nil)
	t.Setenv("RELAYFN_TEST_SHOP_PASSWORD", "s3cret")
	f, err := config.Load("../config/testdata/ok/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := f.Document()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Apply(ctx, doc, true)
	if err != nil || !rep.DryRun || !rep.Changed() {
		t.Fatalf("dry run = %+v, %v", rep, err)
	}
	rep, err = c.Apply(ctx, doc, false)
	if err != nil || rep.DryRun || rep.Count(config.Created) != len(rep.Changes) {
		t.Fatalf("apply = %+v, %v", rep, err)
	}
	rep, err = c.Apply(ctx, doc, false)
	if err != nil || rep.Changed() {
		t.Errorf("second apply = %+v, %v", rep, err)
	}
	if in, err := c.GetInput(ctx, "0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10"); err != nil || in.Name != "github" {
		t.Errorf("applied input = %+v, %v", in, err)
	}
	_, err = c.Apply(ctx, []byte("functions:\n  - {name: f, source: 'if'}\n"), false)
	apiError(t, err, http.StatusBadRequest, `functions[0].source: line 2: function "f": line 1:`)
}

// TestNotARelay points the client at servers that are not a relay's admin
// API: the error says so, rather than failing to decode.
func TestNotARelay(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"a web page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html><body>hello</body></html>")
		}, `200 OK, text/html; charset=utf-8, "<html><body>hello</body></html>"`},
		{"a plain ok", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}, `"ok"`},
		{"another app's 404", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, "404 Not Found, text/plain; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := client.New(srv.URL, "t", nil).ListBuckets(ctx)
			if !errors.Is(err, client.ErrNotRelay) {
				t.Fatalf("err = %v, want ErrNotRelay", err)
			}
			for _, want := range []string{srv.URL + " is not a relayfn admin API", tc.want, "check --server"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}
