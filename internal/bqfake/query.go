package bqfake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// queryParameter is a named GoogleSQL query parameter.
type queryParameter struct {
	Name          string `json:"name"`
	ParameterType struct {
		Type string `json:"type"`
	} `json:"parameterType"`
	ParameterValue struct {
		Value *string `json:"value"`
	} `json:"parameterValue"`
}

func paramsOf(ps []queryParameter) map[string]Param {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]Param, len(ps))
	for _, p := range ps {
		v := ""
		if p.ParameterValue.Value != nil {
			v = *p.ParameterValue.Value
		}
		out[p.Name] = Param{Type: p.ParameterType.Type, Value: v}
	}
	return out
}

type datasetRef struct {
	ProjectID string `json:"projectId"`
	DatasetID string `json:"datasetId"`
}

// queryRequest is jobs.query's body.
type queryRequest struct {
	Query           string           `json:"query"`
	UseLegacySQL    *bool            `json:"useLegacySql"`
	QueryParameters []queryParameter `json:"queryParameters"`
	DefaultDataset  *datasetRef      `json:"defaultDataset"`
	Location        string           `json:"location"`
	RequestID       string           `json:"requestId"`
	DryRun          bool             `json:"dryRun"`
}

func (q *queryRequest) params() map[string]Param { return paramsOf(q.QueryParameters) }

// jobReference identifies a job.
type jobReference struct {
	ProjectID string `json:"projectId"`
	JobID     string `json:"jobId"`
	Location  string `json:"location,omitempty"`
}

// jobResource is the part of a Job resource jobs.insert reads.
type jobResource struct {
	JobReference  *jobReference `json:"jobReference"`
	Configuration struct {
		DryRun bool `json:"dryRun"`
		Query  *struct {
			Query           string           `json:"query"`
			UseLegacySQL    *bool            `json:"useLegacySql"`
			QueryParameters []queryParameter `json:"queryParameters"`
			DefaultDataset  *datasetRef      `json:"defaultDataset"`
		} `json:"query"`
	} `json:"configuration"`
}

// job is a finished query job.
type job struct {
	ref     jobReference
	query   string
	params  []queryParameter
	created time.Time
	rows    int       // rows in the result, each holding the INT64 1
	err     *apiError // the job's error, when it failed
}

// jobsQuery is jobs.query: it runs the query at once and answers with a
// complete QueryResponse. Like BigQuery it leaves "rows" out when the
// result is empty, so the client then reads them with getQueryResults.
func (s *Server) jobsQuery(r *http.Request, rec *Request) (int, any) {
	var req queryRequest
	if err := decodeJSON(r, &req); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error()).response()
	}
	rec.Query, rec.Params = req.Query, req.params()
	if req.UseLegacySQL == nil || *req.UseLegacySQL {
		return errInvalidQuery("bqfake: only GoogleSQL queries are supported (useLegacySql must be false)").response()
	}
	if req.DryRun {
		return errInvalid("bqfake: dry runs are not supported").response()
	}
	j := &job{
		ref:     jobReference{ProjectID: rec.Project, JobID: s.nextID("bqfake_job_"), Location: location(req.Location)},
		query:   req.Query,
		params:  req.QueryParameters,
		created: time.Now(),
	}
	n, qerr := s.run(req.Query, req.QueryParameters, rec.Project, req.DefaultDataset)
	if qerr != nil {
		return qerr.response()
	}
	j.rows = n
	s.mu.Lock()
	s.jobs[rec.Project+"/"+j.ref.JobID] = j
	s.mu.Unlock()

	resp := map[string]any{
		"kind":                "bigquery#queryResponse",
		"jobReference":        j.ref,
		"queryId":             "bqfake_query_" + j.ref.JobID,
		"schema":              resultSchema,
		"jobComplete":         true,
		"totalRows":           strconv.Itoa(n),
		"totalBytesProcessed": "0",
		"cacheHit":            false,
	}
	if n > 0 {
		resp["rows"] = resultRows(n)
	}
	return http.StatusOK, resp
}

// jobsInsert is jobs.insert for query jobs: the job runs at once and is
// returned DONE (with its error in status.errorResult if the query failed).
func (s *Server) jobsInsert(r *http.Request, rec *Request) (int, any) {
	var req jobResource
	if err := decodeJSON(r, &req); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error()).response()
	}
	q := req.Configuration.Query
	if q == nil {
		return errInvalid("bqfake: only query jobs are supported").response()
	}
	rec.Query, rec.Params = q.Query, paramsOf(q.QueryParameters)
	if q.UseLegacySQL == nil || *q.UseLegacySQL {
		return errInvalidQuery("bqfake: only GoogleSQL queries are supported (useLegacySql must be false)").response()
	}
	if req.Configuration.DryRun {
		return errInvalid("bqfake: dry runs are not supported").response()
	}
	ref := jobReference{ProjectID: rec.Project}
	if req.JobReference != nil {
		ref.JobID, ref.Location = req.JobReference.JobID, req.JobReference.Location
	}
	if ref.JobID == "" {
		ref.JobID = s.nextID("bqfake_job_")
	}
	ref.Location = location(ref.Location)
	j := &job{ref: ref, query: q.Query, params: q.QueryParameters, created: time.Now()}
	j.rows, j.err = s.run(q.Query, q.QueryParameters, rec.Project, q.DefaultDataset)

	s.mu.Lock()
	key := rec.Project + "/" + ref.JobID
	if _, dup := s.jobs[key]; dup {
		s.mu.Unlock()
		return (&apiError{Code: http.StatusConflict, Reason: "duplicate",
			Message: "Already Exists: Job " + rec.Project + ":" + ref.Location + "." + ref.JobID}).response()
	}
	s.jobs[key] = j
	s.mu.Unlock()
	return http.StatusOK, j.resource()
}

