package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// when renders a time as <time datetime=…>…UTC</time>: app.js shows
	// it in the browser's zone; without JavaScript it reads in UTC.
	"when": func(t time.Time) template.HTML {
		if t.IsZero() {
			return "never"
		}
		t = t.UTC()
		return template.HTML(`<time datetime="` + t.Format(time.RFC3339Nano) + `">` +
			template.HTMLEscapeString(t.Format("2006-01-02 15:04:05 UTC")) + `</time>`)
	},
	"join": strings.Join,
	"pathEscape": func(s string) string {
		return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%20")
	},
}

// DiffLine is a line of a diff: Op is ' ' (kept), '-' (removed) or '+'
// (added).
type DiffLine struct {
	Op   string
	Text string
}

// maxDiffLines bounds the lines Diff compares line by line; longer texts
// are shown as all removed and all added.
const maxDiffLines = 2000

// Diff returns a line diff of a and b (a longest common subsequence).
func Diff(a, b string) []DiffLine {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		var out []DiffLine
		for _, l := range x {
			out = append(out, DiffLine{"-", l})
		}
		for _, l := range y {
			out = append(out, DiffLine{"+", l})
		}
		return out
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []DiffLine
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			out = append(out, DiffLine{" ", x[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, DiffLine{"-", x[i]})
			i++
		default:
			out = append(out, DiffLine{"+", y[j]})
			j++
		}
	}
	for ; i < len(x); i++ {
		out = append(out, DiffLine{"-", x[i]})
	}
	for ; j < len(y); j++ {
		out = append(out, DiffLine{"+", y[j]})
	}
	return out
}

// prettyJSON indents s when it is JSON, so that a diff shows fields; any
// other text is returned as it is.
func prettyJSON(s string) string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") == nil {
		return buf.String()
	}
	return s
}

// headerLines renders headers as sorted "Name: value" lines.
func headerLines(h http.Header) string {
	var lines []string
	for k, vs := range h {
		for _, v := range vs {
			lines = append(lines, http.CanonicalHeaderKey(k)+": "+v)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
