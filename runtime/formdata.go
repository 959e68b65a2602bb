package runtime

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// formCache is r.RequestFormData of the body and Content-Type it was
// parsed from; a rewritten body or header parses again.
type formCache struct {
	table       *lua.LTable
	body        string
	contentType string
}

// formDataTable is r.RequestFormData: form field name → list of values,
// in the order sent, for a multipart/form-data or
// application/x-www-form-urlencoded body (as rewritten so far), and an
// empty table for any other body. A multipart body's files are not in it
// (multipart.decode reads them). What parses before a malformed part is
// kept, as net/http does.
func (c *Call) formDataTable(L *lua.LState) *lua.LTable {
	body := string(c.req.bodyValue().(lua.LString))
	ct := c.req.header().Get("Content-Type")
	fc := &c.req.form
	if fc.table != nil && fc.body == body && fc.contentType == ct {
		return fc.table
	}
	names, values := parseFormData(body, ct)
	t := L.CreateTable(0, len(names))
	for _, name := range names {
		vs := values[name]
		list := L.CreateTable(len(vs), 0)
		for _, v := range vs {
			list.Append(lua.LString(v))
		}
		t.RawSetString(name, list)
	}
	*fc = formCache{table: t, body: body, contentType: ct}
	return t
}

// parseFormData returns the fields of a form body, with their names in
// first-seen order.
func parseFormData(body, contentType string) ([]string, map[string][]string) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil
	}
	var names []string
	values := map[string][]string{}
	add := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = append(values[name], value)
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		for body != "" {
			var pair string
			pair, body, _ = strings.Cut(body, "&")
			if pair == "" || strings.Contains(pair, ";") {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				continue
			}
			add(k, v)
		}
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, nil
		}
		mr := multipart.NewReader(strings.NewReader(body), boundary)
		for {
			p, err := mr.NextPart()
			if err != nil {
				break // io.EOF, or a malformed body: keep what parsed
			}
			name := p.FormName()
			if name == "" || p.FileName() != "" {
				p.Close()
				continue
			}
			var b strings.Builder
			_, err = io.Copy(&b, p)
			p.Close()
			if err != nil && !errors.Is(err, io.EOF) {
				break
			}
			add(name, b.String())
		}
	}
	return names, values
}
