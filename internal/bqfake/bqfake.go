// Package bqfake is a local server that speaks the part of BigQuery's REST
// API v2 the official Go client (cloud.google.com/go/bigquery) uses to
// stream rows and to run one kind of lookup query, so tests exercise the real
// client over real HTTP instead of a mock of it.
//
// It implements:
//
//   - tabledata.insertAll: POST /projects/{p}/datasets/{d}/tables/{t}/insertAll.
//     Rows are checked against the table's schema when it has one (unknown
//     fields, values that cannot be converted), with BigQuery's all-or-nothing
//     rule unless skipInvalidRows is set, and deduplicated by insertId.
//   - jobs.query: POST /projects/{p}/queries (what Query.Read calls first).
//   - jobs.insert: POST /projects/{p}/jobs, for query jobs.
//   - jobs.get: GET /projects/{p}/jobs/{jobId}.
//   - jobs.getQueryResults: GET /projects/{p}/queries/{jobId}.
//   - an OAuth 2.0 token endpoint (POST /token) for service-account JWT
//     bearer grants, so the production authentication path can run against it
//     (see [Server.NewServiceAccount] and [Server.RequireAuth]).
//
// Queries must have the shape
//
//	SELECT 1 FROM `project.dataset.table` WHERE column = @param [LIMIT n]
//
// (the column may be quoted with backticks); the answer has one row holding
// 1 per matching stored row. Anything else is refused with BigQuery's
// invalidQuery error. Every request is recorded, with its decoded rows or
// query, so tests can assert what BigQuery received.
//
// Paths are accepted with or without the "/bigquery/v2" prefix; pass
// [Server.Endpoint] to option.WithEndpoint. Errors use Google's JSON error
// format, so the client turns them into *googleapi.Error values.
package bqfake

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Field is a column of a table's schema. Type is a BigQuery type name:
// STRING, BYTES, INTEGER (INT64), FLOAT (FLOAT64), NUMERIC, BIGNUMERIC,
// BOOLEAN (BOOL), TIMESTAMP, DATE, TIME, DATETIME, JSON, RECORD (STRUCT).
// Types other than the numeric, boolean and string ones are stored as sent.
type Field struct {
	Name string
	Type string
	// Repeated marks a REPEATED (array) column.
	Repeated bool
}

// Row is one row received by insertAll.
type Row struct {
	InsertID string
	// JSON is the row as sent, decoded with json.Number for numbers, so a
	// test can tell 42 from "42" and 1.5.
	JSON map[string]any
}

// Param is a query parameter as received.
type Param struct {
	Type  string
	Value string
}

// Request is one request the server received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	// Kind names the API method: "tabledata.insertAll", "jobs.query",
	// "jobs.insert", "jobs.get", "jobs.getQueryResults", "token", or
	// "unknown".
	Kind string
	// Project, Dataset and Table are taken from the path where it has them.
	Project, Dataset, Table string
	// Authorization is the request's Authorization header.
	Authorization string
	// Rows are the rows of an insertAll request.
	Rows []Row
	// Query and Params are the SQL text and named parameters of a query.
	Query  string
	Params map[string]Param
	// ServiceAccount and Scope are the issuer and scope of a token
	// request's assertion.
	ServiceAccount, Scope string
	// Status is the HTTP status the server answered with.
	Status int
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	tables      map[string]*table // key: project.dataset.table
	jobs        map[string]*job   // key: project/jobId
	requests    []Request
	failNext    []*apiError
	requireAuth bool
	accounts    map[string]*account // key: client_email
	tokens      map[string]string   // access token -> client_email
	seq         int
}

type table struct {
	schema    []Field
	rows      []Row
	insertIDs map[string]bool
}

// New starts a server on a loopback address over plain HTTP. Close it when
// done.
func New() *Server {
	s := newServer()
	s.srv = httptest.NewServer(s)
	return s
}

// NewTLS starts a server over HTTPS with a self-signed certificate for
// 127.0.0.1; trust it with [Server.Certificate] or [Server.RootCAs].
func NewTLS() *Server {
	s := newServer()
	s.srv = httptest.NewTLSServer(s)
	return s
}

func newServer() *Server {
	return &Server{
		tables:   make(map[string]*table),
		jobs:     make(map[string]*job),
		accounts: make(map[string]*account),
		tokens:   make(map[string]string),
	}
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the API base URL to give option.WithEndpoint, shaped like
// the real one: URL + "/bigquery/v2/".
func (s *Server) Endpoint() string { return s.srv.URL + "/bigquery/v2/" }

// TokenURL is the OAuth 2.0 token endpoint, the token_uri of the service
// accounts [Server.NewServiceAccount] makes.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// Certificate is the TLS certificate of a server made by NewTLS (nil for
// plain HTTP).
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// RootCAs returns a pool holding the server's certificate, for a client's
// tls.Config.
func (s *Server) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	if c := s.srv.Certificate(); c != nil {
		pool.AddCert(c)
	}
	return pool
}

