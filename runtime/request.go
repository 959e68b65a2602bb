package runtime

import (
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// requestState is the request as rewritten so far.
type requestState struct {
	orig     *Request
	method   string
	path     string
	rawQuery string
	hdr      http.Header // nil until a header setter runs: then a clone
	body     string
	bodyLV   lua.LValue // cached r.RequestBody; nil until read or set

	bodyMod, methodMod, pathMod, queryMod, headerMod bool

	hdrTable   *lua.LTable // cached r.RequestHeader, rebuilt after changes
	queryTable *lua.LTable
	metaTable  *lua.LTable
	form       formCache // r.RequestFormData
}

func (s *requestState) init(r *Request) {
	s.orig = r
	s.method = r.Method
	if s.method == "" {
		s.method = http.MethodPost
	}
	s.path = r.Path
	if s.path == "" {
		s.path = "/"
	}
	s.rawQuery = r.RawQuery
}

func (s *requestState) header() http.Header {
	if s.hdr != nil {
		return s.hdr
	}
	if s.orig.Header == nil {
		return http.Header{}
	}
	return s.orig.Header
}

func (s *requestState) mutableHeader() http.Header {
	if s.hdr == nil {
		s.hdr = s.orig.Header.Clone()
		if s.hdr == nil {
			s.hdr = http.Header{}
		}
	}
	s.headerMod = true
	s.hdrTable = nil
	return s.hdr
}

// bodyValue is r.RequestBody. The body is read in place, not copied:
// Request.Body must not change while the invocation runs or its Result is
// in use (see Request).
func (s *requestState) bodyValue() lua.LValue {
	if s.bodyLV == nil {
		b := s.orig.Body
		s.bodyLV = lua.LString(unsafe.String(unsafe.SliceData(b), len(b)))
	}
	return s.bodyLV
}

func (s *requestState) result(out *RequestResult) {
	out.Method = s.method
	out.Path = s.path
	out.RawQuery = s.rawQuery
	out.Headers = s.header()
	if s.bodyMod {
		out.Body = s.body
	} else if lv, ok := s.bodyLV.(lua.LString); ok {
		out.Body = string(lv)
	} else {
		out.Body = string(s.orig.Body)
	}
	out.BodyModified = s.bodyMod
	out.MethodModified = s.methodMod
	out.PathModified = s.pathMod
	out.RawQueryModified = s.queryMod
	out.HeaderModified = s.headerMod
	out.Modified = s.bodyMod || s.methodMod || s.pathMod || s.queryMod || s.headerMod
}

type responseState struct {
	modified bool
	status   int
	hdr      http.Header
	body     string
}

func (s *responseState) result(out *ResponseResult) {
	out.Modified = s.modified
	out.Status = s.status
	out.Headers = s.hdr
	if out.Headers == nil {
		out.Headers = http.Header{}
	}
	out.Body = s.body
}

// requestMethods are r's methods, by Webhook Relay's names.
var requestMethods = map[string]lua.LGFunction{
	"SetRequestBody": func(L *lua.LState) int {
		c := selfCall(L, "SetRequestBody")
		b := L.CheckString(2)
		c.checkBodySize(L, len(b))
		c.req.body, c.req.bodyLV, c.req.bodyMod = b, lua.LString(b), true
		return 0
	},
	"SetRequestMethod": func(L *lua.LState) int {
		c := selfCall(L, "SetRequestMethod")
		m := strings.ToUpper(strings.TrimSpace(L.CheckString(2)))
		if m == "" || strings.ContainsAny(m, " \t\r\n") {
			L.ArgError(2, "invalid HTTP method")
		}
		c.req.method, c.req.methodMod = m, true
		return 0
	},
	"SetRequestPath": func(L *lua.LState) int {
		c := selfCall(L, "SetRequestPath")
		p := L.CheckString(2)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		c.req.path, c.req.pathMod = p, true
		return 0
	},
	"SetRequestRawQuery": func(L *lua.LState) int {
		c := selfCall(L, "SetRequestRawQuery")
		c.req.rawQuery, c.req.queryMod = strings.TrimPrefix(L.CheckString(2), "?"), true
		c.req.queryTable = nil
		return 0
	},
	"SetRequestHeader": func(L *lua.LState) int {
		c := selfCall(L, "SetRequestHeader")
		k, v := checkHeader(L)
		c.req.mutableHeader().Set(k, v)
		return 0
	},
	"DeleteRequestHeader": func(L *lua.LState) int {
		c := selfCall(L, "DeleteRequestHeader")
		c.req.mutableHeader().Del(L.CheckString(2))
		return 0
	},
	"SetResponseBody": func(L *lua.LState) int {
		c := selfCall(L, "SetResponseBody")
		b := L.CheckString(2)
		c.checkBodySize(L, len(b))
		c.resp.body, c.resp.modified = b, true
		return 0
	},
	"SetResponseStatusCode": func(L *lua.LState) int {
		c := selfCall(L, "SetResponseStatusCode")
		n := L.CheckInt(2)
		if n < 100 || n > 999 {
			L.ArgError(2, "status code must be between 100 and 999")
		}
		c.resp.status, c.resp.modified = n, true
		return 0
	},
	"SetResponseHeader": func(L *lua.LState) int {
		c := selfCall(L, "SetResponseHeader")
		k, v := checkHeader(L)
		if c.resp.hdr == nil {
			c.resp.hdr = http.Header{}
		}
		c.resp.hdr.Set(k, v)
		c.resp.modified = true
		return 0
	},
	"StopForwarding": func(L *lua.LState) int {
		selfCall(L, "StopForwarding").stop = true
		return 0
	},
}

func checkHeader(L *lua.LState) (string, string) {
	k, v := L.CheckString(2), L.CheckString(3)
	if k == "" || strings.ContainsAny(k, " \t\r\n:") {
		L.ArgError(2, "invalid header name")
	}
	if strings.ContainsAny(v, "\r\n") {
		L.ArgError(3, "header value must not contain CR or LF")
	}
	return k, v
}

func (c *Call) checkBodySize(L *lua.LState, n int) {
	if n > c.e.opts.MaxBodyBytes {
		L.RaiseError("body of %d bytes exceeds the limit of %d bytes", n, c.e.opts.MaxBodyBytes)
	}
}

// selfCall returns the invocation behind r in a method call, with a clear
// error for r.Method(...) written instead of r:Method(...).
func selfCall(L *lua.LState, method string) *Call {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if c, ok := ud.Value.(*Call); ok {
			return c
		}
	}
	L.RaiseError("%s must be called as r:%s(...)", method, method)
	return nil
}

