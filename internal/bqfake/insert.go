package bqfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// insertAllRequest is tabledata.insertAll's body.
type insertAllRequest struct {
	Kind                string `json:"kind"`
	SkipInvalidRows     bool   `json:"skipInvalidRows"`
	IgnoreUnknownValues bool   `json:"ignoreUnknownValues"`
	TemplateSuffix      string `json:"templateSuffix"`
	Rows                []struct {
		InsertID string         `json:"insertId"`
		JSON     map[string]any `json:"json"`
	} `json:"rows"`
}

func (req *insertAllRequest) rows() []Row {
	out := make([]Row, len(req.Rows))
	for i, r := range req.Rows {
		out[i] = Row{InsertID: r.InsertID, JSON: r.JSON}
	}
	return out
}

// insertAll is tabledata.insertAll. The answer is
// {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": [...]}:
// a 200 even when rows are refused, as from BigQuery.
func (s *Server) insertAll(r *http.Request, rec *Request) (int, any) {
	var req insertAllRequest
	if err := decodeJSON(r, &req); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error()).response()
	}
	rec.Rows = req.rows()
	if req.TemplateSuffix != "" {
		return errInvalid("bqfake: templateSuffix is not supported").response()
	}
	if len(req.Rows) == 0 {
		return errInvalid("No rows present in the request.").response()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableKey(rec.Project, rec.Dataset, rec.Table)]
	if t == nil {
		return errNotFound("Not found: Table " + rec.Project + ":" + rec.Dataset + "." + rec.Table).response()
	}

	type rowResult struct {
		stored map[string]any
		errs   []map[string]any
	}
	results := make([]rowResult, len(req.Rows))
	anyInvalid := false
	for i, row := range req.Rows {
		stored, errs := t.check(row.JSON, req.IgnoreUnknownValues)
		results[i] = rowResult{stored: stored, errs: errs}
		if len(errs) > 0 {
			anyInvalid = true
		}
	}

	var insertErrors []any
	for i, res := range results {
		switch {
		case len(res.errs) > 0:
			insertErrors = append(insertErrors, map[string]any{"index": i, "errors": res.errs})
			continue
		case anyInvalid && !req.SkipInvalidRows:
			// All or nothing: the valid rows are not inserted either.
			insertErrors = append(insertErrors, map[string]any{
				"index":  i,
				"errors": []any{map[string]any{"reason": "stopped", "location": "", "message": ""}},
			})
			continue
		}
		id := req.Rows[i].InsertID
		if id != "" {
			if t.insertIDs[id] {
				continue // best-effort deduplication, as BigQuery does
			}
			t.insertIDs[id] = true
		}
		t.rows = append(t.rows, Row{InsertID: id, JSON: res.stored})
	}
	resp := map[string]any{"kind": "bigquery#tableDataInsertAllResponse"}
	if len(insertErrors) > 0 {
		resp["insertErrors"] = insertErrors
	}
	return http.StatusOK, resp
}

// check validates row against the table's schema and returns the row to
// store and the row's errors, in insertAll's ErrorProto shape.
func (t *table) check(row map[string]any, ignoreUnknown bool) (map[string]any, []map[string]any) {
	if len(t.schema) == 0 {
		return row, nil
	}
	stored := make(map[string]any, len(row))
	var errs []map[string]any
	fail := func(field, msg string) {
		errs = append(errs, map[string]any{"reason": "invalid", "location": field, "message": msg})
	}
	for name, v := range row {
		f := t.field(name)
		if f == nil {
			if !ignoreUnknown {
				fail(name, "no such field: "+name+".")
			}
			continue
		}
		if v == nil {
			stored[f.Name] = nil
			continue
		}
		if arr, isArr := v.([]any); isArr {
			if !f.Repeated {
				fail(name, "Array specified for non-repeated field: "+name+".")
				continue
			}
			for _, e := range arr {
				if msg := checkValue(f, e); msg != "" {
					fail(name, msg)
					break
				}
			}
		} else if f.Repeated {
			fail(name, "Non-array specified for repeated field: "+name+".")
			continue
		} else if msg := checkValue(f, v); msg != "" {
			fail(name, msg)
			continue
		}
		stored[f.Name] = v
	}
	return stored, errs
}

// field finds a column by name; BigQuery column names are case-insensitive.
func (t *table) field(name string) *Field {
	for i := range t.schema {
		if strings.EqualFold(t.schema[i].Name, name) {
			return &t.schema[i]
		}
	}
	return nil
}

// checkValue reports why v cannot be stored in f ("" when it can), with the
// messages BigQuery uses.
func checkValue(f *Field, v any) string {
	if _, isObj := v.(map[string]any); isObj {
		if kind(f.Type) == "record" {
			return ""
		}
		return "This field: " + f.Name + " is not a record."
	}
	switch kind(f.Type) {
	case "integer":
		if _, ok := asInt(v); !ok {
			return "Cannot convert value to integer."
		}
	case "number":
		if _, ok := asFloat(v); !ok {
			return "Cannot convert value to floating point."
		}
	case "bool":
		if _, ok := asBool(v); !ok {
			return "Cannot convert value to boolean."
		}
	case "record":
		return "This field: " + f.Name + " is a record, which is not supported for this value."
	}
	return ""
}

// kind groups BigQuery type names.
func kind(typ string) string {
	switch strings.ToUpper(typ) {
	case "STRING":
		return "string"
	case "INTEGER", "INT64":
		return "integer"
	case "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC":
		return "number"
	case "BOOLEAN", "BOOL":
		return "bool"
	case "RECORD", "STRUCT":
		return "record"
	}
	return "other"
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			f, ferr := x.Float64()
			if ferr != nil || f != float64(int64(f)) {
				return 0, false
			}
			return int64(f), true
		}
		return n, true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
