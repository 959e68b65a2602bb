package builtins

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"cloud.google.com/go/bigquery"
	lua "github.com/yuin/gopher-lua"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	oauthjwt "golang.org/x/oauth2/jwt"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/relayfn/relayfn/runtime"
)

// BigQueryOptions wire the bigquery module to the outside world.
type BigQueryOptions struct {
	// Backend reaches BigQuery. Nil means the official client
	// (cloud.google.com/go/bigquery) configured by the fields below;
	// fnctl test passes one that records the rows instead.
	Backend BigQueryBackend

	// HTTPClient returns the HTTP client for a service (the invocation's
	// bucket name): the relay passes (*egress.Client).HTTPClient, so every
	// BigQuery call, and the OAuth token exchange, goes through the egress
	// proxy, address guard and ACL. Required by the default backend:
	// without it initialize fails.
	HTTPClient func(service string) *http.Client

	// Endpoint overrides BigQuery's API base URL
	// (https://bigquery.googleapis.com/bigquery/v2/), e.g. to point the
	// client at a local fake in tests.
	Endpoint string

	// InsecureSkipAuth lets initialize run without credentials: when
	// credentials_json is empty, requests are sent unauthenticated. For
	// tests against a local server only. Credentials that are given are
	// always checked and used.
	InsecureSkipAuth bool
}

// BigQueryBackend is the transport behind the bigquery module: what the
// module hands over once it has checked a call's arguments and converted
// its values. The default is the official client; fnctl test's sandbox
// records instead.
type BigQueryBackend interface {
	// Open is called by bigquery.initialize, on behalf of service (the
	// invocation's bucket name), with a checked project and dataset ID and
	// the credentials as the function gave them (a service-account key's
	// JSON; checking them is the backend's business). ctx is the
	// invocation's: it ends with it.
	Open(ctx context.Context, service string, ds BigQueryDataset, credentialsJSON string) (BigQuerySession, error)
}

// BigQueryDataset names the dataset a session works in.
type BigQueryDataset struct {
	Project string
	Dataset string
}

// BigQuerySession is one invocation's connection to a dataset, made by
// bigquery.initialize. Its methods are called on the invocation's
// goroutine, with the invocation's context. Errors are shown to the
// function after "bigquery.insert TABLE: " (or "bigquery.record_exists
// TABLE: "), so they should say what went wrong without repeating the
// operation, and must never hold credentials.
type BigQuerySession interface {
	// Insert streams one row into table. table is a checked table ID; row
	// maps column names to plain Go values as ToGo makes them: nil, bool,
	// int64, float64, string, []any (REPEATED) and map[string]any
	// (RECORD); it has at least one column.
	Insert(ctx context.Context, table string, row map[string]any) error
	// RecordExists reports whether table has a row whose column equals
	// value (a string, int64, float64 or bool). table and column are
	// checked identifiers.
	RecordExists(ctx context.Context, table, column string, value any) (bool, error)
	// Close releases the session; it is called when initialize replaces it.
	Close() error
}

// BigQuery returns the "bigquery" module, compatible with Webhook Relay's:
//
//	local err = bigquery.initialize(project_id, dataset_id, credentials_json)
//	local err = bigquery.insert(table, row)            -- row: {column = value, ...}
//	local exists, err = bigquery.record_exists(table, column, value)
//
// initialize checks the project and dataset IDs and opens a session of the
// backend (BigQueryOptions.Backend) for this invocation; insert and
// record_exists check their arguments, convert the values and use it. The
// default backend is a client of the official cloud.google.com/go/bigquery
// library. Its credentials are a service-account key file's JSON, usually
// the function's configuration variable (cfg:GetValue("BQ_CREDENTIALS"));
// only keys of type "service_account" are accepted, never credential types
// that read local files or run programs, and the key's token_uri must be
// https.
//
// insert streams one row with tabledata.insertAll: nested tables become
// RECORD values and sequences REPEATED ones. record_exists runs
//
//	SELECT 1 FROM `project.dataset.table` WHERE `column` = @value LIMIT 1
//
// with value (a string, number or boolean) as a query parameter; table and
// column must be plain identifiers (letters, digits, underscores; tables
// also dashes), so nothing the function passes is spliced into the SQL as
// is. All calls are bounded by the invocation's deadline. Failures return
// err (and false for record_exists); messages never hold the credentials.
func BigQuery(opts BigQueryOptions) runtime.Module {
	m := &bqModule{backend: opts.Backend}
	if m.backend == nil {
		m.backend = &bqClientBackend{opts: opts}
	}
	return runtime.Module{Name: "bigquery", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"initialize":    m.initialize,
			"insert":        m.insert,
			"record_exists": m.recordExists,
		})
	}}
}