// newRequestMeta is the metatable of r: fields are read on access, so they
// show the request as rewritten so far.
func newRequestMeta(L *lua.LState) *lua.LTable {
	methods := make(map[string]lua.LValue, len(requestMethods))
	for name, fn := range requestMethods {
		methods[name] = L.NewFunction(fn)
	}
	mt := L.NewTable()
	mt.RawSetString("__metatable", lua.LString("locked"))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		c := L.CheckUserData(1).Value.(*Call)
		key := L.CheckString(2)
		switch key {
		case "RequestBody":
			L.Push(c.req.bodyValue())
		case "RequestMethod":
			L.Push(lua.LString(c.req.method))
		case "RequestPath":
			L.Push(lua.LString(c.req.path))
		case "RequestRawQuery":
			L.Push(lua.LString(c.req.rawQuery))
		case "RequestHeader":
			L.Push(c.headerTable(L))
		case "RequestQuery":
			L.Push(c.queryTable(L))
		case "RequestFormData":
			L.Push(c.formDataTable(L))
		case "Metadata":
			L.Push(c.metadataTable(L))
		default:
			if m, ok := methods[key]; ok {
				L.Push(m)
			} else {
				L.Push(lua.LNil)
			}
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("r is read-only: use its setters, such as r:SetRequestBody(s)")
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("request"))
		return 1
	}))
	return mt
}

// headerTable is r.RequestHeader: name → first value, with a case-insensitive
// lookup for names not spelled in Go's canonical form.
func (c *Call) headerTable(L *lua.LState) *lua.LTable {
	if c.req.hdrTable != nil {
		return c.req.hdrTable
	}
	h := c.req.header()
	t := L.CreateTable(0, len(h))
	for k, v := range h {
		if len(v) > 0 {
			t.RawSetString(k, lua.LString(v[0]))
		}
	}
	t.Metatable = c.state.hdrMeta
	c.req.hdrTable = t
	return t
}

func newHeaderMeta(L *lua.LState) *lua.LTable {
	mt := L.NewTable()
	mt.RawSetString("__metatable", lua.LString("locked"))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		k, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(t.RawGetString(http.CanonicalHeaderKey(string(k))))
		return 1
	}))
	return mt
}

func (c *Call) queryTable(L *lua.LState) *lua.LTable {
	if c.req.queryTable != nil {
		return c.req.queryTable
	}
	q, _ := url.ParseQuery(c.req.rawQuery) // keeps what parses, as net/http does
	t := L.CreateTable(0, len(q))
	for k, v := range q {
		if len(v) > 0 {
			t.RawSetString(k, lua.LString(v[0]))
		}
	}
	c.req.queryTable = t
	return t
}

// MetadataKeys are the keys r.Metadata always has.
var MetadataKeys = []string{"bucket_id", "bucket_name", "input_id", "input_name", "output_id", "output_name", "output_url"}

func (c *Call) metadataTable(L *lua.LState) *lua.LTable {
	if c.req.metaTable != nil {
		return c.req.metaTable
	}
	t := L.CreateTable(0, len(MetadataKeys))
	for _, k := range MetadataKeys {
		t.RawSetString(k, lua.LString(c.in.Metadata[k]))
	}
	for k, v := range c.in.Metadata {
		if t.RawGetString(k) == lua.LNil {
			t.RawSetString(k, lua.LString(v))
		}
	}
	c.req.metaTable = t
	return t
}

// newConfigMeta is cfg's metatable: cfg:GetValue(key) returns the
// configuration variable, or "" when unset.
func newConfigMeta(L *lua.LState) *lua.LTable {
	getValue := L.NewFunction(func(L *lua.LState) int {
		ud, ok := L.Get(1).(*lua.LUserData)
		var c *Call
		if ok {
			c, _ = ud.Value.(*Call)
		}
		if c == nil {
			L.RaiseError("GetValue must be called as cfg:GetValue(key)")
		}
		L.Push(lua.LString(c.in.Config[L.CheckString(2)]))
		return 1
	})
	mt := L.NewTable()
	mt.RawSetString("__metatable", lua.LString("locked"))
	idx := L.NewTable()
	idx.RawSetString("GetValue", getValue)
	mt.RawSetString("__index", idx)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cfg is read-only")
		return 0
	}))
	return mt
}
