package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/relayfn/relayfn/runtime"
)

// maxShown is how much of a long actual value a failure shows.
const maxShown = 200

// checker collects the failed assertions of one test.
type checker struct {
	fails []Failure
}

func (c *checker) fail(assertion, expected, actual, format string, args ...any) {
	c.fails = append(c.fails, Failure{
		Assertion: assertion,
		Expected:  expected,
		Actual:    actual,
		Message:   fmt.Sprintf(format, args...),
	})
}

// check evaluates t's expectations against what the function did.
func check(t *Test, res *runtime.Result, calls *Calls) []Failure {
	c := &checker{}
	e := &t.Expect
	for _, p := range calls.Problems() {
		c.fail("sandbox", "", "", "%s", p)
	}
	if e.assertsNothing() {
		c.fail("expect", "at least one assertion", "none",
			"the test asserts nothing: give it an expect (error: false checks that the function runs to its end)")
	}

	errText := res.Error
	if res.Err != nil && errText == "" {
		errText = res.Err.Error()
	}
	failed := res.Err != nil || errText != ""
	wantErr := e.ErrorContains != nil || (e.Error != nil && *e.Error)
	switch {
	case failed && !wantErr:
		name := "error"
		if e.Error != nil {
			name = "expect.error"
		}
		c.fail(name, "no error", quote(errText), "function failed: %s", errText)
		// The rest says little about a function that stopped half-way.
		return c.fails
	case !failed && e.Error != nil && *e.Error:
		c.fail("expect.error", "an error", "no error", "expected the function to fail, but it ran to the end")
	}
	if e.ErrorContains != nil {
		want := *e.ErrorContains
		switch {
		case !failed:
			c.fail("expect.errorContains", quote(want), "no error", "expected an error containing %s, but the function ran to the end", quote(want))
		case !strings.Contains(errText, want):
			c.fail("expect.errorContains", quote(want), quote(errText), "expected an error containing %s, got %s", quote(want), quote(errText))
		}
	}
	c.boolean("expect.stopForwarding", e.StopForwarding, res.StopForwarding)
	if e.Request != nil {
		c.request(e.Request, &res.Request)
	}
	if e.Response != nil {
		c.response(e.Response, &res.Response)
	}
	if len(e.LogsContain) > 0 {
		all := strings.Join(res.Logs, "\n")
		for i, want := range e.LogsContain {
			if !strings.Contains(all, want) {
				shown := jsonText(res.Logs)
				c.fail(fmt.Sprintf("expect.logsContain[%d]", i), quote(want), shown,
					"expected the log to contain %s, got %s", quote(want), shown)
			}
		}
	}
	if e.HTTP != nil {
		c.httpCalls(e.HTTP, calls.HTTP())
	}
	if e.BigQuery != nil {
		c.bigquery(e.BigQuery, calls.BigQuery())
	}
	if e.Emails != nil {
		c.emails(e.Emails, calls.Emails())
	}
	return c.fails
}

func (c *checker) boolean(name string, want *bool, got bool) {
	if want != nil && *want != got {
		c.fail(name, strconv.FormatBool(*want), strconv.FormatBool(got), "expected %t, got %t", *want, got)
	}
}

func (c *checker) contains(name, what string, want *string, got string) {
	if want != nil && !strings.Contains(got, *want) {
		c.fail(name, quote(*want), quote(got), "expected %s to contain %s, got %s", what, quote(*want), quote(got))
	}
}

func (c *checker) equals(name, what string, want *string, got string) {
	if want == nil || *want == got {
		return
	}
	c.fail(name, quote(*want), quote(got), "expected %s %s, got %s%s", what, quote(*want), quote(got), diffHint(*want, got))
}