type bqModule struct{ backend BigQueryBackend }

// bqStateKey keys the invocation's client in Call.SetValue.
type bqStateKey struct{}

type bqState struct{ session BigQuerySession }

var (
	// Project IDs: 6-30 lowercase letters, digits and hyphens, optionally
	// domain-scoped ("example.com:my-project").
	bqProjectRE = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	bqDatasetRE = bqIdentRE{regexp.MustCompile(`^[A-Za-z0-9_]+$`), 1024}
	bqTableRE   = bqIdentRE{regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`), 1024}
	bqColumnRE  = bqIdentRE{regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), 300}
)

// bqIdentRE is an identifier pattern with a length limit (Go's regexp
// caps repeat counts at 1000).
type bqIdentRE struct {
	re  *regexp.Regexp
	max int
}

func (r bqIdentRE) MatchString(s string) bool { return len(s) <= r.max && r.re.MatchString(s) }

// initialize is bigquery.initialize(project_id, dataset_id, credentials_json) → err.
func (m *bqModule) initialize(L *lua.LState) int {
	project := stringArg(L, 1, "project_id")
	dataset := stringArg(L, 2, "dataset_id")
	creds := stringArg(L, 3, "credentials_json")
	call := runtime.CallOf(L)
	if call == nil {
		return errOnly(L, errors.New("bigquery.initialize: not running in an invocation"))
	}
	switch {
	case !bqProjectRE.MatchString(project):
		return errOnly(L, fmt.Errorf("bigquery.initialize: invalid project_id %q", bqShort(project)))
	case !bqDatasetRE.MatchString(dataset):
		return errOnly(L, fmt.Errorf("bigquery.initialize: invalid dataset_id %q (letters, digits and underscores)", bqShort(dataset)))
	}
	ds := BigQueryDataset{Project: project, Dataset: dataset}
	sess, err := m.backend.Open(call.Context(), call.Metadata("bucket_name"), ds, creds)
	if err == nil && sess == nil {
		err = errors.New("no session")
	}
	if err != nil {
		return errOnly(L, fmt.Errorf("bigquery.initialize: %w", err))
	}
	if old, ok := call.Value(bqStateKey{}).(*bqState); ok {
		_ = old.session.Close()
	}
	call.SetValue(bqStateKey{}, &bqState{session: sess})
	return errOnly(L, nil)
}

// bqClientBackend is the default backend: the official client.
type bqClientBackend struct{ opts BigQueryOptions }

// bqClientSession is a client of the official library for one invocation.
type bqClientSession struct {
	client *bigquery.Client
	ds     BigQueryDataset
}

// Open builds a client of the official library. The credentials must be
// a service-account key (see bqServiceAccount).
func (b *bqClientBackend) Open(ctx context.Context, service string, ds BigQueryDataset, creds string) (BigQuerySession, error) {
	if b.opts.HTTPClient == nil {
		return nil, errors.New("no outbound HTTP client is configured for BigQuery")
	}
	base := b.opts.HTTPClient(service)
	if base == nil {
		return nil, errors.New("no outbound HTTP client is configured for BigQuery")
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// Requests made without a context (the oauth2 library's token request)
	// get the invocation's, so its deadline bounds them too.
	rt = bqContextTransport{base: rt, ctx: ctx}
	noRedirects := func(*http.Request, []*http.Request) error {
		return errors.New("redirects are not followed")
	}
	hc := &http.Client{Transport: rt, CheckRedirect: noRedirects}

	if strings.TrimSpace(creds) == "" {
		if !b.opts.InsecureSkipAuth {
			return nil, errors.New("credentials_json is empty: pass the service account key (JSON)")
		}
	} else {
		cfg, err := bqServiceAccount(creds)
		if err != nil {
			return nil, err
		}
		// The token exchange goes through hc too: the egress rules apply to
		// the key's token_uri like to any other destination.
		ts := cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc))
		hc = &http.Client{
			Transport:     &oauth2.Transport{Base: rt, Source: oauth2.ReuseTokenSource(nil, ts)},
			CheckRedirect: noRedirects,
		}
	}
	// With WithHTTPClient the library uses hc as is and adds no credentials
	// of its own (no environment or metadata-server lookups).
	copts := []option.ClientOption{option.WithHTTPClient(hc)}
	if b.opts.Endpoint != "" {
		copts = append(copts, option.WithEndpoint(b.opts.Endpoint))
	}
	client, err := bigquery.NewClient(ctx, ds.Project, copts...)
	if err != nil {
		return nil, err
	}
	return &bqClientSession{client: client, ds: ds}, nil
}

// Insert streams row with tabledata.insertAll.
func (s *bqClientSession) Insert(ctx context.Context, table string, row map[string]any) error {
	r := make(bqRow, len(row))
	for k, v := range row {
		r[k] = v
	}
	if err := s.client.Dataset(s.ds.Dataset).Table(table).Inserter().Put(ctx, r); err != nil {
		return bqError(err)
	}
	return nil
}

// RecordExists runs a parameterized query.
func (s *bqClientSession) RecordExists(ctx context.Context, table, column string, value any) (bool, error) {
	// Identifiers are checked by the module and quoted; the value is a
	// parameter.
	q := s.client.Query(fmt.Sprintf("SELECT 1 FROM `%s.%s.%s` WHERE `%s` = @value LIMIT 1",
		s.ds.Project, s.ds.Dataset, table, column))
	q.Parameters = []bigquery.QueryParameter{{Name: "value", Value: value}}
	it, err := q.Read(ctx)
	if err != nil {
		return false, bqError(err)
	}
	var row []bigquery.Value
	switch err := it.Next(&row); {
	case errors.Is(err, iterator.Done):
		return false, nil
	case err != nil:
		return false, bqError(err)
	}
	return true, nil
}

// Close closes the client.
func (s *bqClientSession) Close() error { return s.client.Close() }

// bqServiceAccount checks a service-account key and returns its JWT
// configuration. Error messages name fields, never their values.
func bqServiceAccount(creds string) (*oauthjwt.Config, error) {
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(creds), &f); err != nil {
		return nil, errors.New("credentials_json is not valid JSON")
	}
	if f.Type != "service_account" {
		// Other credential types (external_account, ...) can read local
		// files, run programs or call arbitrary URLs: never accepted.
		return nil, fmt.Errorf("credentials_json must be a service account key (type \"service_account\"), not %q", bqShort(f.Type))
	}
	if f.ClientEmail == "" {
		return nil, errors.New("credentials_json has no client_email")
	}
	if err := bqCheckPrivateKey(f.PrivateKey); err != nil {
		return nil, err
	}
	if f.TokenURI != "" {
		u, err := url.Parse(f.TokenURI)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, errors.New("credentials_json token_uri must be an https URL")
		}
	}
	cfg, err := google.JWTConfigFromJSON([]byte(creds), bigquery.Scope)
	if err != nil {
		return nil, errors.New("credentials_json is not a usable service account key")
	}
	return cfg, nil
}

// bqCheckPrivateKey checks that key is an RSA private key in PEM, as the
// token exchange needs, so a bad key fails in initialize rather than on
// the first call.
func bqCheckPrivateKey(key string) error {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		return errors.New("credentials_json private_key is missing or not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); ok {
			return nil
		}
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("credentials_json private_key is not a valid RSA private key")
}

// bqContextTransport gives requests that carry no cancelable context the
// invocation's context.
type bqContextTransport struct {
	base http.RoundTripper
	ctx  context.Context
}

func (t bqContextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Done() == nil {
		req = req.WithContext(t.ctx)
	}
	return t.base.RoundTrip(req)
}

// bqStateOf returns the invocation and its client, or an error naming op.
func bqStateOf(L *lua.LState, op string) (*runtime.Call, *bqState, error) {
	call := runtime.CallOf(L)
	if call == nil {
		return nil, nil, fmt.Errorf("bigquery.%s: not running in an invocation", op)
	}
	st, ok := call.Value(bqStateKey{}).(*bqState)
	if !ok {
		return nil, nil, fmt.Errorf("bigquery.%s: call bigquery.initialize first", op)
	}
	return call, st, nil
}

// bqRow is one row for the Inserter.
type bqRow map[string]bigquery.Value

func (r bqRow) Save() (map[string]bigquery.Value, string, error) { return r, "", nil }

// insert is bigquery.insert(table, row) → err.
func (m *bqModule) insert(L *lua.LState) int {
	tableID := stringArg(L, 1, "table")
	rowV := L.Get(2)
	rowT, ok := rowV.(*lua.LTable)
	if !ok {
		L.ArgError(2, "row must be a table of column = value, got "+rowV.Type().String())
		return 0
	}
	call, st, err := bqStateOf(L, "insert")
	if err != nil {
		return errOnly(L, err)
	}
	if !bqTableRE.MatchString(tableID) {
		return errOnly(L, fmt.Errorf("bigquery.insert: invalid table name %q", bqShort(tableID)))
	}
	v, err := ToGo(rowT)
	if err != nil {
		return errOnly(L, fmt.Errorf("bigquery.insert: row: %w", err))
	}
	fields, ok := v.(map[string]any)
	if !ok || len(fields) == 0 {
		return errOnly(L, errors.New("bigquery.insert: row must be a table of column = value with at least one column"))
	}
	if err := st.session.Insert(call.Context(), tableID, fields); err != nil {
		return errOnly(L, fmt.Errorf("bigquery.insert %s: %w", tableID, err))
	}
	return errOnly(L, nil)
}

// recordExists is bigquery.record_exists(table, column, value) → bool, err.
func (m *bqModule) recordExists(L *lua.LState) int {
	tableID := stringArg(L, 1, "table")
	column := stringArg(L, 2, "column")
	var value any
	switch x := L.Get(3).(type) {
	case lua.LString, lua.LNumber, lua.LBool:
		value, _ = ToGo(x)
	default:
		L.ArgError(3, "value must be a string, number or boolean, got "+x.Type().String())
		return 0
	}
	existsFail := func(err error) int {
		L.Push(lua.LFalse)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	call, st, err := bqStateOf(L, "record_exists")
	if err != nil {
		return existsFail(err)
	}
	if !bqTableRE.MatchString(tableID) {
		return existsFail(fmt.Errorf("bigquery.record_exists: invalid table name %q", bqShort(tableID)))
	}
	if !bqColumnRE.MatchString(column) {
		return existsFail(fmt.Errorf("bigquery.record_exists: invalid column name %q", bqShort(column)))
	}
	exists, err := st.session.RecordExists(call.Context(), tableID, column, value)
	if err != nil {
		return existsFail(fmt.Errorf("bigquery.record_exists %s: %w", tableID, err))
	}
	L.Push(lua.LBool(exists))
	L.Push(lua.LNil)
	return 2
}

// bqError words a client error for the function's log; the module puts
// "bigquery.OP TABLE: " in front.
func bqError(err error) error {
	var gerr *googleapi.Error
	var pme bigquery.PutMultiError
	switch {
	case errors.As(err, &pme):
		var msgs []string
		for _, rowErr := range pme {
			for _, e := range rowErr.Errors {
				var be *bigquery.Error
				if errors.As(e, &be) && be.Reason == "stopped" {
					continue
				}
				msgs = append(msgs, e.Error())
			}
		}
		return fmt.Errorf("row rejected: %s", strings.Join(msgs, "; "))
	case errors.As(err, &gerr):
		msg := gerr.Message
		if msg == "" {
			msg = http.StatusText(gerr.Code)
		}
		if len(gerr.Errors) > 0 && gerr.Errors[0].Reason != "" {
			msg += " (" + gerr.Errors[0].Reason + ")"
		}
		return fmt.Errorf("%d %s", gerr.Code, msg)
	}
	return err
}

// bqShort cuts a value quoted in an error message.
func bqShort(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