// TLSConfig returns a client TLS configuration that trusts the server.
func (s *Server) TLSConfig() *tls.Config { return &tls.Config{RootCAs: s.RootCAs()} }

// CreateTable creates (or empties) a table. With no fields the table has no
// schema and accepts any row.
func (s *Server) CreateTable(project, dataset, tableID string, schema ...Field) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables[tableKey(project, dataset, tableID)] = &table{schema: schema, insertIDs: map[string]bool{}}
}

// Rows returns the rows stored in a table (nil when it does not exist).
func (s *Server) Rows(project, dataset, tableID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableKey(project, dataset, tableID)]
	if t == nil {
		return nil
	}
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.JSON
	}
	return out
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsOf returns the requests of one kind ("tabledata.insertAll", ...).
func (s *Server) RequestsOf(kind string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// FailNext makes the next API request (not a token request) fail with the
// given HTTP status, error reason (e.g. "accessDenied", "backendError") and
// message. Calls queue up.
func (s *Server) FailNext(status int, reason, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, &apiError{Code: status, Reason: reason, Message: message})
}

// RequireAuth makes API requests need an access token the token endpoint
// issued; others get 401 UNAUTHENTICATED, as from Google.
func (s *Server) RequireAuth() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireAuth = true
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Kind:          "unknown",
	}
	status, body := s.serve(r, &rec)
	rec.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// serve routes r and returns the status and JSON body to answer with.
func (s *Server) serve(r *http.Request, rec *Request) (int, any) {
	path := strings.TrimPrefix(r.URL.Path, "/bigquery/v2")
	if r.Method == http.MethodPost && path == "/token" {
		rec.Kind = "token"
		return s.token(r, rec)
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	route := func(method string, pattern ...string) bool {
		if r.Method != method || len(seg) != len(pattern) {
			return false
		}
		for i, p := range pattern {
			if p != "*" && p != seg[i] {
				return false
			}
		}
		return true
	}
	var handler func(*http.Request, *Request) (int, any)
	switch {
	case route(http.MethodPost, "projects", "*", "datasets", "*", "tables", "*", "insertAll"):
		rec.Kind, rec.Project, rec.Dataset, rec.Table = "tabledata.insertAll", seg[1], seg[3], seg[5]
		handler = s.insertAll
	case route(http.MethodPost, "projects", "*", "queries"):
		rec.Kind, rec.Project = "jobs.query", seg[1]
		handler = s.jobsQuery
	case route(http.MethodPost, "projects", "*", "jobs"):
		rec.Kind, rec.Project = "jobs.insert", seg[1]
		handler = s.jobsInsert
	case route(http.MethodGet, "projects", "*", "jobs", "*"):
		rec.Kind, rec.Project = "jobs.get", seg[1]
		handler = func(r *http.Request, rec *Request) (int, any) { return s.jobsGet(r, rec, seg[3]) }
	case route(http.MethodGet, "projects", "*", "queries", "*"):
		rec.Kind, rec.Project = "jobs.getQueryResults", seg[1]
		handler = func(r *http.Request, rec *Request) (int, any) { return s.getQueryResults(r, rec, seg[3]) }
	default:
		return errNotFound("bqfake: no such method: " + r.Method + " " + r.URL.Path).response()
	}
	if e := s.checkAuth(r); e != nil {
		return e.response()
	}
	s.mu.Lock()
	var injected *apiError
	if len(s.failNext) > 0 {
		injected, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()
	if injected != nil {
		// Still decode the body, so the request is recorded in full.
		handler = func(r *http.Request, rec *Request) (int, any) {
			s.decodeForRecord(r, rec)
			return injected.response()
		}
	}
	return handler(r, rec)
}

// decodeForRecord fills rec from a request that is answered with an
// injected error.
func (s *Server) decodeForRecord(r *http.Request, rec *Request) {
	switch rec.Kind {
	case "tabledata.insertAll":
		var req insertAllRequest
		if decodeJSON(r, &req) == nil {
			rec.Rows = req.rows()
		}
	case "jobs.query":
		var req queryRequest
		if decodeJSON(r, &req) == nil {
			rec.Query, rec.Params = req.Query, req.params()
		}
	case "jobs.insert":
		var req jobResource
		if decodeJSON(r, &req) == nil && req.Configuration.Query != nil {
			rec.Query, rec.Params = req.Configuration.Query.Query, paramsOf(req.Configuration.Query.QueryParameters)
		}
	}
}

// decodeJSON decodes r's body keeping numbers as json.Number.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 32<<20))
	dec.UseNumber()
	return dec.Decode(v)
}

func tableKey(project, dataset, tableID string) string {
	return project + "." + dataset + "." + tableID
}

func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return prefix + itoa(s.seq)
}