func (c *checker) request(r *RequestExpect, got *runtime.RequestResult) {
	const p = "expect.request."
	c.boolean(p+"modified", r.Modified, got.Modified)
	c.boolean(p+"bodyModified", r.BodyModified, got.BodyModified)
	c.boolean(p+"headerModified", r.HeaderModified, got.HeaderModified)
	c.boolean(p+"methodModified", r.MethodModified, got.MethodModified)
	c.boolean(p+"pathModified", r.PathModified, got.PathModified)
	c.boolean(p+"queryModified", r.QueryModified, got.RawQueryModified)
	c.contains(p+"bodyContains", "body", r.BodyContains, got.Body)
	c.equals(p+"bodyEquals", "body", r.BodyEquals, got.Body)
	if r.MethodEquals != nil && !strings.EqualFold(*r.MethodEquals, got.Method) {
		c.fail(p+"methodEquals", quote(*r.MethodEquals), quote(got.Method),
			"expected method %s, got %s", quote(*r.MethodEquals), quote(got.Method))
	}
	c.equals(p+"pathEquals", "path", r.PathEquals, got.Path)
	c.contains(p+"pathContains", "path", r.PathContains, got.Path)
	c.equals(p+"queryEquals", "query", r.QueryEquals, got.RawQuery)
	c.contains(p+"queryContains", "query", r.QueryContains, got.RawQuery)
	c.headers(p+"headerEquals", r.HeaderEquals, got.Headers)
	c.json(p+"json", r.JSON, got.Body)
}

func (c *checker) response(r *ResponseExpect, got *runtime.ResponseResult) {
	const p = "expect.response."
	c.boolean(p+"modified", r.Modified, got.Modified)
	if r.StatusEquals != nil && *r.StatusEquals != got.Status {
		actual := strconv.Itoa(got.Status)
		if got.Status == 0 {
			actual = "0 (not set)"
		}
		c.fail(p+"statusEquals", strconv.Itoa(*r.StatusEquals), actual, "expected status %d, got %s", *r.StatusEquals, actual)
	}
	c.contains(p+"bodyContains", "response body", r.BodyContains, got.Body)
	c.equals(p+"bodyEquals", "response body", r.BodyEquals, got.Body)
	c.headers(p+"headerEquals", r.HeaderEquals, got.Headers)
}

// headers checks want against h: names case-insensitively, values as they
// would be on one line; an empty expected value means absent or empty.
func (c *checker) headers(name string, want map[string]string, h http.Header) {
	for _, k := range sortedKeys(want) {
		var vals []string
		found := false
		for hk, hv := range h {
			if strings.EqualFold(hk, k) {
				vals = append(vals, hv...)
				found = true
			}
		}
		got := strings.Join(vals, ", ")
		if got == want[k] {
			continue
		}
		actual := quote(got)
		if !found {
			actual = "no such header"
		}
		c.fail(name+mapKey(k), quote(want[k]), actual, "expected header %s to be %s, got %s", k, quote(want[k]), actual)
	}
}

func (c *checker) json(name string, want map[string]any, body string) {
	if len(want) == 0 {
		return
	}
	if !gjson.Valid(body) {
		c.fail(name, "a JSON body", quote(body), "expected a JSON body, got %s", quote(body))
		return
	}
	for _, path := range sortedKeys(want) {
		res := gjson.Get(body, path)
		exp := jsonText(want[path])
		if !res.Exists() {
			c.fail(name+mapKey(path), exp, "no such path", "expected %s to be %s, but the body has no such path", path, exp)
			continue
		}
		var got any
		dec := json.NewDecoder(strings.NewReader(res.Raw))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			c.fail(name+mapKey(path), exp, truncate(res.Raw, maxShown), "cannot read the value at %s: %v", path, err)
			continue
		}
		if !jsonEqual(canon(want[path]), canon(got)) {
			actual := shorten(res.Raw)
			c.fail(name+mapKey(path), exp, actual, "expected %s to be %s, got %s", path, exp, actual)
		}
	}
}

func (c *checker) httpCalls(want []HTTPCallExpect, got []HTTPCall) {
	const p = "expect.http"
	if len(want) != len(got) {
		shown := make([]string, len(got))
		for i, g := range got {
			shown[i] = g.Method + " " + g.URL
		}
		list := "[" + strings.Join(shown, ", ") + "]"
		c.fail(p, strconv.Itoa(len(want))+" calls", list, "expected %d HTTP calls, got %d: %s", len(want), len(got), list)
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		name := fmt.Sprintf("%s[%d]", p, i)
		if (w.Method != "" && !strings.EqualFold(w.Method, g.Method)) || w.URL != g.URL {
			exp := strings.TrimSpace(strings.ToUpper(w.Method) + " " + w.URL)
			act := g.Method + " " + g.URL
			c.fail(name, exp, act, "expected %s, got %s", exp, act)
		}
		if w.BodyContains != "" && !strings.Contains(g.Body, w.BodyContains) {
			c.fail(name+".bodyContains", quote(w.BodyContains), quote(g.Body),
				"expected the call's body to contain %s, got %s", quote(w.BodyContains), quote(g.Body))
		}
	}
}