// jobsGet is jobs.get.
func (s *Server) jobsGet(_ *http.Request, rec *Request, jobID string) (int, any) {
	s.mu.Lock()
	j := s.jobs[rec.Project+"/"+jobID]
	s.mu.Unlock()
	if j == nil {
		return errNotFound("Not found: Job " + rec.Project + ":" + jobID).response()
	}
	return http.StatusOK, j.resource()
}

// getQueryResults is jobs.getQueryResults, honoring maxResults (0 means
// "only wait for completion": no rows) and startIndex.
func (s *Server) getQueryResults(r *http.Request, rec *Request, jobID string) (int, any) {
	s.mu.Lock()
	j := s.jobs[rec.Project+"/"+jobID]
	s.mu.Unlock()
	if j == nil {
		return errNotFound("Not found: Job " + rec.Project + ":" + jobID).response()
	}
	if j.err != nil {
		return j.err.response()
	}
	q := r.URL.Query()
	start, max := 0, j.rows
	if v := q.Get("startIndex"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			start = n
		}
	}
	if v := q.Get("maxResults"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			max = n
		}
	}
	resp := map[string]any{
		"kind":                "bigquery#getQueryResultsResponse",
		"jobReference":        j.ref,
		"schema":              resultSchema,
		"jobComplete":         true,
		"totalRows":           strconv.Itoa(j.rows),
		"totalBytesProcessed": "0",
		"cacheHit":            false,
	}
	end := min(j.rows, start+max)
	if start < end {
		resp["rows"] = resultRows(end - start)
	}
	return http.StatusOK, resp
}

// resource is the job's Job resource.
func (j *job) resource() map[string]any {
	ms := strconv.FormatInt(j.created.UnixMilli(), 10)
	status := map[string]any{"state": "DONE"}
	if j.err != nil {
		status["errorResult"] = j.err.errorProto()
		status["errors"] = []any{j.err.errorProto()}
	}
	query := map[string]any{"query": j.query, "useLegacySql": false}
	if len(j.params) > 0 {
		query["queryParameters"] = j.params
	}
	return map[string]any{
		"kind":         "bigquery#job",
		"id":           j.ref.ProjectID + ":" + j.ref.Location + "." + j.ref.JobID,
		"jobReference": j.ref,
		"configuration": map[string]any{
			"jobType": "QUERY",
			"query":   query,
		},
		"status": status,
		"statistics": map[string]any{
			"creationTime":        ms,
			"startTime":           ms,
			"endTime":             ms,
			"totalBytesProcessed": "0",
			"query":               map[string]any{"totalBytesProcessed": "0", "statementType": "SELECT", "cacheHit": false},
		},
	}
}

// resultSchema is the schema of "SELECT 1": one unnamed INT64 column.
var resultSchema = map[string]any{
	"fields": []any{map[string]any{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}},
}

// resultRows is n rows of the value 1, in the TableRow shape
// {"f": [{"v": "1"}]} (INT64 values travel as strings).
func resultRows(n int) []any {
	rows := make([]any, n)
	for i := range rows {
		rows[i] = map[string]any{"f": []any{map[string]any{"v": "1"}}}
	}
	return rows
}

func location(l string) string {
	if l == "" {
		return "US"
	}
	return l
}

// queryShape is the only query the fake evaluates:
// SELECT 1 FROM `table` WHERE column = @param [LIMIT n].
var queryShape = regexp.MustCompile("(?is)^\\s*SELECT\\s+1\\s+FROM\\s+(`[^`]+`|[A-Za-z0-9_.:-]+)\\s+WHERE\\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s*=\\s*@([A-Za-z_][A-Za-z0-9_]*)(?:\\s+LIMIT\\s+([0-9]+))?\\s*;?\\s*$")