func (c *checker) bigquery(want []BigQueryExpect, got []BigQueryInsert) {
	const p = "expect.bigquery"
	if len(want) != len(got) {
		c.fail(p, strconv.Itoa(len(want))+" rows", strconv.Itoa(len(got))+" rows", "expected %d inserted rows, got %d", len(want), len(got))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		name := fmt.Sprintf("%s[%d]", p, i)
		if w.Table != g.Table {
			c.fail(name+".table", quote(w.Table), quote(g.Table), "expected table %s, got %s", quote(w.Table), quote(g.Table))
		}
		for _, col := range sortedKeys(w.Row) {
			exp := jsonText(w.Row[col])
			v, ok := g.Row[col]
			if !ok {
				c.fail(name+".row"+mapKey(col), exp, "no such column", "expected column %s to be %s, but the row has no such column", col, exp)
				continue
			}
			if !jsonEqual(canon(w.Row[col]), canon(roundTrip(v))) {
				act := shorten(jsonText(v))
				c.fail(name+".row"+mapKey(col), exp, act, "expected column %s to be %s, got %s", col, exp, act)
			}
		}
	}
}

func (c *checker) emails(want []EmailExpect, got []Email) {
	const p = "expect.emails"
	if len(want) != len(got) {
		c.fail(p, strconv.Itoa(len(want))+" emails", strconv.Itoa(len(got))+" emails", "expected %d emails, got %d", len(want), len(got))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		name := fmt.Sprintf("%s[%d]", p, i)
		if w.To != "" && !slices.Contains(g.To, w.To) {
			act := jsonText(g.To)
			c.fail(name+".to", quote(w.To), act, "expected a recipient %s, got %s", quote(w.To), act)
		}
		c.equals(name+".from", "sender", strPtr(w.From), g.From)
		c.equals(name+".subject", "subject", strPtr(w.Subject), g.Subject)
		c.contains(name+".subjectContains", "subject", strPtr(w.SubjectContains), g.Subject)
		c.contains(name+".textContains", "text", strPtr(w.TextContains), g.Text)
	}
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// quote quotes s, cut to maxShown bytes with the full length noted.
func quote(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(truncate(s, maxShown)), len(s))
}

// shorten cuts an unquoted value such as raw JSON to maxShown bytes.
func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", truncate(s, maxShown), len(s))
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// diffHint says where two strings that differ start to differ.
func diffHint(want, got string) string {
	if strings.TrimSpace(want) == strings.TrimSpace(got) {
		return " (they differ only in leading or trailing whitespace)"
	}
	n := min(len(want), len(got))
	for i := range n {
		if want[i] != got[i] {
			return fmt.Sprintf(" (first difference at byte %d)", i)
		}
	}
	return fmt.Sprintf(" (first difference at byte %d)", n)
}

// jsonText shows v as compact JSON.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonable(v)); err != nil {
		return fmt.Sprint(v)
	}
	return shorten(strings.TrimSuffix(b.String(), "\n"))
}

// jsonable turns the map[any]any YAML may produce into map[string]any.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonable(e)
		}
		return s
	}
	return v
}

// roundTrip turns any Go value into its JSON form (numbers as
// json.Number), so a recorded BigQuery row compares like JSON.
func roundTrip(v any) any {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return v
	}
	return out
}

// canon puts a value decoded from YAML or JSON in a form jsonEqual
// compares: numbers become *big.Rat, maps map[string]any.
func canon(v any) any {
	switch x := v.(type) {
	case int:
		return new(big.Rat).SetInt64(int64(x))
	case int64:
		return new(big.Rat).SetInt64(x)
	case uint64:
		return new(big.Rat).SetFrac(new(big.Int).SetUint64(x), big.NewInt(1))
	case float64:
		if r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64)); ok {
			return r
		}
		return x // NaN and infinities equal nothing JSON holds
	case json.Number:
		if r, ok := new(big.Rat).SetString(x.String()); ok {
			return r
		}
		return x.String()
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = canon(e)
		}
		return m
	case map[any]any:
		return canon(jsonable(x))
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = canon(e)
		}
		return s
	}
	return v
}

// jsonEqual compares two canonical values.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case *big.Rat:
		y, ok := b.(*big.Rat)
		return ok && x.Cmp(y) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil, bool, string:
		return a == b
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