// run evaluates a query and returns how many result rows it has.
func (s *Server) run(sql string, params []queryParameter, project string, def *datasetRef) (int, *apiError) {
	m := queryShape.FindStringSubmatch(sql)
	if m == nil {
		return 0, errInvalidQuery("bqfake: unsupported query; only SELECT 1 FROM `project.dataset.table` WHERE column = @param [LIMIT n] is evaluated")
	}
	ref := strings.Trim(m[1], "`")
	column := strings.Trim(m[2], "`")
	pname := m[3]
	limit := -1
	if m[4] != "" {
		n, err := strconv.Atoi(m[4])
		if err != nil {
			return 0, errInvalidQuery("Invalid LIMIT " + m[4])
		}
		limit = n
	}

	tp, td, tt, ok := splitTableRef(ref, project, def)
	if !ok {
		return 0, errInvalidQuery("Table \"" + ref + "\" must be qualified with a dataset (e.g. dataset.table).")
	}
	var param *queryParameter
	for i := range params {
		if params[i].Name == pname {
			param = &params[i]
		}
	}
	if param == nil {
		return 0, errInvalidQuery("Query parameter '" + pname + "' not found")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableKey(tp, td, tt)]
	if t == nil {
		return 0, errNotFound("Not found: Table " + tp + ":" + td + "." + tt + " was not found in location US")
	}
	colType := ""
	if len(t.schema) > 0 {
		f := t.field(column)
		if f == nil {
			return 0, errInvalidQuery("Unrecognized name: " + column)
		}
		colType = f.Type
		ck, pk := kind(f.Type), paramKind(param.ParameterType.Type)
		if f.Repeated || (ck != "other" && !comparable(ck, pk)) {
			t := canonicalType(f.Type)
			if f.Repeated {
				t = "ARRAY<" + t + ">"
			}
			return 0, errInvalidQuery("No matching signature for operator = for argument types: " +
				t + ", " + canonicalType(param.ParameterType.Type) + ". Supported signature: ANY = ANY")
		}
	}
	n := 0
	for _, row := range t.rows {
		if limit >= 0 && n >= limit {
			break
		}
		if v, ok := lookup(row.JSON, column); ok && matches(v, param, colType) {
			n++
		}
	}
	return n, nil
}

// splitTableRef splits project.dataset.table (the project may itself hold
// dots and a colon, as in example.com:project) or dataset.table.
func splitTableRef(ref, project string, def *datasetRef) (string, string, string, bool) {
	i := strings.LastIndex(ref, ".")
	if i <= 0 || i == len(ref)-1 {
		if i < 0 && def != nil && def.DatasetID != "" {
			p := def.ProjectID
			if p == "" {
				p = project
			}
			return p, def.DatasetID, ref, true
		}
		return "", "", "", false
	}
	tt, rest := ref[i+1:], ref[:i]
	j := strings.LastIndex(rest, ".")
	if j < 0 {
		return project, rest, tt, true
	}
	return rest[:j], rest[j+1:], tt, true
}

func lookup(row map[string]any, column string) (any, bool) {
	if v, ok := row[column]; ok {
		return v, true
	}
	for k, v := range row {
		if strings.EqualFold(k, column) {
			return v, true
		}
	}
	return nil, false
}

func paramKind(typ string) string {
	switch strings.ToUpper(typ) {
	case "INT64":
		return "integer"
	case "FLOAT64", "NUMERIC", "BIGNUMERIC":
		return "number"
	case "BOOL":
		return "bool"
	case "STRING":
		return "string"
	}
	return "other"
}

func comparable(col, param string) bool {
	num := func(k string) bool { return k == "integer" || k == "number" }
	return col == param || (num(col) && num(param))
}

func canonicalType(t string) string {
	switch strings.ToUpper(t) {
	case "INTEGER":
		return "INT64"
	case "FLOAT":
		return "FLOAT64"
	case "BOOLEAN":
		return "BOOL"
	case "RECORD":
		return "STRUCT"
	}
	return strings.ToUpper(t)
}

// matches reports whether a stored value equals the parameter. With a
// schema (colType set) values are compared as the column's type, as
// BigQuery stores them typed; without one only like JSON types match.
func matches(v any, p *queryParameter, colType string) bool {
	if v == nil || p.ParameterValue.Value == nil {
		return false // NULL = anything is not true
	}
	pv := *p.ParameterValue.Value
	typed := colType != ""
	switch paramKind(p.ParameterType.Type) {
	case "string":
		switch x := v.(type) {
		case string:
			return x == pv
		case json.Number:
			return typed && string(x) == pv
		case bool:
			return typed && strconv.FormatBool(x) == pv
		}
	case "integer", "number":
		want, err := strconv.ParseFloat(pv, 64)
		if err != nil {
			return false
		}
		switch x := v.(type) {
		case json.Number:
			got, err := x.Float64()
			return err == nil && got == want
		case string:
			if !typed {
				return false
			}
			got, ok := asFloat(x)
			return ok && got == want
		}
	case "bool":
		want, err := strconv.ParseBool(pv)
		if err != nil {
			return false
		}
		switch x := v.(type) {
		case bool:
			return x == want
		case string:
			got, ok := asBool(x)
			return typed && ok && got == want
		}
	default:
		if s, ok := v.(string); ok {
			return s == pv
		}
	}
	return false
}
